"""Security groups and rules through the HTTP API: wire shape, the default group's lifecycle,
rule validation with Neutron's error types, duplicates, visibility, and ports' tri-state."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Caller

GROUP_KEYS = {
    "id",
    "name",
    "stateful",
    "tenant_id",
    "project_id",
    "description",
    "shared",
    "security_group_rules",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
}
RULE_KEYS = {
    "id",
    "project_id",
    "security_group_id",
    "ethertype",
    "direction",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "normalized_cidr",
    "remote_group_id",
    "remote_address_group_id",
    "belongs_to_default_sg",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
    "tenant_id",
}


def _group(caller: Caller, **attrs: Any) -> dict[str, Any]:
    return caller.create("security-groups", "security_group", **attrs)


def _rule(caller: Caller, group_id: str, **attrs: Any) -> Any:
    attrs.setdefault("direction", "ingress")
    return caller.post(
        "/v2.0/security-group-rules",
        {"security_group_rule": {"security_group_id": group_id, **attrs}},
    )


def _error(r: Any) -> str:
    return r.json()["NeutronError"]["type"]  # type: ignore[no-any-return]


def _default(caller: Caller) -> dict[str, Any]:
    groups = caller.get("/v2.0/security-groups?name=default").json()["security_groups"]
    assert len(groups) == 1
    return groups[0]  # type: ignore[no-any-return]


def test_create_has_neutron_shape_and_egress_rules(api: Caller) -> None:
    member = api.as_member()
    sg = _group(member, name="web", description="d")
    assert set(sg) == GROUP_KEYS
    assert sg["project_id"] == sg["tenant_id"] == member.project_id
    assert sg["stateful"] is True and sg["shared"] is False and sg["revision_number"] == 1
    rules = sg["security_group_rules"]
    assert sorted((r["direction"], r["ethertype"]) for r in rules) == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    assert all(
        set(r) == RULE_KEYS
        and r["protocol"] is None
        and r["remote_group_id"] is None
        and r["security_group_id"] == sg["id"]
        for r in rules
    )
    shown = member.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert shown == sg


def test_default_group_created_on_first_list_with_member_rules(api: Caller) -> None:
    member = api.as_member()
    groups = member.get("/v2.0/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert default["description"] == "Default security group"
    assert sorted(
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in default["security_group_rules"]
    ) == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["id"]),
        ("ingress", "IPv6", default["id"]),
    ]
    again = member.get("/v2.0/security-groups").json()["security_groups"]
    assert [g["id"] for g in again] == [default["id"]]  # created once


def test_default_group_is_protected_but_admin_may_delete_it(api: Caller) -> None:
    member = api.as_member()
    default = _default(member)
    r = member.delete(f"/v2.0/security-groups/{default['id']}")
    assert r.status_code == 409 and _error(r) == "SecurityGroupCannotRemoveDefault"
    r = member.put(f"/v2.0/security-groups/{default['id']}", {"security_group": {"name": "x"}})
    assert r.status_code == 409 and _error(r) == "SecurityGroupCannotUpdateDefault"
    r = member.put(
        f"/v2.0/security-groups/{default['id']}", {"security_group": {"description": "mine"}}
    )
    assert r.status_code == 200 and r.json()["security_group"]["description"] == "mine"
    r = member.post("/v2.0/security-groups", {"security_group": {"name": "Default"}})
    assert r.status_code == 409 and _error(r) == "SecurityGroupDefaultAlreadyExists"
    other = _group(member, name="other")
    r = member.put(f"/v2.0/security-groups/{other['id']}", {"security_group": {"name": "default"}})
    assert r.status_code == 409 and _error(r) == "SecurityGroupDefaultAlreadyExists"
    assert api.delete(f"/v2.0/security-groups/{default['id']}").status_code == 204
    recreated = _default(member)
    assert recreated["id"] != default["id"]


def test_update_name_description_stateful_and_revision(api: Caller) -> None:
    sg = _group(api, name="a")
    r = api.put(
        f"/v2.0/security-groups/{sg['id']}",
        {"security_group": {"name": "b", "description": "c", "stateful": False}},
    )
    assert r.status_code == 200
    body = r.json()["security_group"]
    assert (body["name"], body["description"], body["stateful"]) == ("b", "c", False)
    assert body["revision_number"] == 2
    r = api.put(f"/v2.0/security-groups/{sg['id']}", {"security_group": {"name": True}})
    assert r.status_code == 400
    r = api.post("/v2.0/security-groups", {"security_group": {"name": "x" * 256}})
    assert r.status_code == 400


def test_bulk_create_and_list_filters_sort_and_unknown_filter(api: Caller) -> None:
    r = api.post(
        "/v2.0/security-groups",
        {
            "security_groups": [
                {"security_group": {"name": "bulk-b"}},
                {"security_group": {"name": "bulk-a"}},
            ]
        },
    )
    assert r.status_code == 201 and len(r.json()["security_groups"]) == 2
    names = [
        g["name"]
        for g in api.get("/v2.0/security-groups?sort_key=name&sort_dir=asc").json()[
            "security_groups"
        ]
    ]
    assert names == sorted(names) and {"bulk-a", "bulk-b", "default"} <= set(names)
    found = api.get("/v2.0/security-groups?name=bulk-a").json()["security_groups"]
    assert [g["name"] for g in found] == ["bulk-a"]
    r = api.get("/v2.0/security-groups?bogus=1")
    assert r.status_code == 400
    page = api.get("/v2.0/security-groups?limit=1&sort_key=name").json()
    assert len(page["security_groups"]) == 1 and page["security_groups_links"]


def test_projects_are_isolated(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    sg = _group(alice, name="alice")
    r = bob.get(f"/v2.0/security-groups/{sg['id']}")
    assert r.status_code == 404 and _error(r) == "SecurityGroupNotFound"
    assert bob.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 404
    assert (
        bob.put(f"/v2.0/security-groups/{sg['id']}", {"security_group": {"name": "x"}}).status_code
        == 404
    )
    assert sg["id"] not in {
        g["id"] for g in bob.get("/v2.0/security-groups").json()["security_groups"]
    }
    r = _rule(bob, sg["id"], protocol="tcp")
    assert r.status_code == 404 and _error(r) == "SecurityGroupNotFound"
    rule_id = sg["security_group_rules"][0]["id"]
    r = bob.get(f"/v2.0/security-group-rules/{rule_id}")
    assert r.status_code == 404 and _error(r) == "SecurityGroupRuleNotFound"
    assert rule_id not in {
        x["id"] for x in bob.get("/v2.0/security-group-rules").json()["security_group_rules"]
    }
    assert sg["id"] in {g["id"] for g in api.get("/v2.0/security-groups").json()["security_groups"]}


def test_reader_reads_but_cannot_write(api: Caller) -> None:
    member = api.as_member()
    sg = _group(member, name="r")
    reader = api.as_reader(member.project_id)
    assert reader.get(f"/v2.0/security-groups/{sg['id']}").status_code == 200
    r = reader.post("/v2.0/security-groups", {"security_group": {"name": "no"}})
    assert r.status_code == 403
    assert _rule(reader, sg["id"], protocol="tcp").status_code == 403


def test_rule_create_show_list_delete_and_revision(api: Caller) -> None:
    member = api.as_member()
    sg = _group(member, name="rules")
    r = _rule(
        member,
        sg["id"],
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert r.status_code == 201
    rule = r.json()["security_group_rule"]
    assert set(rule) == RULE_KEYS
    assert (rule["ethertype"], rule["protocol"], rule["normalized_cidr"], rule["description"]) == (
        "IPv4",
        "tcp",
        "0.0.0.0/0",
        "",
    )
    assert (
        member.get(f"/v2.0/security-group-rules/{rule['id']}").json()["security_group_rule"] == rule
    )
    listed = member.get(f"/v2.0/security-group-rules?security_group_id={sg['id']}").json()
    assert rule["id"] in {x["id"] for x in listed["security_group_rules"]}
    assert rule["remote_address_group_id"] is None
    assert (
        member.get(
            f"/v2.0/security-group-rules?security_group_id={sg['id']}&remote_address_group_id=x"
        ).json()["security_group_rules"]
        == []
    )
    shown = member.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert shown["revision_number"] == 2 and len(shown["security_group_rules"]) == 3
    r = member.put(
        f"/v2.0/security-group-rules/{rule['id']}", {"security_group_rule": {"description": "x"}}
    )
    assert r.status_code == 405
    assert member.delete(f"/v2.0/security-group-rules/{rule['id']}").status_code == 204
    assert member.get(f"/v2.0/security-group-rules/{rule['id']}").status_code == 404


def test_normalized_cidr_keeps_given_prefix(api: Caller) -> None:
    sg = _group(api)
    rule = _rule(api, sg["id"], remote_ip_prefix="10.0.0.34/24").json()["security_group_rule"]
    assert (rule["remote_ip_prefix"], rule["normalized_cidr"]) == ("10.0.0.34/24", "10.0.0.0/24")
    rule = _rule(api, sg["id"], ethertype="ipv6", remote_ip_prefix="2001:db8::1").json()[
        "security_group_rule"
    ]
    assert (rule["ethertype"], rule["remote_ip_prefix"], rule["normalized_cidr"]) == (
        "IPv6",
        "2001:db8::1/128",
        "2001:db8::1/128",
    )


def test_protocol_numbers_names_any_and_icmp(api: Caller) -> None:
    sg = _group(api)
    assert _rule(api, sg["id"], protocol=17).json()["security_group_rule"]["protocol"] == "17"
    assert (
        _rule(api, sg["id"], protocol="UDPLITE").json()["security_group_rule"]["protocol"]
        == "udplite"
    )
    r = _rule(api, sg["id"], protocol="any", direction="egress", remote_ip_prefix="10.1.0.0/16")
    assert r.json()["security_group_rule"]["protocol"] is None
    r = _rule(api, sg["id"], protocol="icmp", port_range_min=8, port_range_max=0)
    assert (
        r.json()["security_group_rule"]["port_range_min"],
        r.json()["security_group_rule"]["port_range_max"],
    ) == (8, 0)
    r = _rule(api, sg["id"], protocol="icmp", ethertype="IPv6")
    assert r.json()["security_group_rule"]["protocol"] == "ipv6-icmp"
    r = _rule(api, sg["id"], protocol="tcp", port_range_min=1, port_range_max=65535)
    body = r.json()["security_group_rule"]
    assert (body["port_range_min"], body["port_range_max"]) == (None, None)


def test_bad_protocol_message_is_neutrons(api: Caller) -> None:
    sg = _group(api)
    r = _rule(api, sg["id"], protocol="nonsense")
    assert r.status_code == 400
    assert r.json()["NeutronError"] == {
        "type": "SecurityGroupRuleInvalidProtocol",
        "message": "Security group rule protocol nonsense not supported. Only protocol values "
        "(None, 'any', 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', "
        "'ip', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', "
        "'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', "
        "'tcp', 'udp', 'udplite', 'vrrp') and integer representations [0 to 255] "
        "are supported.",
        "detail": "",
    }


@pytest.mark.parametrize(
    ("attrs", "status", "kind", "text"),
    [
        ({"protocol": 256}, 400, "SecurityGroupRuleInvalidProtocol", None),
        ({"ethertype": "bad"}, 400, "SecurityGroupRuleInvalidEtherType", None),
        ({"direction": "sideways"}, 400, "HTTPBadRequest", None),
        (
            {"protocol": "tcp", "port_range_min": -16, "port_range_max": 80},
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value for port -16",
        ),
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 79},
            400,
            "SecurityGroupInvalidPortRange",
            "port_range_min must be <= port_range_max",
        ),
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 65536},
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value for port 65536",
        ),
        ({"protocol": "tcp", "port_range_max": 6}, 400, "SecurityGroupInvalidPortRange", None),
        (
            {"protocol": "icmp", "port_range_min": 1, "port_range_max": 256},
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP code",
        ),
        (
            {"protocol": "icmp", "port_range_min": 300, "port_range_max": 1},
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type",
        ),
        (
            {"protocol": "icmp", "port_range_max": 6},
            400,
            "SecurityGroupMissingIcmpType",
            "ICMP type (port-range-min) is missing",
        ),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
            400,
            "SecurityGroupInvalidProtocolForPort",
            "Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.",
        ),
        (
            {"port_range_min": 1, "port_range_max": 2},
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            None,
        ),
        ({"remote_ip_prefix": "192.168.1.1/33"}, 400, "InvalidCIDR", None),
        ({"remote_ip_prefix": "bad_prefix"}, 400, "InvalidCIDR", None),
        (
            {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv6",
        ),
        (
            {"protocol": "ipv6-icmp", "ethertype": "IPv4"},
            400,
            "SecurityGroupEthertypeConflictWithProtocol",
            None,
        ),
        ({"remote_group_id": "bad_group_id"}, 404, "SecurityGroupNotFound", None),
    ],
)
def test_rule_validation_errors(
    api: Caller, attrs: dict[str, Any], status: int, kind: str, text: str | None
) -> None:
    sg = _group(api)
    r = _rule(api, sg["id"], **attrs)
    assert r.status_code == status, r.text
    assert _error(r) == kind
    if text is not None:
        assert text in r.json()["NeutronError"]["message"]


def test_remote_prefix_and_group_are_exclusive_and_group_must_exist(api: Caller) -> None:
    sg, other = _group(api), _group(api)
    r = _rule(api, sg["id"], remote_ip_prefix="10.0.0.0/8", remote_group_id=other["id"])
    assert r.status_code == 400 and _error(r) == "SecurityGroupMultipleRemoteEntites"
    r = _rule(api, str(uuid.uuid4()), protocol="tcp")
    assert r.status_code == 404 and _error(r) == "SecurityGroupNotFound"
    r = _rule(
        api,
        sg["id"],
        protocol="udp",
        port_range_min=50,
        port_range_max=55,
        remote_group_id=other["id"],
    )
    assert r.status_code == 201
    assert r.json()["security_group_rule"]["remote_group_id"] == other["id"]
    # Deleting the remote group removes the rules naming it.
    assert api.delete(f"/v2.0/security-groups/{other['id']}").status_code == 204
    shown = api.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert all(x["remote_group_id"] is None for x in shown["security_group_rules"])


def test_duplicates_conflict(api: Caller) -> None:
    sg = _group(api)
    first = _rule(api, sg["id"], protocol="tcp", port_range_min=66, port_range_max=67)
    assert first.status_code == 201
    r = _rule(api, sg["id"], protocol="6", port_range_min=66, port_range_max=67)
    assert r.status_code == 409 and _error(r) == "SecurityGroupRuleExists"
    assert r.json()["NeutronError"]["message"] == (
        f"Security group rule already exists. Rule id is "
        f"{first.json()['security_group_rule']['id']}."
    )
    # egress any/any exists from creation; 0.0.0.0/0 is the same as no prefix
    r = _rule(api, sg["id"], direction="egress", remote_ip_prefix="0.0.0.0/0")
    assert r.status_code == 409 and _error(r) == "SecurityGroupRuleExists"
    rule = {"security_group_id": sg["id"], "direction": "ingress", "protocol": "udp"}
    r = api.post(
        "/v2.0/security-group-rules",
        {"security_group_rules": [{"security_group_rule": rule}, {"security_group_rule": rule}]},
    )
    assert r.status_code == 409 and _error(r) == "DuplicateSecurityGroupRuleInPost"


def test_admin_rule_in_members_group_is_visible_to_member(api: Caller) -> None:
    member = api.as_member()
    sg = _group(member)
    r = _rule(api, sg["id"], protocol="tcp", project_id=api.project_id)
    assert r.status_code == 201
    rule_id = r.json()["security_group_rule"]["id"]
    admin_sg = _group(api)
    admin_rule = _rule(api, admin_sg["id"], protocol="tcp").json()["security_group_rule"]["id"]
    ids = {x["id"] for x in member.get("/v2.0/security-group-rules").json()["security_group_rules"]}
    assert rule_id in ids and admin_rule not in ids
    assert member.get(f"/v2.0/security-group-rules/{rule_id}").status_code == 200


def test_deleting_group_deletes_its_rules(api: Caller) -> None:
    sg = _group(api)
    rule_id = _rule(api, sg["id"], protocol="tcp").json()["security_group_rule"]["id"]
    assert api.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 204
    assert api.get(f"/v2.0/security-group-rules/{rule_id}").status_code == 404
    assert api.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 404


# --- ports -------------------------------------------------------------------------------------


def test_port_security_groups_tri_state(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    omitted = member.port(net["id"])
    default = _default(member)
    assert omitted["security_groups"] == [default["id"]]
    assert member.port(net["id"], security_groups=[])["security_groups"] == []
    assert member.port(net["id"], security_groups=None)["security_groups"] == []
    sg = _group(member)
    chosen = member.port(net["id"], security_groups=[sg["id"]])
    assert chosen["security_groups"] == [sg["id"]]
    assert member.port(net["id"], port_security_enabled=False)["security_groups"] == []
    r = member.post(
        "/v2.0/ports",
        {
            "port": {
                "network_id": net["id"],
                "port_security_enabled": False,
                "security_groups": [sg["id"]],
            }
        },
    )
    assert r.status_code == 409
    assert _error(r) == "PortSecurityAndIPRequiredForSecurityGroups"
    # a network:* owner typed through the API is only a claim: the port is filtered like any
    # other, so it gets the default group (only the controller's own ports go without)
    dhcp = api.port(net["id"], device_owner="network:dhcp", project_id=member.project_id)
    assert dhcp["security_groups"] == [default["id"]]


def test_port_with_unknown_or_foreign_group_is_404_and_nothing_written(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    net = alice.network()
    foreign = _group(bob)
    for wanted in ([str(uuid.uuid4())], [foreign["id"]]):
        r = alice.post(
            "/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": wanted}}
        )
        assert r.status_code == 404 and _error(r) == "SecurityGroupNotFound"
    assert alice.get("/v2.0/ports").json()["ports"] == []


def test_port_update_groups_null_list_and_validation(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    port = member.port(net["id"])
    before = port["security_groups"]
    sg = _group(member)
    url = f"/v2.0/ports/{port['id']}"
    r = member.put(url, {"port": {"security_groups": [str(uuid.uuid4())]}})
    assert r.status_code == 404 and _error(r) == "SecurityGroupNotFound"
    assert member.get(url).json()["port"]["security_groups"] == before
    r = member.put(url, {"port": {"security_groups": [sg["id"], sg["id"]]}})
    assert r.status_code == 400
    r = member.put(url, {"port": {"security_groups": [sg["id"]]}})
    assert r.json()["port"]["security_groups"] == [sg["id"]]
    r = member.put(url, {"port": {"security_groups": None}})
    assert r.json()["port"]["security_groups"] == []


def test_stateful_and_stateless_do_not_mix_and_in_use_rules(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    stateful, stateless = _group(member), _group(member, stateful=False)
    r = member.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "security_groups": [stateful["id"], stateless["id"]]}},
    )
    assert r.status_code == 409 and _error(r) == "SecurityGroupConflict"
    port = member.port(net["id"], security_groups=[stateful["id"]])
    r = member.put(
        f"/v2.0/security-groups/{stateful['id']}", {"security_group": {"stateful": False}}
    )
    assert r.status_code == 409 and _error(r) == "SecurityGroupInUse"
    r = member.delete(f"/v2.0/security-groups/{stateful['id']}")
    assert r.status_code == 409 and _error(r) == "SecurityGroupInUse"
    assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert member.delete(f"/v2.0/security-groups/{stateful['id']}").status_code == 204


def test_default_group_recreated_on_port_update(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    port = member.port(net["id"], security_groups=[])
    default = _default(member)
    assert api.delete(f"/v2.0/security-groups/{default['id']}").status_code == 204
    r = member.put(f"/v2.0/ports/{port['id']}", {"port": {"name": "x"}})
    assert r.status_code == 200
    groups = api.get(f"/v2.0/security-groups?project_id={member.project_id}&name=default")
    assert len(groups.json()["security_groups"]) == 1


def test_extensions_are_advertised(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {
        "security-group",
        "security-groups-normalized-cidr",
        "stateful-security-group",
        "security-groups-default-rules",
    } <= aliases


# --- quotas ------------------------------------------------------------------------------------


def _quota(api: Caller, project_id: str, **limits: Any) -> Any:
    return api.put(f"/v2.0/quotas/{project_id}", {"quota": limits})


def test_security_group_quota(api: Caller) -> None:
    member = api.as_member()
    pid = member.project_id
    quota = member.get(f"/v2.0/quotas/{pid}").json()["quota"]
    assert (quota["security_group"], quota["security_group_rule"]) == (10, 100)
    _default(member)
    assert _quota(api, pid, security_group=2).status_code == 200
    _group(member, name="one")
    r = member.post("/v2.0/security-groups", {"security_group": {"name": "two"}})
    assert r.status_code == 409 and r.json()["NeutronError"] == {
        "type": "OverQuota",
        "message": "Quota exceeded for resources: ['security_group'].",
        "detail": "",
    }
    details = member.get(f"/v2.0/quotas/{pid}/details").json()["quota"]
    assert details["security_group"] == {"limit": 2, "used": 2, "reserved": 0}
    assert details["security_group_rule"] == {"limit": 100, "used": 6, "reserved": 0}
    # A limit below what is used needs force, as in Neutron.
    r = _quota(api, pid, security_group=1)
    assert r.status_code == 400 and "already used 2" in r.json()["NeutronError"]["message"]
    assert _quota(api, pid, security_group=0, force=True).status_code == 200
    assert _quota(api, pid, security_group=2**31).status_code == 400
    r = api.post(
        "/v2.0/security-groups", {"security_group": {"name": "admin's", "project_id": pid}}
    )
    assert r.status_code == 409


def test_security_group_rule_quota_counts_rules_new_groups_take(api: Caller) -> None:
    member = api.as_member()
    pid = member.project_id
    sg = _group(member)  # and the default group: 2 + 4 rules
    assert _quota(api, pid, security_group_rule=7).status_code == 200
    assert _rule(member, sg["id"], protocol="tcp").status_code == 201
    r = _rule(member, sg["id"], protocol="udp")
    assert r.status_code == 409 and r.json()["NeutronError"]["message"] == (
        "Quota exceeded for resources: ['security_group_rule']."
    )
    r = member.post(
        "/v2.0/security-group-rules",
        {
            "security_group_rules": [
                {
                    "security_group_rule": {
                        "security_group_id": sg["id"],
                        "direction": "ingress",
                        "protocol": p,
                    }
                }
                for p in ("gre", "esp")
            ]
        },
    )
    assert r.status_code == 409
    r = member.post("/v2.0/security-groups", {"security_group": {"name": "needs-2-rules"}})
    assert r.status_code == 409 and "security_group_rule" in r.json()["NeutronError"]["message"]
    assert _quota(api, pid, security_group_rule=-1).status_code == 200
    assert _rule(member, sg["id"], protocol="udp").status_code == 201


def test_implicit_default_group_ignores_quota(api: Caller) -> None:
    member = api.as_member()
    assert (
        _quota(api, member.project_id, security_group=0, security_group_rule=0).status_code == 200
    )
    net = member.network()
    port = member.port(net["id"])
    assert port["security_groups"] == [_default(member)["id"]]
