"""``openstack network agent add/remove network --dhcp`` and ``add/remove router --l3`` and
the lists that follow them (``network agent list --network``/``--router``, ``network list
--agent``, ``router list --agent``) against a live neutrino: an admin moves a network from one
DHCP agent to another and a router from one L3 agent to another; and ``network service
provider list``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def register_dhcp_agent(
    clouds: Clouds, token: str, host: str, agent_type: str = "DHCP agent"
) -> dict[str, Any]:
    r = httpx.post(
        f"{clouds.url}/agent/v1/agents",
        headers={"X-Auth-Token": token},
        json={
            "agent": {
                "host": host,
                "agent_type": agent_type,
                "binary": "neutrino-agent",
                "configurations": {},
            }
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["agent"]  # type: ignore[no-any-return]


def test_cli_moves_a_network_between_dhcp_agents(clouds: Clouds) -> None:
    os = clouds.openstack
    token = os(ADMIN_CLOUD, "token", "issue")["id"]
    agents = {a["host"]: a for a in (register_dhcp_agent(clouds, token, h) for h in "ab")}
    net = os(ADMIN_CLOUD, "network", "create", "dhcp-net")
    os(ADMIN_CLOUD, "subnet", "create", "--network", net["id"], "--subnet-range",
       "192.0.2.0/24", "dhcp-sub")  # fmt: skip

    def hosts() -> set[str]:
        listed = os(ADMIN_CLOUD, "network", "agent", "list", "--network", net["id"])
        return {a["Host"] for a in listed}

    (first,) = hosts()
    other = "b" if first == "a" else "a"
    target, source = agents[other]["id"], agents[first]["id"]
    clouds.silent(ADMIN_CLOUD, "network", "agent", "add", "network", "--dhcp", target, net["id"])
    assert hosts() == {"a", "b"}
    clouds.silent(ADMIN_CLOUD, "network", "agent", "remove", "network", "--dhcp", source, net["id"])
    assert hosts() == {other}
    on_target = os(ADMIN_CLOUD, "network", "list", "--agent", target)
    assert [n["ID"] for n in on_target] == [net["id"]]
    assert os(ADMIN_CLOUD, "network", "list", "--agent", source) == []
    # openstacksdk does not check the answer of this POST, so the CLI cannot show the 409:
    # ask the API itself
    again = httpx.post(
        f"{clouds.url}/v2.0/agents/{target}/dhcp-networks",
        headers={"X-Auth-Token": token},
        json={"network_id": net["id"]},
    )
    assert again.status_code == 409, again.text
    assert again.json()["NeutronError"]["type"] == "NetworkHostedByDHCPAgent"


def test_cli_moves_a_router_between_l3_agents(clouds: Clouds) -> None:
    os = clouds.openstack
    token = os(ADMIN_CLOUD, "token", "issue")["id"]
    agents = {h: register_dhcp_agent(clouds, token, f"l3-{h}", agent_type="L3 agent") for h in "ab"}
    router = os(ADMIN_CLOUD, "router", "create", "moved")

    def hosts() -> set[str]:
        listed = os(ADMIN_CLOUD, "network", "agent", "list", "--router", router["id"])
        return {a["Host"] for a in listed}

    assert hosts() == set()  # no port yet: not scheduled
    source, target = agents["a"]["id"], agents["b"]["id"]
    clouds.silent(ADMIN_CLOUD, "network", "agent", "add", "router", "--l3", source, router["id"])
    assert hosts() == {"l3-a"}
    clouds.silent(ADMIN_CLOUD, "network", "agent", "remove", "router", "--l3", source, router["id"])
    assert hosts() == set()
    clouds.silent(ADMIN_CLOUD, "network", "agent", "add", "router", "--l3", target, router["id"])
    assert hosts() == {"l3-b"}
    on_target = os(ADMIN_CLOUD, "router", "list", "--agent", target)
    assert [r["ID"] for r in on_target] == [router["id"]]
    assert os(ADMIN_CLOUD, "router", "list", "--agent", source) == []
    again = httpx.post(
        f"{clouds.url}/v2.0/agents/{source}/l3-routers",
        headers={"X-Auth-Token": token},
        json={"router_id": router["id"]},
    )
    assert again.status_code == 409, again.text
    assert again.json()["NeutronError"]["type"] == "RouterHostedByL3Agent"


def test_cli_service_providers(clouds: Clouds) -> None:
    listed = clouds.openstack(ADMIN_CLOUD, "network", "service", "provider", "list")
    assert listed == [
        {"Service Type": "L3_ROUTER_NAT", "Name": "ha", "Default": False},
        {"Service Type": "L3_ROUTER_NAT", "Name": "single_node", "Default": True},
    ]
