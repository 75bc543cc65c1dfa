"""Security-group rule semantics, pure: what a rule may say and when two rules are the same.

The API converts each attribute on its own (``to_protocol``, ``to_ethertype``, ``to_port``,
``to_ip_prefix``: each raises the Neutron error of that attribute); ``canonical_rule`` then
checks the rule as a whole in Neutron's order and returns it in canonical form:

1. IPv6 rules say ICMP as ``ipv6-icmp`` (``icmp``/``icmpv6`` -> ``ipv6-icmp``, ``1`` -> ``58``);
2. the whole port range 1-65535 means "no range";
3. port ranges are for DCCP/SCTP/TCP/UDP/UDPLITE (1-65535, min <= max); for ICMP they are the
   type (min) and code (max), 0-255, and a code needs a type; other protocols take none;
4. a remote IP prefix must be of the rule's ethertype; IPv6-only protocols need IPv6;
5. at most one of remote_ip_prefix and remote_group_id.

``rule_key`` is Neutron's duplicate key: protocols compare by (name, number), the any-address
prefixes compare equal to no prefix, and the prefix otherwise compares as given (host bits
kept), exactly as Neutron does. ``normalized_cidr`` is the prefix's network.

A ``Template`` is a default security-group rule: a rule without a group (``remote_group_id``
none or ``PARENT``, the new group itself) plus whether new ``default`` groups, other new groups,
or both start with it. ``LEGACY_TEMPLATES`` are the four Neutron seeds; ``rules_from_templates``
makes a new group's first rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from neutrino.common.errors import Conflict, NamedBadRequest, NamedConflict, NotFound
from neutrino.domain.attributes import described

# Neutron's IP_PROTOCOL_MAP, in its order (the order of the error message).
PROTOCOLS: dict[str, int] = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ip": 0,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
# Number -> canonical name; like Neutron the later name wins (0 -> "ip") and icmpv6 is skipped.
NUMBER_TO_NAME = {str(n): name for name, n in PROTOCOLS.items() if name != "icmpv6"}
SUPPORTED_PROTOCOLS: tuple[str | None, ...] = (None, "any", *PROTOCOLS)
PORT_PROTOCOLS = ("dccp", "sctp", "tcp", "udp", "udplite")
PORT_PROTOCOL_NUMBERS = frozenset(PROTOCOLS[p] for p in PORT_PROTOCOLS)
ICMP_NUMBERS = frozenset({1, 58})
IPV6_ONLY = frozenset(
    {
        "ipv6-encap",
        "ipv6-frag",
        "ipv6-icmp",
        "icmpv6",
        "ipv6-nonxt",
        "ipv6-opts",
        "ipv6-route",
        "41",
        "44",
        "58",
        "59",
        "60",
        "43",
    }
)
ETHERTYPES = ("IPv4", "IPv6")
ANY_PREFIXES = frozenset({"0.0.0.0/0", "::/0"})
DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"


# --- errors (Neutron's types and messages) -------------------------------------------------


def invalid(kind: str, message: str) -> NamedBadRequest:
    return NamedBadRequest(kind, message)


class SecurityGroupNotFound(NotFound):
    neutron_type = "SecurityGroupNotFound"

    def __init__(self, group_id: str) -> None:
        super().__init__(f"Security group {group_id} does not exist")


class SecurityGroupRuleNotFound(NotFound):
    neutron_type = "SecurityGroupRuleNotFound"

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"Security group rule {rule_id} does not exist")


def in_use(group_id: str) -> Conflict:
    return NamedConflict("SecurityGroupInUse", f"Security Group {group_id} in use.")


def default_exists() -> Conflict:
    return NamedConflict(
        "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
    )


def mixed_statefulness() -> Conflict:
    return NamedConflict(
        "SecurityGroupConflict",
        "Error Cannot apply both stateful and stateless security groups on "
        "the same port at the same time while attempting the operation.",
    )


# --- attribute converters --------------------------------------------------------------------


def _bad_protocol(value: Any) -> NamedBadRequest:
    return invalid(
        "SecurityGroupRuleInvalidProtocol",
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{SUPPORTED_PROTOCOLS} and integer representations [0 to 255] are "
        f"supported.",
    )


@described(
    {
        "anyOf": [
            {"type": "string"},
            {"type": "integer", "minimum": 0, "maximum": 255},
            {"type": "null"},
        ]
    }
)
def to_protocol(value: Any) -> str | None:
    """None/'any' -> None; a number 0-255 -> its decimal string; a known name -> lower case."""
    if value is None or value == "any":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _bad_protocol(value)
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            low = value.lower()
            if low in PROTOCOLS:
                return low
            if low == "any":
                return None
            raise _bad_protocol(value) from None
    else:
        number = value
    if 0 <= number <= 255:
        return str(number)
    raise _bad_protocol(value)


@described({"enum": list(ETHERTYPES)})
def to_ethertype(value: Any) -> str:
    if isinstance(value, str):
        for ethertype in ETHERTYPES:
            if ethertype.lower() == value.lower():
                return ethertype
    raise invalid(
        "SecurityGroupRuleInvalidEtherType",
        f"Security group rule for ethertype '{value}' not supported. Allowed values "
        f"are {list(ETHERTYPES)}.",
    )


@described({"type": ["integer", "null"], "minimum": 0, "maximum": 65535})
def to_port(value: Any) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise invalid("SecurityGroupInvalidPortValue", f"Invalid value for port {value}")
    return port


@described({"type": ["string", "null"]})
def to_ip_prefix(value: Any) -> str | None:
    """The prefix as given but with an explicit length (``10.0.0.1`` -> ``10.0.0.1/32``)."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return str(ipaddress.ip_interface(value))
    except ValueError:
        raise invalid("InvalidCIDR", f"Invalid CIDR {value} given as IP prefix.") from None


def normalized_cidr(prefix: str | None) -> str | None:
    return None if prefix is None else str(ipaddress.ip_interface(prefix).network)


# --- whole-rule semantics --------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    security_group_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None


def protocol_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    return PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)


def rule_from(group_id: str, attrs: Mapping[str, Any]) -> Rule:
    """The canonical rule a parsed create body (a rule's or a default rule's) asks for."""
    return canonical_rule(
        Rule(
            security_group_id=group_id,
            direction=attrs["direction"],
            ethertype=attrs.get("ethertype", "IPv4"),
            protocol=attrs.get("protocol"),
            port_range_min=attrs.get("port_range_min"),
            port_range_max=attrs.get("port_range_max"),
            remote_ip_prefix=attrs.get("remote_ip_prefix"),
            remote_group_id=attrs.get("remote_group_id"),
            remote_address_group_id=attrs.get("remote_address_group_id"),
        )
    )


def canonical_rule(rule: Rule) -> Rule:
    rule = _canonical_icmpv6(rule)
    if rule.port_range_min == 1 and rule.port_range_max == 65535:
        rule = replace(rule, port_range_min=None, port_range_max=None)
    _check_ports(rule)
    if rule.remote_ip_prefix is not None:
        version = ipaddress.ip_interface(rule.remote_ip_prefix).version
        if rule.ethertype != f"IPv{version}":
            raise invalid(
                "SecurityGroupRuleParameterConflict",
                f"Conflicting value ethertype {rule.ethertype} for CIDR {rule.remote_ip_prefix}",
            )
    if rule.protocol in IPV6_ONLY and rule.ethertype == "IPv4":
        raise invalid(
            "SecurityGroupEthertypeConflictWithProtocol",
            f"Invalid ethertype {rule.ethertype} for protocol {rule.protocol}.",
        )
    if (
        sum(
            bool(r)
            for r in (rule.remote_ip_prefix, rule.remote_group_id, rule.remote_address_group_id)
        )
        > 1
    ):
        raise invalid(
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or "
            "remote_address_group_id may be provided.",
        )
    return rule


def _canonical_icmpv6(rule: Rule) -> Rule:
    if rule.ethertype != "IPv6":
        return rule
    if rule.protocol in ("icmp", "icmpv6"):
        return replace(rule, protocol="ipv6-icmp")
    if rule.protocol == "1":
        return replace(rule, protocol="58")
    return rule


def _check_ports(rule: Rule) -> None:
    low, high = rule.port_range_min, rule.port_range_max
    if low is None and high is None:
        return
    if rule.protocol is None:
        raise invalid(
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        )
    number = protocol_number(rule.protocol)
    if number in PORT_PROTOCOL_NUMBERS:
        if low == 0 or high == 0:
            raise invalid("SecurityGroupInvalidPortValue", "Invalid value for port 0")
        if low is None or high is None or low > high:
            raise invalid(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )
    elif number in ICMP_NUMBERS:
        for value, field, attr in (
            (low, "type", "port_range_min"),
            (high, "code", "port_range_max"),
        ):
            if value is not None and not 0 <= value <= 255:
                raise invalid(
                    "SecurityGroupInvalidIcmpValue",
                    f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.",
                )
        if low is None and high is not None:
            raise invalid(
                "SecurityGroupMissingIcmpType",
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                f"(port-range-min) is missing.",
            )
    else:
        names = ", ".join(p.upper() for p in PORT_PROTOCOLS)
        raise invalid(
            "SecurityGroupInvalidProtocolForPort",
            f"Ports cannot be specified for protocol {number}. Ports are only "
            f"supported for {names}.",
        )


def _protocol_key(protocol: str | None, ethertype: str) -> str:
    if protocol is None:
        return "+"
    if ethertype == "IPv6":
        if protocol in ("icmp", "icmpv6"):
            protocol = "ipv6-icmp"
        elif protocol == "1":
            protocol = "58"
    if protocol in PROTOCOLS:
        return f"{protocol}/{PROTOCOLS[protocol]}"
    if protocol in NUMBER_TO_NAME:
        return f"{NUMBER_TO_NAME[protocol]}/{protocol}"
    return f"{protocol}/{protocol}"


def rule_key(rule: Any) -> tuple[str, ...]:
    """Neutron's identity of a rule (a ``Rule`` or a stored row), for duplicate detection."""
    values: Mapping[str, Any] = rule.__dict__ if isinstance(rule, Rule) else rule

    def plain(key: str) -> str:
        value = values.get(key)
        return "+" if value is None else str(value)

    prefix = values.get("remote_ip_prefix")
    return (
        plain("direction"),
        plain("ethertype"),
        plain("port_range_max"),
        plain("port_range_min"),
        _protocol_key(values.get("protocol"), plain("ethertype")),
        plain("remote_group_id"),
        plain("remote_address_group_id"),
        "+" if prefix in ANY_PREFIXES else plain("remote_ip_prefix"),
        plain("security_group_id"),
    )


def rule_exists(rule_id: str) -> Conflict:
    return NamedConflict(
        "SecurityGroupRuleExists", f"Security group rule already exists. Rule id is {rule_id}."
    )


def duplicate_in_post() -> Conflict:
    return NamedConflict(
        "DuplicateSecurityGroupRuleInPost", "Duplicate Security Group Rule in POST."
    )


# --- default rules: the templates every new group's first rules come from ------------------


@dataclass(frozen=True)
class Template:
    """A default security-group rule (Neutron's ``default_security_group_rules``): a rule
    without a group, whose ``remote_group_id`` is either none or ``PARENT`` (the new group
    itself), and which applies to new default groups, new other groups, or both."""

    rule: Rule
    used_in_default_sg: bool = False
    used_in_non_default_sg: bool = True
    description: str = ""


PARENT = "PARENT"
TEMPLATE_GROUP = ""  # the placeholder security_group_id of a template's rule
LEGACY_EGRESS = "Legacy default SG rule for egress traffic"
LEGACY_INGRESS = "Legacy default SG rule for ingress traffic"
# The templates a new deployment starts with (as Neutron seeds them): egress anywhere for
# every group; ingress from the group's own members for default groups only.
LEGACY_TEMPLATES: tuple[Template, ...] = (
    Template(Rule(TEMPLATE_GROUP, "egress", "IPv4"), True, True, LEGACY_EGRESS),
    Template(Rule(TEMPLATE_GROUP, "egress", "IPv6"), True, True, LEGACY_EGRESS),
    Template(
        Rule(TEMPLATE_GROUP, "ingress", "IPv4", remote_group_id=PARENT), True, False, LEGACY_INGRESS
    ),
    Template(
        Rule(TEMPLATE_GROUP, "ingress", "IPv6", remote_group_id=PARENT), True, False, LEGACY_INGRESS
    ),
)


class DefaultRuleNotFound(NotFound):
    neutron_type = "DefaultSecurityGroupRuleNotFound"

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"Default Security Group rule {rule_id} does not exist")


def default_rule_exists(rule_id: str) -> Conflict:
    return NamedConflict(
        "DefaultSecurityGroupRuleExists",
        f"Default Security group rule already exists. Rule id is {rule_id}.",
    )


def duplicate_default_in_post() -> Conflict:
    return NamedConflict(
        "DuplicateDefaultSgRuleInPost", "Duplicate Default Security Group Rule in POST."
    )


def templates_overlap(a: Template, b: Template) -> bool:
    """Two templates clash when they say the same rule for the same kind of group."""
    return rule_key(a.rule) == rule_key(b.rule) and (
        (a.used_in_default_sg and b.used_in_default_sg)
        or (a.used_in_non_default_sg and b.used_in_non_default_sg)
    )


def rules_from_templates(group_id: str, templates: list[Template]) -> list[Rule]:
    """The rules a new group starts with: each template's rule in that group, ``PARENT``
    naming the group itself. The caller picks the templates for the kind of group."""
    return [
        replace(
            t.rule,
            security_group_id=group_id,
            remote_group_id=group_id
            if t.rule.remote_group_id == PARENT
            else t.rule.remote_group_id,
        )
        for t in templates
    ]
