#!/usr/bin/env python3
"""The QoS role's kernel work: how long the agent takes to put limits on N ports, to find
nothing to do, to change one port's limit and to remove them all (issue 15).

Runs as root in a throwaway namespace (``nqb<random>``, deleted at the end) holding N veth
pairs whose host ends are named like port taps; calls ``QosManager.apply`` (the agent's data
plane for port limits: tbf at each tap's root, an ifb and its tbf for what the VM sends) with
a limit in both directions on every port, then the same again, then with one port's limit
changed, then with none. Each figure is the wall time of one ``apply``, median of
``--rounds`` runs.

Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import uuid
from dataclasses import replace

from neutrino.agent.dataplane.qos import QosManager
from neutrino.agent.qos_calc import PortShaping, bucket, ifb_name


def shaping(port_id: str, kbps: int) -> PortShaping:
    return PortShaping(
        device=f"tap{port_id[:11]}",
        ifb=ifb_name(port_id),
        to_vm=bucket(kbps, 1000),
        from_vm=bucket(kbps, 1000),
    )


def timed(manager: QosManager, desired: dict[str, PortShaping]) -> float:
    started = time.perf_counter()
    report = manager.apply(desired)
    assert not report.failed, report.failed
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ports", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ns = f"nqb{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    figures: dict[str, list[float]] = {"first": [], "noop": [], "one_changed": [], "clear": []}
    try:
        ids = [uuid.uuid4().hex for _ in range(args.ports)]
        for i, pid in enumerate(ids):
            tap = f"tap{pid[:11]}"
            subprocess.run(
                ["ip", "-n", ns, "link", "add", tap, "type", "veth", "peer", "name", f"vm{i}"],
                check=True,
            )
            subprocess.run(["ip", "-n", ns, "link", "set", tap, "up"], check=True)
        manager = QosManager(ns)
        desired = {s.device: s for s in (shaping(pid, 100_000) for pid in ids)}
        changed = dict(desired)
        first = next(iter(changed))
        changed[first] = replace(changed[first], to_vm=bucket(50_000, 1000))
        for _ in range(args.rounds):
            figures["first"].append(timed(manager, desired))
            figures["noop"].append(timed(manager, desired))
            figures["one_changed"].append(timed(manager, changed))
            figures["clear"].append(timed(manager, {}))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    print(
        json.dumps(
            {
                "ports": args.ports,
                "load": round(os.getloadavg()[0], 1),
                **{k: round(statistics.median(v) * 1000, 1) for k, v in figures.items()},
                "unit": "ms per apply (median)",
            }
        )
    )


if __name__ == "__main__":
    main()
