"""Address groups on SQLite and PostgreSQL: Neutron's attributes, normalisation, the member
actions and their errors, rules naming a group (exclusive remotes, delete refused while
used), RBAC sharing (``rbac-address-group``) and list semantics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

GROUPS = "/v2.0/address-groups"
RULES = "/v2.0/security-group-rules"


def group(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(GROUPS, {"address_group": {"name": attrs.pop("name", "ag"), **attrs}})
    assert r.status_code == status, r.text
    return r.json()["address_group"] if status == 201 else r.json()["NeutronError"]


def rule(caller: Caller, sg: str, status: int = 201, **attrs: Any) -> Any:
    body = {"security_group_rule": {"security_group_id": sg, "direction": "ingress", **attrs}}
    r = caller.post(RULES, body)
    assert r.status_code == status, r.text
    return r.json()["security_group_rule"] if status == 201 else r.json()["NeutronError"]


def test_create_normalises_and_shows(api: Caller) -> None:
    made = group(
        api, description="d", addresses=["192.0.2.7/24", "2001:db8::1/64", "198.51.100.5/32"]
    )
    assert made["addresses"] == ["192.0.2.0/24", "198.51.100.5/32", "2001:db8::/64"]
    assert made["shared"] is False and made["description"] == "d"
    assert made["project_id"] == made["tenant_id"] == api.project_id
    assert made["revision_number"] == 0
    assert api.get(f"{GROUPS}/{made['id']}").json()["address_group"] == made
    assert group(api, addresses=None)["addresses"] == []
    assert group(api)["addresses"] == []


@pytest.mark.parametrize(
    "attrs",
    [
        {"addresses": ["192.0.2.1"]},
        {"addresses": ["not-a-cidr/8"]},
        {"addresses": ["192.0.2.0/24", "192.0.2.0/24"]},
        {"addresses": "192.0.2.0/24"},
        {"addresses": [7]},
        {"shared": True},
        {"description": "x" * 1025},
        {"bogus": 1},
    ],
)
def test_create_refused(api: Caller, attrs: dict[str, Any]) -> None:
    err = group(api, 400, **attrs)
    assert err["type"] == "HTTPBadRequest", err
    assert api.get(GROUPS).json()["address_groups"] == []


def test_update_and_actions(api: Caller) -> None:
    made = group(api, addresses=["192.0.2.0/24"])
    url = f"{GROUPS}/{made['id']}"
    r = api.put(url, {"address_group": {"name": "n", "description": "e"}})
    assert r.status_code == 200, r.text
    assert r.json()["address_group"]["name"] == "n"
    assert r.json()["address_group"]["revision_number"] == 1
    r = api.put(url, {"address_group": {"addresses": ["198.51.100.0/24"]}})
    assert r.status_code == 400
    r = api.put(f"{url}/add_addresses", {"addresses": ["198.51.100.9/24", "2001:db8::/48"]})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["address_group"]["addresses"]) == [
        "192.0.2.0/24",
        "198.51.100.0/24",
        "2001:db8::/48",
    ]
    assert r.json()["address_group"]["revision_number"] == 2
    r = api.put(f"{url}/add_addresses", {"addresses": ["192.0.2.1/24", "203.0.113.0/24"]})
    assert r.status_code == 400
    err = r.json()["NeutronError"]
    assert err["type"] == "AddressesAlreadyExist" and "192.0.2.0/24" in err["message"]
    r = api.put(f"{url}/remove_addresses", {"addresses": ["192.0.2.0/24", "203.0.113.0/24"]})
    assert r.status_code == 404
    err = r.json()["NeutronError"]
    assert err["type"] == "AddressesNotFound" and "203.0.113.0/24" in err["message"]
    assert "203.0.113.0/24" not in api.get(url).json()["address_group"]["addresses"]
    r = api.put(f"{url}/remove_addresses", {"addresses": ["192.0.2.0/24"]})
    assert r.status_code == 200
    assert sorted(r.json()["address_group"]["addresses"]) == ["198.51.100.0/24", "2001:db8::/48"]
    # an action takes a bare address as its host prefix (a create does not)
    r = api.put(f"{url}/remove_addresses", {"addresses": ["203.0.113.200"]})
    assert r.status_code == 404 and "203.0.113.200/32" in r.json()["NeutronError"]["message"]
    r = api.put(f"{url}/add_addresses", {"addresses": ["203.0.113.200", "2001:db8:1::1"]})
    assert r.status_code == 200, r.text
    assert {"203.0.113.200/32", "2001:db8:1::1/128"} <= set(r.json()["address_group"]["addresses"])
    assert group(api, 400, addresses=["203.0.113.7"])["type"] == "HTTPBadRequest"
    for body in ({}, {"addresses": "x"}, {"addresses": ["nope"]}, [1], {"addresses": [], "x": 1}):
        assert api.put(f"{url}/add_addresses", body).status_code == 400, body
    assert api.put(f"{GROUPS}/{'0' * 8}/add_addresses", {"addresses": []}).status_code == 404


def test_rules_with_remote_address_group(api: Caller) -> None:
    ag = group(api, addresses=["192.0.2.0/24"])
    sg = api.create("security-groups", "security_group", name="g")["id"]
    made = rule(api, sg, protocol="tcp", remote_address_group_id=ag["id"])
    assert made["remote_address_group_id"] == ag["id"]
    assert made["remote_ip_prefix"] is None and made["remote_group_id"] is None
    listed = api.get(RULES, params={"remote_address_group_id": ag["id"]}).json()
    assert [r["id"] for r in listed["security_group_rules"]] == [made["id"]]
    for extra in ({"remote_ip_prefix": "192.0.2.0/24"}, {"remote_group_id": sg}):
        err = rule(api, sg, 400, remote_address_group_id=ag["id"], **extra)
        assert err["type"] == "SecurityGroupMultipleRemoteEntites"
    assert rule(api, sg, 409, protocol="tcp", remote_address_group_id=ag["id"])["type"] == (
        "SecurityGroupRuleExists"
    )
    missing = "6c3b1b36-2c3e-4f6e-9a36-6b0f3c7d4a10"
    assert rule(api, sg, 404, remote_address_group_id=missing)["type"] == "AddressGroupNotFound"
    assert rule(api, sg, 400, remote_address_group_id="x")["type"] == "HTTPBadRequest"
    r = api.delete(f"{GROUPS}/{ag['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "AddressGroupInUse"
    assert api.delete(f"{RULES}/{made['id']}").status_code == 204
    assert api.delete(f"{GROUPS}/{ag['id']}").status_code == 204
    assert api.get(f"{GROUPS}/{ag['id']}").status_code == 404


def test_member_policy_and_rbac_sharing(api: Caller) -> None:
    owner, other = api.as_member(), api.as_member()
    mine = group(owner, addresses=["192.0.2.0/24"])
    url = f"{GROUPS}/{mine['id']}"
    assert other.get(url).status_code == 404
    assert other.get(GROUPS).json()["address_groups"] == []
    assert other.put(url, {"address_group": {"name": "x"}}).status_code == 404
    assert other.put(f"{url}/add_addresses", {"addresses": ["10.0.0.0/8"]}).status_code == 404
    assert other.delete(url).status_code == 404
    sg = other.create("security-groups", "security_group", name="g")["id"]
    assert rule(other, sg, 404, remote_address_group_id=mine["id"])["type"] == (
        "AddressGroupNotFound"
    )
    share = {
        "object_type": "address_group",
        "object_id": mine["id"],
        "action": "access_as_shared",
        "target_tenant": other.project_id,
    }
    r = owner.post("/v2.0/rbac-policies", {"rbac_policy": share})
    assert r.status_code == 201, r.text
    policy = r.json()["rbac_policy"]
    seen = other.get(url).json()["address_group"]
    assert seen["shared"] is True and seen["addresses"] == ["192.0.2.0/24"]
    assert owner.get(url).json()["address_group"]["shared"] is False
    assert [g["id"] for g in other.get(GROUPS).json()["address_groups"]] == [mine["id"]]
    # as Neutron (tempest's RbacSharedAddressGroupTest): updating or deleting a group shared
    # to the caller is a 404, its actions a 403
    r = other.put(url, {"address_group": {"name": "x"}})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AddressGroupNotFound"
    assert other.put(f"{url}/add_addresses", {"addresses": ["10.0.0.0/8"]}).status_code == 403
    assert other.delete(url).status_code == 404
    assert owner.get(url).json()["address_group"]["name"] == mine["name"]
    used = rule(other, sg, remote_address_group_id=mine["id"])
    r = owner.delete(f"/v2.0/rbac-policies/{policy['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    assert other.delete(f"{RULES}/{used['id']}").status_code == 204
    assert owner.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204
    assert other.get(url).status_code == 404
    # the wildcard, an admin's: ``shared`` for everyone; deleting the group drops its policies
    wild = {**share, "target_tenant": "*"}
    assert api.post("/v2.0/rbac-policies", {"rbac_policy": wild}).status_code == 201
    assert owner.get(url).json()["address_group"]["shared"] is True
    assert (
        api.get(GROUPS, params={"shared": "true"}).json()["address_groups"][0]["id"] == (mine["id"])
    )
    assert owner.delete(url).status_code == 204
    assert (
        api.get("/v2.0/rbac-policies", params={"object_id": mine["id"]}).json()["rbac_policies"]
        == []
    )


def test_list_semantics(api: Caller) -> None:
    made = [group(api, name=n, description=f"d{n}") for n in ("b", "a", "c")]
    names = [
        g["name"] for g in api.get(GROUPS, params={"sort_key": "name"}).json()["address_groups"]
    ]
    assert names == ["a", "b", "c"]
    only = api.get(GROUPS, params={"name": "c", "fields": ["id", "addresses"]}).json()
    assert only["address_groups"] == [{"id": made[2]["id"], "addresses": []}]
    page = api.get(GROUPS, params={"limit": 2, "sort_key": "name"}).json()
    assert [g["name"] for g in page["address_groups"]] == ["a", "b"]
    assert api.get(GROUPS, params={"bogus": 1}).status_code == 400
