"""The DHCP agent scheduler API (extension ``dhcp_agent_scheduler``): the networks of an
agent, the agents of a network, and an admin adding and removing a network, which moves the
``network:dhcp`` ports with it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_agent_api import register
from tests.api.test_dhcp_ports import dhcp_ports
from tests.conftest import Caller


def dhcp_agent(api: Caller, host: str) -> dict[str, Any]:
    return register(api, host, agent_type="DHCP agent")


def networks_of(api: Caller, agent: dict[str, Any]) -> list[str]:
    r = api.get(f"/v2.0/agents/{agent['id']}/dhcp-networks")
    assert r.status_code == 200, r.text
    return [n["id"] for n in r.json()["networks"]]


def hosts_of(api: Caller, network_id: str) -> list[str]:
    r = api.get(f"/v2.0/networks/{network_id}/dhcp-agents")
    assert r.status_code == 200, r.text
    agents = r.json()["agents"]
    assert all(a["agent_type"] == "DHCP agent" for a in agents)
    return [a["host"] for a in agents]


def test_scheduled_network_is_listed_both_ways(api: Caller) -> None:
    one = dhcp_agent(api, "net1")
    net = api.network(name="n1")
    assert networks_of(api, one) == [] and hosts_of(api, net["id"]) == []  # no subnet yet
    api.subnet(net["id"], "192.0.2.0/24")
    assert networks_of(api, one) == [net["id"]]
    assert hosts_of(api, net["id"]) == ["net1"]
    (shown,) = api.get(f"/v2.0/agents/{one['id']}/dhcp-networks").json()["networks"]
    assert shown["name"] == "n1" and shown["subnets"]  # whole network views


def test_add_and_remove_move_the_dhcp_port(api: Caller) -> None:
    one, two = dhcp_agent(api, "net1"), dhcp_agent(api, "net2")
    net = api.network(name="n1")
    api.subnet(net["id"], "192.0.2.0/24")
    (first,) = hosts_of(api, net["id"])
    other = two if first == "net1" else one
    r = api.post(f"/v2.0/agents/{other['id']}/dhcp-networks", {"network_id": net["id"]})
    assert r.status_code == 201, r.text
    assert r.json() is None
    assert sorted(hosts_of(api, net["id"])) == ["net1", "net2"]
    ports = dhcp_ports(api, net["id"])
    assert sorted(p["binding:host_id"] for p in ports) == ["net1", "net2"]
    assert len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 2

    r = api.delete(f"/v2.0/agents/{other['id']}/dhcp-networks/{net['id']}")
    assert r.status_code == 204, r.text
    assert hosts_of(api, net["id"]) == [first]
    assert [p["binding:host_id"] for p in dhcp_ports(api, net["id"])] == [first]
    assert net["id"] not in networks_of(api, other)


def test_a_moved_network_stays_moved(api: Caller) -> None:
    one, two = dhcp_agent(api, "net1"), dhcp_agent(api, "net2")
    net = api.network(name="n1")
    sub = api.subnet(net["id"], "192.0.2.0/24")
    (first,) = hosts_of(api, net["id"])
    source, target = (one, two) if first == "net1" else (two, one)
    assert api.post(f"/v2.0/agents/{target['id']}/dhcp-networks", {"network_id": net["id"]})
    assert api.delete(f"/v2.0/agents/{source['id']}/dhcp-networks/{net['id']}").status_code == 204
    r = api.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"name": "renamed"}})
    assert r.status_code == 200, r.text
    register(api, source["host"], agent_type="DHCP agent", restarted=True)
    assert [p["binding:host_id"] for p in dhcp_ports(api, net["id"])] == [target["host"]]


def test_a_network_left_without_agent_is_scheduled_at_its_next_subnet_write(api: Caller) -> None:
    one = dhcp_agent(api, "net1")
    net = api.network(name="n1")
    sub = api.subnet(net["id"], "192.0.2.0/24")
    assert api.delete(f"/v2.0/agents/{one['id']}/dhcp-networks/{net['id']}").status_code == 204
    assert dhcp_ports(api, net["id"]) == [] and hosts_of(api, net["id"]) == []
    r = api.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"name": "renamed"}})
    assert r.status_code == 200, r.text
    assert [p["binding:host_id"] for p in dhcp_ports(api, net["id"])] == ["net1"]


def test_network_without_subnet_can_be_added_and_gets_a_port_with_its_first_subnet(
    api: Caller,
) -> None:
    one = dhcp_agent(api, "net1")
    net = api.network(name="bare")
    r = api.post(f"/v2.0/agents/{one['id']}/dhcp-networks", {"network_id": net["id"]})
    assert r.status_code == 201, r.text
    assert networks_of(api, one) == [net["id"]]
    assert dhcp_ports(api, net["id"]) == []
    api.subnet(net["id"], "192.0.2.0/24")
    assert [p["binding:host_id"] for p in dhcp_ports(api, net["id"])] == ["net1"]


def test_errors_are_neutrons(api: Caller) -> None:
    one = dhcp_agent(api, "net1")
    l2 = register(api, "hv1")
    net = api.network(name="n1")
    api.subnet(net["id"], "192.0.2.0/24")
    base = f"/v2.0/agents/{one['id']}/dhcp-networks"

    r = api.post(base, {"network_id": net["id"]})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "NetworkHostedByDHCPAgent"
    r = api.post(f"/v2.0/agents/{l2['id']}/dhcp-networks", {"network_id": net["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "InvalidDHCPAgent"
    r = api.put(f"/v2.0/agents/{one['id']}", {"agent": {"admin_state_up": False}})
    assert r.status_code == 200, r.text
    other = api.network(name="n2")
    r = api.post(base, {"network_id": other["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "InvalidDHCPAgent"
    r = api.put(f"/v2.0/agents/{one['id']}", {"agent": {"admin_state_up": True}})
    assert r.status_code == 200, r.text

    missing = "00000000-0000-0000-0000-000000000000"
    r = api.post(base, {"network_id": missing})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"
    r = api.post(f"/v2.0/agents/{missing}/dhcp-networks", {"network_id": net["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    r = api.get(f"/v2.0/networks/{missing}/dhcp-agents")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"
    r = api.delete(f"{base}/{other['id']}")
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "NetworkNotHostedByDhcpAgent"


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {}, {"network_id": 5}, {"network_id": ""}, {"network_id": ["a"]}],
)
def test_hostile_bodies_are_400(api: Caller, body: Any) -> None:
    one = dhcp_agent(api, "net1")
    r = api.post(f"/v2.0/agents/{one['id']}/dhcp-networks", body)
    assert r.status_code == 400, r.text
    assert r.json()["NeutronError"]["message"]


def test_members_may_not_see_or_change_the_schedule(api: Caller) -> None:
    one = dhcp_agent(api, "net1")
    member = api.as_member()
    net = member.network(name="mine")
    member.subnet(net["id"], "192.0.2.0/24")
    for r in (
        member.get(f"/v2.0/agents/{one['id']}/dhcp-networks"),
        member.get(f"/v2.0/networks/{net['id']}/dhcp-agents"),
        member.post(f"/v2.0/agents/{one['id']}/dhcp-networks", {"network_id": net["id"]}),
        member.delete(f"/v2.0/agents/{one['id']}/dhcp-networks/{net['id']}"),
    ):
        assert r.status_code == 403, r.text
        assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert hosts_of(api, net["id"]) == ["net1"]  # unchanged
