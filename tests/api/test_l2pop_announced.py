"""l2population announces more than fixed IPs: a remote port's one-address allowed address
pairs (a VIP a VM takes over, with the pair's MAC) and, for a router's gateway port, the
floating IPs its router holds. The VXLAN device answers ARP itself and drops what it has no
entry for, so without these a VIP or a floating IP on a VXLAN network is unreachable from
other hosts. A floating IP's change wakes the hosts of its network, not only L3 hosts."""

from __future__ import annotations

from typing import Any

from tests.api.test_agent_api import in_thread, register, state
from tests.conftest import Caller

MAC = "fa:16:3e:aa:bb:cc"


def _remote(api: Caller, host: str, port_id: str) -> dict[str, Any]:
    (pop,) = state(api, host)["state"]["l2pop"]
    return next(p for p in pop["ports"] if p["id"] == port_id)  # type: ignore[no-any-return]


def test_one_address_pairs_are_announced_with_their_mac(api: Caller) -> None:
    register(api, "hv1", tunnel_ip="198.51.100.11")
    register(api, "hv2", tunnel_ip="198.51.100.12")
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    api.port(net["id"], **{"binding:host_id": "hv1"})
    pairs = [
        {"ip_address": "192.0.2.100"},  # the port's own MAC
        {"ip_address": "192.0.2.101/32", "mac_address": MAC},
        {"ip_address": "2001:db8::100/128"},
        {"ip_address": "198.51.100.0/28"},  # a CIDR: its addresses are not known
    ]
    vm = api.port(net["id"], **{"binding:host_id": "hv2"}, allowed_address_pairs=pairs)
    mac = vm["mac_address"]
    assert _remote(api, "hv1", vm["id"])["announced"] == [
        {"ip_address": "192.0.2.100", "mac_address": mac},
        {"ip_address": "192.0.2.101", "mac_address": MAC},
        {"ip_address": "2001:db8::100", "mac_address": mac},
    ]
    since = state(api, "hv1")["revision"]
    r = api.put(f"/v2.0/ports/{vm['id']}", {"port": {"allowed_address_pairs": []}})
    assert r.status_code == 200, r.text
    woke = state(api, "hv1", since=since, timeout=10)
    assert woke["revision"] > since
    assert _remote(api, "hv1", vm["id"])["announced"] == []


def test_a_gateway_port_announces_its_routers_floating_ips(api: Caller) -> None:
    register(api, "net1", tunnel_ip="198.51.100.21")
    register(api, "net1", tunnel_ip="198.51.100.21", agent_type="L3 agent", agent_mode="legacy")
    register(api, "hv1", tunnel_ip="198.51.100.11")
    ext = api.network(**{"router:external": True, "provider:network_type": "vxlan"})
    api.subnet(ext["id"], "203.0.113.0/24")
    inside = api.network()
    sub = api.subnet(inside["id"], "192.0.2.0/24")
    router = api.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    (gateway,) = api.get("/v2.0/ports", params={"device_owner": "network:router_gateway"}).json()[
        "ports"
    ]
    assert gateway["binding:host_id"] == "net1"
    api.port(ext["id"], **{"binding:host_id": "hv1"})  # hv1 has a VM on the external network
    vm = api.port(inside["id"])
    fip = api.create("floatingips", "floatingip", floating_network_id=ext["id"])
    assert _remote(api, "hv1", gateway["id"])["announced"] == []  # not associated: not held

    since = state(api, "hv1")["revision"]
    t, out = in_thread(lambda: state(api, "hv1", since=since, timeout=20))
    r = api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": vm["id"]}})
    assert r.status_code == 200, r.text
    t.join(25)
    assert out["value"]["revision"] > since  # hv1 runs no L3 agent, and still wakes
    gw = next(p for p in out["value"]["state"]["l2pop"][0]["ports"] if p["id"] == gateway["id"])
    assert gw["announced"] == [
        {"ip_address": fip["floating_ip_address"], "mac_address": gateway["mac_address"]}
    ]
