"""Networks through the HTTP API: wire shape, provider segments, policy, list semantics."""

from __future__ import annotations

import uuid

from tests.conftest import Caller

NETWORK_KEYS = {
    "id",
    "name",
    "tenant_id",
    "project_id",
    "admin_state_up",
    "mtu",
    "status",
    "subnets",
    "shared",
    "availability_zone_hints",
    "availability_zones",
    "router:external",
    "port_security_enabled",
    "is_default",
    "l2_adjacency",
    "ipv4_address_scope",
    "ipv6_address_scope",
    "qos_policy_id",
    "dns_domain",
    "description",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
}
PROVIDER_KEYS = {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}


def test_member_creates_vxlan_network_with_neutron_shape(api: Caller) -> None:
    member = api.as_member()
    r = member.post("/v2.0/networks", {"network": {"name": "net1"}})
    assert r.status_code == 201
    net = r.json()["network"]
    assert set(net) == NETWORK_KEYS  # provider attributes hidden from non-admins
    assert net["project_id"] == net["tenant_id"] == member.project_id
    assert net["mtu"] == 1450 and net["status"] == "ACTIVE" and net["revision_number"] == 1
    admin_view = api.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert set(admin_view) == NETWORK_KEYS | PROVIDER_KEYS
    assert admin_view["provider:network_type"] == "vxlan"
    assert isinstance(admin_view["provider:segmentation_id"], int)


def test_vni_allocation_is_unique_and_explicit_segments_conflict(api: Caller) -> None:
    vnis = {
        api.get(f"/v2.0/networks/{api.network()['id']}").json()["network"][
            "provider:segmentation_id"
        ]
        for _ in range(5)
    }
    assert len(vnis) == 5
    taken = next(iter(vnis))
    r = api.post(
        "/v2.0/networks",
        {"network": {"provider:network_type": "vxlan", "provider:segmentation_id": taken}},
    )
    assert r.status_code == 409
    vlan = api.network(
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 150,
        }
    )
    assert vlan["mtu"] == 1500 and vlan["provider:segmentation_id"] == 150
    flat = api.network(**{"provider:network_type": "flat", "provider:physical_network": "public"})
    assert flat["provider:segmentation_id"] is None
    again = api.post(
        "/v2.0/networks",
        {"network": {"provider:network_type": "flat", "provider:physical_network": "public"}},
    )
    assert again.status_code == 409
    assert again.json()["NeutronError"]["type"] == "FlatNetworkInUse"


def test_provider_attributes_are_admin_only(api: Caller) -> None:
    member = api.as_member()
    r = member.post("/v2.0/networks", {"network": {"name": "x", "provider:network_type": "vxlan"}})
    assert r.status_code == 403
    assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert member.get("/v2.0/networks").json()["networks"] == []  # nothing half-written


def test_projects_are_isolated_but_shared_networks_are_visible(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    private = alice.network(name="private")
    shared = api.network(name="shared", shared=True)
    r = bob.get(f"/v2.0/networks/{private['id']}")
    assert r.status_code == 404
    assert r.json()["NeutronError"]["type"] == "NetworkNotFound"
    names = {n["name"] for n in bob.get("/v2.0/networks").json()["networks"]}
    assert names == {"shared"}
    assert bob.delete(f"/v2.0/networks/{private['id']}").status_code == 404
    assert bob.put(f"/v2.0/networks/{shared['id']}", {"network": {"name": "x"}}).status_code == 403


def test_update_bumps_revision_and_if_match(api: Caller) -> None:
    net = api.network(name="a")
    r = api.put(
        f"/v2.0/networks/{net['id']}",
        {"network": {"name": "b", "mtu": 1400}},
        headers={"If-Match": "revision_number=1"},
    )
    assert r.status_code == 200
    assert r.json()["network"]["revision_number"] == 2
    assert r.json()["network"]["mtu"] == 1400
    stale = api.put(
        f"/v2.0/networks/{net['id']}",
        {"network": {"name": "c"}},
        headers={"If-Match": "revision_number=1"},
    )
    assert stale.status_code == 412
    assert stale.json()["NeutronError"]["type"] == "RevisionNumberConstraintFailed"
    assert api.get(f"/v2.0/networks/{net['id']}").json()["network"]["name"] == "b"
    too_big = api.put(f"/v2.0/networks/{net['id']}", {"network": {"mtu": 9000}})
    assert too_big.status_code == 400


def test_bad_input_errors_match_neutron(api: Caller) -> None:
    r = api.post("/v2.0/networks", {"network": {"name": "x", "foo": 1}})
    assert r.status_code == 400
    assert r.json() == {
        "NeutronError": {
            "type": "HTTPBadRequest",
            "message": "Unrecognized attribute(s) 'foo'",
            "detail": "",
        }
    }
    r = api.client.post(
        "/v2.0/networks",
        content=b'{"network": {',
        headers={"X-Auth-Token": api.token, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["NeutronError"]["message"] == "Body contains invalid data"
    r = api.post("/v2.0/networks", {})
    assert r.json()["NeutronError"]["message"] == "Unable to find 'network' in request body"
    r = api.post("/v2.0/networks", {"network": {"admin_state_up": "maybe"}})
    assert r.status_code == 400
    assert api.get("/v2.0/networks/not-a-uuid").status_code == 404
    assert api.get("/v2.0/foobars").status_code == 404
    assert (
        api.client.patch("/v2.0/networks/x", headers={"X-Auth-Token": api.token}).status_code == 405
    )
    assert api.get("/v2.0/networks?foo=bar").status_code == 400
    assert api.get("/v2.0/networks").json()["networks"] == []


def test_unauthenticated_requests_get_keystone_401(api: Caller) -> None:
    r = api.client.get("/v2.0/networks")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401
    assert r.headers["www-authenticate"].startswith("Keystone uri=")
    r = api.client.get("/v2.0/networks", headers={"X-Auth-Token": "garbage"})
    assert r.status_code == 401


def test_list_filters_fields_sort_and_pagination(api: Caller) -> None:
    ids = [api.network(name=f"n{i}", admin_state_up=i % 2 == 0)["id"] for i in range(5)]
    r = api.get("/v2.0/networks?name=n1&name=n3")
    assert sorted(n["name"] for n in r.json()["networks"]) == ["n1", "n3"]
    r = api.get("/v2.0/networks?admin_state_up=False&fields=id&fields=name")
    nets = r.json()["networks"]
    assert {n["name"] for n in nets} == {"n1", "n3"} and all(set(n) == {"id", "name"} for n in nets)
    r = api.get("/v2.0/networks?sort_key=name&sort_dir=desc")
    assert [n["name"] for n in r.json()["networks"]] == ["n4", "n3", "n2", "n1", "n0"]
    seen: list[str] = []
    url = "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
    while url:
        body = api.get(url).json()
        seen += [n["name"] for n in body["networks"]]
        nxt = [link["href"] for link in body["networks_links"] if link["rel"] == "next"]
        url = nxt[0].split("testserver", 1)[1] if nxt else ""
    assert seen == ["n0", "n1", "n2", "n3", "n4"]
    assert set(ids) == {n["id"] for n in api.get("/v2.0/networks").json()["networks"]}
    r = api.get(f"/v2.0/networks?limit=2&marker={uuid.uuid4()}")
    assert r.status_code == 404


def test_bulk_create_is_all_or_nothing(api: Caller) -> None:
    r = api.post("/v2.0/networks", {"networks": [{"name": "a"}, {"name": "b"}]})
    assert r.status_code == 201 and len(r.json()["networks"]) == 2
    r = api.post("/v2.0/networks", {"networks": [{"name": "c"}, {"name": "d", "mtu": 99999}]})
    assert r.status_code == 400
    names = {n["name"] for n in api.get("/v2.0/networks").json()["networks"]}
    assert names == {"a", "b"}


def test_tags(api: Caller) -> None:
    net = api.network(name="t")
    base = f"/v2.0/networks/{net['id']}/tags"
    assert api.put(base, {"tags": ["red", "blue"]}).json()["tags"] == ["blue", "red"]
    # a tag change is a change of the network: its revision moves (Neutron's revisions ext.)
    assert (
        api.get(f"/v2.0/networks/{net['id']}").json()["network"]["revision_number"]
        == net["revision_number"] + 1
    )
    assert api.put(base + "/green").status_code == 201
    assert api.get(base + "/green").status_code == 204
    assert api.delete(base + "/red").status_code == 204
    assert api.get(base + "/red").status_code == 404
    assert sorted(api.get(base).json()["tags"]) == ["blue", "green"]
    other = api.network(name="u", tags=["blue"])
    r = api.get("/v2.0/networks?tags=blue,green")
    assert [n["id"] for n in r.json()["networks"]] == [net["id"]]
    r = api.get("/v2.0/networks?tags-any=blue")
    assert {n["id"] for n in r.json()["networks"]} == {net["id"], other["id"]}
    r = api.get("/v2.0/networks?not-tags=green")
    assert [n["id"] for n in r.json()["networks"]] == [other["id"]]


def test_network_delete_in_use(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    port = api.port(net["id"])
    r = api.delete(f"/v2.0/networks/{net['id']}")
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "NetworkInUse"
    assert api.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert api.get(f"/v2.0/networks/{net['id']}").status_code == 404
    assert api.get("/v2.0/subnets").json()["subnets"] == []


def test_discovery_endpoints(api: Caller) -> None:
    assert api.client.get("/").json()["versions"][0]["id"] == "v2.0"
    root = api.client.get("/v2.0/").json()
    assert {r["collection"] for r in root["resources"]} >= {"networks", "subnets", "ports"}
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"net-mtu", "pagination", "sorting", "filter-validation"} <= aliases
    assert api.get("/v2.0/extensions/net-mtu").json()["extension"]["alias"] == "net-mtu"
    assert api.get("/v2.0/extensions/nope").status_code == 404


def test_mtu_below_protocol_minimum_only_without_such_subnets(api: Caller) -> None:
    tiny = api.network(mtu=67)  # allowed while it has no IPv4 subnet
    assert tiny["mtu"] == 67
    net = api.network(mtu=1280)
    api.subnet(net["id"], "192.0.2.0/24")
    r = api.put(f"/v2.0/networks/{net['id']}", {"network": {"mtu": 67}})
    assert r.status_code == 409
    v6 = api.network(mtu=1280)
    api.subnet(v6["id"], "2001:db8:1::/64")
    assert api.put(f"/v2.0/networks/{v6['id']}", {"network": {"mtu": 1279}}).status_code == 409
    assert api.put(f"/v2.0/networks/{v6['id']}", {"network": {"mtu": 1300}}).status_code == 200
    assert api.post("/v2.0/networks", {"network": {"mtu": -1}}).status_code == 400
