"""``l3-port-ip-change-not-allowed`` on SQLite and PostgreSQL: a router's internal port keeps
its IPv4 addresses (400, Neutron's IPAM refusal wrapped as a bad ports request); its IPv6
addresses, its gateway port's addresses and a port merely claiming a router owner change."""

from __future__ import annotations

from typing import Any

from tests.api.test_routers import _add, _error, _external, _router
from tests.conftest import Caller


def _set_ips(api: Caller, port_id: str, fixed_ips: list[dict[str, Any]]) -> Any:
    return api.put(f"/v2.0/ports/{port_id}", {"port": {"fixed_ips": fixed_ips}})


def test_router_interface_ipv4_is_frozen(api: Caller) -> None:
    router = _router(api)
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    port_id = _add(api, router["id"], subnet_id=sub["id"]).json()["port_id"]
    msg = _error(
        _set_ips(api, port_id, [{"subnet_id": sub["id"], "ip_address": "192.0.2.9"}]),
        400,
        "BadRequest",
    )
    assert msg == f"Bad ports request: IP updates for port {port_id} are not allowed."
    # removing the address is a change too; a subnet-only entry is judged by its subnet
    _error(_set_ips(api, port_id, []), 400, "BadRequest")
    sub2 = api.subnet(net["id"], "198.51.100.0/24")
    _error(_set_ips(api, port_id, [{"subnet_id": sub2["id"]}]), 400, "BadRequest")
    port = api.get(f"/v2.0/ports/{port_id}").json()["port"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "192.0.2.1"}]
    # asking for what it has is no change
    r = _set_ips(api, port_id, port["fixed_ips"])
    assert r.status_code == 200, r.text
    # an IPv6 address may be added and removed
    sub6 = api.subnet(net["id"], "2001:db8:7::/64", ipv6_address_mode="dhcpv6-stateful")
    both = [*port["fixed_ips"], {"subnet_id": sub6["id"], "ip_address": "2001:db8:7::9"}]
    r = _set_ips(api, port_id, both)
    assert r.status_code == 200, r.text
    assert len(r.json()["port"]["fixed_ips"]) == 2
    assert _set_ips(api, port_id, port["fixed_ips"]).status_code == 200


def test_gateway_and_claimed_owner_ports_change(api: Caller) -> None:
    ext, ext_sub = _external(api)
    router = _router(api, external_gateway_info={"network_id": ext["id"]})
    (gw,) = api.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    r = _set_ips(api, gw["id"], [{"subnet_id": ext_sub["id"], "ip_address": "203.0.113.77"}])
    assert r.status_code == 200, r.text
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    fake = api.port(net["id"], device_owner="network:router_interface", device_id="nope")
    r = _set_ips(api, fake["id"], [{"subnet_id": sub["id"], "ip_address": "192.0.2.50"}])
    assert r.status_code == 200, r.text
