"""The open topology page turns a port green when a real agent wires it: a live controller
with the UI, one namespace hypervisor run by a real agent (a thread, as in the e2e tests),
a port bound to it through the API, then a "VM" namespace plugged into its tap. The agent
wires it and reports it ACTIVE; the page, never reloaded, redraws the dot green.

Needs root and ``ip netns`` (skipped with the reason otherwise); its namespaces carry a
unique prefix (``NetnsLab``) and are removed at the end, whatever happens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from neutrino.agent.main import Agent, AgentSettings
from neutrino.client import Credentials
from neutrino.domain.hoststate import tap_name
from tests.conftest import ADMIN_PASSWORD, Caller
from tests.kernel.lab import UNDERLAY, NetnsLab, skip_reason
from tests.web.conftest import Tab

T = TypeVar("T")

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]


def off_the_loop(fn: Callable[[], T]) -> T:
    """Runs ``fn`` in a thread of its own: pyroute2's synchronous calls drive an asyncio
    loop, which cannot run in the thread where Playwright's own loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


def test_a_port_wired_by_a_real_agent_turns_green_live(
    tab: Tab, live_ui: str, live_admin: Caller
) -> None:
    creds = Credentials(
        auth_url=f"{live_ui}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agent: Agent | None = None
    try:
        hv = lab.underlay(["hv1"])["hv1"]
        settings = AgentSettings(
            credentials=creds,
            host="hv1",
            netns=hv,
            tunnel_ip=f"{UNDERLAY}.1",
            resync_interval=2.0,
            heartbeat_interval=2.0,
            poll_timeout=2.0,
        )
        agent = off_the_loop(lambda: Agent(settings))
        agent.start()
        deadline = time.monotonic() + 15
        while not live_admin.get("/v2.0/agents?host=hv1").json()["agents"]:
            assert time.monotonic() < deadline, "the agent did not register"
            time.sleep(0.1)

        net = live_admin.network(name="lab-net", **{"provider:network_type": "vxlan"})
        live_admin.subnet(net["id"], "192.0.2.0/24")
        port = live_admin.port(
            net["id"], name="vm-lab", device_owner="compute:nova", **{"binding:host_id": "hv1"}
        )
        tab.login("admin", ADMIN_PASSWORD, "admin")
        tab.go("/ui/topology")
        dot = tab.page.locator(f"#topology-svg a[data-port-id='{port['id']}'] circle")
        assert dot.get_attribute("data-status") != "ACTIVE"  # no VM on its tap yet
        tab.page.evaluate("window.notReloaded = true")
        tab.page.wait_for_function(
            "document.getElementById('live-state').textContent.startsWith('Live')"
        )

        ip = port["fixed_ips"][0]["ip_address"]
        lab.vm("vm", hv, tap_name(port["id"]), port["mac_address"], f"{ip}/24")
        tab.page.wait_for_selector(
            f"#topology-svg a[data-port-id='{port['id']}'] circle.status-active", timeout=30000
        )
        assert tab.page.evaluate("window.notReloaded") is True
        assert dot.get_attribute("data-status") == "ACTIVE"
        fill = dot.evaluate("c => getComputedStyle(c).fill")
        assert re.fullmatch(r"rgb\(30, 142, 62\)", fill)  # green
        assert live_admin.get(f"/v2.0/ports/{port['id']}").json()["port"]["status"] == "ACTIVE"
        tab.clean()
    finally:
        if agent is not None:
            off_the_loop(agent.close)
        lab.cleanup()
