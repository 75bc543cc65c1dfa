"""L3 scheduling through HTTP: a router with ports is hosted by a live L3 agent, its ports are
bound there, its host state carries the router; it moves when that agent dies; it is
unscheduled when its last port goes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from neutrino.common import clock
from neutrino.store import raw
from neutrino.store.uow import Store, Tx
from tests.api.test_agent_api import register, state
from tests.conftest import Caller

PUBLIC = {"public": "eth2"}


def _network_node(api: Caller, host: str, tunnel_ip: str) -> None:
    register(api, host, tunnel_ip=tunnel_ip, interface_mappings=PUBLIC)
    register(api, host, tunnel_ip=tunnel_ip, agent_type="L3 agent", agent_mode="legacy")


def _external(api: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    net = api.network(
        **{
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        }
    )
    return net, api.subnet(net["id"], "203.0.113.0/24", gateway_ip="203.0.113.1")


def _router_ports(api: Caller, router_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v2.0/ports?device_id={router_id}")
    assert r.status_code == 200, r.text
    return r.json()["ports"]  # type: ignore[no-any-return]


def _kill(store: Store, host: str) -> None:
    """Make the host's L3 agent look dead (last heartbeat long ago)."""
    old = clock.now() - dt.timedelta(seconds=600)

    def tx_fn(tx: Tx) -> None:
        raw.run(
            tx.conn,
            "UPDATE agents SET heartbeat_timestamp = ? WHERE host = ? AND agent_type = 'L3 agent'",
            (raw.db_time(tx.conn, old), host),
        )

    store.write(tx_fn)


def test_router_scheduled_bound_and_in_host_state(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    register(api, "hv1", tunnel_ip="198.51.100.1")
    agents = api.get("/v2.0/agents?agent_type=L3 agent").json()["agents"]
    assert [a["host"] for a in agents] == ["net1"] and agents[0]["alive"]
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ext, ext_sub = _external(api)
    router = api.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    ports = _router_ports(api, router["id"])
    assert len(ports) == 2
    assert {p["binding:host_id"] for p in ports} == {"net1"}
    assert {p["binding:vif_type"] for p in ports} == {"bridge"}

    got = state(api, "net1")["state"]
    (rs,) = got["routers"]
    assert rs["id"] == router["id"] and rs["enable_snat"] is True
    (iface,) = rs["interfaces"]
    assert iface["addresses"][0]["ip_address"] == "192.0.2.1"
    assert iface["addresses"][0]["prefixlen"] == 24
    assert iface["addresses"][0]["cidr"] == "192.0.2.0/24"
    gw = rs["gateway"]
    assert gw["network_id"] == ext["id"]
    assert gw["addresses"][0]["gateway_ip"] == "203.0.113.1"
    assert gw["addresses"][0]["subnet_id"] == ext_sub["id"]
    assert {p["id"] for p in got["ports"]} >= {iface["id"], gw["id"]}
    assert state(api, "hv1")["state"]["routers"] == []


def test_router_change_wakes_the_l3_host(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    router = api.create("routers", "router")
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    first = state(api, "net1")
    assert first["state"]["routers"][0]["routes"] == []
    r = api.put(
        f"/v2.0/routers/{router['id']}",
        {"router": {"routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.9"}]}},
    )
    assert r.status_code == 200, r.text
    woke = state(api, "net1", since=first["revision"], timeout=5)
    assert woke["snapshot"] is True
    assert woke["state"]["routers"][0]["routes"] == [
        {"destination": "198.51.100.0/24", "nexthop": "192.0.2.9"}
    ]


def test_least_loaded_and_rescheduled_when_agent_dies(api: Caller, store: Store) -> None:
    _network_node(api, "net1", "198.51.100.101")
    _network_node(api, "net2", "198.51.100.102")
    hosts = []
    for i in range(2):
        net = api.network()
        sub = api.subnet(net["id"], f"10.{i}.0.0/24")
        router = api.create("routers", "router")
        api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
        hosts.append(_router_ports(api, router["id"])[0]["binding:host_id"])
    assert sorted(hosts) == ["net1", "net2"]  # least loaded first
    moved_router = api.get("/v2.0/routers").json()["routers"]
    on_net1 = next(
        r for r in moved_router if _router_ports(api, r["id"])[0]["binding:host_id"] == "net1"
    )
    _kill(store, "net1")
    # a heartbeat of the surviving L3 agent moves net1's router
    register(api, "net2", tunnel_ip="198.51.100.102", agent_type="L3 agent", agent_mode="legacy")
    ports = _router_ports(api, on_net1["id"])
    assert {p["binding:host_id"] for p in ports} == {"net2"}
    assert len(state(api, "net2")["state"]["routers"]) == 2
    assert state(api, "net1")["state"]["routers"] == []


def test_unscheduled_when_last_port_goes(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ext, _ = _external(api)
    router = api.create("routers", "router")
    rid = router["id"]
    api.put(f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
    r = api.put(
        f"/v2.0/routers/{rid}", {"router": {"external_gateway_info": {"network_id": ext["id"]}}}
    )
    assert r.status_code == 200, r.text
    assert state(api, "net1")["state"]["routers"][0]["gateway"] is not None
    api.put(f"/v2.0/routers/{rid}", {"router": {"external_gateway_info": {}}})
    assert state(api, "net1")["state"]["routers"][0]["gateway"] is None
    api.put(f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": sub["id"]})
    assert state(api, "net1")["state"]["routers"] == []
    assert api.delete(f"/v2.0/routers/{rid}").status_code == 204


def test_router_without_live_l3_agent_waits_for_one(api: Caller) -> None:
    register(api, "net1", tunnel_ip="198.51.100.101")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    router = api.create("routers", "router")
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert _router_ports(api, router["id"])[0]["binding:host_id"] == ""
    register(api, "net1", tunnel_ip="198.51.100.101", agent_type="L3 agent")
    port = _router_ports(api, router["id"])[0]
    assert port["binding:host_id"] == "net1" and port["binding:vif_type"] == "bridge"


def test_floating_ip_in_host_state_and_status_from_agent(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    register(api, "hv1", tunnel_ip="198.51.100.1")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ext, _ = _external(api)
    router = api.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    vm = api.port(net["id"], **{"binding:host_id": "hv1"})
    fip = api.create("floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm["id"])
    first = state(api, "net1")
    (rs,) = first["state"]["routers"]
    assert rs["floating_ips"] == [
        {
            "id": fip["id"],
            "floating_ip_address": fip["floating_ip_address"],
            "fixed_ip_address": vm["fixed_ips"][0]["ip_address"],
            "fixed_port_id": vm["id"],
            "bandwidth_limits": [],  # no QoS policy on the floating IP
        }
    ]
    assert fip["status"] == "DOWN"
    r = api.post(f"/agent/v1/floatingips/{fip['id']}/status", {"floatingip": {"status": "ACTIVE"}})
    assert r.status_code == 200, r.text
    assert api.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["status"] == "ACTIVE"
    member = api.as_member()
    r = member.post(
        f"/agent/v1/floatingips/{fip['id']}/status", {"floatingip": {"status": "ACTIVE"}}
    )
    assert r.status_code == 403
    # disassociation wakes the L3 host and drops the floating IP from its state
    since = state(api, "net1")["revision"]
    api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    woke = state(api, "net1", since=since, timeout=5)
    assert woke["snapshot"] and woke["state"]["routers"][0]["floating_ips"] == []


def test_prefers_hosts_that_can_wire_the_external_network(api: Caller) -> None:
    register(api, "a-net", tunnel_ip="198.51.100.100")  # no "public" mapping
    register(api, "a-net", tunnel_ip="198.51.100.100", agent_type="L3 agent")
    _network_node(api, "net1", "198.51.100.101")
    ext, _ = _external(api)
    router = api.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    (gw,) = _router_ports(api, router["id"])
    assert gw["binding:host_id"] == "net1" and gw["binding:vif_type"] == "bridge"


def test_disabling_an_l3_agent_moves_its_routers_at_once(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    router = api.create("routers", "router")
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    _network_node(api, "net2", "198.51.100.102")
    assert _router_ports(api, router["id"])[0]["binding:host_id"] == "net1"
    agent = api.get("/v2.0/agents?agent_type=L3 agent&host=net1").json()["agents"][0]
    r = api.put(f"/v2.0/agents/{agent['id']}", {"agent": {"admin_state_up": False}})
    assert r.status_code == 200, r.text
    assert _router_ports(api, router["id"])[0]["binding:host_id"] == "net2"
    assert state(api, "net1")["state"]["routers"] == []
