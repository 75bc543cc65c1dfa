"""Security-group rule semantics (pure): converters, canonical form, validation, duplicate key."""

from __future__ import annotations

import pytest

from neutrino.common.errors import NamedBadRequest
from neutrino.domain import security_groups as sgd
from neutrino.domain.security_groups import Rule


def _kind(exc: pytest.ExceptionInfo[NamedBadRequest]) -> str:
    return exc.value.type


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("any", None),
        ("tcp", "tcp"),
        ("TCP", "tcp"),
        (6, "6"),
        ("17", "17"),
        (0, "0"),
        (255, "255"),
        ("icmpv6", "icmpv6"),
        ("ANY", None),
    ],
)
def test_to_protocol_accepts(given: object, expected: str | None) -> None:
    assert sgd.to_protocol(given) == expected


@pytest.mark.parametrize("given", ["nonsense", 256, -1, True, 1.5, ["tcp"], "bad_protocol"])
def test_to_protocol_refuses(given: object) -> None:
    with pytest.raises(NamedBadRequest) as exc:
        sgd.to_protocol(given)
    assert _kind(exc) == "SecurityGroupRuleInvalidProtocol"


def test_protocol_message_lists_neutrons_values_in_order() -> None:
    with pytest.raises(NamedBadRequest) as exc:
        sgd.to_protocol("x")
    assert exc.value.message.startswith(
        "Security group rule protocol x not supported. Only protocol values (None, 'any', "
        "'ah', 'dccp', 'egp', "
    )
    assert exc.value.message.endswith(
        "'vrrp') and integer representations [0 to 255] are supported."
    )


def test_ethertype_is_case_insensitive() -> None:
    assert sgd.to_ethertype("ipv6") == "IPv6"
    with pytest.raises(NamedBadRequest) as exc:
        sgd.to_ethertype("IPv5")
    assert _kind(exc) == "SecurityGroupRuleInvalidEtherType"
    assert exc.value.message == (
        "Security group rule for ethertype 'IPv5' not supported. "
        "Allowed values are ['IPv4', 'IPv6']."
    )


@pytest.mark.parametrize(
    ("given", "ok"),
    [
        (None, True),
        (0, True),
        (65535, True),
        ("80", True),
        (-1, False),
        (65536, False),
        ("x", False),
        (True, False),
    ],
)
def test_to_port(given: object, ok: bool) -> None:
    if ok:
        assert sgd.to_port(given) == (None if given is None else int(given))  # type: ignore[arg-type]
    else:
        with pytest.raises(NamedBadRequest) as exc:
            sgd.to_port(given)
        assert exc.value.message == f"Invalid value for port {given}"


def test_ip_prefix_keeps_host_bits_and_normalizes_separately() -> None:
    assert sgd.to_ip_prefix("10.0.0.34/24") == "10.0.0.34/24"
    assert sgd.to_ip_prefix("10.0.0.1") == "10.0.0.1/32"
    assert sgd.to_ip_prefix("2001:DB8::1/64") == "2001:db8::1/64"
    assert sgd.to_ip_prefix(None) is None and sgd.to_ip_prefix("") is None
    assert sgd.normalized_cidr("10.0.0.34/24") == "10.0.0.0/24"
    assert sgd.normalized_cidr(None) is None
    for bad in ("192.168.1./24", "192.168.1.1/33", "bad_prefix", "256", 5):
        with pytest.raises(NamedBadRequest) as exc:
            sgd.to_ip_prefix(bad)
        assert _kind(exc) == "InvalidCIDR"


def _canon(**kw: object) -> Rule:
    return sgd.canonical_rule(Rule(security_group_id="sg", direction="ingress", **kw))  # type: ignore[arg-type]


def test_canonical_ipv6_icmp_and_full_port_range() -> None:
    assert _canon(ethertype="IPv6", protocol="icmp").protocol == "ipv6-icmp"
    assert _canon(ethertype="IPv6", protocol="icmpv6").protocol == "ipv6-icmp"
    assert _canon(ethertype="IPv6", protocol="1").protocol == "58"
    assert _canon(protocol="icmp").protocol == "icmp"
    full = _canon(protocol="tcp", port_range_min=1, port_range_max=65535)
    assert (full.port_range_min, full.port_range_max) == (None, None)


@pytest.mark.parametrize(
    ("kw", "kind"),
    [
        ({"port_range_min": 1}, "SecurityGroupProtocolRequiredWithPorts"),
        (
            {"protocol": "tcp", "port_range_min": 0, "port_range_max": 10},
            "SecurityGroupInvalidPortValue",
        ),
        (
            {"protocol": "udp", "port_range_min": 10, "port_range_max": 9},
            "SecurityGroupInvalidPortRange",
        ),
        ({"protocol": "sctp", "port_range_max": 9}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "icmp", "port_range_min": 256}, "SecurityGroupInvalidIcmpValue"),
        (
            {"protocol": "ipv6-icmp", "ethertype": "IPv6", "port_range_max": 1},
            "SecurityGroupMissingIcmpType",
        ),
        (
            {"protocol": "47", "port_range_min": 1, "port_range_max": 1},
            "SecurityGroupInvalidProtocolForPort",
        ),
        (
            {"ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/64"},
            "SecurityGroupRuleParameterConflict",
        ),
        ({"protocol": "ipv6-frag"}, "SecurityGroupEthertypeConflictWithProtocol"),
        ({"protocol": "44"}, "SecurityGroupEthertypeConflictWithProtocol"),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"},
            "SecurityGroupMultipleRemoteEntites",
        ),
    ],
)
def test_canonical_rule_refuses(kw: dict[str, object], kind: str) -> None:
    with pytest.raises(NamedBadRequest) as exc:
        _canon(**kw)
    assert _kind(exc) == kind


def test_icmp_type_and_code_accepted() -> None:
    for low, high in ((3, 2), (3, 0), (8, 0), (0, 0), (11, None)):
        rule = _canon(protocol="icmp", port_range_min=low, port_range_max=high)
        assert (rule.port_range_min, rule.port_range_max) == (low, high)


def test_rule_key_matches_neutrons_duplicates() -> None:
    base = Rule("sg", "ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    same = Rule("sg", "ingress", protocol="6", port_range_min=22, port_range_max=22)
    assert sgd.rule_key(base) == sgd.rule_key(same)
    assert sgd.rule_key(Rule("sg", "egress")) == sgd.rule_key(
        Rule("sg", "egress", remote_ip_prefix="0.0.0.0/0")
    )
    assert sgd.rule_key(Rule("sg", "ingress", remote_ip_prefix="10.0.0.1/24")) != sgd.rule_key(
        Rule("sg", "ingress", remote_ip_prefix="10.0.0.0/24")
    )
    assert sgd.rule_key(Rule("sg", "ingress", "IPv6", protocol="icmp")) == sgd.rule_key(
        Rule("sg", "ingress", "IPv6", protocol="58")
    )
    # As in Neutron, 'hopopt' and 'ip' (both protocol 0) are different rules.
    assert sgd.rule_key(Rule("sg", "ingress", protocol="hopopt")) != sgd.rule_key(
        Rule("sg", "ingress", protocol="ip")
    )
    row = {
        "security_group_id": "sg",
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "id": "r",
    }
    assert sgd.rule_key(row) == sgd.rule_key(base)


def test_legacy_templates_give_todays_first_rules() -> None:
    def shape(templates: list[sgd.Template]) -> list[tuple[str, str, str | None]]:
        return [
            (r.direction, r.ethertype, r.remote_group_id)
            for r in sgd.rules_from_templates("g", templates)
        ]

    legacy = list(sgd.LEGACY_TEMPLATES)
    plain = shape([t for t in legacy if t.used_in_non_default_sg])
    assert plain == [("egress", "IPv4", None), ("egress", "IPv6", None)]
    default = shape([t for t in legacy if t.used_in_default_sg])
    assert sorted(default) == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", "g"),
        ("ingress", "IPv6", "g"),
    ]


def test_templates_overlap_only_for_the_same_kind_of_group() -> None:
    rule = Rule(sgd.TEMPLATE_GROUP, "ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    both = sgd.Template(rule, True, True)
    only_default = sgd.Template(rule, True, False)
    only_other = sgd.Template(rule, False, True)
    assert sgd.templates_overlap(both, only_default)
    assert sgd.templates_overlap(both, only_other)
    assert not sgd.templates_overlap(only_default, only_other)
    assert not sgd.templates_overlap(
        only_default,
        sgd.Template(
            Rule(sgd.TEMPLATE_GROUP, "ingress", protocol="6", port_range_min=22, port_range_max=23),
            True,
            False,
        ),
    )
    assert sgd.templates_overlap(
        only_default,
        sgd.Template(
            Rule(sgd.TEMPLATE_GROUP, "ingress", protocol="6", port_range_min=22, port_range_max=22),
            True,
            False,
        ),
    )
