"""HA routers end to end (issue 15, done-means "L3 HA"): a lab with one hypervisor, two network
nodes and the outside world. An ``ha`` router runs on both network nodes; a VM pings the
outside at 100 pps while a TCP stream (iperf3) runs through SNAT, and the active node fails:

1. its keepalived is killed (SIGKILL: it leaves its addresses behind, the agent must drop
   them before it starts another);
2. then the whole node dies: its agent frozen (SIGSTOP), keepalived killed, its underlay and
   external links down, its router namespace deleted (what a crash loses), and after the
   measurement it comes back (links up, agent resumed).

Each time fewer than 300 pings may be lost (3 s), the TCP stream must survive, the other node
must be ``active`` in ``l3-agents`` and the old master must come back as ``standby`` without
taking the router back. The router also routes IPv6 between two internal networks: during the
first failover a second VM is pinged over IPv6 at 100 pps through the router's IPv6 gateway
addresses (keepalived's excluded addresses, forwarding switched by the notify script), with
the same bound. The figures are printed (``-s``) for docs/performance.md; the bound
is the issue's. The traffic runs 15 s and the failure comes 6 s into it, so the run goes on
for three times the bound after the failure: a longer outage is counted in full."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from neutrino.lab import Lab, create_vm
from tests.e2e.test_l3_e2e import EXT_HOST, call, ipv6_by_hand, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("keepalived") is None
    or shutil.which("iperf3") is None
    or shutil.which("conntrackd") is None,
    reason="needs busybox (udhcpc), dnsmasq, keepalived, conntrackd and iperf3",
)

MAX_LOST = 300  # the bound: 3 s at 100 pps
PINGS = 1500  # 15 s at 100 pps
FAIL_AFTER = 6.0  # s into the ping run (conntrackd has synced the stream to the standby)
# the run outlasts the failure by three times the bound, so a longer outage is counted whole
assert PINGS / 100 - FAIL_AFTER >= 3 * MAX_LOST / 100


def _agents(api: Any, rid: str) -> dict[str, str]:
    return {a["host"]: a["ha_state"] for a in api.l3_agents_hosting(rid)}


def _active(api: Any, rid: str) -> str | None:
    states = _agents(api, rid)
    active = [h for h, s in states.items() if s == "active"]
    return active[0] if len(active) == 1 and len(states) == 2 else None


def _ha_dir(directory: Path, host: str, rid: str) -> Path:
    return directory / "agents" / "ha" / host / rid


def _pids(directory: Path, host: str, rid: str) -> list[int]:
    d = _ha_dir(directory, host, rid)
    out = []
    for name in ("pid", "vrrp.pid"):
        try:
            out.append(int((d / name).read_text().strip()))
        except (FileNotFoundError, ValueError):
            continue
    return out


def _addresses(ns: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, "-4", "addr", "show"], capture_output=True, text=True
    ).stdout


class Traffic:
    """In the VM: ping the outside at 100 pps, and an iperf3 TCP stream to the outside."""

    def __init__(self, vm: str, ext_ns: str, seconds: int) -> None:
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", ext_ns, "iperf3", "-s", "-1", "-B", EXT_HOST],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        self.stream = subprocess.Popen(
            ["ip", "netns", "exec", vm, "iperf3", "-c", EXT_HOST, "-t", str(seconds), "-b", "20M"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.ping = subprocess.Popen(
            ["ip", "netns", "exec", vm, "ping", "-q", "-i", "0.01", "-c", str(PINGS), EXT_HOST],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self) -> tuple[int, bool, str]:
        """(pings lost, the stream survived, iperf3's output)."""
        out, _ = self.ping.communicate(timeout=120)
        found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert found, out
        lost = int(found.group(1)) - int(found.group(2))
        stream_out, _ = self.stream.communicate(timeout=120)
        self.server.wait(30)
        return lost, self.stream.returncode == 0, stream_out


def _ping6(vm: str, target: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", vm, "ping", "-6", "-q", "-i", "0.01", "-c", str(PINGS), target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _lost(ping: subprocess.Popen[str]) -> int:
    out, _ = ping.communicate(timeout=120)
    found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert found, out
    return int(found.group(1)) - int(found.group(2))


def _fail_over(
    api: Any,
    rid: str,
    vm: str,
    ext_ns: str,
    fail: Any,
    label: str,
    synced: Any = None,
    v6_target: str | None = None,
) -> tuple[str, str, int]:
    old = _active(api, rid)
    assert old is not None
    traffic = Traffic(vm, ext_ns, seconds=PINGS // 100)
    ping6 = _ping6(vm, v6_target) if v6_target else None
    time.sleep(FAIL_AFTER)
    if synced is not None:  # conntrackd: the standby holds the stream's connection already
        standby = next(h for h in _agents(api, rid) if h != old)
        assert "dport=5201" in synced(standby), "the TCP stream is not in the standby's cache"
    fail(old)
    new = ""

    def taken_over() -> bool:
        nonlocal new
        new = _active(api, rid) or ""
        return new not in ("", old)

    took = until(f"{label}: the other node active", taken_over, timeout=20)
    lost, survived, stream_out = traffic.finish()
    lost6 = _lost(ping6) if ping6 else None
    print(
        f"\nL3 HA {label}: {lost} of {PINGS} pings lost ({lost * 10} ms at 100 pps), "
        + (f"IPv6 VM to VM {lost6} lost, " if lost6 is not None else "")
        + f"the other node reported active {took:.2f} s after, "
        f"TCP stream {'survived' if survived else 'BROKE'}; load {os.getloadavg()[0]:.1f}"
    )
    assert lost < MAX_LOST, f"{label}: {lost} pings lost"
    assert lost6 is None or lost6 < MAX_LOST, f"{label}: {lost6} IPv6 pings lost"
    assert survived, f"{label}: the TCP stream broke:\n{stream_out}"
    return old, new, lost


def test_ha_router_fails_over_and_old_master_rejoins_as_backup(
    lab_dir: tuple[Path, str],
) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=1, network_nodes=2, prefix=prefix, use_env=False, timeout=90, external=True
    )
    ext_ns, ext_net = state.external, state.external_network_id
    assert ext_ns is not None and ext_net is not None
    with lab.controller() as api:
        net = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
        router = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r", "ha": True, "external_gateway_info": {"network_id": ext_net}}},
        )["router"]
        rid = router["id"]
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        blue6 = api.create_subnet(net["id"], "2001:db8:1::/64", ip_version=6, enable_dhcp=False)
        green6 = api.create_subnet(green["id"], "2001:db8:2::/64", ip_version=6, enable_dhcp=False)
        green4 = api.create_subnet(green["id"], "198.51.100.0/24", gateway_ip="198.51.100.1")
        subnets = [sub, blue6, green4, green6]
        for s in subnets:
            path = f"/v2.0/routers/{rid}/add_router_interface"
            call(api, "PUT", path, {"subnet_id": s["id"]})
        record, lease = create_vm(lab, "vm1", "hv1", network=net["id"])
        vm = record.netns
        assert lease.router == "192.0.2.1"
        other, _ = create_vm(lab, "vm2", "hv1", network=green["id"])
        # Neutron's IPv6 default gateway is the subnet-router anycast address, ``prefix::``
        ipv6_by_hand(api, record, gateway=blue6["gateway_ip"])
        v6_peer = ipv6_by_hand(api, other, gateway=green6["gateway_ip"])
        until("one active, one standby", lambda: _active(api, rid) is not None, timeout=60)
        until("the VM reaches the outside", lambda: _ping_once(vm), timeout=30)
        until("the VM reaches the other over IPv6", lambda: _ping_once(vm, v6_peer), timeout=30)

        def kill_keepalived(host: str) -> None:
            for pid in _pids(directory, host, rid):
                os.kill(pid, signal.SIGKILL)

        def external_cache(host: str) -> str:
            d = _ha_dir(directory, host, rid)
            return subprocess.run(
                ["conntrackd", "-C", str(d / "conntrackd.conf"), "-e"],
                capture_output=True,
                text=True,
            ).stdout

        old, new, _ = _fail_over(
            api, rid, vm, ext_ns, kill_keepalived, "keepalived killed", external_cache, v6_peer
        )
        # the old master's agent drops the dead keepalived's addresses, starts another: backup
        until(
            "old master back as standby",
            lambda: (
                _agents(api, rid) == {old: "standby", new: "active"}
                and bool(_pids(directory, old, rid))
            ),
            timeout=60,
        )
        old_ns = f"qrouter-{rid}-{prefix}{old}"
        until("no VIP left on the old master", lambda: "192.0.2.1/" not in _addresses(old_ns))

        # the whole node: the new master dies
        node = {h.name: h.netns for h in state.hosts}
        agent_pid = _agent_pid(directory, new)

        def kill_node(host: str) -> None:
            os.kill(agent_pid, signal.SIGSTOP)
            kill_keepalived(host)
            for dev in ("eth1", "eth2"):
                subprocess.run(["ip", "-n", node[host], "link", "set", dev, "down"], check=True)
            subprocess.run(["ip", "netns", "del", f"qrouter-{rid}-{prefix}{host}"], check=True)

        try:
            dead, back, _ = _fail_over(api, rid, vm, ext_ns, kill_node, "network node died")
        finally:
            for dev in ("eth1", "eth2"):
                subprocess.run(["ip", "-n", node[new], "link", "set", dev, "up"])
            os.kill(agent_pid, signal.SIGCONT)
        assert (dead, back) == (new, old)
        until(
            "the dead node back as standby",
            lambda: (
                _agents(api, rid) == {dead: "standby", back: "active"}
                and bool(_pids(directory, dead, rid))
            ),
            timeout=90,
        )
        time.sleep(3)  # it stays backup (nopreempt): the router does not move back
        assert _agents(api, rid) == {dead: "standby", back: "active"}
        assert _ping_once(vm)
        assert _ping_once(vm, v6_peer)


def _ping_once(vm: str, target: str = EXT_HOST) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", vm, "ping", "-c", "1", "-W", "1", target], capture_output=True
    )
    return done.returncode == 0


def _agent_pid(directory: Path, host: str) -> int:
    """The pid of the lab's agent for ``host`` (the supervisor's child)."""
    import json

    children = json.loads((directory / "children.json").read_text())
    for name, info in children.items():
        if host in name and info.get("pid"):
            return int(info["pid"])
    raise AssertionError(f"no agent for {host} in {children}")
