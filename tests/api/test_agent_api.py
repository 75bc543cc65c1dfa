"""The agent API (/agent/v1): registration and heartbeat, binding, host-state watch, port
status and the "vif plugged" event — all through HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.conftest import Caller


def register(
    api: Caller,
    host: str,
    tunnel_ip: str | None = "198.51.100.1",
    agent_type: str = "L2 agent",
    **config: Any,
) -> dict[str, Any]:
    configurations = {
        "tunnel_types": ["vxlan"],
        "interface_mappings": {"physnet1": "eth1"},
        **config,
    }
    if tunnel_ip:
        configurations["tunnel_ip"] = tunnel_ip
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": host,
                "agent_type": agent_type,
                "binary": "neutrino-agent",
                "configurations": configurations,
            }
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["agent"]  # type: ignore[no-any-return]


def state(api: Caller, host: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/agent/v1/hosts/{host}/state", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        out["value"] = fn()

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_register_and_heartbeat_show_in_agents_api(api: Caller) -> None:
    agent = register(api, "hv1")
    assert agent["alive"] is True and agent["host"] == "hv1"
    assert agent["configurations"]["tunnel_ip"] == "198.51.100.1"
    again = register(api, "hv1", tunnel_ip="198.51.100.9")
    assert again["id"] == agent["id"]
    assert again["configurations"]["tunnel_ip"] == "198.51.100.9"
    register(api, "hv1", agent_type="DHCP agent")
    listed = api.get("/v2.0/agents?host=hv1").json()["agents"]
    assert sorted(a["agent_type"] for a in listed) == ["DHCP agent", "L2 agent"]
    assert all(a["alive"] for a in listed)
    shown = api.get(f"/v2.0/agents/{agent['id']}").json()["agent"]
    assert shown["alive"] is True and shown["binary"] == "neutrino-agent"
    bad = api.post("/agent/v1/agents", {"agent": {"host": "hv1", "agent_type": "Nope"}})
    assert bad.status_code == 400


def test_member_cannot_use_agent_api(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    port = member.port(net["id"])
    for r in (
        member.post("/agent/v1/agents", {"agent": {"host": "x", "agent_type": "L2 agent"}}),
        member.get("/agent/v1/hosts/x/state"),
        member.post(
            f"/agent/v1/ports/{port['id']}/status", {"port": {"status": "ACTIVE", "host": "x"}}
        ),
    ):
        assert r.status_code == 403, r.text
        assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"


def test_binding_succeeds_only_with_a_capable_live_agent(api: Caller) -> None:
    net = api.network()  # vxlan (tenant default)
    failed = api.port(net["id"], **{"binding:host_id": "hv1"})
    assert failed["binding:vif_type"] == "binding_failed"
    register(api, "hv1")
    # the agent's registration retried the failed binding
    rebound = api.get(f"/v2.0/ports/{failed['id']}").json()["port"]
    assert rebound["binding:vif_type"] == "bridge"
    port = api.port(net["id"], **{"binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "bridge"
    assert port["binding:vif_details"] == {
        "bridge_name": f"brq{net['id'][:11]}",
        "tap_name": f"tap{port['id'][:11]}",
        "port_filter": True,
    }
    # a host whose agent has no tunnel IP cannot serve VXLAN; flat needs the physnet mapped
    register(api, "hv2", tunnel_ip=None)
    assert api.port(net["id"], **{"binding:host_id": "hv2"})["binding:vif_type"] == "binding_failed"
    flat = api.network(**{"provider:network_type": "flat", "provider:physical_network": "physnet1"})
    assert api.port(flat["id"], **{"binding:host_id": "hv2"})["binding:vif_type"] == "bridge"
    # no host -> unbound; re-bind on host change
    loose = api.port(net["id"])
    assert loose["binding:vif_type"] == "unbound"
    moved = api.put(f"/v2.0/ports/{loose['id']}", {"port": {"binding:host_id": "hv1"}}).json()[
        "port"
    ]
    assert moved["binding:vif_type"] == "bridge"
    moved = api.put(f"/v2.0/ports/{loose['id']}", {"port": {"binding:host_id": "nowhere"}}).json()[
        "port"
    ]
    assert moved["binding:vif_type"] == "binding_failed"
    assert moved["binding:vif_details"] == {  # why, for the admin (service.binding)
        "binding_failure_reason": "no L2 agent is registered on host nowhere"
    }


def test_snapshot_of_two_hosts_on_one_vxlan_network(api: Caller) -> None:
    register(api, "hv1", tunnel_ip="198.51.100.11")
    register(api, "hv2", tunnel_ip="198.51.100.12")
    net = api.network(mtu=1450)
    subnet = api.subnet(net["id"], "192.0.2.0/24", dns_nameservers=["192.0.2.53"])
    p1 = api.port(net["id"], **{"binding:host_id": "hv1"})
    p2 = api.port(net["id"], **{"binding:host_id": "hv2"})
    s1, s2 = state(api, "hv1"), state(api, "hv2")
    assert s1["snapshot"] is True and s1["revision"] == s1["state"]["revision"] > 0
    h1 = s1["state"]
    assert h1["host"] == "hv1" and h1["tunnel_ip"] == "198.51.100.11"
    [network] = h1["networks"]
    assert network["id"] == net["id"] and network["network_type"] == "vxlan"
    assert network["segmentation_id"] == net["provider:segmentation_id"]
    assert network["mtu"] == 1450 and network["bridge_name"] == f"brq{net['id'][:11]}"
    [sub] = network["subnets"]
    assert sub["cidr"] == "192.0.2.0/24" and sub["gateway_ip"] == "192.0.2.1"
    assert sub["dns_nameservers"] == ["192.0.2.53"] and sub["enable_dhcp"] is True
    [port] = h1["ports"]
    assert port["id"] == p1["id"] and port["mac_address"] == p1["mac_address"]
    assert port["device_name"] == f"tap{p1['id'][:11]}"
    assert port["fixed_ips"] == [
        {"subnet_id": subnet["id"], "ip_address": p1["fixed_ips"][0]["ip_address"]}
    ]
    assert h1["l2pop"] == [
        {
            "network_id": net["id"],
            "vteps": ["198.51.100.12"],
            "ports": [
                {
                    "id": p2["id"],
                    "mac_address": p2["mac_address"],
                    "ip_addresses": [p2["fixed_ips"][0]["ip_address"]],
                    "vtep": "198.51.100.12",
                    "announced": [],
                }
            ],
        }
    ]
    assert s2["state"]["l2pop"][0]["vteps"] == ["198.51.100.11"]
    assert s2["state"]["l2pop"][0]["ports"][0]["mac_address"] == p1["mac_address"]
    assert state(api, "hv3")["state"]["networks"] == []


def test_long_poll_wakes_on_relevant_change_and_times_out_on_irrelevant(api: Caller) -> None:
    register(api, "hv1", tunnel_ip="198.51.100.11")
    register(api, "hv2", tunnel_ip="198.51.100.12")
    net_a, net_b = api.network(), api.network()
    api.port(net_a["id"], **{"binding:host_id": "hv1"})
    since = state(api, "hv1")["revision"]
    # a change on network B (no port of hv1 there) does not wake hv1
    started = time.monotonic()
    t, out = in_thread(lambda: state(api, "hv1", since=since, timeout=1))
    time.sleep(0.2)
    api.port(net_b["id"], **{"binding:host_id": "hv2"})
    t.join(5)
    assert time.monotonic() - started >= 1.0
    assert out["value"]["snapshot"] is False and out["value"]["state"] is None
    since = out["value"]["revision"]
    assert since > 0
    # a port of hv2 joining network A wakes hv1 with the new remote VTEP
    t, out = in_thread(lambda: state(api, "hv1", since=since, timeout=20))
    time.sleep(0.2)
    started = time.monotonic()
    remote = api.port(net_a["id"], **{"binding:host_id": "hv2"})
    t.join(20)
    assert time.monotonic() - started < 5
    woke = out["value"]
    assert woke["snapshot"] is True and woke["revision"] > since
    assert woke["state"]["l2pop"][0]["ports"][0]["id"] == remote["id"]
    # an unknown since (restart / another replica) gets a snapshot at once
    assert state(api, "hv1", since=10**6, timeout=5)["snapshot"] is True


def test_port_status_reports_and_plugged_event(api: Caller) -> None:
    register(api, "hv1")
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": "hv1"})
    assert port["status"] == "DOWN"
    path = f"/agent/v1/ports/{port['id']}"
    wrong = api.post(path + "/status", {"port": {"status": "ACTIVE", "host": "hv9"}})
    assert wrong.status_code == 409
    t, out = in_thread(lambda: api.get(path + "/events", params={"timeout": 20}).json())
    time.sleep(0.2)
    r = api.post(path + "/status", {"port": {"status": "ACTIVE", "host": "hv1"}})
    assert r.status_code == 200, r.text
    assert r.json()["port"]["revision_number"] == port["revision_number"] + 1
    t.join(20)
    assert out["value"]["event"]["plugged"] is True
    assert out["value"]["event"]["timed_out"] is False
    shown = api.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert shown["status"] == "ACTIVE"
    assert shown["revision_number"] == port["revision_number"] + 1
    # moving the port to another host unwires it
    moved = api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "hv2"}})
    assert moved.json()["port"]["status"] == "DOWN"
    api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "hv1"}})
    api.post(path + "/status", {"port": {"status": "ACTIVE", "host": "hv1"}})
    r = api.post(path + "/status", {"port": {"status": "DOWN", "host": "hv1"}})
    assert r.json()["port"]["status"] == "DOWN"
    assert api.get(f"/v2.0/ports/{port['id']}").json()["port"]["status"] == "DOWN"
    timed = api.get(path + "/events", params={"timeout": 0.2}).json()["event"]
    assert timed["timed_out"] is True and timed["plugged"] is False
    other = api.as_member()
    assert other.get(path + "/events", params={"timeout": 0}).status_code == 404


def test_port_statuses_in_one_batch(api: Caller) -> None:
    register(api, "hv1")
    net = api.network()
    a, b = (api.port(net["id"], **{"binding:host_id": "hv1"}) for _ in range(2))
    elsewhere = api.port(net["id"], **{"binding:host_id": "hv2"})
    gone = "00000000-0000-4000-8000-00000000dead"
    items = [
        {"id": a["id"], "status": "ACTIVE", "host": "hv1"},
        {"id": gone, "status": "ACTIVE", "host": "hv1"},
        {"id": elsewhere["id"], "status": "ACTIVE", "host": "hv1"},
        {"id": b["id"], "status": "ACTIVE", "host": "hv1"},
    ]
    r = api.post("/agent/v1/ports/status", {"ports": items})
    assert r.status_code == 200, r.text
    done = r.json()["ports"]
    assert [d["id"] for d in done] == [i["id"] for i in items]  # in the given order
    assert done[0] == {"id": a["id"], "status": "ACTIVE", "revision_number": 2}
    assert done[1]["error"]["type"] == "PortNotFound"
    assert done[2]["error"]["type"] == "PortNotBoundToHost"
    assert done[3]["status"] == "ACTIVE"
    # the refused items wrote nothing, the others are written
    for port, status in ((a, "ACTIVE"), (b, "ACTIVE"), (elsewhere, "DOWN")):
        assert api.get(f"/v2.0/ports/{port['id']}").json()["port"]["status"] == status
    # a malformed item refuses the whole batch, nothing written
    bad = [{"id": a["id"], "status": "DOWN", "host": "hv1"}, {"id": b["id"], "status": "UP"}]
    for body in (
        {"ports": bad},
        {"ports": []},
        {"ports": "x"},
        {"ports": [{"status": "DOWN", "host": "hv1"}]},
        {"port": {}},
        {"ports": [{"id": a["id"], "status": "DOWN", "host": "hv1"}] * 1001},
    ):
        r = api.post("/agent/v1/ports/status", body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["NeutronError"]["type"]
    assert api.get(f"/v2.0/ports/{a['id']}").json()["port"]["status"] == "ACTIVE"
    # agents only
    member = api.as_member()
    r = member.post("/agent/v1/ports/status", {"ports": items[:1]})
    assert r.status_code == 403, r.text
