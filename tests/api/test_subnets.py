"""Subnets through the HTTP API (wire shape, validation messages, policy, update, delete) and
the IPAM behaviour ports see (auto addresses, explicit requests, exhaustion, SLAAC)."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event

from neutrino.domain import ipam as ip
from neutrino.service import ipam
from tests.conftest import Caller

# The reference Neutron samples live in ../shared beside the repository (as in CI).
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples"


def _sample_keys(name: str) -> list[str]:
    path = SAMPLES / name
    if path.exists():
        raw = json.loads(json.loads(path.read_text())["response"]["body_raw"])
        return list(raw["subnet"])
    return [
        "id",
        "name",
        "project_id",
        "network_id",
        "ip_version",
        "subnetpool_id",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "gateway_ip",
        "cidr",
        "allocation_pools",
        "host_routes",
        "dns_nameservers",
        "description",
        "router:external",
        "service_types",
        "tags",
        "created_at",
        "updated_at",
        "revision_number",
        "tenant_id",
    ]


def _err(r: Any) -> tuple[int, str, str]:
    body = r.json()["NeutronError"]
    return r.status_code, body["type"], body["message"]


def _create(caller: Caller, net_id: str, **attrs: Any) -> Any:
    return caller.post("/v2.0/subnets", {"subnet": {"network_id": net_id, **attrs}})


# --- create ---------------------------------------------------------------------------------


def test_create_v4_has_neutrons_shape_and_defaults(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    r = _create(member, net["id"], ip_version=4, cidr="10.10.0.0/24", name="s1")
    assert r.status_code == 201
    sub = r.json()["subnet"]
    assert list(sub) == _sample_keys("12_subnet_create_demo.json")  # keys and their order
    assert sub["project_id"] == sub["tenant_id"] == member.project_id
    assert (sub["gateway_ip"], sub["enable_dhcp"], sub["revision_number"]) == ("10.10.0.1", True, 0)
    assert sub["allocation_pools"] == [{"start": "10.10.0.2", "end": "10.10.0.254"}]
    assert sub["subnetpool_id"] is None and sub["ipv6_ra_mode"] is None
    assert sub["host_routes"] == sub["dns_nameservers"] == sub["tags"] == []
    assert sub["router:external"] is False and sub["service_types"] == []
    shown = member.get(f"/v2.0/subnets/{sub['id']}").json()["subnet"]
    assert shown == sub
    after = member.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert after["subnets"] == [sub["id"]]
    assert after["revision_number"] == net["revision_number"] + 1


def test_create_v6_modes_and_default_pools(api: Caller) -> None:
    net = api.network()
    slaac = api.subnet(net["id"], "fd00:10::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    keys = _sample_keys("13_subnet_create_ipv6_slaac.json")  # a member's: no segment_id
    keys.insert(keys.index("service_types") + 1, "segment_id")  # the admin's (as sample 26)
    assert list(slaac) == keys
    assert slaac["gateway_ip"] == "fd00:10::"
    assert slaac["allocation_pools"] == [
        {"start": "fd00:10::1", "end": "fd00:10::ffff:ffff:ffff:ffff"}
    ]
    stateful = api.subnet(
        net["id"],
        "2001:db8:1::/64",
        ipv6_address_mode="dhcpv6-stateful",
        gateway_ip="2001:db8:1::1",
    )
    assert stateful["allocation_pools"] == [
        {"start": "2001:db8:1::2", "end": "2001:db8:1:0:ffff:ffff:ffff:ffff"}
    ]
    stateless = api.subnet(net["id"], "2001:DB8:2::/64", ipv6_ra_mode="dhcpv6-stateless")
    assert stateless["cidr"] == "2001:db8:2::/64" and stateless["ipv6_address_mode"] is None


def test_cidr_errors_match_neutron(api: Caller) -> None:
    net = api.network()
    for cidr in ("10.0.0.0/33", "not-a-cidr"):  # samples 38 and 39
        assert _err(_create(api, net["id"], ip_version=4, cidr=cidr)) == (
            400,
            "InvalidInput",
            f"Invalid input for operation: {cidr} is not in a CIDR format.",
        )
    assert _err(_create(api, net["id"], ip_version=6, cidr="10.0.0.0/24")) == (
        400,
        "InvalidInput",
        "Invalid input for operation: cidr '10.0.0.0/24' does not match the ip_version '6'.",
    )
    assert _err(_create(api, net["id"], ip_version=5, cidr="10.0.0.0/24"))[0] == 400
    assert _err(_create(api, net["id"], ip_version=4, cidr="0.0.0.0/0", enable_dhcp=False)) == (
        400,
        "InvalidInput",
        "Invalid input for operation: 0 is not allowed as CIDR prefix length.",
    )
    r = _create(api, net["id"], ip_version=4)
    assert _err(r) == (
        400,
        "BadRequest",
        "Bad subnets request: a subnetpool must be specified in the absence of a cidr.",
    )
    r = _create(api, net["id"], cidr="10.0.0.0/24")
    assert _err(r)[:2] == (400, "HTTPBadRequest")  # ip_version is required
    normalized = api.subnet(net["id"], "10.0.0.77/24")  # host bits set: the network it names
    assert normalized["cidr"] == "10.0.0.0/24" and normalized["gateway_ip"] == "10.0.0.1"


def test_small_prefixes_and_dhcp(api: Caller) -> None:
    net = api.network()
    r = _create(api, net["id"], ip_version=4, cidr="10.9.0.8/32")
    assert _err(r) == (
        400,
        "InvalidInput",
        "Invalid input for operation: Subnet has a prefix "
        "length that is incompatible with DHCP service enabled.",
    )
    host = api.subnet(net["id"], "10.9.0.8/32", enable_dhcp=False)
    assert host["allocation_pools"] == [{"start": "10.9.0.8", "end": "10.9.0.8"}]
    assert host["gateway_ip"] == "10.9.0.9"  # Neutron's first-host default, outside a /32
    pair = api.subnet(net["id"], "10.14.0.20/31", enable_dhcp=False, gateway_ip="10.14.0.19")
    assert pair["allocation_pools"] == [{"start": "10.14.0.20", "end": "10.14.0.21"}]
    one = api.subnet(net["id"], "2001:db8:9::5/128", enable_dhcp=False)
    assert one["allocation_pools"] == [{"start": "2001:db8:9::5", "end": "2001:db8:9::5"}]


def test_overlap_is_rejected_with_the_sample_message(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "10.10.0.0/24")
    assert _err(_create(api, net["id"], ip_version=4, cidr="10.10.0.128/25")) == (
        400,
        "InvalidInput",
        f"Invalid input for operation: Requested subnet with cidr: "
        f"10.10.0.128/25 for network: {net['id']} overlaps with another subnet.",
    )
    other = api.network()
    assert api.subnet(other["id"], "10.10.0.0/24")["cidr"] == "10.10.0.0/24"  # other network


def test_gateway_rules(api: Caller) -> None:
    net = api.network()
    none = api.subnet(net["id"], "10.1.0.0/24", gateway_ip=None)
    assert none["gateway_ip"] is None
    assert none["allocation_pools"] == [{"start": "10.1.0.1", "end": "10.1.0.254"}]
    last = api.subnet(net["id"], "10.2.0.0/24", gateway_ip="10.2.0.254")
    assert last["allocation_pools"] == [{"start": "10.2.0.1", "end": "10.2.0.253"}]
    outside = api.subnet(net["id"], "10.3.0.0/24", gateway_ip="100.0.0.1")  # Neutron allows
    assert outside["gateway_ip"] == "100.0.0.1"
    for gw in ("10.4.0.0", "10.4.0.255"):
        assert _err(_create(api, net["id"], ip_version=4, cidr="10.4.0.0/24", gateway_ip=gw)) == (
            400,
            "InvalidInput",
            "Invalid input for operation: Gateway is not valid on subnet.",
        )
    assert _err(
        _create(api, net["id"], ip_version=4, cidr="10.4.0.0/24", gateway_ip="2001:db8::1")
    ) == (
        400,
        "InvalidInput",
        "Invalid input for operation: gateway_ip '2001:db8::1' does not match the ip_version '4'.",
    )
    r = _create(api, net["id"], ip_version=4, cidr="10.4.0.0/24", gateway_ip="10.4.0.1/32")
    assert _err(r)[:2] == (400, "HTTPBadRequest")
    r = _create(
        api,
        net["id"],
        ip_version=4,
        cidr="10.4.0.0/24",
        allocation_pools=[{"start": "10.4.0.1", "end": "10.4.0.5"}],
    )
    assert _err(r) == (
        409,
        "GatewayConflictWithAllocationPools",
        "Gateway ip 10.4.0.1 conflicts with allocation pool 10.4.0.1-10.4.0.5.",
    )


def test_allocation_pools(api: Caller) -> None:
    net = api.network()
    pools = [
        {"start": "10.5.0.110", "end": "10.5.0.150"},
        {"start": "10.5.0.2", "end": "10.5.0.100"},
    ]
    sub = api.subnet(net["id"], "10.5.0.0/24", allocation_pools=pools)
    assert sub["allocation_pools"] == sorted(pools, key=lambda p: int(p["start"].split(".")[3]))
    bad = {
        "OutOfBoundsAllocationPool": [{"start": "10.6.0.200", "end": "10.6.1.20"}],
        "InvalidAllocationPool": [{"start": "10.6.0.20", "end": "10.6.0.10"}],
        "OverlappingAllocationPools": [
            {"start": "10.6.0.20", "end": "10.6.0.40"},
            {"start": "10.6.0.30", "end": "10.6.0.50"},
        ],
    }
    for kind, value in bad.items():
        r = _create(api, net["id"], ip_version=4, cidr="10.6.0.0/24", allocation_pools=value)
        assert _err(r)[:2] == (409 if kind.startswith("Overlapping") else 400, kind)
    for value in ([{"start": "10.6.0.2"}], "nope", [{"start": "1000.0.0.1", "end": "10.6.0.9"}]):
        r = _create(api, net["id"], ip_version=4, cidr="10.6.0.0/24", allocation_pools=value)
        assert r.status_code == 400, value
    assert api.get(f"/v2.0/subnets?network_id={net['id']}").json()["subnets"] == [sub]


def test_dns_nameservers_and_host_routes(api: Caller) -> None:
    net = api.network()
    dns = ["8.8.8.8", "1.1.1.1", "8.8.4.4"]
    routes = [{"destination": "10.20.0.0/32", "nexthop": "10.100.1.1"}]
    sub = api.subnet(net["id"], "10.100.1.0/24", dns_nameservers=dns, host_routes=routes)
    assert sub["dns_nameservers"] == dns and sub["host_routes"] == routes
    cases = {
        "dup": {"dns_nameservers": ["8.8.8.8", "8.8.8.8"]},
        "v6 dns": {"dns_nameservers": ["2001:4860:4860::8888"]},
        "too many": {"dns_nameservers": [f"9.9.9.{i}" for i in range(6)]},
        "bad dest": {"host_routes": [{"destination": "10.20.0.1/24", "nexthop": "10.9.9.1"}]},
        "v6 hop": {"host_routes": [{"destination": "10.20.0.0/24", "nexthop": "fe80::1"}]},
        "keys": {"host_routes": [{"destination": "10.20.0.0/24"}]},
    }
    for name, attrs in cases.items():
        r = _create(api, net["id"], ip_version=4, cidr="10.101.0.0/24", **attrs)
        assert r.status_code == 400, name
    r = _create(
        api, net["id"], ip_version=4, cidr="10.101.0.0/24", dns_nameservers=["8.8.8.8", "8.8.8.8"]
    )
    assert _err(r)[2] == (
        "Invalid input for dns_nameservers. Reason: Duplicate nameserver '8.8.8.8'."
    )


def test_ipv6_mode_rules(api: Caller) -> None:
    net = api.network()
    for ra, mode in (("dhcpv6-stateless", "dhcpv6-stateful"), ("slaac", "dhcpv6-stateless")):
        r = _create(
            api,
            net["id"],
            ip_version=6,
            cidr="2001:db8::/64",
            ipv6_ra_mode=ra,
            ipv6_address_mode=mode,
        )
        assert _err(r) == (
            400,
            "InvalidInput",
            f"Invalid input for operation: ipv6_ra_mode "
            f"set to '{ra}' with ipv6_address_mode set to '{mode}' is not "
            f"valid. If both attributes are set, they must be the same value.",
        )
    r = _create(api, net["id"], ip_version=6, cidr="2014::/65", ipv6_address_mode="slaac")
    assert _err(r)[:2] == (400, "InvalidInput") and "/64" in _err(r)[2]
    r = _create(api, net["id"], ip_version=4, cidr="10.0.0.0/24", ipv6_ra_mode="slaac")
    assert _err(r)[2] == (
        "Invalid input for operation: ipv6_ra_mode is not valid when ip_version is 4."
    )
    r = _create(
        api,
        net["id"],
        ip_version=6,
        cidr="2001:db8::/64",
        enable_dhcp=False,
        ipv6_address_mode="slaac",
    )
    assert _err(r)[:2] == (400, "InvalidInput")
    r = _create(api, net["id"], ip_version=6, cidr="2001:db8::/64", ipv6_ra_mode="bogus")
    assert r.status_code == 400
    r = _create(api, net["id"], ip_version=6, cidr="::/64", enable_dhcp=False)
    assert _err(r)[2] == "Invalid input for operation: IPv6 subnet '::' is not supported."


def test_subnetpools_are_not_available(api: Caller) -> None:
    net = api.network()
    r = _create(api, net["id"], ip_version=4, subnetpool_id="8f733732-fd46-412a-b388-8bbb06873788")
    assert _err(r)[:2] == (404, "SubnetPoolNotFound")
    r = _create(api, net["id"], ip_version=4, cidr="10.0.0.0/24", use_default_subnetpool=True)
    assert _err(r) == (
        400,
        "BadRequest",
        "Bad subnets request: No default subnetpool found for IPv4.",
    )
    ok = api.subnet(net["id"], "10.0.0.0/24", subnetpool_id=None)
    assert ok["subnetpool_id"] is None


def test_mtu_too_small_for_ipv6(api: Caller) -> None:
    net = api.network(mtu=1279)
    r = _create(api, net["id"], ip_version=6, cidr="2001:db8:0:1::/64")
    assert _err(r)[:2] == (409, "NetworkMTUSubnetConflict")
    assert api.subnet(net["id"], "10.0.0.0/24")["ip_version"] == 4


def test_bulk_create_is_all_or_nothing(api: Caller) -> None:
    net = api.network()
    r = api.post(
        "/v2.0/subnets",
        {
            "subnets": [
                {"network_id": net["id"], "ip_version": 4, "cidr": "10.7.0.0/24"},
                {"network_id": net["id"], "ip_version": 6, "cidr": "2001:db8:7::/64"},
            ]
        },
    )
    assert r.status_code == 201
    assert [s["cidr"] for s in r.json()["subnets"]] == ["10.7.0.0/24", "2001:db8:7::/64"]
    r = api.post(
        "/v2.0/subnets",
        {
            "subnets": [
                {"network_id": net["id"], "ip_version": 4, "cidr": "10.8.0.0/24"},
                {"network_id": net["id"], "ip_version": 4, "cidr": "10.8.0.0/25"},
            ]
        },
    )
    assert _err(r)[:2] == (400, "InvalidInput")
    assert api.get("/v2.0/subnets?cidr=10.8.0.0/24").json()["subnets"] == []


# --- policy ---------------------------------------------------------------------------------


def test_policy_on_create_and_visibility(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    private = alice.network()
    r = _create(bob, private["id"], ip_version=4, cidr="10.0.0.0/24")
    assert _err(r)[:2] == (404, "NetworkNotFound")
    shared = api.network(shared=True)
    r = _create(bob, shared["id"], ip_version=4, cidr="10.0.0.0/24")
    assert _err(r) == (403, "PolicyNotAuthorized", "(rule:create_subnet) is disallowed by policy")
    own = alice.subnet(private["id"], "10.0.0.0/24")
    on_shared = api.subnet(shared["id"], "10.50.0.0/24")
    assert bob.get(f"/v2.0/subnets/{own['id']}").status_code == 404
    assert bob.get(f"/v2.0/subnets/{on_shared['id']}").status_code == 200
    listed = {s["id"] for s in bob.get("/v2.0/subnets").json()["subnets"]}
    assert on_shared["id"] in listed and own["id"] not in listed
    r = bob.put(f"/v2.0/subnets/{on_shared['id']}", {"subnet": {"name": "x"}})
    assert _err(r)[:2] == (403, "PolicyNotAuthorized")
    assert bob.delete(f"/v2.0/subnets/{on_shared['id']}").status_code == 403
    assert bob.delete(f"/v2.0/subnets/{own['id']}").status_code == 404
    r = _create(alice, private["id"], ip_version=4, cidr="10.1.0.0/24", tenant_id=bob.project_id)
    assert r.status_code == 400
    on_behalf = api.subnet(private["id"], "10.2.0.0/24", tenant_id=alice.project_id)
    assert on_behalf["project_id"] == alice.project_id
    reader = api.as_reader(alice.project_id)
    assert reader.get(f"/v2.0/subnets/{own['id']}").status_code == 200
    assert reader.put(f"/v2.0/subnets/{own['id']}", {"subnet": {"name": "x"}}).status_code == 403


# --- update ---------------------------------------------------------------------------------


def test_update(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    sub = member.subnet(net["id"], "192.168.0.0/24", dns_nameservers=["8.8.4.4", "8.8.8.8"])
    path = f"/v2.0/subnets/{sub['id']}"
    r = member.put(
        path,
        {
            "subnet": {
                "name": "new",
                "gateway_ip": "192.168.0.9",
                "enable_dhcp": False,
                "dns_nameservers": ["7.8.8.8", "7.8.4.4"],
                "host_routes": [{"destination": "10.20.0.0/24", "nexthop": "192.168.0.3"}],
                "allocation_pools": [
                    {"start": "192.168.0.10", "end": "192.168.0.20"},
                    {"start": "192.168.0.30", "end": "192.168.0.40"},
                ],
            }
        },
    )
    assert r.status_code == 200, r.text
    new = r.json()["subnet"]
    assert (new["name"], new["gateway_ip"], new["enable_dhcp"]) == ("new", "192.168.0.9", False)
    assert new["dns_nameservers"] == ["7.8.8.8", "7.8.4.4"]
    assert new["allocation_pools"] == [
        {"start": "192.168.0.10", "end": "192.168.0.20"},
        {"start": "192.168.0.30", "end": "192.168.0.40"},
    ]
    assert new["revision_number"] == 1 and member.get(path).json()["subnet"] == new
    assert (
        member.put(path, {"subnet": {"dns_nameservers": None}}).json()["subnet"]["dns_nameservers"]
        == []
    )
    r = member.put(path, {"subnet": {"gateway_ip": "192.168.0.15"}})
    assert _err(r)[:2] == (409, "GatewayConflictWithAllocationPools")
    r = member.put(
        path, {"subnet": {"allocation_pools": [{"start": "192.168.0.1", "end": "192.168.0.254"}]}}
    )
    assert _err(r)[:2] == (409, "GatewayConflictWithAllocationPools")
    for attr, value in (
        ("cidr", "10.0.0.0/24"),
        ("ip_version", 6),
        ("network_id", net["id"]),
        ("ipv6_ra_mode", "slaac"),
    ):
        r = member.put(path, {"subnet": {attr: value}})
        assert _err(r) == (400, "HTTPBadRequest", f"Cannot update read-only attribute {attr}")
    r = member.put(path, {"subnet": {"gateway_ip": "192.168.0.255"}})
    assert _err(r)[:2] == (400, "InvalidInput")
    r = member.put(path, {"subnet": {"name": "x"}}, headers={"If-Match": "revision_number=1"})
    assert r.status_code == 412
    current = member.get(path).json()["subnet"]["revision_number"]
    r = member.put(
        path, {"subnet": {"gateway_ip": None}}, headers={"If-Match": f"revision_number={current}"}
    )
    assert r.json()["subnet"]["gateway_ip"] is None


def test_update_keeps_allocations_outside_new_pools(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.30.0.0/24")
    port = api.port(net["id"], fixed_ips=[{"ip_address": "10.30.0.200"}])
    r = api.put(
        f"/v2.0/subnets/{sub['id']}",
        {"subnet": {"allocation_pools": [{"start": "10.30.0.10", "end": "10.30.0.12"}]}},
    )
    assert r.status_code == 200  # Neutron: existing allocations are not checked
    assert (
        api.get(f"/v2.0/ports/{port['id']}").json()["port"]["fixed_ips"][0]["ip_address"]
        == "10.30.0.200"
    )
    got = {api.port(net["id"])["fixed_ips"][0]["ip_address"] for _ in range(3)}
    assert got == {"10.30.0.10", "10.30.0.11", "10.30.0.12"}  # the new pools are used at once
    assert _err(api.post("/v2.0/ports", {"port": {"network_id": net["id"]}}))[:2] == (
        409,
        "IpAddressGenerationFailure",
    )


def test_gateway_held_by_a_router_interface_cannot_move(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.31.0.0/24")
    api.port(
        net["id"], device_owner="network:router_interface", fixed_ips=[{"ip_address": "10.31.0.1"}]
    )
    r = api.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"gateway_ip": "10.31.0.254"}})
    assert _err(r)[:2] == (409, "GatewayIpInUse")


# --- delete ---------------------------------------------------------------------------------


def test_delete_and_subnet_in_use(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    sub = member.subnet(net["id"], "10.40.0.0/24")
    port = member.port(net["id"])
    r = member.delete(f"/v2.0/subnets/{sub['id']}")
    assert _err(r) == (
        409,
        "SubnetInUse",
        f"Unable to complete operation on subnet "
        f"{sub['id']}: One or more ports have an IP allocation from this subnet.",
    )
    assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    before = member.get(f"/v2.0/networks/{net['id']}").json()["network"]["revision_number"]
    assert member.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    assert _err(member.get(f"/v2.0/subnets/{sub['id']}")) == (
        404,
        "SubnetNotFound",
        f"Subnet {sub['id']} could not be found.",
    )
    after = member.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert after["subnets"] == [] and after["revision_number"] == before + 1
    assert member.delete(f"/v2.0/subnets/{sub['id']}").status_code == 404


def test_delete_removes_dhcp_and_slaac_addresses(api: Caller) -> None:
    net = api.network()
    v4 = api.subnet(net["id"], "10.41.0.0/24")
    v4b = api.subnet(net["id"], "10.42.0.0/24")
    dhcp = api.port(
        net["id"],
        device_owner="network:dhcp",
        fixed_ips=[{"subnet_id": v4["id"]}, {"subnet_id": v4b["id"]}],
    )
    assert api.delete(f"/v2.0/subnets/{v4['id']}").status_code == 204
    left = api.get(f"/v2.0/ports/{dhcp['id']}").json()["port"]
    assert [ip["subnet_id"] for ip in left["fixed_ips"]] == [v4b["id"]]
    assert left["revision_number"] > dhcp["revision_number"]
    slaac = api.subnet(net["id"], "2001:db8:41::/64", ipv6_address_mode="slaac")
    vm = api.port(net["id"])
    assert {ip["subnet_id"] for ip in vm["fixed_ips"]} == {v4b["id"], slaac["id"]}
    assert api.delete(f"/v2.0/subnets/{slaac['id']}").status_code == 204
    after = api.get(f"/v2.0/ports/{vm['id']}").json()["port"]["fixed_ips"]
    assert [ip["subnet_id"] for ip in after] == [v4b["id"]]


def test_slaac_subnet_with_router_interface_is_in_use(api: Caller) -> None:
    net = api.network()
    slaac = api.subnet(
        net["id"],
        "fe80::/64",
        gateway_ip="fe80::1",
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    router = api.port(
        net["id"], device_owner="network:router_interface", fixed_ips=[{"ip_address": "fe80::1"}]
    )
    assert router["fixed_ips"] == [{"subnet_id": slaac["id"], "ip_address": "fe80::1"}]
    assert _err(api.delete(f"/v2.0/subnets/{slaac['id']}"))[:2] == (409, "SubnetInUse")


# --- IPAM as ports see it -------------------------------------------------------------------


def test_port_gets_one_v4_one_stateful_v6_and_every_eui64(api: Caller) -> None:
    net = api.network()
    v4 = api.subnet(net["id"], "10.60.0.0/24")
    api.subnet(net["id"], "10.61.0.0/24")
    stateful = api.subnet(net["id"], "2001:db8:60::/64", ipv6_address_mode="dhcpv6-stateful")
    slaac = api.subnet(net["id"], "2001:db8:61::/64", ipv6_address_mode="slaac")
    stateless = api.subnet(
        net["id"],
        "2001:db8:62::/64",
        ipv6_ra_mode="dhcpv6-stateless",
        ipv6_address_mode="dhcpv6-stateless",
    )
    port = api.port(net["id"], mac_address="fa:16:3e:df:80:e1")
    got = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    assert list(got) == [v4["id"], stateful["id"], slaac["id"], stateless["id"]]
    assert got[slaac["id"]] == "2001:db8:61:0:f816:3eff:fedf:80e1"
    assert got[stateless["id"]] == "2001:db8:62:0:f816:3eff:fedf:80e1"
    assert got[stateful["id"]].startswith("2001:db8:60::")
    router = api.port(net["id"], device_owner="network:router_interface")
    assert {ip["subnet_id"] for ip in router["fixed_ips"]} == {v4["id"], stateful["id"]}
    only_slaac = api.port(net["id"], fixed_ips=[])
    assert {ip["subnet_id"] for ip in only_slaac["fixed_ips"]} == {slaac["id"], stateless["id"]}


def test_explicit_requests(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(
        net["id"], "10.70.0.0/24", allocation_pools=[{"start": "10.70.0.100", "end": "10.70.0.110"}]
    )
    slaac = api.subnet(net["id"], "2001:db8:70::/64", ipv6_address_mode="slaac")
    outside = api.port(net["id"], fixed_ips=[{"subnet_id": sub["id"], "ip_address": "10.70.0.10"}])
    assert outside["fixed_ips"][0]["ip_address"] == "10.70.0.10"  # outside the pool is fine
    gateway = api.port(net["id"], fixed_ips=[{"ip_address": "10.70.0.1"}])  # Neutron allows
    assert gateway["fixed_ips"][0] == {"subnet_id": sub["id"], "ip_address": "10.70.0.1"}
    errors = {
        (
            400,
            "InvalidIpForSubnet",
            "IP address 10.70.0.255 is not a valid IP for the specified subnet.",
        ): [{"subnet_id": sub["id"], "ip_address": "10.70.0.255"}],
        (
            400,
            "InvalidIpForNetwork",
            "IP address 192.0.2.7 is not a valid IP for any of the "
            "subnets on the specified network.",
        ): [{"ip_address": "192.0.2.7"}],
        (
            409,
            "IpAddressAlreadyAllocated",
            f"IP address 10.70.0.10 already allocated in subnet {sub['id']}",
        ): [{"ip_address": "10.70.0.10"}],
        (
            404,
            "SubnetNotFound",
            "Subnet 8f733732-fd46-412a-b388-8bbb06873788 could not be found.",
        ): [{"subnet_id": "8f733732-fd46-412a-b388-8bbb06873788"}],
        (
            400,
            "AllocationOnAutoAddressSubnet",
            f"IPv6 address 2001:db8:70::5 cannot be "
            f"directly assigned to a port on subnet {slaac['id']} as the subnet is configured "
            f"for automatic addresses",
        ): [{"ip_address": "2001:db8:70::5"}],
    }
    for expected, fixed in errors.items():
        r = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": fixed}})
        assert _err(r) == expected
    other = api.network()
    foreign = api.subnet(other["id"], "10.71.0.0/24")
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": foreign["id"]}]}},
    )
    assert _err(r)[:2] == (400, "InvalidInput")
    empty = api.network()
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": empty["id"], "fixed_ips": [{"ip_address": "10.0.0.5"}]}},
    )
    assert _err(r) == (
        400,
        "InvalidInput",
        "Invalid input for operation: IP allocation requires subnets for network.",
    )
    assert api.port(empty["id"])["fixed_ips"] == []  # no subnet, no request: no address
    r = api.post(
        "/v2.0/ports",
        {
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"ip_address": "10.70.0.20"}, {"ip_address": "10.70.0.20"}],
            }
        },
    )
    assert r.status_code == 400


def test_exhaustion_is_409_and_freed_addresses_come_back(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "10.80.0.0/29")  # .2 - .6
    ports = [api.port(net["id"]) for _ in range(5)]
    assert {p["fixed_ips"][0]["ip_address"] for p in ports} == {f"10.80.0.{i}" for i in range(2, 7)}
    assert _err(api.post("/v2.0/ports", {"port": {"network_id": net["id"]}})) == (
        409,
        "IpAddressGenerationFailure",
        f"No more IP addresses available on network {net['id']}.",
    )
    freed = ports[2]["fixed_ips"][0]["ip_address"]
    assert api.delete(f"/v2.0/ports/{ports[2]['id']}").status_code == 204
    assert api.port(net["id"])["fixed_ips"][0]["ip_address"] == freed


def test_second_subnet_is_used_when_the_first_is_full(api: Caller) -> None:
    net = api.network()
    first = api.subnet(net["id"], "10.81.0.0/30")  # one address: .2
    second = api.subnet(net["id"], "10.82.0.0/24")
    assert api.port(net["id"])["fixed_ips"][0]["subnet_id"] == first["id"]
    for _ in range(3):
        assert api.port(net["id"])["fixed_ips"][0]["subnet_id"] == second["id"]


def test_new_slaac_subnet_addresses_existing_ports(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "10.90.0.0/24")
    vm = api.port(net["id"], mac_address="fa:16:3e:00:00:2a")
    router = api.port(net["id"], device_owner="network:router_interface")
    slaac = api.subnet(
        net["id"], "2001:db8:90::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac"
    )
    now = api.get(f"/v2.0/ports/{vm['id']}").json()["port"]
    assert now["fixed_ips"][1] == {
        "subnet_id": slaac["id"],
        "ip_address": "2001:db8:90:0:f816:3eff:fe00:2a",
    }
    assert now["revision_number"] == vm["revision_number"] + 1
    assert len(api.get(f"/v2.0/ports/{router['id']}").json()["port"]["fixed_ips"]) == 1
    api.subnet(net["id"], "2001:db8:91::/64", ipv6_address_mode="dhcpv6-stateful")
    assert len(api.get(f"/v2.0/ports/{vm['id']}").json()["port"]["fixed_ips"]) == 2


def test_port_update_of_fixed_ips(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.95.0.0/24")
    slaac = api.subnet(net["id"], "2001:db8:95::/64", ipv6_address_mode="slaac")
    port = api.port(net["id"], fixed_ips=[{"ip_address": "10.95.0.10"}])
    eui = [ip for ip in port["fixed_ips"] if ip["subnet_id"] == slaac["id"]]
    path = f"/v2.0/ports/{port['id']}"
    r = api.put(
        path, {"port": {"fixed_ips": [{"subnet_id": sub["id"]}, {"ip_address": "10.95.0.11"}]}}
    )
    ips = r.json()["port"]["fixed_ips"]
    assert eui[0] in ips  # the SLAAC address stays though not asked for
    v4 = sorted(ip["ip_address"] for ip in ips if ip["subnet_id"] == sub["id"])
    assert v4 == ["10.95.0.10", "10.95.0.11"]  # the subnet-only entry kept .10
    r = api.put(path, {"port": {"fixed_ips": [{"ip_address": "10.95.0.12"}]}})
    ips = r.json()["port"]["fixed_ips"]
    assert [ip["ip_address"] for ip in ips if ip["subnet_id"] == sub["id"]] == ["10.95.0.12"]
    assert api.port(net["id"], fixed_ips=[{"ip_address": "10.95.0.10"}])  # released


# --- lists ----------------------------------------------------------------------------------


def test_list_filters_sort_pagination(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    a = member.subnet(net["id"], "10.110.0.0/24", name="a")
    b = member.subnet(net["id"], "2001:db8:110::/64", name="b")
    shared = api.network(shared=True)
    c = api.subnet(shared["id"], "10.111.0.0/24", name="c")

    def ids(query: str, who: Caller = member) -> list[str]:
        r = who.get("/v2.0/subnets?" + query)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["subnets"]]

    assert set(ids("")) == {a["id"], b["id"], c["id"]}
    assert ids("ip_version=6") == [b["id"]]
    assert ids("cidr=10.110.0.0/24") == [a["id"]]
    assert ids(f"network_id={net['id']}&sort_key=name&sort_dir=desc") == [b["id"], a["id"]]
    assert ids("shared=true") == [c["id"]]
    assert set(ids("shared=false")) == {a["id"], b["id"]}
    assert set(ids("router:external=false")) == {a["id"], b["id"], c["id"]}
    assert ids("name=a&name=c&sort_key=name") == [a["id"], c["id"]]
    first = member.get("/v2.0/subnets?limit=2&sort_key=name").json()
    assert [s["name"] for s in first["subnets"]] == ["a", "b"]
    assert first["subnets_links"][0]["rel"] == "next"
    assert member.get("/v2.0/subnets?bogus=1").status_code == 400
    r = member.get(f"/v2.0/subnets/{a['id']}?fields=id&fields=cidr")
    assert r.json()["subnet"] == {"id": a["id"], "cidr": "10.110.0.0/24"}


def test_list_queries_do_not_grow_with_subnets(api: Caller) -> None:
    store = api.client.app.state.services.store  # type: ignore[attr-defined]
    net = api.network()
    statements: list[str] = []
    # Only the app's own thread (the test client's event loop, which runs the endpoint and
    # its database calls): background threads such as the liveness sweep share the engine.
    app_thread = api.client.portal.call(threading.get_ident)  # type: ignore[union-attr]

    def count(*args: Any) -> None:
        if threading.get_ident() == app_thread:
            statements.append(args[2])

    def listed() -> int:
        statements.clear()
        event.listen(store.engines.read, "before_cursor_execute", count)
        try:
            assert api.get(f"/v2.0/subnets?network_id={net['id']}").status_code == 200
        finally:
            event.remove(store.engines.read, "before_cursor_execute", count)
        return len(statements)

    api.subnet(
        net["id"],
        "10.120.0.0/24",
        dns_nameservers=["8.8.8.8"],
        host_routes=[{"destination": "10.0.0.0/8", "nexthop": "10.120.0.5"}],
    )
    few = listed()
    assert few > 0  # the endpoint's own statements were seen
    for i in range(1, 25):
        api.subnet(net["id"], f"10.120.{i}.0/24", dns_nameservers=["8.8.8.8"])
    assert listed() == few


# --- IPAM internals: the scan floors (service level, same app and database) ----------------


def _services(api: Caller) -> Any:
    return api.client.app.state.services  # type: ignore[attr-defined]


def _first_free(api: Caller, network_id: str, *, use_floor: bool = True) -> list[Any]:
    def fn(tx: Any) -> list[Any]:
        [subnet] = ipam.load_subnets(tx.conn, network_id)
        return ipam.first_free(tx, subnet, 4, use_floor=use_floor)

    return _services(api).store.write(fn)  # type: ignore[no-any-return]


def test_floor_skips_the_allocated_prefix_and_release_lowers_it(
    api: Caller, monkeypatch: Any
) -> None:
    net = api.network()
    sub = api.subnet(net["id"], "10.130.0.0/22")
    r = api.post("/v2.0/ports", {"ports": [{"network_id": net["id"]} for _ in range(400)]})
    assert r.status_code == 201
    ports = r.json()["ports"]
    rows_read: list[int] = []
    real = ipam.repo.used_keys

    def counting(*args: Any) -> list[str]:
        keys = real(*args)
        rows_read.append(len(keys))
        return keys

    monkeypatch.setattr(ipam.repo, "used_keys", counting)
    api.port(net["id"])  # after a bulk create the floor starts low (it never passes its own
    rows_read.clear()  # inserts, in case of rollback); this scan raises it
    api.port(net["id"])
    # Only the window's neighbourhood is read (allocations there are interleaved with free
    # addresses), not the 401 allocated addresses below the free ones.
    assert sum(rows_read) < 100
    lowest = min(ports, key=lambda p: ip.to_int(p["fixed_ips"][0]["ip_address"]))
    freed = lowest["fixed_ips"][0]["ip_address"]
    _services(api).store.write(lambda tx: ipam.release(tx, lowest["id"]))
    assert _first_free(api, net["id"])[0][0] == ip.to_int(freed)
    assert sub["id"] in {s["id"] for s in api.get("/v2.0/subnets").json()["subnets"]}


def test_a_stale_floor_never_causes_a_false_exhaustion(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "10.131.0.0/29")
    ports = [api.port(net["id"]) for _ in range(5)]
    assert api.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).status_code == 409
    ports.sort(key=lambda p: ip.to_int(p["fixed_ips"][0]["ip_address"]))
    victim = ports[0]["fixed_ips"][0]
    # Freed behind the floor's back (as by another server): no in-process release.
    _services(api).store.write(
        lambda tx: ipam.repo.delete_allocations(
            tx.conn, ports[0]["id"], [(victim["subnet_id"], victim["ip_address"])]
        )
    )
    assert _first_free(api, net["id"]) == []  # the floor still says "full"...
    again = api.port(net["id"])  # ...but the create rescans before answering 409
    assert again["fixed_ips"][0]["ip_address"] == victim["ip_address"]


def test_a_rolled_back_allocation_does_not_raise_the_floor(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "10.132.0.0/24")
    holder = api.port(net["id"], fixed_ips=[{"ip_address": "10.132.0.200"}])

    class Rollback(Exception):
        pass

    picked: list[str] = []

    def fn(tx: Any) -> None:
        got = ipam.allocate(
            tx,
            net["id"],
            None,
            holder["mac_address"],
            port_id=holder["id"],
            device_owner="",
            window=1,
        )
        picked.append(got[0]["ip_address"])
        # a later scan in the same transaction sees it as used (and would raise the floor)
        assert ipam.first_free(tx, ipam.load_subnets(tx.conn, net["id"])[0], 1)[0][0] > ip.to_int(
            got[0]["ip_address"]
        )
        raise Rollback

    with contextlib.suppress(Rollback):
        _services(api).store.write(fn)
    assert picked == ["10.132.0.2"]  # window 1: the first free address
    assert _first_free(api, net["id"])[0][0] == ip.to_int("10.132.0.2")


def test_readdress_follows_a_new_mac(api: Caller) -> None:
    net = api.network()
    slaac = api.subnet(net["id"], "2001:db8:133::/64", ipv6_address_mode="slaac")
    port = api.port(net["id"], mac_address="fa:16:3e:00:00:01")
    _services(api).store.write(
        lambda tx: ipam.readdress(tx, net["id"], port["id"], "fa:16:3e:00:00:02")
    )
    rows = _services(api).store.write(lambda tx: ipam.repo.allocations_of_port(tx.conn, port["id"]))
    assert [(r["subnet_id"], r["ip_address"]) for r in rows] == [
        (slaac["id"], "2001:db8:133:0:f816:3eff:fe00:2")
    ]
