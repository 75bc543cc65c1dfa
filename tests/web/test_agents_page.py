"""The agents and hosts page: every agent's liveness, and per host what it serves (VM ports,
DHCP for networks, routers), as the schedulers bound them."""

from __future__ import annotations

from tests.conftest import Caller
from tests.web.conftest import Browser


def register(api: Caller, host: str, agent_type: str) -> None:
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": host,
                "agent_type": agent_type,
                "binary": "neutrino-agent",
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.7"},
            }
        },
    )
    assert r.status_code == 200, r.text


def test_hosts_show_their_agents_ports_dhcp_and_routers(
    admin_browser: Browser, admin_api: Caller
) -> None:
    for agent_type in ("L2 agent", "DHCP agent", "L3 agent"):
        register(admin_api, "net1", agent_type)
    register(admin_api, "hv1", "L2 agent")
    net = admin_api.network(name="blue")
    sub = admin_api.subnet(net["id"], "192.0.2.0/24")  # DHCP goes to net1
    router = admin_api.create("routers", "router", name="edge")
    admin_api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    for name in ("vm-a", "vm-b"):
        admin_api.port(
            net["id"], name=name, device_owner="compute:nova", **{"binding:host_id": "hv1"}
        )
    admin_api.port(
        net["id"], name="lost", device_owner="compute:nova", **{"binding:host_id": "hv9"}
    )

    html = admin_browser.get("/ui/agents").text
    rows = {
        chunk.split('"', 1)[0]: chunk.split("</tr>", 1)[0]
        for chunk in html.split('<tr data-host="')[1:]
    }
    assert set(rows) == {"hv1", "hv9", "net1"}
    assert "L2 agent: alive" in rows["hv1"] and "<td>2 (0)</td>" in rows["hv1"]
    assert "DHCP agent: alive" in rows["net1"] and "L3 agent: alive" in rows["net1"]
    assert f'<a href="/ui/networks/{net["id"]}">blue</a>' in rows["net1"]
    assert f'<a href="/ui/routers/{router["id"]}">edge</a>' in rows["net1"]
    assert "no agent" in rows["hv9"] and "<td>1 (0)</td>" in rows["hv9"]
