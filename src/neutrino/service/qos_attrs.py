"""QoS request attributes, errors and the rule types neutrino knows (Neutron's ``qos``,
``qos-bw-limit-direction``, ``qos-default``, ``qos-rule-type-details``).

Rule types: Neutron defines five; neutrino has rules of those in ``KINDS`` (each with its
attributes, its view and what makes two rules of a policy duplicates, Neutron's
``QoSRulesConflict``). What a deployment supports is what its agents report in their
``configurations`` (``qos_rule_types``: type -> its supported parameters): a rule of a type
no agent reports is refused (409 ``QosRuleNotSupported``), as Neutron refuses a rule its
drivers cannot enforce. ``packet_rate_limit`` has no rules here (refused alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import NamedConflict, NamedNotFound
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    string,
    tag_list,
    to_bool,
    to_int,
)
from neutrino.domain.qosstate import VALID_DSCP_MARKS

INT_MAX = 2**31 - 1  # Neutron's DB_INTEGER_MAX_VALUE, the columns' width
BANDWIDTH_LIMIT = "bandwidth_limit"
DSCP_MARKING = "dscp_marking"
MINIMUM_BANDWIDTH = "minimum_bandwidth"
MINIMUM_PACKET_RATE = "minimum_packet_rate"
# Neutron's rule types (those without an entry in ``KINDS``: refused, their lists empty)
RULE_TYPES = (
    BANDWIDTH_LIMIT,
    DSCP_MARKING,
    MINIMUM_BANDWIDTH,
    "packet_rate_limit",
    MINIMUM_PACKET_RATE,
)
# the sub-collection of each rule type under /v2.0/qos/policies/{id}/
RULE_COLLECTIONS = {
    "bandwidth_limit_rules": BANDWIDTH_LIMIT,
    "dscp_marking_rules": "dscp_marking",
    "minimum_bandwidth_rules": "minimum_bandwidth",
    "packet_rate_limit_rules": "packet_rate_limit",
    "minimum_packet_rate_rules": "minimum_packet_rate",
}
DIRECTIONS = ("egress", "ingress")
PPS_DIRECTIONS = ("any", "ingress", "egress")  # minimum packet rates: "any" too
CONFIG_KEY = "qos_rule_types"  # in an agent's configurations


@described({"type": "integer", "minimum": 0, "maximum": INT_MAX})
def kbps(value: Any) -> int:
    number = to_int(value)
    if not 0 <= number <= INT_MAX:
        raise Invalid(f"'{value}' is not in range 0 through {INT_MAX}")
    return number


@described({"enum": list(DIRECTIONS)})
def direction(value: Any) -> str:
    if value not in DIRECTIONS:
        raise Invalid(f"{value!r} is not in {list(DIRECTIONS)}")
    return str(value)


@described({"enum": list(VALID_DSCP_MARKS)})
def dscp_mark(value: Any) -> int:
    number = to_int(value)
    if number not in VALID_DSCP_MARKS:
        raise Invalid(f"{number} is not in valid_values")  # Neutron's words
    return number


@described({"enum": list(PPS_DIRECTIONS)})
def pps_direction(value: Any) -> str:
    if value not in PPS_DIRECTIONS:
        raise Invalid(f"{value!r} is not in {list(PPS_DIRECTIONS)}")
    return str(value)


POLICY_SPEC: dict[str, Attr] = {
    **STANDARD,
    "name": Attr(string(255)),
    "shared": Attr(to_bool),
    "is_default": Attr(to_bool),
    "tags": Attr(tag_list, allow_put=False),
}
RULE_SPEC: dict[str, Attr] = {
    "max_kbps": Attr(kbps, required=True),
    "max_burst_kbps": Attr(kbps),
    "direction": Attr(direction),
}
RULE_UPDATE_SPEC: dict[str, Attr] = {**RULE_SPEC, "max_kbps": Attr(kbps)}


@dataclass(frozen=True)
class RuleKind:
    """One rule type's API: its create and update attributes, the defaults a create fills in,
    and the attributes two rules of one policy must share to be duplicates (none: one rule
    of the type per policy)."""

    type: str
    spec: dict[str, Attr]
    update_spec: dict[str, Attr]
    defaults: dict[str, Any]
    duplicate_by: tuple[str, ...]

    @property
    def member(self) -> str:
        return f"{self.type}_rule"

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.spec)


KINDS: dict[str, RuleKind] = {
    BANDWIDTH_LIMIT: RuleKind(
        BANDWIDTH_LIMIT,
        RULE_SPEC,
        RULE_UPDATE_SPEC,
        {"max_burst_kbps": 0, "direction": "egress"},
        ("direction",),
    ),
    DSCP_MARKING: RuleKind(
        DSCP_MARKING,
        {"dscp_mark": Attr(dscp_mark, required=True)},
        {"dscp_mark": Attr(dscp_mark)},
        {},
        (),
    ),
    MINIMUM_BANDWIDTH: RuleKind(
        MINIMUM_BANDWIDTH,
        {"min_kbps": Attr(kbps, required=True), "direction": Attr(direction)},
        {"min_kbps": Attr(kbps), "direction": Attr(direction)},
        {"direction": "egress"},
        ("direction",),
    ),
    MINIMUM_PACKET_RATE: RuleKind(
        MINIMUM_PACKET_RATE,
        {"min_kpps": Attr(kbps, required=True), "direction": Attr(pps_direction)},
        {"min_kpps": Attr(kbps), "direction": Attr(pps_direction)},
        {"direction": "egress"},
        ("direction",),
    ),
}


def policy_not_found(policy_id: str) -> NamedNotFound:
    return NamedNotFound("QosPolicyNotFound", f"QoS policy {policy_id} could not be found.")


def rule_not_found(rule_id: str, policy_id: str) -> NamedNotFound:
    return NamedNotFound(
        "QosRuleNotFound", f"QoS rule {rule_id} for policy {policy_id} could not be found."
    )


def not_supported(rule_type: str) -> NamedConflict:
    return NamedConflict(
        "QosRuleNotSupported",
        f"Rule {rule_type} is not supported by any agent of this deployment",
    )


def parameter_conflict(
    value: Any, policy_id: str, existing_rule: str, existing_value: Any
) -> NamedConflict:
    return NamedConflict(
        "QoSRuleParameterConflict",
        f"Unable to add the rule with value {value} to the policy {policy_id} as the existing "
        f"rule of type {existing_rule} has value {existing_value}.",
    )


def in_use(policy_id: str, object_type: str, object_id: str) -> NamedConflict:
    return NamedConflict(
        "QosPolicyInUse", f"QoS Policy {policy_id} is used by {object_type} {object_id}."
    )
