"""Subnet service types (``subnet-service-types``) on SQLite and PostgreSQL: the attribute's
validation (neutron-lib's, with its quirk), revisions, and IPAM choosing subnets for a port by
its device owner as Neutron does (exact match, DHCP ports on DHCP subnets, typed subnets
first, 409 when none fits, the explicit subnet refused), for ports, router interfaces,
floating IPs and SLAAC addresses of existing ports."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller


def subnet_error(api: Caller, net: str, types: Any) -> Any:
    body = {"network_id": net, "cidr": "192.0.2.0/24", "ip_version": 4, "service_types": types}
    r = api.post("/v2.0/subnets", {"subnet": body})
    assert r.status_code == 400, r.text
    return r.json()["NeutronError"]


def test_create_show_update_and_revisions(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(
        net["id"], "192.0.2.0/24", service_types=["network:floatingip", "compute:nova"]
    )
    assert sub["service_types"] == ["compute:nova", "network:floatingip"]
    shown = api.get(f"/v2.0/subnets/{sub['id']}").json()["subnet"]
    assert shown["service_types"] == sub["service_types"]
    plain = api.subnet(net["id"], "198.51.100.0/24")
    assert plain["service_types"] == []
    r = api.put(f"/v2.0/subnets/{plain['id']}", {"subnet": {"service_types": ["compute:"]}})
    first = r.json()["subnet"]
    assert first["service_types"] == ["compute:"]
    assert first["revision_number"] > plain["revision_number"]
    r = api.put(f"/v2.0/subnets/{plain['id']}", {"subnet": {"service_types": []}})
    second = r.json()["subnet"]
    assert second["service_types"] == [] and second["revision_number"] > first["revision_number"]
    r = api.put(f"/v2.0/subnets/{plain['id']}", {"subnet": {"service_types": None}})
    assert r.json()["subnet"]["revision_number"] == second["revision_number"]  # no change
    listed = api.get(f"/v2.0/subnets?network_id={net['id']}&fields=service_types&fields=id")
    assert {s["id"]: s["service_types"] for s in listed.json()["subnets"]} == {
        sub["id"]: ["compute:nova", "network:floatingip"],
        plain["id"]: [],
    }
    assert api.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    extensions = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert "subnet-service-types" in extensions


@pytest.mark.parametrize(
    ("types", "kind"),
    [
        ("compute:nova", "HTTPBadRequest"),
        ({"a": 1}, "HTTPBadRequest"),
        ([7], "InvalidInputSubnetServiceType"),
        ([None], "InvalidInputSubnetServiceType"),
        (["foo:bar"], "InvalidSubnetServiceType"),
        ([""], "InvalidSubnetServiceType"),
        (["network:" + "x" * 300], "InvalidSubnetServiceType"),
    ],
)
def test_invalid_service_types(api: Caller, types: Any, kind: str) -> None:
    net = api.network()
    err = subnet_error(api, net["id"], types)
    assert err["type"] == kind, err
    assert api.get("/v2.0/subnets").json()["subnets"] == []


def test_neutron_lib_prefix_quirk(api: Caller) -> None:
    """Any value starting with a letter of ``compute:`` passes, as in Neutron (tempest
    relies on ``test:type_1``)."""
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24", service_types=["test:type_1", "tap", "neutron:x"])
    assert sub["service_types"] == ["neutron:x", "tap", "test:type_1"]
    assert subnet_error(api, net["id"], ["bogus"])["type"] == "InvalidSubnetServiceType"


def test_ports_take_addresses_from_matching_subnets(api: Caller) -> None:
    """tempest's SubnetServiceTypeTestJSON, and the rules around it."""
    net = api.network()
    one = api.subnet(net["id"], "192.0.2.0/24", service_types=["test:type_1"])
    two = api.subnet(net["id"], "198.51.100.0/24", service_types=["test:type_2"])
    for owner, subnet in (("test:type_1", one), ("test:type_2", two)):
        port = api.port(net["id"], device_owner=owner)
        assert [f["subnet_id"] for f in port["fixed_ips"]] == [subnet["id"]]
    # no subnet serves an ordinary port: 409, and nothing is left behind
    r = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "device_owner": "compute:x"}})
    assert r.status_code == 409, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == "IpAddressGenerationFailureNoMatchingSubnet"
    assert err["message"] == (
        f"No valid service subnet for the given device owner, network {net['id']}, "
        f"service type compute:x."
    )
    # a subnet without types serves everyone; typed subnets are tried first
    free = api.subnet(net["id"], "203.0.113.0/24")
    port = api.port(net["id"], device_owner="compute:x")
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [free["id"]]
    port = api.port(net["id"], device_owner="test:type_1")
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [one["id"]]
    # naming a subnet that does not serve the port is refused
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": one["id"]}]}},
    )
    assert r.status_code == 400, r.text
    assert "fixed_ips included invalid subnet" in r.json()["NeutronError"]["message"]
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "192.0.2.50"}]}},
    )
    assert r.json()["NeutronError"]["type"] == "InvalidIpForNetwork"
    # an update of fixed_ips follows the same rule
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": [{"subnet_id": two["id"]}]}})
    assert r.status_code == 400, r.text


def test_dhcp_ports_use_any_dhcp_subnet(api: Caller) -> None:
    net = api.network()
    typed = api.subnet(net["id"], "192.0.2.0/24", service_types=["compute:nova"])
    port = api.port(net["id"], device_owner="network:dhcp", device_id="dhcp-x")
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [typed["id"]]
    off = api.network()
    api.subnet(off["id"], "192.0.2.0/24", service_types=["compute:nova"], enable_dhcp=False)
    r = api.post("/v2.0/ports", {"port": {"network_id": off["id"], "device_owner": "network:dhcp"}})
    assert r.status_code == 409, r.text


def test_no_subnets_means_no_addresses(api: Caller) -> None:
    net = api.network()
    assert api.port(net["id"], device_owner="compute:x")["fixed_ips"] == []


def test_routers_and_floating_ips_follow_service_types(api: Caller) -> None:
    ext = api.network(**{"router:external": True})
    gw = api.subnet(ext["id"], "203.0.113.0/25", service_types=["network:router_gateway"])
    fips = api.subnet(ext["id"], "203.0.113.128/25", service_types=["network:floatingip"])
    r = api.post("/v2.0/routers", {"router": {"external_gateway_info": {"network_id": ext["id"]}}})
    assert r.status_code == 201, r.text
    router = r.json()["router"]
    ips = router["external_gateway_info"]["external_fixed_ips"]
    assert [i["subnet_id"] for i in ips] == [gw["id"]]
    r = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}})
    assert r.status_code == 201, r.text
    assert r.json()["floatingip"]["floating_ip_address"].startswith("203.0.113.")
    assert int(r.json()["floatingip"]["floating_ip_address"].rsplit(".", 1)[1]) >= 128
    inner = api.network()
    typed = api.subnet(inner["id"], "192.0.2.0/24", service_types=["compute:nova"])
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": typed["id"]})
    assert r.status_code == 409, r.text  # no subnet of the network serves the interface
    assert r.json()["NeutronError"]["type"] == "IpAddressGenerationFailureNoMatchingSubnet"
    assert fips["service_types"] == ["network:floatingip"]


def test_slaac_addresses_only_for_served_ports(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    nova = api.port(net["id"], device_owner="compute:nova")
    other = api.port(net["id"], device_owner="compute:other")
    v6 = api.subnet(
        net["id"],
        "2001:db8::/64",
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
        service_types=["compute:nova"],
    )

    def subnets_of(port: dict[str, Any]) -> set[str]:
        shown = api.get(f"/v2.0/ports/{port['id']}").json()["port"]
        return {f["subnet_id"] for f in shown["fixed_ips"]}

    assert v6["id"] in subnets_of(nova)
    assert v6["id"] not in subnets_of(other)
