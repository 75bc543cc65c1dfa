"""QoS end to end with real traffic: a live controller, an agent managing a namespace
hypervisor, two VMs on one network; iperf3 through a port limited to 100 Mbit/s in each
direction (Neutron's egress = what the VM sends, ingress = what it receives), then the rules
removed and full speed back; then a DSCP-marking rule on the same policy marks what the VM
sends (read off the receiving VM's wire) until it is deleted.

The bound is the issue's (90-105 Mbit/s): iperf3 measures TCP goodput, which at a 100 Mbit/s
token bucket is about 95 Mbit/s (headers take the rest), whatever the machine's load: the
limit is far below what the veth path carries even on a loaded machine. "Full speed" is
checked as a rate well above the limit (at least twice it), since the unlimited rate itself
depends on the load. The figures are printed (``-s``) for docs/performance.md. The limited
rates are measured over 4 s (after a first second left out: TCP's slow start), the unlimited
ones, which only need to be far above the limit, over 2 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.main import Agent, AgentSettings
from neutrino.client import Controller, Credentials, Session
from neutrino.common.settings import Settings
from neutrino.domain.hoststate import tap_name
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD
from tests.e2e.test_overlay_e2e import wait_for
from tests.kernel.lab import UNDERLAY, NetnsLab
from tests.kernel.test_dscp import packet_socket, seen, send
from tests.live import live_server

LIMIT_KBPS = 100_000
BURST_KBPS = 1_000


@pytest.fixture
def url(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store) as base:
        yield base


def iperf(client_vm: str, server_ip: str, *, reverse: bool = False, seconds: int = 4) -> float:
    """Mbit/s the receiving side measured (``reverse``: the server sends)."""
    argv = ["ip", "netns", "exec", client_vm, "iperf3", "-c", server_ip, "-J"]
    argv += ["-t", str(seconds), "-O", "1", *(["-R"] if reverse else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e6


def both_ways(client_vm: str, server_ip: str, seconds: int) -> tuple[float, float]:
    """Mbit/s from the client VM, then to it."""
    return (
        iperf(client_vm, server_ip, seconds=seconds),
        iperf(client_vm, server_ip, reverse=True, seconds=seconds),
    )


def qdiscs(hv: str, device: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", hv, "tc", "qdisc", "show", "dev", device],
        capture_output=True,
        text=True,
    ).stdout


def test_port_bandwidth_limit_with_iperf3(url: str) -> None:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agent: Agent | None = None
    server: subprocess.Popen[bytes] | None = None
    session = Session(creds)
    api = Controller(session)

    def call(method: str, path: str, body: Any = None) -> Any:
        return session.request(method, path, json=body)

    try:
        hvs = lab.underlay(["hv1"])
        agent = Agent(
            AgentSettings(
                credentials=creds,
                host="hv1",
                netns=hvs["hv1"],
                tunnel_ip=f"{UNDERLAY}.1",
                resync_interval=5.0,
                heartbeat_interval=2.0,
                poll_timeout=2.0,
            )
        )
        agent.start()
        wait_for("agent registered", lambda: bool(call("GET", "/v2.0/agents")["agents"]))
        assert call("GET", "/v2.0/qos/rule-types")["rule_types"] == [
            {"type": t}
            for t in ("bandwidth_limit", "dscp_marking", "minimum_bandwidth", "minimum_packet_rate")
        ]
        net = api.create_network(name="qos-e2e", **{"provider:network_type": "vxlan"})
        api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False)
        ports, vms, ips = {}, {}, {}
        for name in ("a", "b"):
            ports[name] = api.create_port(
                net["id"], port_security_enabled=False, **{"binding:host_id": "hv1"}
            )
            ips[name] = ports[name]["fixed_ips"][0]["ip_address"]
            vms[name] = lab.vm(
                name,
                hvs["hv1"],
                tap_name(ports[name]["id"]),
                ports[name]["mac_address"],
                f"{ips[name]}/24",
            )
        for p in ports.values():
            assert api.wait_port(p["id"], "ACTIVE", timeout=15)["plugged"]
        server = subprocess.Popen(
            ["ip", "netns", "exec", vms["b"], "iperf3", "-s", "-B", ips["b"]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        load = os.getloadavg()[0]
        free = both_ways(vms["a"], ips["b"], seconds=2)

        policy = call("POST", "/v2.0/qos/policies", {"policy": {"name": "100M"}})["policy"]
        rules = f"/v2.0/qos/policies/{policy['id']}/bandwidth_limit_rules"
        for direction in ("egress", "ingress"):
            body = {"max_kbps": LIMIT_KBPS, "max_burst_kbps": BURST_KBPS, "direction": direction}
            call("POST", rules, {"bandwidth_limit_rule": body})
        api.update_port(ports["a"]["id"], qos_policy_id=policy["id"])
        tap = tap_name(ports["a"]["id"])
        wait_for(
            "limits in the kernel",
            lambda: "tbf" in qdiscs(hvs["hv1"], tap) and "ingress" in qdiscs(hvs["hv1"], tap),
        )
        limited = both_ways(vms["a"], ips["b"], seconds=4)

        # a port without the policy on the same bridge stays unlimited
        assert "tbf" not in qdiscs(hvs["hv1"], tap_name(ports["b"]["id"]))

        # deleting the rules restores full speed (the policy stays attached, empty)
        for r in call("GET", rules)["bandwidth_limit_rules"]:
            call("DELETE", f"{rules}/{r['id']}")
        wait_for(
            "limits removed",
            lambda: (
                "tbf" not in qdiscs(hvs["hv1"], tap) and "ingress" not in qdiscs(hvs["hv1"], tap)
            ),
        )
        restored = both_ways(vms["a"], ips["b"], seconds=2)
        print(
            f"\nload {load:.1f}; Mbit/s from VM / to VM: unlimited {free[0]:.0f} / {free[1]:.0f}, "
            f"limited to 100 {limited[0]:.1f} / {limited[1]:.1f}, "
            f"rules removed {restored[0]:.0f} / {restored[1]:.0f}"
        )
        for rate in limited:
            assert 90.0 <= rate <= 105.0, limited
        for rate in restored:
            assert rate >= 2 * LIMIT_KBPS / 1000, restored

        # a DSCP rule on the same policy: the agent marks what VM a sends, until it goes
        marks = f"/v2.0/qos/policies/{policy['id']}/dscp_marking_rules"
        mark = call("POST", marks, {"dscp_marking_rule": {"dscp_mark": 46}})["dscp_marking_rule"]

        def dscp_seen() -> int:
            """The DSCP of VM a's probe as VM b receives it (-1: none arrived)."""
            with packet_socket(vms["b"], "eth0") as sniffer:
                send(vms["a"], 4, v4=ips["b"])
                try:
                    return seen(sniffer, 4)[0]
                except AssertionError:
                    return -1

        wait_for("the mark on the wire", lambda: dscp_seen() == 46)
        call("DELETE", f"{marks}/{mark['id']}")
        wait_for("the mark removed", lambda: dscp_seen() == 0)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if agent is not None:
            agent.close()
        session.close()
        lab.cleanup()
