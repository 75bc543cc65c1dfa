#!/usr/bin/env python3
"""iperf3 VM→VM across VXLAN: unfiltered, a stateful default group, a stateless allow-all group.

Issue 15's done-means for stateless groups: with a stateless allow-all group the throughput is
at least 0.95 of the unfiltered path (median of 5 runs, side by side in one run), and the
stateful default group stays as measured before (``bench/sg.py iperf``: 0.78-0.84).

Method: two hypervisor namespaces over a VXLAN underlay (the helpers of ``bench/sg.py``), one
VM each on one network; both ports are, in turn,

* ``unfiltered``: port security off (the nft manager leaves the bridge without br_netfilter);
* ``stateful``: in a default-like group (egress v4/v6, ingress from the group itself),
  stateful: br_netfilter on the bridge, every packet zoned and tracked;
* ``stateless``: in a stateless allow-all group (egress and ingress v4/v6): filtered by the
  same bridge-table chains, untracked, and the bridge without br_netfilter.

Each state goes through the agent's own path (``compute_l2``/``L2Manager`` and
``compute_sg``/``NftManager``), then one iperf3 TCP stream (``--seconds``) from vm1 to vm2. The
three variants are interleaved ``--repeats`` times, so a busy machine slows all of them alike;
medians and the ratios to the unfiltered median are reported (and the median of each round's
own ratio, steadier when the load drifts), with the load average before
and after (``os.getloadavg``). After each stateless run the conntrack tables of both
hypervisors are searched for the pair (``conntrack_entries_stateless``: must stay 0).

Runs as root (namespaces only, documentation addresses only) and removes everything it made.
Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/sg_stateless.py [--seconds 5] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from sg import EGRESS, VTEPS, host, l2, log, namespaces, plug, sh, underlay, vm_port  # bench/sg.py

from neutrino.agent.dataplane.nft import NftManager
from neutrino.agent.sg_calc import compute_sg
from neutrino.domain.sgstate import RuleState, SecurityGroupState

DEFAULT = "d0000000-0000-4000-8000-00000000000d"
OPEN = "e0000000-0000-4000-8000-00000000000e"
GROUPS = (
    SecurityGroupState(
        DEFAULT, True, (*EGRESS, RuleState("rg", "ingress", "IPv4", remote_group_id=DEFAULT))
    ),
    SecurityGroupState(
        OPEN,
        False,
        (*EGRESS, RuleState("i4", "ingress", "IPv4"), RuleState("i6", "ingress", "IPv6")),
    ),
)
VARIANTS = ("unfiltered", "stateful", "stateless")


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pair_entries(hv_ns: str, a: str, b: str) -> int:
    """Conntrack entries (IPv4, any zone) between ``a`` and ``b`` in ``hv_ns``."""
    listed = sh("ip", "netns", "exec", hv_ns, "conntrack", "-L")
    return sum(1 for line in listed.splitlines() if f"src={a} dst={b} " in line)


def iperf(vm_ns: str, server: str, seconds: int) -> float:
    """One TCP stream; the client on CPU 0 and the server on CPU 1 (``-A 0,1``) so every
    variant gets the same placement (on 2 cores, where the scheduler put the two ends moved a
    5-second run by ±20%), and the first second (slow start) left out (``-O 1``)."""
    cmd = ["iperf3", "-J", "-c", server, "-t", str(seconds), "-O", "1", "-A", "0,1"]
    done = subprocess.run(
        ["ip", "netns", "exec", vm_ns, *cmd],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"iperf3: {done.stdout[-300:]} {done.stderr[-300:]}")
    bps = json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"]
    return round(bps / 1e9, 2)


def bench(seconds: int, repeats: int) -> dict[str, Any]:
    a, b = vm_port(1, (DEFAULT,)), vm_port(2, (DEFAULT,))
    ip_a, ip_b = a.fixed_ips[0].ip_address, b.fixed_ips[0].ip_address
    out: dict[str, Any] = {"seconds": seconds, "repeats": repeats, "load_before": loadavg()}
    runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
    leaked = 0
    with namespaces() as make:
        hvs = underlay(make, ["hv1", "hv2"])
        vms = {"hv1": make("vm1"), "hv2": make("vm2")}
        plug(hvs["hv1"], vms["hv1"], a)
        plug(hvs["hv2"], vms["hv2"], b)
        managers = {hv: NftManager(ns) for hv, ns in hvs.items()}
        server = subprocess.Popen(
            ["ip", "netns", "exec", vms["hv2"], "iperf3", "-s"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            for _ in range(repeats):
                for variant in VARIANTS:
                    groups = (OPEN,) if variant == "stateless" else (DEFAULT,)
                    secure = variant != "unfiltered"
                    pa = replace(a, port_security_enabled=secure, security_groups=groups)
                    pb = replace(b, port_security_enabled=secure, security_groups=groups)
                    states = {
                        "hv1": host("hv1", [pa], [(pb, VTEPS["hv2"])], GROUPS),
                        "hv2": host("hv2", [pb], [(pa, VTEPS["hv1"])], GROUPS),
                    }
                    for hv, st in states.items():
                        l2(hvs[hv], hv, st)
                        managers[hv].apply(compute_sg(st))
                        sh("ip", "netns", "exec", hvs[hv], "conntrack", "-F", check=False)
                    runs[variant].append(iperf(vms["hv1"], ip_b, seconds))
                    if variant == "stateless":
                        leaked += sum(pair_entries(ns, ip_a, ip_b) for ns in hvs.values())
        finally:
            server.terminate()
            server.wait()
            for manager in managers.values():
                manager.close()
    out["load_after"] = loadavg()
    for variant, values in runs.items():
        out[f"{variant}_gbit"] = values
        out[f"{variant}_median"] = statistics.median(values)
    base = out["unfiltered_median"]
    out["stateful_ratio"] = round(out["stateful_median"] / base, 3)
    out["stateless_ratio"] = round(out["stateless_median"] / base, 3)
    # Each round's own ratio too: the three runs of a round are seconds apart, so a load that
    # drifts over the minutes of the bench moves both sides of a round's ratio alike.
    for variant in ("stateful", "stateless"):
        paired = [v / u for v, u in zip(runs[variant], runs["unfiltered"], strict=True)]
        out[f"{variant}_paired_ratio"] = round(statistics.median(paired), 3)
    out["conntrack_entries_stateless"] = leaked
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("iperf3") is None or shutil.which("conntrack") is None:
        log("bench/sg_stateless.py needs root, iperf3 and conntrack")
        return 2
    result = bench(args.seconds, args.repeats)
    log(
        "median Gbit/s: unfiltered {unfiltered_median}, stateful {stateful_median} "
        "({stateful_ratio}), stateless {stateless_median} ({stateless_ratio}); "
        "median of each round's ratio: stateful {stateful_paired_ratio}, "
        "stateless {stateless_paired_ratio}; "
        "load {load_before} -> {load_after}; conntrack entries (stateless) "
        "{conntrack_entries_stateless}".format(**result)
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
