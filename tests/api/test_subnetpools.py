"""Subnet pools and address scopes on SQLite and PostgreSQL: Neutron's validation, errors and
policy; subnets from pools by prefix length, by cidr and from the default pool; quotas,
prefix actions, affinity rules, RBAC sharing, tags and list semantics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

POOLS = "/v2.0/subnetpools"
SCOPES = "/v2.0/address-scopes"


def pool(caller: Caller, prefixes: list[str], status: int = 201, **attrs: Any) -> Any:
    body = {"subnetpool": {"name": attrs.pop("name", "p"), "prefixes": prefixes, **attrs}}
    r = caller.post(POOLS, body)
    assert r.status_code == status, r.text
    return r.json()["subnetpool"] if status == 201 else r.json()["NeutronError"]


def scope(caller: Caller, version: int = 4, **attrs: Any) -> dict[str, Any]:
    return caller.create("address-scopes", "address_scope", name="s", ip_version=version, **attrs)


def from_pool(caller: Caller, net: str, status: int = 201, **attrs: Any) -> Any:
    body = {"subnet": {"network_id": net, "ip_version": attrs.pop("ip_version", 4), **attrs}}
    r = caller.post("/v2.0/subnets", body)
    assert r.status_code == status, r.text
    return r.json()["subnet"] if status == 201 else r.json()["NeutronError"]


def test_create_show_defaults_and_compaction(api: Caller) -> None:
    made = pool(api, ["10.0.0.128/25", "10.0.0.0/25", "10.1.0.0/16"], description="d")
    assert made["prefixes"] == ["10.0.0.0/24", "10.1.0.0/16"]
    assert made["ip_version"] == 4
    assert (made["min_prefixlen"], made["max_prefixlen"], made["default_prefixlen"]) == (
        "8",
        "32",
        "8",
    )
    assert made["shared"] is False and made["is_default"] is False
    assert made["default_quota"] is None and made["address_scope_id"] is None
    assert made["revision_number"] == 0 and made["tags"] == [] and made["description"] == "d"
    shown = api.get(f"{POOLS}/{made['id']}").json()["subnetpool"]
    assert shown == made
    v6 = pool(api, ["2001:db8::/48"])
    assert (v6["min_prefixlen"], v6["max_prefixlen"], v6["default_prefixlen"]) == (
        "64",
        "128",
        "64",
    )


@pytest.mark.parametrize(
    ("prefixes", "attrs", "kind"),
    [
        ([], {}, "EmptySubnetPoolPrefixList"),
        (["10.0.0.0/8", "2001:db8::/32"], {}, "PrefixVersionMismatch"),
        (
            ["10.0.0.0/8"],
            {"min_prefixlen": 30, "max_prefixlen": 24},
            "IllegalSubnetPoolPrefixBounds",
        ),
        (["10.0.0.0/8"], {"max_prefixlen": 33}, "IllegalSubnetPoolPrefixBounds"),
        (["10.0.0.0/8"], {"default_prefixlen": 4}, "IllegalSubnetPoolPrefixBounds"),
        (["10.0.0.1"], {}, "HTTPBadRequest"),
        (["not-a-cidr"], {}, "HTTPBadRequest"),
        (["10.0.0.0/8"], {"min_prefixlen": -1}, "HTTPBadRequest"),
        (["10.0.0.0/8"], {"default_quota": "x"}, "HTTPBadRequest"),
    ],
)
def test_create_refused(api: Caller, prefixes: list[str], attrs: Any, kind: str) -> None:
    err = pool(api, prefixes, 400, **attrs)
    assert err["type"] == kind, err
    assert api.get(POOLS).json()["subnetpools"] == []


def test_host_bits_name_their_network_and_update_answers_integers(api: Caller) -> None:
    made = pool(api, ["10.11.12.13/24"])
    assert made["prefixes"] == ["10.11.12.0/24"]
    r = api.put(
        f"{POOLS}/{made['id']}", {"subnetpool": {"min_prefixlen": 16, "default_prefixlen": 20}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["subnetpool"]["min_prefixlen"] == 16  # Neutron's update answer
    assert api.get(f"{POOLS}/{made['id']}").json()["subnetpool"]["min_prefixlen"] == "16"


def test_bounds_message_is_neutrons(api: Caller) -> None:
    err = pool(api, ["10.0.0.0/8"], 400, min_prefixlen=30, max_prefixlen=24)
    assert err["message"] == "Illegal prefix bounds: min_prefixlen=30, max_prefixlen=24."


def test_subnet_by_prefixlen_best_fit_and_exhaustion(api: Caller) -> None:
    p = pool(api, ["192.0.2.0/24", "198.51.100.0/28"], default_prefixlen=26, min_prefixlen=24)
    net = api.network()["id"]
    first = from_pool(api, net, subnetpool_id=p["id"], prefixlen=28)
    assert first["cidr"] == "198.51.100.0/28"  # the smallest block that fits
    assert first["subnetpool_id"] == p["id"] and first["gateway_ip"] == "198.51.100.1"
    cidrs = [from_pool(api, net, subnetpool_id=p["id"])["cidr"] for _ in range(4)]
    assert set(cidrs) == {f"192.0.2.{n}/26" for n in (0, 64, 128, 192)}
    err = from_pool(api, net, 409, subnetpool_id=p["id"], prefixlen=30)
    assert err["type"] == "SubnetAllocationError"
    assert err["message"] == (
        "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /30."
    )
    err = from_pool(api, net, 400, subnetpool_id=p["id"], prefixlen=16)
    assert err["type"] == "MinPrefixSubnetAllocationError"
    assert "minimum allowed prefix is 24" in err["message"]


def test_subnet_by_cidr_and_pool_delete(api: Caller) -> None:
    p = pool(api, ["10.10.0.0/16"], max_prefixlen=28)
    net = api.network()["id"]
    sub = from_pool(api, net, subnetpool_id=p["id"], cidr="10.10.5.0/24")
    assert sub["cidr"] == "10.10.5.0/24" and sub["subnetpool_id"] == p["id"]
    err = from_pool(api, api.network()["id"], 409, subnetpool_id=p["id"], cidr="10.10.5.128/25")
    assert err["type"] == "SubnetAllocationError"
    err = from_pool(api, net, 409, subnetpool_id=p["id"], cidr="10.20.0.0/24")
    assert err["type"] == "SubnetAllocationError"
    err = from_pool(api, net, 400, subnetpool_id=p["id"], cidr="10.10.9.0/29")
    assert err["type"] == "MaxPrefixSubnetAllocationError"
    err = from_pool(api, net, 400, subnetpool_id=p["id"], ip_version=6, prefixlen=64)
    assert (
        err["message"] == "Bad subnets request: Cannot allocate IPv6 subnet from IPv4 subnet pool."
    )
    r = api.delete(f"{POOLS}/{p['id']}")
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "SubnetPoolDeleteError"
    assert api.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    assert api.delete(f"{POOLS}/{p['id']}").status_code == 204
    assert api.get(f"{POOLS}/{p['id']}").status_code == 404
    err = from_pool(api, net, 404, subnetpool_id=p["id"])
    assert err["type"] == "SubnetPoolNotFound"


def test_default_pool(api: Caller) -> None:
    net = api.network()["id"]
    err = from_pool(api, net, 400, use_default_subnetpool=True)
    assert err["message"] == "Bad subnets request: No default subnetpool found for IPv4."
    member = api.as_member()
    err = pool(member, ["10.0.0.0/8"], 403, is_default=True)
    assert err["type"] == "PolicyNotAuthorized"
    default = pool(api, ["10.0.0.0/8"], is_default=True, default_prefixlen=24, shared=True)
    err = pool(api, ["172.16.0.0/12"], 400, is_default=True)
    assert "Only one default may exist per IP family" in err["message"]
    v6 = pool(api, ["2001:db8::/32"], is_default=True)  # one per ip_version
    assert v6["is_default"] is True
    sub = from_pool(member, member.network()["id"], use_default_subnetpool=True)
    assert sub["subnetpool_id"] == default["id"] and sub["cidr"].endswith("/24")
    err = from_pool(api, net, 400, use_default_subnetpool=True, subnetpool_id=default["id"])
    assert "cannot both be specified" in err["message"]
    other = pool(api, ["172.16.0.0/12"])
    r = api.put(f"{POOLS}/{other['id']}", {"subnetpool": {"is_default": True}})
    assert r.status_code == 400
    r = api.put(f"{POOLS}/{default['id']}", {"subnetpool": {"is_default": False}})
    assert r.status_code == 200 and r.json()["subnetpool"]["is_default"] is False
    r = api.put(f"{POOLS}/{other['id']}", {"subnetpool": {"is_default": True}})
    assert r.status_code == 200 and r.json()["subnetpool"]["revision_number"] == 1


def test_pool_quota_in_prefix_units(api: Caller) -> None:
    member = api.as_member()
    p = pool(api, ["10.0.0.0/16"], shared=True, default_quota=512, default_prefixlen=24)
    net = member.network()["id"]
    from_pool(member, net, subnetpool_id=p["id"])  # 256 addresses
    from_pool(member, net, subnetpool_id=p["id"])  # 512: the quota
    err = from_pool(member, net, 409, subnetpool_id=p["id"], prefixlen=32)
    assert err["type"] == "SubnetPoolQuotaExceeded"
    assert err["message"] == "Per-project subnet pool prefix quota exceeded."
    from_pool(api, api.network()["id"], subnetpool_id=p["id"])  # another project's units


def test_resource_quotas(api: Caller) -> None:
    member = api.as_member()
    r = api.put(
        f"/v2.0/quotas/{member.project_id}",
        {"quota": {"subnetpool": 1, "address_scope": 1}},
    )
    assert r.status_code == 200, r.text
    pool(member, ["10.0.0.0/8"])
    assert pool(member, ["11.0.0.0/8"], 409)["type"] == "OverQuota"
    scope(member)
    r = member.post(SCOPES, {"address_scope": {"name": "x", "ip_version": 4}})
    assert r.status_code == 409
    details = api.get(f"/v2.0/quotas/{member.project_id}/details").json()["quota"]
    assert details["subnetpool"]["used"] == 1 and details["address_scope"]["used"] == 1


def test_prefix_actions(api: Caller) -> None:
    p = pool(api, ["10.0.0.0/24"], min_prefixlen=24)
    r = api.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": ["10.0.1.0/24", "10.2.0.0/16"]})
    assert r.status_code == 200 and r.json() == {"prefixes": ["10.0.0.0/23", "10.2.0.0/16"]}
    shown = api.get(f"{POOLS}/{p['id']}").json()["subnetpool"]
    assert shown["prefixes"] == ["10.0.0.0/23", "10.2.0.0/16"] and shown["revision_number"] == 1
    sub = from_pool(api, api.network()["id"], subnetpool_id=p["id"], cidr="10.0.1.0/24")
    r = api.put(f"{POOLS}/{p['id']}/remove_prefixes", {"prefixes": ["10.0.1.0/24"]})
    assert r.status_code == 400
    assert r.json()["NeutronError"]["type"] == "IllegalSubnetPoolPrefixUpdate"
    r = api.put(f"{POOLS}/{p['id']}/remove_prefixes", {"prefixes": ["10.0.0.0/24", "10.2.0.0/16"]})
    assert r.status_code == 200 and r.json() == {"prefixes": ["10.0.1.0/24"]}
    assert api.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": []}).status_code == 400
    assert api.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": ["x"]}).status_code == 400
    assert api.put(f"{POOLS}/{p['id']}/add_prefixes", [1]).status_code == 400
    r = api.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": ["2001:db8::/64"]})
    assert r.json()["NeutronError"]["type"] == "PrefixVersionMismatch"
    # an update may only grow the prefixes
    r = api.put(f"{POOLS}/{p['id']}", {"subnetpool": {"prefixes": ["10.9.0.0/16"]}})
    assert r.json()["NeutronError"]["type"] == "IllegalSubnetPoolPrefixUpdate"
    r = api.put(f"{POOLS}/{p['id']}", {"subnetpool": {"prefixes": ["10.0.0.0/16"]}})
    assert r.status_code == 200 and r.json()["subnetpool"]["prefixes"] == ["10.0.0.0/16"]
    assert api.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204


def test_member_policy_and_sharing(api: Caller) -> None:
    owner, other = api.as_member(), api.as_member()
    mine = pool(owner, ["10.0.0.0/16"])
    assert other.get(f"{POOLS}/{mine['id']}").status_code == 404
    assert other.get(POOLS).json()["subnetpools"] == []
    r = other.put(f"{POOLS}/{mine['id']}", {"subnetpool": {"name": "x"}})
    assert r.status_code == 404
    assert pool(owner, ["11.0.0.0/8"], 403, shared=True)["type"] == "PolicyNotAuthorized"
    shared = pool(api, ["172.16.0.0/12"], shared=True)
    seen = other.get(f"{POOLS}/{shared['id']}").json()["subnetpool"]
    assert seen["shared"] is True
    r = other.put(f"{POOLS}/{shared['id']}", {"subnetpool": {"name": "x"}})
    assert r.status_code == 403
    r = other.put(f"{POOLS}/{shared['id']}/add_prefixes", {"prefixes": ["10.0.0.0/8"]})
    assert r.status_code == 403
    assert other.delete(f"{POOLS}/{shared['id']}").status_code == 403
    # an RBAC policy shares a pool to one project; removal refused while it holds a subnet
    r = owner.post(
        "/v2.0/rbac-policies",
        {
            "rbac_policy": {
                "object_type": "subnetpool",
                "object_id": mine["id"],
                "action": "access_as_shared",
                "target_tenant": other.project_id,
            }
        },
    )
    assert r.status_code == 201, r.text
    policy = r.json()["rbac_policy"]
    assert other.get(f"{POOLS}/{mine['id']}").json()["subnetpool"]["shared"] is True
    assert owner.get(f"{POOLS}/{mine['id']}").json()["subnetpool"]["shared"] is False
    sub = from_pool(other, other.network()["id"], subnetpool_id=mine["id"], prefixlen=24)
    r = owner.delete(f"/v2.0/rbac-policies/{policy['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    assert other.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    assert owner.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204
    assert other.get(f"{POOLS}/{mine['id']}").status_code == 404
    # a pool in an address scope is shared only with projects the scope is shared with
    s = scope(owner)
    scoped = pool(owner, ["10.9.0.0/16"], address_scope_id=s["id"])
    body = {
        "object_type": "subnetpool",
        "object_id": scoped["id"],
        "action": "access_as_shared",
        "target_tenant": other.project_id,
    }
    r = owner.post("/v2.0/rbac-policies", {"rbac_policy": body})
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "RbacPolicyInitError"
    scope_body = {**body, "object_type": "address_scope", "object_id": s["id"]}
    assert owner.post("/v2.0/rbac-policies", {"rbac_policy": scope_body}).status_code == 201
    assert owner.post("/v2.0/rbac-policies", {"rbac_policy": body}).status_code == 201


def test_affinity_rules(api: Caller) -> None:
    a, b = pool(api, ["10.0.0.0/16"]), pool(api, ["10.1.0.0/16"])
    net = api.network()["id"]
    from_pool(api, net, subnetpool_id=a["id"], prefixlen=24)
    err = from_pool(api, net, 400, subnetpool_id=b["id"], prefixlen=24)
    assert err["type"] == "NetworkSubnetPoolAffinityError"
    r = api.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net, "ip_version": 4, "cidr": "192.0.2.0/24"}},
    )
    assert r.json()["NeutronError"]["type"] == "NetworkSubnetPoolAffinityError"
    api.subnet(net, "2001:db8::/64")  # another ip_version: free
    # pools of one address scope may share a network; the network shows the scope
    s = scope(api)
    c = pool(api, ["10.2.0.0/16"], address_scope_id=s["id"])
    d = pool(api, ["10.3.0.0/16"], address_scope_id=s["id"])
    scoped = api.network()["id"]
    from_pool(api, scoped, subnetpool_id=c["id"], prefixlen=24)
    from_pool(api, scoped, subnetpool_id=d["id"], prefixlen=24)
    shown = api.get(f"/v2.0/networks/{scoped}").json()["network"]
    assert shown["ipv4_address_scope"] == s["id"] and shown["ipv6_address_scope"] is None
    listed = {n["id"]: n for n in api.get("/v2.0/networks").json()["networks"]}
    assert listed[scoped]["ipv4_address_scope"] == s["id"]
    assert listed[net]["ipv4_address_scope"] is None
    err = from_pool(api, scoped, 400, subnetpool_id=a["id"], prefixlen=24)
    assert err["type"] == "NetworkAddressScopeAffinityError"


def test_address_scopes(api: Caller) -> None:
    member, other = api.as_member(), api.as_member()
    s = scope(member, 4)
    assert set(s) >= {"id", "name", "shared", "ip_version", "project_id", "tenant_id"}
    assert other.get(f"{SCOPES}/{s['id']}").status_code == 404
    r = member.post(SCOPES, {"address_scope": {"name": "x", "ip_version": 4, "shared": True}})
    assert r.status_code == 403
    r = member.post(SCOPES, {"address_scope": {"name": "x", "ip_version": 5}})
    assert r.status_code == 400
    err = pool(member, ["2001:db8::/48"], 400, address_scope_id=s["id"])
    assert err["type"] == "IllegalSubnetPoolIpVersionAssociationToAddressScope"
    p1 = pool(member, ["10.0.0.0/16"], address_scope_id=s["id"])
    err = pool(member, ["10.0.128.0/17"], 409, address_scope_id=s["id"])
    assert err["type"] == "AddressScopePrefixConflict"
    err = pool(other, ["10.0.0.0/8"], 404, address_scope_id=s["id"])
    assert err["type"] == "AddressScopeNotFound"
    r = member.delete(f"{SCOPES}/{s['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "AddressScopeInUse"
    r = member.put(f"{POOLS}/{p1['id']}", {"subnetpool": {"address_scope_id": None}})
    assert r.status_code == 200 and r.json()["subnetpool"]["address_scope_id"] is None
    shared = api.create("address-scopes", "address_scope", name="g", ip_version=4, shared=True)
    assert other.get(f"{SCOPES}/{shared['id']}").json()["address_scope"]["shared"] is True
    r = api.put(f"{SCOPES}/{shared['id']}", {"address_scope": {"shared": False}})
    assert r.json()["NeutronError"]["type"] == "AddressScopeUpdateError"
    joined = pool(other, ["10.0.0.0/16"], address_scope_id=shared["id"])
    r = other.put(f"{POOLS}/{joined['id']}", {"subnetpool": {"name": "y"}})
    assert r.json()["NeutronError"]["type"] == "IllegalSubnetPoolUpdate"
    r = member.put(f"{SCOPES}/{s['id']}", {"address_scope": {"name": "renamed"}})
    assert r.status_code == 200 and r.json()["address_scope"]["name"] == "renamed"
    assert member.delete(f"{SCOPES}/{s['id']}").status_code == 204


def test_lists_filters_sorting_paging_tags(api: Caller) -> None:
    made = [pool(api, [f"10.{i}.0.0/16"], name=f"p{i}", tags=[f"t{i % 2}"]) for i in range(5)]
    by_name = api.get(f"{POOLS}?name=p3").json()["subnetpools"]
    assert [p["id"] for p in by_name] == [made[3]["id"]]
    tagged = api.get(f"{POOLS}?tags=t1").json()["subnetpools"]
    assert {p["id"] for p in tagged} == {made[1]["id"], made[3]["id"]}
    desc = api.get(f"{POOLS}?sort_key=name&sort_dir=desc").json()["subnetpools"]
    assert [p["name"] for p in desc] == ["p4", "p3", "p2", "p1", "p0"]
    page = api.get(f"{POOLS}?sort_key=name&limit=2").json()
    assert [p["name"] for p in page["subnetpools"]] == ["p0", "p1"]
    assert page["subnetpools_links"][0]["rel"] == "next"
    assert api.get(f"{POOLS}?ip_version=6").json()["subnetpools"] == []
    assert api.get(f"{POOLS}?bogus=1").status_code == 400
    fields = api.get(f"{POOLS}?fields=id&fields=prefixes").json()["subnetpools"]
    assert set(fields[0]) == {"id", "prefixes"}
    r = api.put(f"{POOLS}/{made[0]['id']}/tags/extra")
    assert r.status_code == 201
    assert api.get(f"{POOLS}/{made[0]['id']}").json()["subnetpool"]["tags"] == ["extra", "t0"]
    r = api.put(
        f"{POOLS}/{made[0]['id']}",
        {"subnetpool": {"name": "z"}},
        headers={"If-Match": "revision_number=0"},
    )
    assert r.status_code == 412


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_paging_by_a_nullable_key_visits_every_pool_once(api: Caller, direction: str) -> None:
    """A marker whose sort key is NULL (no address scope) pages on, both ways; the fuzz found
    the 500 this was (SQLAlchemy refuses ``> NULL``) and the two databases' NULL orders."""
    scoped = scope(api)["id"]
    for i in range(6):
        attrs = {"address_scope_id": scoped} if i % 2 else {}
        pool(api, [f"10.{i}.0.0/16"], name=f"p{i}", **attrs)
    query = f"sort_key=address_scope_id&sort_dir={direction}&sort_key=id&sort_dir={direction}"
    whole = [p["id"] for p in api.get(f"{POOLS}?{query}").json()["subnetpools"]]
    assert len(whole) == 6
    nulls = [p["id"] for p in api.get(POOLS).json()["subnetpools"] if p["address_scope_id"] is None]
    assert set(whole[:3] if direction == "asc" else whole[3:]) == set(nulls)  # NULL smallest
    seen: list[str] = []
    marker = ""
    while True:
        page = api.get(f"{POOLS}?{query}&limit=2{marker}").json()["subnetpools"]
        if not page:
            break
        seen += [p["id"] for p in page]
        marker = f"&marker={page[-1]['id']}"
    assert seen == whole
    back = api.get(f"{POOLS}?{query}&limit=2&marker={whole[3]}&page_reverse=true").json()
    assert [p["id"] for p in back["subnetpools"]] == whole[1:3]


def test_extensions_and_root(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {
        "subnet_allocation",
        "default-subnetpools",
        "subnetpool-prefix-ops",
        "address-scope",
        "rbac-subnetpool",
        "rbac-address-scope",
    } <= aliases
    root = [r["collection"] for r in api.get("/v2.0/").json()["resources"]]
    assert root == ["networks", "subnets", "subnetpools", "ports"]


# --- hostile input: 4xx with Neutron's envelope, never a 500 ---------------------------------


@pytest.mark.parametrize(
    "attrs",
    [
        {"prefixes": "10.0.0.0/8"},
        {"prefixes": [1, None]},
        {"prefixes": [{"cidr": "10.0.0.0/8"}]},
        {"prefixes": ["10.0.0.0/8", "10.0.0.0/8"]},
        {"prefixes": ["10.0.0.0/99"]},
        {"prefixes": ["10.0.0.0/8"], "default_quota": 2**40},
        {"prefixes": ["10.0.0.0/8"], "min_prefixlen": 2**70},
        {"prefixes": ["10.0.0.0/8"], "max_prefixlen": 2**40},
        {"prefixes": ["10.0.0.0/8"], "default_prefixlen": True},
        {"prefixes": ["10.0.0.0/8"], "address_scope_id": "not-a-uuid"},
        {"prefixes": ["10.0.0.0/8"], "address_scope_id": "\u00e9" * 40},
        {"prefixes": ["10.0.0.0/8"], "is_default": "perhaps"},
        {"prefixes": ["10.0.0.0/8"], "name": ""},
        {"prefixes": ["10.0.0.0/8"], "name": "x" * 256},
        {"prefixes": ["10.0.0.0/8"], "unknown": 1},
        {"prefixes": ["10.0.0.0/8"], "ip_version": 4},
    ],
)
def test_hostile_pool_bodies(api: Caller, attrs: dict[str, Any]) -> None:
    body = {"subnetpool": {"name": "p", **attrs}}
    r = api.post(POOLS, body)
    assert r.status_code == 400, r.text
    assert set(r.json()["NeutronError"]) == {"type", "message", "detail"}


def test_hostile_requests_around_pools(api: Caller) -> None:
    p = pool(api, ["10.0.0.0/16"])
    net = api.network()["id"]
    for attrs in (
        {"subnetpool_id": p["id"], "prefixlen": 2**40},
        {"subnetpool_id": p["id"], "prefixlen": -1},
        {"subnetpool_id": p["id"], "prefixlen": "x"},
        {"subnetpool_id": "not-a-uuid"},
        {"subnetpool_id": p["id"], "cidr": "10.0.0.0/16", "prefixlen": 24},
        {"subnetpool_id": p["id"], "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"}]},
    ):
        r = api.post("/v2.0/subnets", {"subnet": {"network_id": net, "ip_version": 4, **attrs}})
        assert r.status_code == 400, (attrs, r.text)
    for body in (
        {"prefixes": [None]},
        {"prefixes": "10.1.0.0/16"},
        {},
        None,
        "x",
        {"prefixes": [[]]},
    ):
        r = api.put(f"{POOLS}/{p['id']}/add_prefixes", body)
        assert r.status_code == 400, (body, r.text)
    huge = [f"10.{i // 256}.{i % 256}.0/24" for i in range(2000)]
    r = api.put(f"{POOLS}/{p['id']}/add_prefixes", {"prefixes": huge})
    assert r.status_code == 200, r.text
    assert r.json()["prefixes"] == [
        "10.0.0.0/14",
        "10.4.0.0/15",
        "10.6.0.0/16",
        "10.7.0.0/17",
        "10.7.128.0/18",
        "10.7.192.0/20",
    ]
    assert api.get(f"{POOLS}/{'x' * 300}").status_code == 404
    assert api.get(f"{POOLS}?default_quota=99999999999999999999").status_code == 200
    assert api.get(f"{POOLS}?min_prefixlen=abc").status_code == 400
    assert api.get(f"{SCOPES}/{'x' * 300}").status_code == 404
    r = api.put(f"{POOLS}/{p['id']}", {"subnetpool": {"shared": True}})
    assert r.status_code == 400  # not updatable
