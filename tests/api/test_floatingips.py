"""Floating IPs through the HTTP API: allocation (any address, a subnet, a given address),
association and disassociation, ``port_details``, the errors Neutron answers, the guards on
ports, router interfaces and gateways, the pools, quotas and policy between projects."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

FIP_KEYS = {
    "id",
    "tenant_id",
    "project_id",
    "floating_ip_address",
    "floating_network_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "status",
    "description",
    "port_details",
    "qos_policy_id",
    "dns_name",
    "dns_domain",
    "port_forwardings",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
}
DETAIL_KEYS = {
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
}


def _error(r: Any, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == kind, err
    return str(err["message"])


def _external(api: Caller, cidr: str = "203.0.113.0/24") -> tuple[dict[str, Any], dict[str, Any]]:
    net = api.network(**{"router:external": True})
    return net, api.subnet(net["id"], cidr)


def _topology(
    api: Caller, member: Caller, ext_net: dict[str, Any], cidr: str = "10.0.0.0/24"
) -> dict[str, Any]:
    """A member's network + subnet joined by a router whose gateway is on ``ext_net``."""
    net = member.network()
    subnet = member.subnet(net["id"], cidr)
    router = member.create("routers", "router", external_gateway_info={"network_id": ext_net["id"]})
    r = member.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    assert r.status_code == 200, r.text
    return {"net": net, "subnet": subnet, "router": router}


def _fip(caller: Caller, network_id: str, **attrs: Any) -> Any:
    return caller.post(
        "/v2.0/floatingips", {"floatingip": {"floating_network_id": network_id, **attrs}}
    )


# --- allocation -------------------------------------------------------------------------------


def test_allocate_shape_and_hidden_port(api: Caller) -> None:
    ext, ext_subnet = _external(api)
    member = api.as_member()
    r = _fip(member, ext["id"], description="mine")
    assert r.status_code == 201, r.text
    fip = r.json()["floatingip"]
    assert set(fip) == FIP_KEYS
    assert fip["project_id"] == fip["tenant_id"] == member.project_id
    assert fip["floating_ip_address"].startswith("203.0.113.")
    assert fip["status"] == "DOWN" and fip["description"] == "mine"
    assert fip["port_id"] is None and fip["router_id"] is None
    assert fip["fixed_ip_address"] is None and fip["port_details"] is None
    assert fip["revision_number"] == 1

    assert member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"] == fip
    # The floating IP's port: owned by no project, invisible to the member.
    ports = api.get(f"/v2.0/ports?device_id={fip['id']}").json()["ports"]
    assert len(ports) == 1
    port = ports[0]
    assert port["device_owner"] == "network:floatingip" and port["project_id"] == ""
    assert port["fixed_ips"] == [
        {"subnet_id": ext_subnet["id"], "ip_address": fip["floating_ip_address"]}
    ]
    assert member.get(f"/v2.0/ports?device_id={fip['id']}").json()["ports"] == []

    # The port cannot be deleted behind the floating IP's back.
    _error(api.delete(f"/v2.0/ports/{port['id']}"), 409, "L3PortInUse")

    assert member.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204
    assert api.get(f"/v2.0/ports/{port['id']}").status_code == 404
    _error(member.get(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")


def test_allocate_from_subnet_and_given_address(api: Caller) -> None:
    ext, first = _external(api)
    second = api.subnet(ext["id"], "198.51.100.0/24")
    fip = _fip(api, ext["id"], subnet_id=second["id"]).json()["floatingip"]
    assert fip["floating_ip_address"].startswith("198.51.100.")

    given = _fip(api, ext["id"], floating_ip_address="203.0.113.77").json()["floatingip"]
    assert given["floating_ip_address"] == "203.0.113.77"
    _error(
        _fip(api, ext["id"], floating_ip_address="203.0.113.77"), 409, "IpAddressAlreadyAllocated"
    )

    # Deleting releases the address.
    assert api.delete(f"/v2.0/floatingips/{given['id']}").status_code == 204
    again = _fip(api, ext["id"], floating_ip_address="203.0.113.77")
    assert again.status_code == 201, again.text
    assert first["id"] != second["id"]


def test_given_address_is_admin_only(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    _error(_fip(member, ext["id"], floating_ip_address="203.0.113.9"), 403, "PolicyNotAuthorized")


def test_allocation_errors(api: Caller) -> None:
    member = api.as_member()
    private = member.network()
    member.subnet(private["id"], "10.9.0.0/24")
    msg = _error(_fip(member, private["id"]), 400, "BadRequest")
    assert "not a valid external network" in msg
    _error(_fip(member, "3d1b2a3c-0000-4000-8000-000000000000"), 404, "NetworkNotFound")
    _error(member.post("/v2.0/floatingips", {"floatingip": {}}), 400, "HTTPBadRequest")
    _error(_fip(member, private["id"], status="ACTIVE"), 400, "HTTPBadRequest")

    v6_only = api.network(**{"router:external": True})
    api.subnet(v6_only["id"], "2001:db8::/64", ip_version=6)
    msg = _error(_fip(member, v6_only["id"]), 400, "BadRequest")
    assert "does not contain any IPv4 subnet" in msg


# --- association ------------------------------------------------------------------------------


def test_associate_disassociate_and_port_details(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    port = member.port(topo["net"]["id"], name="vm")
    fixed = port["fixed_ips"][0]["ip_address"]

    r = _fip(member, ext["id"], port_id=port["id"])
    assert r.status_code == 201, r.text
    fip = r.json()["floatingip"]
    assert fip["port_id"] == port["id"] and fip["fixed_ip_address"] == fixed
    assert fip["router_id"] == topo["router"]["id"]
    details = fip["port_details"]
    assert set(details) == DETAIL_KEYS
    assert details["name"] == "vm" and details["network_id"] == topo["net"]["id"]
    assert details["mac_address"] == port["mac_address"]

    listed = member.get(f"/v2.0/floatingips?port_id={port['id']}").json()["floatingips"]
    assert [f["id"] for f in listed] == [fip["id"]]

    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    assert r.status_code == 200, r.text
    gone = r.json()["floatingip"]
    assert gone["port_id"] is None and gone["router_id"] is None
    assert gone["fixed_ip_address"] is None and gone["port_details"] is None
    assert gone["revision_number"] == 2

    # Re-associate by update; an update without port_id keeps the association.
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
    assert r.json()["floatingip"]["router_id"] == topo["router"]["id"]
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"description": "d"}})
    kept = r.json()["floatingip"]
    assert kept["port_id"] == port["id"] and kept["description"] == "d"
    # An empty update clears the association (as Neutron has always done).
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {}})
    assert r.status_code == 200, r.text
    assert r.json()["floatingip"]["port_id"] is None

    unassociated = member.get("/v2.0/floatingips?port_id=null").json()["floatingips"]
    assert [f["id"] for f in unassociated] == [fip["id"]]


def test_association_errors(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    port = member.port(topo["net"]["id"])
    fip = _fip(member, ext["id"], port_id=port["id"]).json()["floatingip"]

    # The same fixed IP cannot get two floating IPs.
    _error(_fip(member, ext["id"], port_id=port["id"]), 409, "FloatingIPPortAlreadyAssociated")
    # fixed_ip_address without port_id; an address the port does not have.
    _error(_fip(member, ext["id"], fixed_ip_address="10.0.0.50"), 400, "BadRequest")
    other = member.port(topo["net"]["id"])
    msg = _error(
        _fip(member, ext["id"], port_id=other["id"], fixed_ip_address="10.0.0.250"),
        400,
        "BadRequest",
    )
    assert "does not have fixed ip" in msg
    # Unknown port: 404.
    _error(
        member.put(
            f"/v2.0/floatingips/{fip['id']}",
            {"floatingip": {"port_id": "3d1b2a3c-0000-4000-8000-000000000000"}},
        ),
        404,
        "PortNotFound",
    )

    # A subnet with no router to the external network: 404.
    lonely = member.network()
    member.subnet(lonely["id"], "10.1.0.0/24")
    unreachable = member.port(lonely["id"])
    msg = _error(
        _fip(member, ext["id"], port_id=unreachable["id"]),
        404,
        "ExternalGatewayForFloatingIPNotFound",
    )
    assert "is not reachable from subnet" in msg

    # DHCP ports cannot have a floating IP.
    dhcp = member.port(topo["net"]["id"], device_owner="network:dhcp")
    _error(_fip(member, ext["id"], port_id=dhcp["id"]), 400, "BadRequest")


def test_port_with_several_ipv4_addresses_needs_fixed_ip(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    port = member.port(
        topo["net"]["id"],
        fixed_ips=[
            {"subnet_id": topo["subnet"]["id"], "ip_address": "10.0.0.10"},
            {"subnet_id": topo["subnet"]["id"], "ip_address": "10.0.0.11"},
        ],
    )
    msg = _error(_fip(member, ext["id"], port_id=port["id"]), 400, "BadRequest")
    assert "multiple fixed IPv4 addresses" in msg
    r = _fip(member, ext["id"], port_id=port["id"], fixed_ip_address="10.0.0.11")
    assert r.status_code == 201, r.text
    assert r.json()["floatingip"]["fixed_ip_address"] == "10.0.0.11"
    # The other address of the same port may have its own.
    r = _fip(member, ext["id"], port_id=port["id"], fixed_ip_address="10.0.0.10")
    assert r.status_code == 201, r.text


def test_router_named_by_the_caller(api: Caller) -> None:
    """``floating-ip-router-writable``: a port behind an inner router, NATed by an outer router
    (the one with the gateway) that the caller names."""
    ext, _ = _external(api)
    member = api.as_member()
    inner_net, transit = member.network(), member.network()
    inner_sub = member.subnet(inner_net["id"], "10.20.0.0/24")
    member.subnet(transit["id"], "10.21.0.0/24")
    inner = member.create("routers", "router")
    outer = member.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    member.put(f"/v2.0/routers/{inner['id']}/add_router_interface", {"subnet_id": inner_sub["id"]})
    for router in (inner, outer):
        port = member.port(transit["id"])
        r = member.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"port_id": port["id"]}
        )
        assert r.status_code == 200, r.text
    vm = member.port(inner_net["id"])

    # Without a router: no router has both the subnet and the gateway.
    _error(_fip(member, ext["id"], port_id=vm["id"]), 404, "ExternalGatewayForFloatingIPNotFound")
    # A router without a gateway on the floating network: 409; router_id without port: 400.
    _error(
        _fip(member, ext["id"], port_id=vm["id"], router_id=inner["id"]),
        409,
        "RouterExternalGatewayNotFoundForFloatingIP",
    )
    _error(_fip(member, ext["id"], router_id=outer["id"]), 400, "BadRequest")
    r = _fip(member, ext["id"], port_id=vm["id"], router_id=outer["id"])
    assert r.status_code == 201, r.text
    fip = r.json()["floatingip"]
    assert fip["router_id"] == outer["id"] and fip["port_id"] == vm["id"]
    # An update that keeps the association keeps the router.
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"description": "x"}})
    assert r.json()["floatingip"]["router_id"] == outer["id"]
    _error(
        member.put(f"/v2.0/routers/{outer['id']}", {"router": {"external_gateway_info": None}}),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )


def test_deleting_the_port_disassociates(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    port = member.port(topo["net"]["id"])
    fip = _fip(member, ext["id"], port_id=port["id"]).json()["floatingip"]
    assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    after = member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert after["port_id"] is None and after["router_id"] is None
    assert after["fixed_ip_address"] is None and after["status"] == "DOWN"
    assert after["revision_number"] == fip["revision_number"] + 1


# --- router guards ----------------------------------------------------------------------------


def test_router_interface_and_gateway_guards(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    router_id = topo["router"]["id"]
    port = member.port(topo["net"]["id"])
    fip = _fip(member, ext["id"], port_id=port["id"]).json()["floatingip"]

    _error(
        member.put(
            f"/v2.0/routers/{router_id}/remove_router_interface",
            {"subnet_id": topo["subnet"]["id"]},
        ),
        409,
        "RouterInterfaceInUseByFloatingIP",
    )
    _error(
        member.put(f"/v2.0/routers/{router_id}", {"router": {"external_gateway_info": None}}),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )
    other_ext, _ = _external(api, "192.0.2.0/24")
    _error(
        member.put(
            f"/v2.0/routers/{router_id}",
            {"router": {"external_gateway_info": {"network_id": other_ext["id"]}}},
        ),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )

    # Once disassociated, both go.
    member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    r = member.put(
        f"/v2.0/routers/{router_id}/remove_router_interface", {"subnet_id": topo["subnet"]["id"]}
    )
    assert r.status_code == 200, r.text
    r = member.put(f"/v2.0/routers/{router_id}", {"router": {"external_gateway_info": None}})
    assert r.status_code == 200, r.text


def test_external_network_delete_takes_unassociated_floating_ips(api: Caller) -> None:
    ext, ext_subnet = _external(api)
    member = api.as_member()
    topo = _topology(api, member, ext)
    port = member.port(topo["net"]["id"])
    loose = _fip(member, ext["id"]).json()["floatingip"]
    held = _fip(member, ext["id"], port_id=port["id"]).json()["floatingip"]
    # An associated floating IP keeps its port: the network stays in use.
    _error(api.delete(f"/v2.0/subnets/{ext_subnet['id']}"), 409, "SubnetInUse")
    _error(api.delete(f"/v2.0/networks/{ext['id']}"), 409, "NetworkInUse")
    assert member.get(f"/v2.0/floatingips/{loose['id']}").status_code == 200

    # Once nothing is associated (and the router's gateway is gone), the network goes, and
    # the floating IPs with it (as Neutron's delete_disassociated_floatingips).
    member.put(f"/v2.0/floatingips/{held['id']}", {"floatingip": {"port_id": None}})
    member.put(f"/v2.0/routers/{topo['router']['id']}", {"router": {"external_gateway_info": None}})
    assert api.delete(f"/v2.0/networks/{ext['id']}").status_code == 204
    assert member.get("/v2.0/floatingips").json()["floatingips"] == []
    assert api.get(f"/v2.0/ports?network_id={ext['id']}").json()["ports"] == []


# --- pools, lists, tags -----------------------------------------------------------------------


def test_pools(api: Caller) -> None:
    ext, ext_subnet = _external(api)
    api.subnet(ext["id"], "2001:db8::/64", ip_version=6)
    private = api.network()
    api.subnet(private["id"], "10.5.0.0/24")
    member = api.as_member()
    pools = member.get("/v2.0/floatingip-pools").json()["floatingip_pools"]
    assert pools == [
        {
            "subnet_id": ext_subnet["id"],
            "subnet_name": ext_subnet["name"],
            "network_id": ext["id"],
            "cidr": "203.0.113.0/24",
            "project_id": api.project_id,
            "tenant_id": api.project_id,
        }
    ]
    fields = member.get("/v2.0/floatingip_pools?fields=subnet_id").json()["floatingip_pools"]
    assert fields == [{"subnet_id": ext_subnet["id"]}]
    names = {e["alias"] for e in member.get("/v2.0/extensions").json()["extensions"]}
    assert {"fip-port-details", "floatingip-pools", "router", "external-net"} <= names


def test_list_filters_sort_pagination_and_tags(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    made = [_fip(member, ext["id"], description=f"f{i}").json()["floatingip"] for i in range(3)]
    by_addr = sorted(made, key=lambda f: f["floating_ip_address"])
    r = member.get("/v2.0/floatingips?sort_key=floating_ip_address&sort_dir=asc&limit=2")
    page = r.json()
    assert [f["id"] for f in page["floatingips"]] == [f["id"] for f in by_addr[:2]]
    assert page["floatingips_links"][0]["rel"] == "next"
    one = member.get(
        f"/v2.0/floatingips?floating_ip_address={made[1]['floating_ip_address']}"
        "&fields=id&fields=status"
    ).json()["floatingips"]
    assert one == [{"id": made[1]["id"], "status": "DOWN"}]
    _error(member.get("/v2.0/floatingips?bogus=1"), 400, "HTTPBadRequest")

    fid = made[0]["id"]
    assert member.put(f"/v2.0/floatingips/{fid}/tags/red").status_code == 201
    tagged = member.get("/v2.0/floatingips?tags=red").json()["floatingips"]
    assert [f["id"] for f in tagged] == [fid]
    shown = member.get(f"/v2.0/floatingips/{fid}").json()["floatingip"]
    assert shown["tags"] == ["red"] and shown["revision_number"] == 2

    router = member.create("routers", "router")
    assert member.put(f"/v2.0/routers/{router['id']}/tags/blue").status_code == 201
    assert member.get(f"/v2.0/routers/{router['id']}").json()["router"]["tags"] == ["blue"]


# --- policy and quotas ------------------------------------------------------------------------


def test_projects_are_isolated(api: Caller) -> None:
    ext, _ = _external(api)
    alice, bob = api.as_member(), api.as_member()
    topo = _topology(api, alice, ext)
    alice_port = alice.port(topo["net"]["id"])
    fip = _fip(alice, ext["id"]).json()["floatingip"]

    _error(bob.get(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    assert bob.get("/v2.0/floatingips").json()["floatingips"] == []
    _error(
        bob.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"description": "x"}}),
        404,
        "FloatingIPNotFound",
    )
    _error(bob.delete(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    # Bob cannot point his floating IP at Alice's port: he cannot see it.
    bobs = _fip(bob, ext["id"]).json()["floatingip"]
    _error(
        bob.put(f"/v2.0/floatingips/{bobs['id']}", {"floatingip": {"port_id": alice_port["id"]}}),
        404,
        "PortNotFound",
    )
    # The admin sees all, and may associate across projects.
    assert {f["id"] for f in api.get("/v2.0/floatingips").json()["floatingips"]} >= {
        fip["id"],
        bobs["id"],
    }
    reader = api.as_reader(alice.project_id)
    assert reader.get(f"/v2.0/floatingips/{fip['id']}").status_code == 200
    _error(_fip(reader, ext["id"]), 403, "PolicyNotAuthorized")


def test_quotas(api: Caller) -> None:
    ext, _ = _external(api)
    member = api.as_member()
    details = member.get(f"/v2.0/quotas/{member.project_id}/details").json()["quota"]
    assert details["router"] == {"limit": 10, "used": 0, "reserved": 0}
    assert details["floatingip"] == {"limit": 50, "used": 0, "reserved": 0}

    r = api.put(f"/v2.0/quotas/{member.project_id}", {"quota": {"floatingip": 1, "router": 1}})
    assert r.status_code == 200, r.text
    assert _fip(member, ext["id"]).status_code == 201
    _error(_fip(member, ext["id"]), 409, "OverQuota")
    assert member.post("/v2.0/routers", {"router": {}}).status_code == 201
    _error(member.post("/v2.0/routers", {"router": {}}), 409, "OverQuota")
    used = member.get(f"/v2.0/quotas/{member.project_id}/details").json()["quota"]
    assert used["floatingip"]["used"] == 1 and used["router"]["used"] == 1
