"""Availability zone hints of networks and routers (extensions ``network_availability_zone``,
``router_availability_zone``): hints given at create, checked against the DHCP (L3) agents'
zones (404 as Neutron for an unknown one), honoured by the DHCP (L3) scheduler, and
``availability_zones`` showing where the network is served (the router hosted)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller


def dhcp_agent(
    api: Caller, host: str, zone: str, agent_type: str = "DHCP agent", **config: Any
) -> dict[str, Any]:
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": host,
                "agent_type": agent_type,
                "binary": "neutrino-agent",
                "availability_zone": zone,
                "configurations": config,
            }
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["agent"]  # type: ignore[no-any-return]


def dhcp_hosts(api: Caller, network_id: str) -> list[str]:
    r = api.get(f"/v2.0/networks/{network_id}/dhcp-agents")
    assert r.status_code == 200, r.text
    return sorted(a["host"] for a in r.json()["agents"])


def test_hints_steer_the_dhcp_scheduler_and_zones_show_where(api: Caller) -> None:
    dhcp_agent(api, "a1", "zone-a")
    dhcp_agent(api, "b1", "zone-b")
    member = api.as_member()  # hints are anyone's to give, as in Neutron
    for zone, host in (("zone-a", "a1"), ("zone-b", "b1")):
        for _ in range(2):  # twice: least loaded alone would alternate
            net = member.network(availability_zone_hints=[zone])
            assert net["availability_zone_hints"] == [zone]
            assert net["availability_zones"] == []  # no subnet, not served yet
            member.subnet(net["id"], "192.0.2.0/24")
            assert dhcp_hosts(api, net["id"]) == [host]
            shown = member.get(f"/v2.0/networks/{net['id']}").json()["network"]
            assert shown["availability_zones"] == [zone]
            listed = member.get(f"/v2.0/networks?id={net['id']}").json()["networks"]
            assert listed[0]["availability_zones"] == [zone]
            assert listed[0]["availability_zone_hints"] == [zone]
    plain = api.network()
    assert plain["availability_zone_hints"] == []
    api.subnet(plain["id"], "192.0.2.0/24")
    assert len(dhcp_hosts(api, plain["id"])) == 1


def test_no_agent_in_the_hinted_zone_means_no_dhcp_port(api: Caller) -> None:
    dhcp_agent(api, "a1", "zone-a")
    dhcp_agent(api, "b1", "zone-b")
    r = api.put(
        f"/v2.0/agents/{dhcp_agent(api, 'b1', 'zone-b')['id']}",
        {"agent": {"admin_state_up": False}},
    )
    assert r.status_code == 200, r.text
    net = api.network(availability_zone_hints=["zone-b"])
    api.subnet(net["id"], "192.0.2.0/24")
    assert dhcp_hosts(api, net["id"]) == []  # a1 is in another zone


def test_unknown_zone_is_404_and_nothing_is_made(api: Caller) -> None:
    dhcp_agent(api, "a1", "zone-a")
    r = api.post("/v2.0/networks", {"network": {"availability_zone_hints": ["zone-a", "nope"]}})
    assert r.status_code == 404, r.text
    assert r.json()["NeutronError"]["type"] == "AvailabilityZoneNotFound"
    assert r.json()["NeutronError"]["message"] == "AvailabilityZone nope could not be found."
    assert api.get("/v2.0/networks").json()["networks"] == []


@pytest.mark.parametrize(
    "hints",
    ["zone-a", [5], ["zone-a", "zone-a"], [f"z{i:03d}" for i in range(60)], None, {"a": 1}],
)
def test_hostile_hints_are_400(api: Caller, hints: Any) -> None:
    dhcp_agent(api, "a1", "zone-a")
    r = api.post("/v2.0/networks", {"network": {"availability_zone_hints": hints}})
    assert r.status_code == 400, r.text
    assert api.get("/v2.0/networks").json()["networks"] == []


def test_hints_cannot_be_updated(api: Caller) -> None:
    dhcp_agent(api, "a1", "zone-a")
    net = api.network(availability_zone_hints=["zone-a"])
    r = api.put(f"/v2.0/networks/{net['id']}", {"network": {"availability_zone_hints": []}})
    assert r.status_code == 400, r.text
    shown = api.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown["availability_zone_hints"] == ["zone-a"]


def test_extensions_are_advertised(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {
        "network_availability_zone",
        "router_availability_zone",
        "availability_zone_filter",
    } <= aliases


def _network_node(api: Caller, host: str, zone: str, tunnel_ip: str) -> None:
    config = {"tunnel_types": ["vxlan"], "tunnel_ip": tunnel_ip}
    dhcp_agent(api, host, zone, "L2 agent", interface_mappings={"public": "eth2"}, **config)
    dhcp_agent(api, host, zone, "L3 agent", agent_mode="legacy", **config)


def _l3_hosts(api: Caller, router_id: str) -> list[str]:
    r = api.get(f"/v2.0/routers/{router_id}/l3-agents")
    assert r.status_code == 200, r.text
    return sorted(a["host"] for a in r.json()["agents"])


def test_router_hints_steer_the_l3_scheduler(api: Caller) -> None:
    _network_node(api, "net-a", "zone-a", "198.51.100.101")
    _network_node(api, "net-b", "zone-b", "198.51.100.102")
    member = api.as_member()
    for i, (zone, host) in enumerate(
        (("zone-b", "net-b"), ("zone-b", "net-b"), ("zone-a", "net-a"))
    ):
        net = member.network()
        sub = member.subnet(net["id"], f"192.0.2.{64 * i}/26")
        router = member.create("routers", "router", availability_zone_hints=[zone])
        assert router["availability_zone_hints"] == [zone]
        assert router["availability_zones"] == []
        r = member.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}
        )
        assert r.status_code == 200, r.text
        assert _l3_hosts(api, router["id"]) == [host]
        shown = member.get(f"/v2.0/routers/{router['id']}").json()["router"]
        assert shown["availability_zones"] == [zone]
    r = api.post("/v2.0/routers", {"router": {"availability_zone_hints": ["zone-c"]}})
    assert r.status_code == 404, r.text
    assert r.json()["NeutronError"]["type"] == "AvailabilityZoneNotFound"
    r = api.post("/v2.0/routers", {"router": {"availability_zone_hints": ["zone-a", "zone-a"]}})
    assert r.status_code == 400, r.text
    r = api.put(f"/v2.0/routers/{router['id']}", {"router": {"availability_zone_hints": []}})
    assert r.status_code == 400, r.text
    # a DHCP agent's zone is a network zone, not a router zone
    dhcp_agent(api, "dhcp-c", "zone-c")
    r = api.post("/v2.0/routers", {"router": {"availability_zone_hints": ["zone-c"]}})
    assert r.status_code == 404, r.text
