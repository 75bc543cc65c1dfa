#!/usr/bin/env python3
"""One host grows to 5,000 bound ports: one more port bound → wired and ACTIVE, and its CPU.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method: a ``neutrino lab`` with one hypervisor (its own controller on SQLite, the real agent
supervised and heartbeating, security groups on, kernel wiring). The host is filled in steps
(``--sizes``, default 100, 1,000, 5,000 bound ports): ports are created in bulk (250 a call)
on VXLAN networks of at most 900 ports each (a Linux bridge takes 1,024), each in the
project's default group, whose rules name the group itself as remote (so every port's
address is part of the host's state and of its ruleset); their taps are made cheaply, veth
pairs in one ``ip -batch`` (the peers in a sink namespace: no VM namespaces), and the step
waits until the agent reported every port ACTIVE and then until it is idle (``wait_quiet``:
the full round a mass plug leaves behind is not a change's cost). Then, ``--changes`` times,
one more port:

1. ``POST /v2.0/ports`` bound to the host (t0);
2. its tap made at once (one ``ip -batch``: the hypervisor plugging the VM), ``plugged``;
3. ``GET /agent/v1/ports/<id>/events?status=ACTIVE`` returns: ``active`` is t0 → ACTIVE,
   ``active_after_plug`` the agent's share (plugged → ACTIVE).

CPU per change: user + system CPU of the controller and of the agent (``/proc/<pid>/stat``)
over the ``--changes`` changes, divided by their number (wall times on a shared machine are
the queue's; CPU is the work). The load average is recorded beside each size. The agent's
periodic full resync (``--resync``, 30 s by default) re-reads the whole kernel, FDB dumps
included; what it costs lands in whichever changes it overlaps, so ``--resync 600`` gives the
cost of the changes themselves.

Output: JSON on stdout (``--json FILE`` too), a table on stderr.

    sudo .venv/bin/python bench/agentscale.py [--sizes 100,1000,5000] [--changes 15] [--resync 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from stats import summary  # bench/stats.py

from agent import OWNER, cpu_of_children  # bench/agent.py
from neutrino.client import Controller
from neutrino.domain.hoststate import tap_name
from neutrino.lab import Lab
from neutrino.lab import netns as labns

PER_NETWORK = 900  # a Linux bridge refuses its 1,025th port (EXFULL)
QUIET_WINDOW = 2.0  # seconds
QUIET_CPU = 0.05  # of a core: the agent between heartbeats
QUIET_WINDOWS = 5  # the link watcher's re-listing starts 4-6 s after the last ACTIVE


class Host:
    """The growing host: its networks, how many ports each holds, and the taps made."""

    def __init__(self, api: Controller, hv_ns: str, sink_ns: str) -> None:
        self.api, self.hv_ns, self.sink_ns = api, hv_ns, sink_ns
        self.networks: list[tuple[str, int]] = []  # (id, ports)
        self.ports: list[str] = []

    def _network(self) -> str:
        if not self.networks or self.networks[-1][1] >= PER_NETWORK:
            n = len(self.networks)
            net = self.api.create_network(
                name=f"bench-scale-{n}", **{"provider:network_type": "vxlan"}
            )
            self.api.create_subnet(
                net["id"], f"2001:db8:{n + 10:x}::/64", ip_version=6, enable_dhcp=False
            )
            self.networks.append((net["id"], 0))
        return self.networks[-1][0]

    def bind(self, count: int) -> list[dict[str, Any]]:
        """Create ``count`` ports bound to hv1 (bulk, 250 a call)."""
        made: list[dict[str, Any]] = []
        while len(made) < count:
            net = self._network()
            room = PER_NETWORK - self.networks[-1][1]
            take = min(250, count - len(made), room)
            body = {
                "ports": [
                    {
                        "network_id": net,
                        "name": f"scale-{len(self.ports) + len(made) + i}",
                        "device_owner": OWNER,
                        "binding:host_id": "hv1",
                    }
                    for i in range(take)
                ]
            }
            made += self.api.session.request("POST", "/v2.0/ports", json=body)["ports"]
            self.networks[-1] = (net, self.networks[-1][1] + take)
        self.ports += [p["id"] for p in made]
        return made

    def plug(self, ports: list[dict[str, Any]]) -> None:
        """Their taps: veth pairs, the peer in the sink namespace, both up (one batch)."""
        lines = []
        for p in ports:
            tap, peer = tap_name(p["id"]), "p" + p["id"][:11]
            lines.append(f"link add {tap} type veth peer name {peer} netns {self.sink_ns}\n")
            lines.append(f"link set {tap} up\n")
        batch = "".join(lines).encode()
        subprocess.run(["ip", "-n", self.hv_ns, "-batch", "-"], input=batch, check=True)
        lines = [f"link set p{p['id'][:11]} up\n" for p in ports]
        batch = "".join(lines).encode()
        subprocess.run(["ip", "-n", self.sink_ns, "-batch", "-"], input=batch, check=True)

    def wait_all_active(self, timeout: float) -> float:
        """Until the agent reported every port ACTIVE; the seconds it took."""
        t0 = time.perf_counter()
        want = set(self.ports)
        while True:
            active = self.api.list_ports(status="ACTIVE", fields="id")
            if want <= {p["id"] for p in active}:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                missing = len(want - {p["id"] for p in active})
                raise RuntimeError(f"{missing} of {len(want)} ports not ACTIVE")
            time.sleep(1.0)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def wait_quiet(lab: Lab, limit: float = 120.0) -> float:
    """Seconds until the agent is idle (under ``QUIET_CPU`` of a core over ``QUIET_WINDOWS``
    windows in a row) after a fill. Thousands of taps made at once overflow the agent's
    link watcher, which lists every link again and runs one full round some seconds after
    the last port is ACTIVE (the kernel's link events trail the plug): measured changes must
    not pay for that aftermath of the fill."""
    started = time.perf_counter()
    calm = 0
    while calm < QUIET_WINDOWS and time.perf_counter() - started < limit:
        before = cpu_of_children(lab.dir)
        time.sleep(QUIET_WINDOW)
        after = cpu_of_children(lab.dir)
        busy = max((after[n] - before[n]) / QUIET_WINDOW for n in after if n.startswith("agent"))
        calm = calm + 1 if busy < QUIET_CPU else 0
    return time.perf_counter() - started


def grow_and_measure(host: Host, lab: Lab, size: int, changes: int) -> dict[str, Any]:
    fill = size - len(host.ports)
    t0 = time.perf_counter()
    if fill > 0:
        host.plug(host.bind(fill))
    settle = host.wait_all_active(timeout=max(120.0, size * 0.2))
    filled = time.perf_counter() - t0
    quiet_after = wait_quiet(lab)
    active, after_plug, plugs = [], [], []
    load_before = load_average()
    cpu_before = cpu_of_children(lab.dir)
    for _ in range(changes):
        t0 = time.perf_counter()
        (port,) = host.bind(1)
        host.plug([port])
        plugged = time.perf_counter()
        event = host.api.wait_port(port["id"], timeout=60)
        t_active = time.perf_counter()
        if event["status"] != "ACTIVE":
            raise RuntimeError(f"port {port['id']} not ACTIVE: {event}")
        active.append(t_active - t0)
        after_plug.append(t_active - plugged)
        plugs.append(plugged - t0)
    cpu_after = cpu_of_children(lab.dir)
    return {
        "ports_on_host": size,
        "fill_s": round(filled, 1),
        "all_active_after_fill_s": round(settle, 1),
        "quiet_after_active_s": round(quiet_after, 1),
        "load_average": [load_before, load_average()],
        "cpu_ms_per_change": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / changes, 1)
            for name in cpu_after
            if name in cpu_before
        },
        "active": summary(active),
        "active_after_plug": summary(after_plug),
        "bind_and_plug": summary(plugs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--changes", type=int, default=15)
    parser.add_argument(
        "--resync",
        type=float,
        default=30.0,
        help="the agent's full-resync period (s): 30 is its default; a longer one keeps "
        "the periodic full reads of the kernel out of the per-change figures",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep-logs", type=Path, metavar="DIR")
    args = parser.parse_args()
    os.environ["NEUTRINO_AGENT_RESYNC_INTERVAL"] = str(args.resync)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up on a kill too
    if os.geteuid() != 0:
        print("bench/agentscale.py needs root (namespaces)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    prefix = f"ns{uuid.uuid4().hex[:5]}-"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-", dir="/tmp"))
    directory.chmod(0o755)
    lab = Lab(directory)
    sink = f"{prefix}sink"
    results: list[dict[str, Any]] = []
    try:
        lab.up(hosts=1, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
        labns.add_namespace(sink)
        with lab.controller() as api:
            project = api.session.token().project_id
            api.session.request("PUT", f"/v2.0/quotas/{project}", json={"quota": {"port": -1}})
            host = Host(api, f"{prefix}hv1", sink)
            for size in sizes:
                results.append(grow_and_measure(host, lab, size, args.changes))
                r = results[-1]
                print(
                    f"{size} ports: create→ACTIVE p50 {r['active']['p50_ms']} ms p99 "
                    f"{r['active']['p99_ms']} ms; CPU per change {r['cpu_ms_per_change']}; "
                    f"load {r['load_average']}",
                    file=sys.stderr,
                )
    finally:
        if args.keep_logs:  # what the controller and agent said (a failed run's only trace)
            shutil.copytree(directory / "logs", args.keep_logs, dirs_exist_ok=True)
        subprocess.run(["ip", "netns", "del", sink], capture_output=True)
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    text = json.dumps({"agent_resync_s": args.resync, "sizes": results}, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
