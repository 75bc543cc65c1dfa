#!/usr/bin/env python3
"""Agent figures: port create → ACTIVE → first ping, and a full resync of 1,000 ports.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
``latency`` (issue 3's "create → ACTIVE / first ping, p50/p99 over 100 ports"): a lab with two
hypervisors (``neutrino.lab``: its own controller on SQLite, one supervised agent per
hypervisor, VXLAN underlay 198.51.100.0/24), one VXLAN network with a /24 (no DHCP: the figure
is wiring, not a DHCP client's timers) and a peer VM on hv2. Then, one port at a time, the
flow a virtualization manager runs:

1. ``POST /v2.0/ports`` with ``binding:host_id`` hv1 (t0);
2. plug the VM: namespace + veth ``eth0`` ↔ ``tap<port[:11]>`` in hv1, its fixed IP on eth0
   (what the hypervisor does when it starts the VM, done in-process with netlink; reported
   as ``plug``, and ``active_after_plug`` is the agent's share: plugged → ACTIVE);
3. ``GET /agent/v1/ports/<id>/events?status=ACTIVE`` returns → ``active`` (t0 → ACTIVE);
4. ``ping -i 0.005`` from the VM to the peer on hv2 until the first reply → ``first_ping``.

``resync`` ("agent full resync with 1,000 ports on a host"): a host namespace with an underlay
device, an L2 agent registered for it, two VXLAN networks with 500 bound ports each and their
1,000 taps (more ports: a network per 1,000, a Linux bridge takes at most 1,024 ports). The
agent's pieces run in this process on the real kernel, timed separately:
``fetch`` (host-state snapshot over HTTP and parsing), ``calc`` (``compute_l2``),
``apply_cold`` (first apply: bridges, VXLAN, 1,000 enslaved taps, FDB), ``resync`` (a
periodic full resync of a converged host: fetch + calc + apply, median of 5 — re-reads the
kernel and changes nothing) and ``repair`` (a bridge deleted by hand: apply rebuilds it and
re-enslaves its 500 taps). ``one_more_port``: one more port bound and its tap made, then the
agent's L2 share of that change (``compute_l2`` + apply) as a round between resyncs does it
(``incremental``: from the last applied state, no FDB/neighbour dumps) and as a full round
does it (``full``), and ``compute_sg`` of that host's state (security-group rendering).

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/agent.py [--ports 100] [--resync-ports 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as pr_netns
from stats import summary  # bench/stats.py

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.model import AgentConfig
from neutrino.agent.sg_calc import compute_sg
from neutrino.client import Controller
from neutrino.domain.hoststate import tap_name
from neutrino.lab import Lab
from neutrino.lab import netns as labns

OWNER = "compute:bench"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def first_reply(namespace: str, target: str) -> bool:
    """Ping every 5 ms until one reply (or 3 s)."""
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "ping",
            "-q",
            "-n",
            "-c",
            "1",
            "-i",
            "0.005",
            "-w",
            "3",
            target,
        ],
        capture_output=True,
    )
    return done.returncode == 0


def _socket_in(namespace: str) -> IPRoute:
    pr_netns.pushns(namespace)
    try:
        return IPRoute()
    finally:
        pr_netns.popns()


def wire(hv_ns: str, ns: str, tap: str, mac: str, mtu: int, cidr: str) -> None:
    """What a hypervisor does when it starts the VM, in-process (as libvirt would, not with
    a handful of ``ip`` processes): in the existing namespace ``ns``, ``eth0`` (MAC, MTU,
    address) veth-paired to ``tap`` in the hypervisor, both up."""
    with _socket_in(hv_ns) as hv, _socket_in(ns) as guest:
        guest.link("set", index=guest.link_lookup(ifname="lo")[0], state="up")
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            hv.link(
                "add",
                ifname=tap,
                kind="veth",
                mtu=mtu,
                peer={"ifname": "eth0", "net_ns_fd": fd, "address": mac, "mtu": mtu},
            )
        finally:
            os.close(fd)
        eth0 = guest.link_lookup(ifname="eth0")[0]
        address, prefix = cidr.split("/")
        guest.addr("add", index=eth0, address=address, prefixlen=int(prefix))
        guest.link("set", index=eth0, state="up")
        hv.link("set", index=hv.link_lookup(ifname=tap)[0], state="up")


def vm(
    api: Controller, net: str, host: str, hv_ns: str, ns: str, mtu: int, name: str
) -> tuple[dict[str, Any], float, float]:
    """Create a bound port and plug a VM for it: (port, t0, plugged time).

    The guest's namespace stands in for the VM itself, which exists before Nova creates and
    plugs its port; it is made before the clock starts (forking for ``unshare`` took 10-20 ms
    of each "create → ACTIVE" until 2026-12, see docs/performance.md)."""
    pr_netns.create(ns)
    t0 = time.perf_counter()
    port = api.create_port(
        net, name=name, device_owner=OWNER, device_id=name, **{"binding:host_id": host}
    )
    wire(
        hv_ns,
        ns,
        tap_name(port["id"]),
        port["mac_address"],
        mtu,
        port["fixed_ips"][0]["ip_address"] + "/24",
    )
    return port, t0, time.perf_counter()


def latency(lab: Lab, prefix: str, count: int, made: list[str]) -> dict[str, Any]:
    lab.up(hosts=2, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
    with lab.controller() as api:
        net = api.create_network(name="bench-latency", **{"provider:network_type": "vxlan"})
        api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False, gateway_ip=None)
        mtu = net["mtu"]
        peer, _, _ = vm(api, net["id"], "hv2", f"{prefix}hv2", f"{prefix}peer", mtu, "peer")
        made.append(f"{prefix}peer")
        assert api.wait_port(peer["id"], timeout=30)["status"] == "ACTIVE"
        peer_ip = peer["fixed_ips"][0]["ip_address"]
        plug, active, after_plug, ping = [], [], [], []
        cpu_before = cpu_of_children(lab.dir)
        for i in range(count):
            ns = f"{prefix}v{i}"
            made.append(ns)
            port, t0, plugged = vm(api, net["id"], "hv1", f"{prefix}hv1", ns, mtu, f"v{i}")
            event = api.wait_port(port["id"], timeout=30)
            t_active = time.perf_counter()
            if event["status"] != "ACTIVE":
                raise RuntimeError(f"port {port['id']} not ACTIVE: {event}")
            if not first_reply(ns, peer_ip):
                raise RuntimeError(f"{ns}: no reply from the peer")
            plug.append(plugged - t0)
            active.append(t_active - t0)
            after_plug.append(t_active - plugged)
            ping.append(time.perf_counter() - t0)
        cpu_after = cpu_of_children(lab.dir)
    return {
        "ports": count,
        # CPU ms per port of each lab process (controller: the create and wait calls too)
        "cpu_ms_per_port": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / count, 1)
            for name in cpu_after
            if name in cpu_before
        },
        "plug": summary(plug),
        "active": summary(active),
        "active_after_plug": summary(after_plug),
        "first_ping": summary(ping),
    }


def cpu_of_children(directory: Path) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process the lab supervises: wall
    times on a loaded machine measure the queue for a core, CPU times the work."""
    children = json.loads((directory / "children.json").read_text())
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, child in children.items():
        try:
            fields = Path(f"/proc/{child['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            continue
        out[name] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def resync(lab: Lab, prefix: str, count: int, made: list[str]) -> dict[str, Any]:
    ns, host, local_ip = f"{prefix}rs", f"{prefix}rs", "198.51.100.200"
    labns.add_namespace(ns)
    made.append(ns)
    ip("-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
    ip("-n", ns, "addr", "add", f"{local_ip}/24", "dev", "eth1")
    for dev in ("eth1", "eth1p"):
        ip("-n", ns, "link", "set", dev, "up")
    config = AgentConfig(local_ip=local_ip, underlay_dev="eth1")
    with lab.controller() as api:
        api.report_agent(host, {"tunnel_ip": local_ip, "tunnel_types": ["vxlan"]}, start_flag=True)
        nets = max(2, -(-count // 1000))  # a Linux bridge takes at most 1,024 ports
        per_net = count // nets
        bound: set[str] = set()
        project = api.session.token().project_id
        api.session.request("PUT", f"/v2.0/quotas/{project}", json={"quota": {"port": -1}})
        for n in range(nets):
            net = api.create_network(name=f"bench-resync-{n}", **{"provider:network_type": "vxlan"})
            # IPv6: 500 addresses do not fit a documentation /24
            api.create_subnet(
                net["id"], f"2001:db8:{n + 10:x}::/64", ip_version=6, enable_dhcp=False
            )
            created = []
            for start in range(0, per_net, 250):  # bulk creates small enough for a busy box
                body = {
                    "ports": [
                        {
                            "network_id": net["id"],
                            "name": f"rs{n}-{i}",
                            "device_owner": OWNER,
                            "binding:host_id": host,
                        }
                        for i in range(start, min(per_net, start + 250))
                    ]
                }
                created += api.session.request("POST", "/v2.0/ports", json=body)["ports"]
            batch = "".join(
                f"link add {tap_name(p['id'])} type veth peer name r{n}x{i}\n"
                for i, p in enumerate(created)
            )
            subprocess.run(["ip", "-n", ns, "-batch", "-"], input=batch.encode(), check=True)
            batch = "".join(f"link set {tap_name(p['id'])} up\n" for p in created)
            subprocess.run(["ip", "-n", ns, "-batch", "-"], input=batch.encode(), check=True)
            bound |= {p["id"] for p in created}

        kernel = NetlinkKernel(ns)
        manager = L2Manager(kernel)
        try:
            t_fetch, watch = timed(lambda: api.watch_host_state(host))
            state = watch.state
            assert state is not None, "no host state"
            absent = sorted(bound - {p.id for p in state.ports})  # reported, not hidden
            sample = api.get_port(absent[0]) if absent else {}
            in_state = len(state.ports)
            t_calc, desired = timed(lambda: compute_l2(state, config))
            t_cold, report = timed(lambda: manager.apply(desired))
            assert len(report.wired) == in_state, len(report.wired)
            rounds = []
            for _ in range(5):
                t0 = time.perf_counter()
                again = api.watch_host_state(host).state
                assert again is not None
                warm = manager.apply(compute_l2(again, config))
                rounds.append(time.perf_counter() - t0)
                assert not warm.changes, warm.changes
            one_more = {}
            for mode in ("incremental", "full"):  # one more port bound, a round of each kind
                port = api.create_port(
                    net["id"], name=f"rs-{mode}", device_owner=OWNER, **{"binding:host_id": host}
                )
                peer = f"r{mode[0]}x"
                ip(
                    "-n",
                    ns,
                    "link",
                    "add",
                    tap_name(port["id"]),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    peer,
                )
                ip("-n", ns, "link", "set", tap_name(port["id"]), "up")
                fetched = api.watch_host_state(host, since=state.revision).state
                assert fetched is not None
                t0 = time.perf_counter()
                new = compute_l2(fetched, config)
                done = manager.apply(new, desired if mode == "incremental" else None)
                one_more[f"{mode}_l2_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
                assert tap_name(port["id"]) in done.wired
                state, desired = fetched, new
            one_more["compute_sg_ms"] = round(timed(lambda: compute_sg(state))[0] * 1e3, 1)
            bridge = next(iter(desired.bridges))
            ip("-n", ns, "link", "del", bridge)
            t_repair, fixed = timed(lambda: manager.apply(desired))
            assert len(fixed.wired) >= in_state + 1, len(fixed.wired)
        finally:
            kernel.close()
    return {
        "ports": per_net * nets,
        "ports_in_host_state": in_state,
        "absent_sample": {k: sample.get(k) for k in ("id", "status", "binding:vif_type")},
        "networks": nets,
        "fetch_ms": round(t_fetch * 1e3, 1),
        "calc_ms": round(t_calc * 1e3, 1),
        "apply_cold_ms": round(t_cold * 1e3, 1),
        "resync_ms": summary(rounds),
        "repair_one_bridge_ms": round(t_repair * 1e3, 1),
        "one_more_port": one_more,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ports", type=int, default=100)
    parser.add_argument("--resync-ports", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/agent.py needs root (namespaces)", file=sys.stderr)
        return 2
    prefix = f"nb{uuid.uuid4().hex[:5]}-"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-", dir="/tmp"))
    directory.chmod(0o755)
    lab = Lab(directory)
    made: list[str] = []
    result: dict[str, Any] = {}
    try:
        if args.ports:  # --ports 0: the resync figures alone (a 5,000-port host)
            result["latency"] = latency(lab, prefix, args.ports, made)
        else:
            lab.up(hosts=1, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
        result["resync"] = resync(lab, prefix, args.resync_ports, made)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    rs = result["resync"]
    print(f"resync {rs['ports']} ports: {rs['one_more_port']}", file=sys.stderr)
    if not args.ports:
        return 0
    lat = result["latency"]
    print(
        f"create→ACTIVE p50 {lat['active']['p50_ms']} ms p99 {lat['active']['p99_ms']} ms "
        f"(plugged→ACTIVE p50 {lat['active_after_plug']['p50_ms']} ms); "
        f"first ping p50 {lat['first_ping']['p50_ms']} ms p99 {lat['first_ping']['p99_ms']}"
        f" ms; resync {rs['ports']} ports p50 {rs['resync_ms']['p50_ms']} ms, cold apply "
        f"{rs['apply_cold_ms']} ms",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
