"""The whole path for real: a live controller, two agents (threads) each managing a namespace
hypervisor, VMs plugged into ports created through ``neutrino.client``. Ports go ACTIVE, VMs
reach each other across VXLAN (and a VIP moved onto one of them, through its allowed address
pair), an agent restart recreates nothing, a port delete unwires it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.main import Agent, AgentSettings
from neutrino.client import Controller, Credentials, Session
from neutrino.common.settings import Settings
from neutrino.domain.hoststate import bridge_name, tap_name, vxlan_name
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD
from tests.kernel.lab import UNDERLAY, NetnsLab, run, udp_reaches
from tests.live import live_server


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def url(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store) as base:
        yield base


def test_two_hypervisors_wire_ping_restart_and_unwire(url: str) -> None:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agents: dict[str, Agent] = {}
    session = Session(creds)
    api = Controller(session)

    def start_agent(role: str, ns: str, index: int) -> Agent:
        agent = Agent(
            AgentSettings(
                credentials=creds,
                host=role,
                netns=ns,
                tunnel_ip=f"{UNDERLAY}.{index}",
                resync_interval=2.0,
                heartbeat_interval=2.0,
                poll_timeout=2.0,
            )
        )
        agent.start()
        agents[role] = agent
        return agent

    try:
        hvs = lab.underlay(["hv1", "hv2"])
        for i, role in enumerate(("hv1", "hv2"), start=1):
            start_agent(role, hvs[role], i)
        wait_for(
            "agents registered", lambda: len(session.request("GET", "/v2.0/agents")["agents"]) == 2
        )

        net = api.create_network(name="e2e", **{"provider:network_type": "vxlan"})
        vni = net["provider:segmentation_id"]
        api.create_subnet(net["id"], "192.0.2.0/24")
        ports = {
            role: api.create_port(net["id"], **{"binding:host_id": role}) for role in ("hv1", "hv2")
        }
        assert all(p["binding:vif_type"] == "bridge" for p in ports.values())
        vms = {}
        for role, p in ports.items():
            ip = p["fixed_ips"][0]["ip_address"]
            vms[role] = (
                lab.vm(f"vm-{role}", hvs[role], tap_name(p["id"]), p["mac_address"], f"{ip}/24"),
                ip,
            )
        for p in ports.values():
            event = api.wait_port(p["id"], "ACTIVE", timeout=15)
            assert event["plugged"] is True, event
        assert udp_reaches(vms["hv1"][0], vms["hv1"][1], vms["hv2"][0], vms["hv2"][1])

        # a VIP on hv2's VM (an allowed address pair): hv1's VXLAN device answers its ARP
        vip = "192.0.2.100"
        run("ip", "-n", vms["hv2"][0], "addr", "add", f"{vip}/24", "dev", "eth0")
        api.update_port(ports["hv2"]["id"], allowed_address_pairs=[{"ip_address": vip}])
        with NetlinkKernel(hvs["hv1"]) as k1:
            wait_for(
                "the VIP's neighbour entry on hv1",
                lambda: any(n.ip == vip for n in k1.list_neigh(vxlan_name(vni))),
            )
        assert udp_reaches(vms["hv1"][0], vms["hv1"][1], vms["hv2"][0], vip)

        # restart hv1's agent: it converges without recreating anything
        names = (bridge_name(net["id"]), vxlan_name(vni), tap_name(ports["hv1"]["id"]))
        with NetlinkKernel(hvs["hv1"]) as k1:
            before = {n: k1.get_link(n) for n in names}
            agents.pop("hv1").close()
            restarted = start_agent("hv1", hvs["hv1"], 1)
            wait_for("restarted agent round", lambda: restarted.loop.rounds >= 1)
            assert restarted.loop.last_report is not None
            assert restarted.loop.last_report.changes == []
            after = {n: k1.get_link(n) for n in names}
        assert {n: ln.index for n, ln in before.items() if ln} == {
            n: ln.index for n, ln in after.items() if ln
        }
        assert all(before.values())
        assert udp_reaches(vms["hv2"][0], vms["hv2"][1], vms["hv1"][0], vms["hv1"][1])

        # delete hv2's port: hv1 drops its FDB entries, hv2 tears down the network
        mac2 = ports["hv2"]["mac_address"]
        api.delete_port(ports["hv2"]["id"])
        with NetlinkKernel(hvs["hv1"]) as k1, NetlinkKernel(hvs["hv2"]) as k2:
            wait_for(
                "FDB entry gone on hv1",
                lambda: not any(e.mac == mac2 or e.is_flood for e in k1.list_fdb(vxlan_name(vni))),
            )
            wait_for(
                "network gone on hv2",
                lambda: (
                    k2.get_link(bridge_name(net["id"])) is None
                    and k2.get_link(vxlan_name(vni)) is None
                ),
            )
        assert api.get_port(ports["hv1"]["id"])["status"] == "ACTIVE"
    finally:
        for agent in agents.values():
            agent.close()
        session.close()
        lab.cleanup()
