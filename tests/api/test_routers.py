"""Routers through the HTTP API: wire shape, interfaces by subnet and by port, the external
gateway, extra routes, policy and isolation, and the guards other resources keep for router
ports."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

ROUTER_KEYS = {
    "id",
    "name",
    "tenant_id",
    "project_id",
    "admin_state_up",
    "status",
    "external_gateway_info",
    "routes",
    "description",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
    "availability_zone_hints",  # router_availability_zone
    "availability_zones",
    "flavor_id",  # l3-flavors
}
INFO_KEYS = {"id", "tenant_id", "project_id", "port_id", "network_id", "subnet_id", "subnet_ids"}


def _router(caller: Caller, **attrs: Any) -> dict[str, Any]:
    return caller.create("routers", "router", **attrs)


def _add(caller: Caller, router_id: str, **body: Any) -> Any:
    return caller.put(f"/v2.0/routers/{router_id}/add_router_interface", body)


def _remove(caller: Caller, router_id: str, **body: Any) -> Any:
    return caller.put(f"/v2.0/routers/{router_id}/remove_router_interface", body)


def _external(api: Caller, cidr: str = "203.0.113.0/24") -> tuple[dict[str, Any], dict[str, Any]]:
    net = api.network(**{"router:external": True})
    return net, api.subnet(net["id"], cidr)


def _error(r: Any, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == kind, err
    return str(err["message"])


# --- CRUD ---------------------------------------------------------------------------------


def test_crud_with_neutron_shape(api: Caller) -> None:
    member = api.as_member()
    r = member.post("/v2.0/routers", {"router": {"name": "r1", "tags": ["b", "a"]}})
    assert r.status_code == 201, r.text
    router = r.json()["router"]
    assert set(router) == ROUTER_KEYS
    assert router["project_id"] == router["tenant_id"] == member.project_id
    assert router["status"] == "ACTIVE" and router["admin_state_up"] is True
    assert router["external_gateway_info"] is None and router["routes"] == []
    assert router["revision_number"] == 1 and router["tags"] == ["a", "b"]

    shown = member.get(f"/v2.0/routers/{router['id']}").json()["router"]
    assert shown == router
    r = member.put(
        f"/v2.0/routers/{router['id']}", {"router": {"name": "r2", "admin_state_up": False}}
    )
    assert r.status_code == 200, r.text
    updated = r.json()["router"]
    assert updated["name"] == "r2" and updated["admin_state_up"] is False
    assert updated["revision_number"] == 2
    listed = member.get("/v2.0/routers", params={"name": "r2"}).json()["routers"]
    assert [x["id"] for x in listed] == [router["id"]]
    assert member.get("/v2.0/routers", params={"fields": "id"}).json()["routers"] == [
        {"id": router["id"]}
    ]
    assert member.delete(f"/v2.0/routers/{router['id']}").status_code == 204
    _error(member.get(f"/v2.0/routers/{router['id']}"), 404, "RouterNotFound")


def test_create_refuses_routes_and_unknown_attributes(api: Caller) -> None:
    r = api.post("/v2.0/routers", {"router": {"routes": []}})
    assert r.status_code == 400
    r = api.post("/v2.0/routers", {"router": {"distributed": True}})
    assert r.status_code == 400


def test_extensions_listed(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"router", "extraroute", "extraroute-atomic", "ext-gw-mode"} <= aliases


# --- interfaces ---------------------------------------------------------------------------


def test_interface_by_subnet_takes_gateway_ip(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    sub = member.subnet(net["id"], "10.1.0.0/24")
    router = _router(member)
    r = _add(member, router["id"], subnet_id=sub["id"])
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == INFO_KEYS
    assert info["id"] == router["id"] and info["network_id"] == net["id"]
    assert info["subnet_id"] == sub["id"] and info["subnet_ids"] == [sub["id"]]
    assert info["project_id"] == member.project_id

    port = member.get(f"/v2.0/ports/{info['port_id']}").json()["port"]
    assert port["device_owner"] == "network:router_interface"
    assert port["device_id"] == router["id"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.1"}]
    found = member.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [p["id"] for p in found] == [info["port_id"]]
    assert member.get(f"/v2.0/routers/{router['id']}").json()["router"]["revision_number"] == 2

    r = _remove(member, router["id"], subnet_id=sub["id"])
    assert r.status_code == 200, r.text
    assert r.json() == info
    _error(member.get(f"/v2.0/ports/{info['port_id']}"), 404, "PortNotFound")
    assert member.delete(f"/v2.0/routers/{router['id']}").status_code == 204


def test_interface_on_ipv6_stateful_subnet_takes_gateway(api: Caller) -> None:
    net = api.network()
    sub = api.subnet(
        net["id"],
        "2001:db8:1::/64",
        ipv6_ra_mode="dhcpv6-stateful",
        ipv6_address_mode="dhcpv6-stateful",
    )
    router = _router(api)
    info = _add(api, router["id"], subnet_id=sub["id"]).json()
    port = api.get(f"/v2.0/ports/{info['port_id']}").json()["port"]
    assert port["fixed_ips"][0]["ip_address"] == sub["gateway_ip"]
    # a second IPv6 subnet of the network joins the same port
    sub2 = api.subnet(net["id"], "2001:db8:2::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    info2 = _add(api, router["id"], subnet_id=sub2["id"]).json()
    assert info2["port_id"] == info["port_id"]
    port = api.get(f"/v2.0/ports/{info['port_id']}").json()["port"]
    assert {f["subnet_id"] for f in port["fixed_ips"]} == {sub["id"], sub2["id"]}
    assert _remove(api, router["id"], subnet_id=sub2["id"]).status_code == 200
    port = api.get(f"/v2.0/ports/{info['port_id']}").json()["port"]
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [sub["id"]]


def test_interface_by_port(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    sub = member.subnet(net["id"], "10.2.0.0/24")
    port = member.port(net["id"])
    router = _router(member)
    r = _add(member, router["id"], port_id=port["id"])
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["port_id"] == port["id"] and info["subnet_ids"] == [sub["id"]]
    shown = member.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert shown["device_owner"] == "network:router_interface"
    assert shown["device_id"] == router["id"]
    assert shown["fixed_ips"] == port["fixed_ips"]
    reader = api.as_reader(member.project_id)
    found = reader.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [p["id"] for p in found] == [port["id"]]

    # already attached: the port now has a device
    other = _router(member)
    _error(_add(member, other["id"], port_id=port["id"]), 409, "PortInUse")
    _error(_remove(member, other["id"], port_id=port["id"]), 404, "RouterInterfaceNotFound")
    assert _remove(member, router["id"], port_id=port["id"]).status_code == 200
    _error(member.get(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound")


def test_interface_by_port_refusals(api: Caller) -> None:
    net = api.network()
    router = _router(api)
    bare = api.port(net["id"])  # no subnet: no fixed IP
    msg = _error(_add(api, router["id"], port_id=bare["id"]), 400, "BadRequest")
    assert msg == "Bad router request: Router port must have at least one fixed IP."
    owned = api.port(net["id"], device_id="vm-1", device_owner="compute:nova")
    _error(_add(api, router["id"], port_id=owned["id"]), 409, "PortInUse")
    _error(
        _add(api, router["id"], port_id="8b4d6c1e-0000-4000-8000-000000000000"), 404, "PortNotFound"
    )


def test_interface_request_validation(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.3.0.0/24")
    port = api.port(net["id"])
    msg = _error(_add(api, router["id"]), 400, "BadRequest")
    assert msg == "Bad router request: Either subnet_id or port_id must be specified."
    msg = _error(
        _add(api, router["id"], subnet_id=sub["id"], port_id=port["id"]), 400, "BadRequest"
    )
    assert "Cannot specify both subnet-id and port-id" in msg
    _error(_add(api, router["id"], subnet_id="nope"), 400, "BadRequest")
    _error(
        _add(api, "8b4d6c1e-0000-4000-8000-000000000000", subnet_id=sub["id"]),
        404,
        "RouterNotFound",
    )


def test_subnet_without_gateway_twice_and_overlapping(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    no_gw = api.subnet(net["id"], "10.4.0.0/24", gateway_ip=None)
    msg = _error(_add(api, router["id"], subnet_id=no_gw["id"]), 400, "BadRequest")
    assert msg == "Bad router request: Subnet for router interface must have a gateway IP."

    net1, net2 = api.network(), api.network()
    sub1 = api.subnet(net1["id"], "10.5.0.0/24")
    sub2 = api.subnet(net2["id"], "10.5.0.0/25")
    assert _add(api, router["id"], subnet_id=sub1["id"]).status_code == 200
    msg = _error(_add(api, router["id"], subnet_id=sub1["id"]), 400, "BadRequest")
    assert msg == f"Bad router request: Router already has a port on subnet {sub1['id']}."
    msg = _error(_add(api, router["id"], subnet_id=sub2["id"]), 400, "BadRequest")
    assert msg == (
        f"Bad router request: Cidr 10.5.0.0/25 of subnet {sub2['id']} overlaps "
        f"with cidr 10.5.0.0/24 of subnet {sub1['id']}."
    )
    # the same CIDR on another router is fine
    assert _add(api, _router(api)["id"], subnet_id=sub2["id"]).status_code == 200


def test_remove_interface_not_found(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.6.0.0/24")
    msg = _error(
        _remove(api, router["id"], subnet_id=sub["id"]), 404, "RouterInterfaceNotFoundForSubnet"
    )
    assert msg == f"Router {router['id']} has no interface on subnet {sub['id']}"
    port = api.port(net["id"])
    msg = _error(_remove(api, router["id"], port_id=port["id"]), 404, "RouterInterfaceNotFound")
    assert msg == f"Router {router['id']} does not have an interface with id {port['id']}"


def test_delete_router_in_use(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.7.0.0/24")
    _add(api, router["id"], subnet_id=sub["id"])
    msg = _error(api.delete(f"/v2.0/routers/{router['id']}"), 409, "RouterInUse")
    assert msg == f"Router {router['id']} still has ports"
    _remove(api, router["id"], subnet_id=sub["id"])
    assert api.delete(f"/v2.0/routers/{router['id']}").status_code == 204


# --- guards in ports, subnets, networks ------------------------------------------------------


def test_router_ports_guarded_elsewhere(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.8.0.0/24")
    info = _add(api, router["id"], subnet_id=sub["id"]).json()
    msg = _error(api.delete(f"/v2.0/ports/{info['port_id']}"), 409, "L3PortInUse")
    assert msg == (
        f"Port {info['port_id']} has owner network:router_interface and therefore "
        f"cannot be deleted directly via the port API."
    )
    _error(api.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    _error(api.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    _remove(api, router["id"], subnet_id=sub["id"])
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    # a port merely claiming a router owner (no such router) deletes normally
    net = api.network()
    fake = api.port(net["id"], device_owner="network:router_interface", device_id="nope")
    assert api.delete(f"/v2.0/ports/{fake['id']}").status_code == 204


# --- external gateway ---------------------------------------------------------------------


def test_gateway_on_external_network(api: Caller) -> None:
    ext, ext_sub = _external(api)
    member = api.as_member()
    router = _router(member, external_gateway_info={"network_id": ext["id"]})
    gw = router["external_gateway_info"]
    assert gw["network_id"] == ext["id"] and gw["enable_snat"] is True
    assert [f["subnet_id"] for f in gw["external_fixed_ips"]] == [ext_sub["id"]]
    ports = api.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    assert len(ports) == 1
    assert ports[0]["device_owner"] == "network:router_gateway"
    assert ports[0]["project_id"] == ""
    assert ports[0]["fixed_ips"] == gw["external_fixed_ips"]
    _error(api.delete(f"/v2.0/ports/{ports[0]['id']}"), 409, "L3PortInUse")
    _error(api.delete(f"/v2.0/networks/{ext['id']}"), 409, "NetworkInUse")

    # clearing removes the port; setting again on update works
    r = member.put(f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {}}})
    assert r.status_code == 200, r.text
    assert r.json()["router"]["external_gateway_info"] is None
    assert api.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"] == []
    r = member.put(
        f"/v2.0/routers/{router['id']}",
        {"router": {"external_gateway_info": {"network_id": ext["id"]}}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["router"]["external_gateway_info"]["network_id"] == ext["id"]
    # deleting the router removes its gateway port
    assert member.delete(f"/v2.0/routers/{router['id']}").status_code == 204
    assert api.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"] == []


def test_gateway_on_external_network_without_subnets(api: Caller) -> None:
    """Neutron plugs a gateway on an external network without subnets with no IPs (tempest's
    ExternalNetworksRBACTestJSON.test_regular_client_shares_with_another); where the subnets
    are full the request fails and leaves nothing behind."""
    bare = api.network(**{"router:external": True})
    router = _router(api.as_member(), external_gateway_info={"network_id": bare["id"]})
    gw = router["external_gateway_info"]
    assert gw["network_id"] == bare["id"] and gw["external_fixed_ips"] == []
    ports = api.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [(p["device_owner"], p["fixed_ips"]) for p in ports] == [("network:router_gateway", [])]
    full = api.network(**{"router:external": True})
    api.subnet(full["id"], "198.51.100.0/30")  # one usable address beside the gateway's
    _router(api, external_gateway_info={"network_id": full["id"]})
    r = api.post("/v2.0/routers", {"router": {"external_gateway_info": {"network_id": full["id"]}}})
    _error(r, 409, "IpAddressGenerationFailure")
    on_full = api.get("/v2.0/ports", params={"network_id": full["id"]}).json()["ports"]
    assert len(on_full) == 1


def test_gateway_refusals_and_admin_only_keys(api: Caller) -> None:
    internal = api.network()
    api.subnet(internal["id"], "10.9.0.0/24")
    msg = _error(
        api.post(
            "/v2.0/routers", {"router": {"external_gateway_info": {"network_id": internal["id"]}}}
        ),
        400,
        "BadRequest",
    )
    assert msg == f"Bad router request: Network {internal['id']} is not an external network."
    ext, ext_sub = _external(api, "198.51.100.0/24")
    member = api.as_member()
    r = member.post(
        "/v2.0/routers",
        {"router": {"external_gateway_info": {"network_id": ext["id"], "enable_snat": False}}},
    )
    _error(r, 403, "PolicyNotAuthorized")
    r = member.post(
        "/v2.0/routers",
        {
            "router": {
                "external_gateway_info": {
                    "network_id": ext["id"],
                    "external_fixed_ips": [{"ip_address": "198.51.100.9"}],
                }
            }
        },
    )
    _error(r, 403, "PolicyNotAuthorized")
    router = _router(
        api,
        external_gateway_info={
            "network_id": ext["id"],
            "enable_snat": False,
            "external_fixed_ips": [{"subnet_id": ext_sub["id"], "ip_address": "198.51.100.9"}],
        },
    )
    assert router["external_gateway_info"] == {
        "network_id": ext["id"],
        "enable_snat": False,
        "external_fixed_ips": [{"subnet_id": ext_sub["id"], "ip_address": "198.51.100.9"}],
    }
    # an interface overlapping the gateway network's subnet is refused
    net = api.network()
    sub = api.subnet(net["id"], "198.51.100.0/25")
    msg = _error(_add(api, router["id"], subnet_id=sub["id"]), 400, "BadRequest")
    assert "overlaps with cidr 198.51.100.0/24" in msg


# --- extra routes -------------------------------------------------------------------------


def test_extra_routes(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "10.10.0.0/24")
    _add(api, router["id"], subnet_id=sub["id"])
    path = f"/v2.0/routers/{router['id']}"
    routes = [{"destination": "192.0.2.0/24", "nexthop": "10.10.0.5"}]
    r = api.put(path, {"router": {"routes": routes}})
    assert r.status_code == 200, r.text
    assert r.json()["router"]["routes"] == routes

    for hop, reason in (
        ("10.99.0.5", "the nexthop is not connected with router"),
        ("10.10.0.1", "the nexthop is used by router"),
    ):
        r = api.put(path, {"router": {"routes": [{"destination": "192.0.2.0/24", "nexthop": hop}]}})
        assert reason in _error(r, 400, "InvalidRoutes")
    r = api.put(
        path, {"router": {"routes": [{"destination": "192.0.2.1/24", "nexthop": "10.10.0.5"}]}}
    )
    assert r.status_code == 400
    r = api.put(path, {"router": {"routes": [{"destination": "192.0.2.0/24"}]}})
    assert r.status_code == 400

    _error(_remove(api, router["id"], subnet_id=sub["id"]), 409, "RouterInterfaceInUseByRoute")

    # extraroute-atomic
    extra = {"destination": "198.51.100.0/24", "nexthop": "10.10.0.6"}
    r = api.put(f"{path}/add_extraroutes", {"router": {"routes": [extra]}})
    assert r.status_code == 200, r.text
    assert r.json()["router"]["routes"] == [*routes, extra]
    r = api.put(f"{path}/remove_extraroutes", {"router": {"routes": routes}})
    assert r.json()["router"]["routes"] == [extra]
    r = api.put(
        f"{path}/add_extraroutes",
        {"router": {"routes": [{"destination": "203.0.113.0/24", "nexthop": "10.11.0.1"}]}},
    )
    _error(r, 400, "InvalidRoutes")

    assert api.put(path, {"router": {"routes": []}}).json()["router"]["routes"] == []
    api.put(path, {"router": {"routes": routes}})
    assert api.put(path, {"router": {"routes": None}}).json()["router"]["routes"] == []
    assert _remove(api, router["id"], subnet_id=sub["id"]).status_code == 200


# --- policy -------------------------------------------------------------------------------


def test_policy_and_isolation(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    router = _router(alice)
    path = f"/v2.0/routers/{router['id']}"
    assert bob.get("/v2.0/routers").json()["routers"] == []
    _error(bob.get(path), 404, "RouterNotFound")
    _error(bob.put(path, {"router": {"name": "x"}}), 404, "RouterNotFound")
    _error(bob.delete(path), 404, "RouterNotFound")
    bob_net = bob.network()
    bob_sub = bob.subnet(bob_net["id"], "10.12.0.0/24")
    _error(_add(bob, router["id"], subnet_id=bob_sub["id"]), 404, "RouterNotFound")
    _error(_add(alice, router["id"], subnet_id=bob_sub["id"]), 404, "SubnetNotFound")
    bob_port = bob.port(bob_net["id"])
    _error(_add(alice, router["id"], port_id=bob_port["id"]), 404, "PortNotFound")

    reader = api.as_reader(alice.project_id)
    assert [x["id"] for x in reader.get("/v2.0/routers").json()["routers"]] == [router["id"]]
    assert reader.get(path).status_code == 200
    _error(reader.post("/v2.0/routers", {"router": {}}), 403, "PolicyNotAuthorized")
    _error(reader.put(path, {"router": {"name": "x"}}), 403, "PolicyNotAuthorized")
    _error(reader.delete(path), 403, "PolicyNotAuthorized")
    _error(_add(reader, router["id"], subnet_id=bob_sub["id"]), 403, "PolicyNotAuthorized")

    assert router["id"] in {x["id"] for x in api.get("/v2.0/routers").json()["routers"]}
    r = api.post("/v2.0/routers", {"router": {"tenant_id": bob.project_id}})
    assert r.status_code == 201
    assert [x["id"] for x in bob.get("/v2.0/routers").json()["routers"]] == [
        r.json()["router"]["id"]
    ]
