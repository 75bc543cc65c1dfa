"""Default security-group rules (``security-groups-default-rules``) through the HTTP API: the
seeded legacy templates, the wire shape, admin-only writes, validation and duplicates, and new
groups taking their first rules from the templates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

URL = "/v2.0/default-security-group-rules"
KEYS = {
    "id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
    "description",
    "used_in_default_sg",
    "used_in_non_default_sg",
}


def _templates(caller: Caller, query: str = "") -> list[dict[str, Any]]:
    r = caller.get(URL + query)
    assert r.status_code == 200, r.text
    return r.json()["default_security_group_rules"]  # type: ignore[no-any-return]


def _create(caller: Caller, **attrs: Any) -> Any:
    attrs.setdefault("direction", "ingress")
    return caller.post(URL, {"default_security_group_rule": attrs})


def _error(r: Any) -> str:
    return r.json()["NeutronError"]["type"]  # type: ignore[no-any-return]


def _shape(rules: list[dict[str, Any]], group_id: str) -> list[tuple[Any, ...]]:
    """Rules (of a group or templates) as comparable tuples; PARENT stands for ``group_id``."""
    return sorted(
        (
            (
                r["direction"],
                r["ethertype"],
                r["protocol"],
                r["port_range_min"],
                r["port_range_max"],
                r["remote_ip_prefix"],
                "PARENT" if r["remote_group_id"] == group_id else r["remote_group_id"],
            )
            for r in rules
        ),
        key=str,
    )


def _group(caller: Caller, **attrs: Any) -> dict[str, Any]:
    return caller.create("security-groups", "security_group", **attrs)


def test_legacy_templates_are_seeded_and_readable_by_anyone(api: Caller) -> None:
    member = api.as_member()
    seeded = _templates(member)
    assert all(set(t) == KEYS for t in seeded)
    plain = [{k: v for k, v in t.items() if k != "id"} for t in seeded]
    egress = {
        "direction": "egress",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "remote_address_group_id": None,
        "used_in_default_sg": True,
        "used_in_non_default_sg": True,
        "description": "Legacy default SG rule for egress traffic",
    }
    ingress = {
        **egress,
        "direction": "ingress",
        "remote_group_id": "PARENT",
        "used_in_non_default_sg": False,
        "description": "Legacy default SG rule for ingress traffic",
    }
    assert sorted(plain, key=str) == sorted(
        [
            {**egress, "ethertype": "IPv4"},
            {**egress, "ethertype": "IPv6"},
            {**ingress, "ethertype": "IPv4"},
            {**ingress, "ethertype": "IPv6"},
        ],
        key=str,
    )
    shown = member.get(f"{URL}/{seeded[0]['id']}").json()["default_security_group_rule"]
    assert shown == seeded[0]


def test_list_filters_fields_sort_and_pagination(api: Caller) -> None:
    assert len(_templates(api, "?used_in_default_sg=True")) == 4
    assert {t["direction"] for t in _templates(api, "?used_in_non_default_sg=true")} == {"egress"}
    assert [
        t["ethertype"]
        for t in _templates(api, "?direction=ingress&sort_key=ethertype&sort_dir=desc")
    ] == ["IPv6", "IPv4"]
    assert _templates(api, "?remote_group_id=PARENT&fields=direction") == [
        {"direction": "ingress"},
        {"direction": "ingress"},
    ]
    assert len(_templates(api, "?remote_address_group_id=null")) == 4
    assert _templates(api, "?remote_address_group_id=x") == []
    assert api.get(URL + "?bogus=1").status_code == 400
    first = api.get(URL + "?limit=3").json()
    assert len(first["default_security_group_rules"]) == 3
    marker = first["default_security_group_rules"][-1]["id"]
    rest = _templates(api, f"?limit=3&marker={marker}")
    assert len(rest) == 1


def test_lifecycle_defaults_and_admin_only_writes(api: Caller) -> None:
    member = api.as_member()
    r = _create(member, protocol="tcp", port_range_min=22, port_range_max=22)
    assert r.status_code == 403
    r = _create(
        api, protocol="TCP", port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.1"
    )
    assert r.status_code == 201, r.text
    created = r.json()["default_security_group_rule"]
    assert set(created) == KEYS
    assert {k: v for k, v in created.items() if k != "id"} == {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "10.0.0.1/32",
        "remote_group_id": None,
        "remote_address_group_id": None,
        "description": "",
        "used_in_default_sg": False,
        "used_in_non_default_sg": True,
    }
    url = f"{URL}/{created['id']}"
    assert member.get(url).json()["default_security_group_rule"] == created
    r = api.put(url, {"default_security_group_rule": {"description": "x"}})
    assert r.status_code == 405
    assert member.delete(url).status_code == 403
    assert api.delete(url).status_code == 204
    r = api.get(url)
    assert r.status_code == 404 and _error(r) == "DefaultSecurityGroupRuleNotFound"
    assert api.delete(url).status_code == 404


def test_duplicates_conflict_within_the_same_kind_of_group(api: Caller) -> None:
    rule = {"protocol": "tcp", "port_range_min": 5000, "port_range_max": 5000}
    first = _create(api, **rule, used_in_default_sg=True, used_in_non_default_sg=True)
    assert first.status_code == 201
    first_id = first.json()["default_security_group_rule"]["id"]
    for flags in ((True, False), (False, True)):
        r = _create(
            api,
            **{**rule, "protocol": "6"},
            used_in_default_sg=flags[0],
            used_in_non_default_sg=flags[1],
        )
        assert r.status_code == 409 and _error(r) == "DefaultSecurityGroupRuleExists"
        assert r.json()["NeutronError"]["message"] == (
            f"Default Security group rule already exists. Rule id is {first_id}."
        )
    # The legacy egress templates already say "egress anywhere".
    r = _create(api, direction="egress", remote_ip_prefix="0.0.0.0/0")
    assert r.status_code == 409
    # The same rule for different kinds of groups is two templates.
    other = {"protocol": "udp", "port_range_min": 53, "port_range_max": 53}
    assert (
        _create(api, **other, used_in_default_sg=True, used_in_non_default_sg=False).status_code
        == 201
    )
    assert (
        _create(api, **other, used_in_default_sg=False, used_in_non_default_sg=True).status_code
        == 201
    )
    body = {"direction": "ingress", "protocol": "gre"}
    r = api.post(
        URL,
        {
            "default_security_group_rules": [
                {"default_security_group_rule": body},
                {"default_security_group_rule": body},
            ]
        },
    )
    assert r.status_code == 409 and _error(r) == "DuplicateDefaultSgRuleInPost"
    assert _templates(api, "?protocol=gre") == []


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ({"protocol": "nonsense"}, "SecurityGroupRuleInvalidProtocol"),
        ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 79},
            "SecurityGroupInvalidPortRange",
        ),
        ({"protocol": "icmp", "port_range_max": 6}, "SecurityGroupMissingIcmpType"),
        (
            {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
            "SecurityGroupRuleParameterConflict",
        ),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "PARENT"},
            "SecurityGroupMultipleRemoteEntites",
        ),
        ({"remote_group_id": "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"}, "HTTPBadRequest"),
        ({"remote_address_group_id": "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"}, "HTTPBadRequest"),
        ({"used_in_default_sg": "maybe"}, "HTTPBadRequest"),
        ({"security_group_id": "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"}, "HTTPBadRequest"),
    ],
)
def test_validation_is_the_rules_validation(api: Caller, attrs: dict[str, Any], kind: str) -> None:
    r = _create(api, **attrs)
    assert r.status_code == 400, r.text
    assert _error(r) == kind
    assert len(_templates(api)) == 4


def test_new_groups_take_their_rules_from_the_templates(api: Caller) -> None:
    ssh = _create(api, protocol="tcp", port_range_min=22, port_range_max=22).json()[
        "default_security_group_rule"
    ]
    web = _create(
        api,
        protocol="tcp",
        port_range_min=80,
        port_range_max=80,
        remote_group_id="PARENT",
        used_in_default_sg=True,
        used_in_non_default_sg=False,
    ).json()["default_security_group_rule"]
    member = api.as_member()
    default = member.get("/v2.0/security-groups").json()["security_groups"][0]
    assert default["name"] == "default"
    assert _shape(default["security_group_rules"], default["id"]) == _shape(
        _templates(api, "?used_in_default_sg=true"), ""
    )
    assert ("ingress", "IPv4", "tcp", 80, 80, None, "PARENT") in _shape(
        default["security_group_rules"], default["id"]
    )
    sg = _group(member, name="web")
    assert _shape(sg["security_group_rules"], sg["id"]) == sorted(
        [
            ("egress", "IPv4", None, None, None, None, None),
            ("egress", "IPv6", None, None, None, None, None),
            ("ingress", "IPv4", "tcp", 22, 22, None, None),
        ],
        key=str,
    )
    # Changing the templates changes only the groups created afterwards.
    for template in (ssh, web):
        assert api.delete(f"{URL}/{template['id']}").status_code == 204
    for template in _templates(api, "?direction=egress"):
        assert api.delete(f"{URL}/{template['id']}").status_code == 204
    bare = _group(member, name="bare")
    assert bare["security_group_rules"] == []
    shown = member.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert len(shown["security_group_rules"]) == 3


def test_network_create_makes_the_projects_default_group(api: Caller) -> None:
    member = api.as_member()
    details = f"/v2.0/quotas/{member.project_id}/details"
    assert member.get(details).json()["quota"]["security_group"]["used"] == 0
    member.network()
    used = member.get(details).json()["quota"]
    assert used["security_group"]["used"] == 1 and used["security_group_rule"]["used"] == 4
    member.network()
    assert member.get(details).json()["quota"]["security_group"]["used"] == 1
    groups = member.get("/v2.0/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    # An admin creating a network for another project makes that project's default group.
    other = api.as_member()
    api.network(project_id=other.project_id)
    assert (
        other.get(f"/v2.0/quotas/{other.project_id}/details").json()["quota"]["security_group"][
            "used"
        ]
        == 1
    )
