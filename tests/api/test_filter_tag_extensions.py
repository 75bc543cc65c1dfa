"""``ip_allocation`` (how a port's addresses were decided at create),
``empty-string-filtering`` (an empty filter value matches the empty string; a boolean or
integer filter refuses it), ``security-groups-shared-filtering`` (``?shared=`` on groups, as
the caller sees ``shared``) and ``tag-creation`` (``POST .../tags`` adds several tags; tags in
create bodies are checked like the tag API's), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from neutrino.store import filters as filter_catalog
from neutrino.store.uow import Store
from tests.conftest import Caller


def _ids(caller: Caller, path: str) -> set[str]:
    r = caller.get(path)
    assert r.status_code == 200, r.text
    (items,) = (v for k, v in r.json().items() if isinstance(v, list))
    return {i["id"] for i in items}


def test_aliases_are_advertised(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {
        "empty-string-filtering",
        "security-groups-shared-filtering",
        "tag-creation",
        "ip_allocation",
    } <= aliases


def test_ip_allocation_says_how_addresses_were_decided(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    addressed = api.port(net["id"])
    unaddressed = api.port(net["id"], fixed_ips=[])
    bare = api.port(api.network()["id"])  # no subnet: IPAM ran and found nothing to give
    assert addressed["ip_allocation"] == "immediate" and addressed["fixed_ips"]
    assert unaddressed["ip_allocation"] == "none" and unaddressed["fixed_ips"] == []
    assert bare["ip_allocation"] == "immediate"
    # read-only, decided once: giving the unaddressed port an address later keeps "none"
    r = api.put(f"/v2.0/ports/{unaddressed['id']}", {"port": {"ip_allocation": "immediate"}})
    assert r.status_code == 400, r.text
    r = api.put(
        f"/v2.0/ports/{unaddressed['id']}", {"port": {"fixed_ips": [{"ip_address": "192.0.2.50"}]}}
    )
    assert r.status_code == 200 and r.json()["port"]["ip_allocation"] == "none"
    r = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "ip_allocation": "none"}})
    assert r.status_code == 400, r.text
    # shown the same by the list (SQLite renders it in SQL) and the show; a filter and sort key
    listed = api.get(f"/v2.0/ports?network_id={net['id']}&ip_allocation=none").json()["ports"]
    assert [p["id"] for p in listed] == [unaddressed["id"]]
    shown = api.get(f"/v2.0/ports/{addressed['id']}").json()["port"]
    assert shown["ip_allocation"] == "immediate"
    ordered = api.get(
        f"/v2.0/ports?network_id={net['id']}&sort_key=ip_allocation&sort_dir=desc"
    ).json()["ports"]
    assert ordered[0]["id"] == unaddressed["id"]
    member = api.as_member()
    mine = member.port(member.network()["id"], fixed_ips=[])
    assert member.get(f"/v2.0/ports/{mine['id']}").json()["port"]["ip_allocation"] == "none"


@pytest.mark.parametrize(
    ("collection", "member", "extra"),
    [
        ("networks", "network", {}),
        ("routers", "router", {}),
        ("security-groups", "security_group", {}),
        ("qos/policies", "policy", {}),
    ],
)
def test_empty_name_and_description_match_the_empty_string(
    api: Caller, collection: str, member: str, extra: dict[str, Any]
) -> None:
    blank = api.create(collection, member, name="", description="", **extra)
    named = api.create(collection, member, name="n", description="d", **extra)
    base = f"/v2.0/{collection}"
    for key in ("name", "description"):
        found = _ids(api, f"{base}?{key}=")
        assert blank["id"] in found and named["id"] not in found
        both = _ids(api, f"{base}?{key}=&{key}={named[key]}")
        assert {blank["id"], named["id"]} <= both


def test_empty_values_of_other_kinds(api: Caller) -> None:
    net = api.network(name="e")
    api.subnet(net["id"], "192.0.2.0/24", name="")
    free = api.port(net["id"])  # device_id "" until something plugs it
    plugged = api.port(net["id"], device_id="vm-1")
    found = _ids(api, f"/v2.0/ports?network_id={net['id']}&device_id=")
    assert free["id"] in found and plugged["id"] not in found
    assert _ids(api, f"/v2.0/subnets?network_id={net['id']}&name=") != set()
    # converters refuse an empty boolean or integer, as Neutron's do
    for query in ("admin_state_up=", "mtu=", "provider:segmentation_id="):
        r = api.get(f"/v2.0/networks?{query}")
        assert r.status_code == 400, (query, r.text)
        assert r.json()["NeutronError"]["type"] == "InvalidInput"
    # a lenient column, a tag and a nullable one: an empty value names nothing held
    assert _ids(api, "/v2.0/networks?revision_number=") == set()
    api.put(f"/v2.0/networks/{net['id']}/tags", {"tags": ["t"]})
    assert _ids(api, "/v2.0/networks?tags=") == set()
    assert net["id"] in _ids(api, "/v2.0/networks?not-tags=")
    assert api.get(f"/v2.0/ports?network_id={net['id']}&fixed_ips=").status_code == 400
    r = api.get("/v2.0/floatingips?router_id=")
    assert r.status_code == 200 and r.json()["floatingips"] == []
    # an unknown key is refused even when empty (it used to be dropped unseen)
    assert api.get("/v2.0/networks?bogus=").status_code == 400


def _share_group(caller: Caller, group_id: str, target: str) -> None:
    body = {
        "rbac_policy": {
            "object_type": "security_group",
            "object_id": group_id,
            "action": "access_as_shared",
            "target_tenant": target,
        }
    }
    r = caller.post("/v2.0/rbac-policies", body)
    assert r.status_code == 201, r.text


def test_security_groups_filter_on_shared(api: Caller) -> None:
    owner, target, third = api.as_member(), api.as_member(), api.as_member()
    to_one = owner.create("security-groups", "security_group", name="one")
    to_all = owner.create("security-groups", "security_group", name="all")
    _share_group(owner, to_one["id"], target.project_id)
    _share_group(api, to_all["id"], "*")

    shared = _ids(target, "/v2.0/security-groups?shared=true")
    assert shared == {to_one["id"], to_all["id"]}
    unshared = _ids(target, "/v2.0/security-groups?shared=false")
    assert unshared and not unshared & shared  # its own default group
    listed = target.get("/v2.0/security-groups?shared=True").json()["security_groups"]
    assert all(g["shared"] for g in listed)

    assert _ids(third, "/v2.0/security-groups?shared=true") == {to_all["id"]}
    # the owner sees its groups as shared only where a policy names it or all
    assert _ids(owner, "/v2.0/security-groups?shared=1") == {to_all["id"]}
    assert to_one["id"] in _ids(owner, "/v2.0/security-groups?shared=0")
    assert _ids(owner, "/v2.0/security-groups?shared=true&shared=false") >= {
        to_one["id"],
        to_all["id"],
    }
    r = target.get("/v2.0/security-groups?shared=maybe")
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "InvalidInput"
    assert target.get("/v2.0/security-groups?shared=").status_code == 400


def _changes(store: Store, resource_id: str) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM changes WHERE resource_id = :r"), {"r": resource_id}
            ).scalar_one()
        )


def test_post_tags_adds_several(api: Caller, store: Store) -> None:
    owner, other = api.as_member(), api.as_member()
    net = owner.network(tags=["old"])
    path = f"/v2.0/networks/{net['id']}/tags"
    logged = _changes(store, net["id"])
    r = owner.post(path, {"tags": ["a", "b", "old"]})
    assert r.status_code == 201, r.text
    assert r.json() == {"tags": ["a", "b", "old"]}
    assert sorted(owner.get(path).json()["tags"]) == ["a", "b", "old"]
    shown = owner.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown["revision_number"] == net["revision_number"] + 1
    assert _changes(store, net["id"]) == logged + 1
    # idempotent: posting what is there changes no tag
    assert owner.post(path, {"tags": ["a"]}).status_code == 201
    assert sorted(owner.get(path).json()["tags"]) == ["a", "b", "old"]
    for bad in (["x", "x"], ["a,b"], [""], ["x" * 256], "a", [1], None):
        r = owner.post(path, {"tags": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["NeutronError"]["type"] == "InvalidInput"
    assert other.post(path, {"tags": ["z"]}).status_code == 404
    # QoS policies under both of their tag paths
    pol = api.create("qos/policies", "policy", name="q")
    for prefix, one in (("/v2.0/policies", "p1"), ("/v2.0/qos/policies", "p2")):
        r = api.post(f"{prefix}/{pol['id']}/tags", {"tags": [one]})
        assert r.status_code == 201, r.text
    assert sorted(api.get(f"/v2.0/policies/{pol['id']}/tags").json()["tags"]) == ["p1", "p2"]


def test_tags_in_create_bodies(api: Caller, store: Store) -> None:
    net = api.network(tags=["b", "a"])
    assert sorted(net["tags"]) == ["a", "b"]
    for bad in (["x", "x"], ["a,b"], [""], ["x" * 256], "a"):
        r = api.post("/v2.0/networks", {"network": {"tags": bad}})
        assert r.status_code == 400, (bad, r.text)
    rng = api.create(
        "network_segment_ranges",
        "network_segment_range",
        network_type="vxlan",
        minimum=7000,
        maximum=7010,
        tags=["r1"],
    )
    assert rng["tags"] == ["r1"]
    shown = api.get(f"/v2.0/network_segment_ranges/{rng['id']}").json()
    assert shown["network_segment_range"]["tags"] == ["r1"]
    assert _ids(api, "/v2.0/network_segment_ranges?tags=r1") == {rng["id"]}
    assert _changes(store, rng["id"]) == 1


def test_every_filter_takes_an_empty_value(api: Caller) -> None:
    """Each filter every list documents, given an empty value: a list (200) or the
    converter's refusal (400 ``InvalidInput``), never a server error."""
    net = api.network(name="")
    api.subnet(net["id"], "192.0.2.0/24", name="")
    api.port(net["id"], name="")
    refused: set[str] = set()
    for collection in filter_catalog.collections():
        if "{" in collection:
            continue
        for f in filter_catalog.filters(collection):
            r = api.get(f"/v2.0/{collection}?{f.name}=")
            assert r.status_code in (200, 400), (collection, f.name, r.text)
            if r.status_code == 400:
                assert r.json()["NeutronError"]["type"] == "InvalidInput", (
                    collection,
                    f.name,
                    r.text,
                )
                refused.add(f.json_type)
    # the boolean and integer filters are among those refusing an empty value
    assert {"boolean", "integer"} <= refused
