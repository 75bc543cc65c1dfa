#!/usr/bin/env python3
"""The probe's added time per ``trace --verify`` (issue 16): the kernel-state comparison
alone beside the agents' probe packet and the lab's own, in one lab, one run.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
A lab of two hypervisors and a network node (controller on SQLite): networks blue and green
joined by router r1 on the network node, vm1 and vm3 on blue on hv1, vm2 on green on hv2,
all in the default group. Three traces from vm1: ``same host`` (to vm3: one bridge),
``routed`` (to vm2: hv1 -> network node -> r1 -> network node -> hv2) and ``spoofed`` (to
vm2 with another source address: dropped by hv1's anti-spoofing chain). Each round times,
side by side: ``plain``, the API's ``verify`` of the same trace as SCTP (the model walk and
the agents' kernel checks of the same hosts; no probe: SCTP is not crafted); ``agents``, the
API's ``verify`` as ICMP, whose kernel checks carry the probe (each agent of the path sets
up its monitors and tables, the source host's writes the packet into vm1's tap at the
controller's send time, all report; ``agent.probe_responder``), with the slowest host's
phases; and ``lab``, the lab CLI's own probe of that answer (``lab.probe.probe``: the
monitors and tables in every hypervisor and router namespace, sent from vm1's side).

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/trace_probe.py [--count 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from stats import summary  # bench/stats.py

from neutrino.lab import Lab, create_vm
from neutrino.lab.probe import probe


def build(lab: Lab, prefix: str) -> dict[str, Any]:
    lab.up(hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60)
    with lab.controller() as api:
        req = api.session.request
        blue = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        subs = [
            api.create_subnet(blue["id"], "192.0.2.0/25", gateway_ip="192.0.2.1"),
            api.create_subnet(green["id"], "192.0.2.128/25", gateway_ip="192.0.2.129"),
        ]
        rid = req("POST", "/v2.0/routers", json={"router": {"name": "r1"}})["router"]["id"]
        for sub in subs:
            req("PUT", f"/v2.0/routers/{rid}/add_router_interface", json={"subnet_id": sub["id"]})
    _, lease1 = create_vm(lab, "vm1", "hv1", network=blue["id"])
    _, lease2 = create_vm(lab, "vm2", "hv2", network=green["id"])
    _, lease3 = create_vm(lab, "vm3", "hv1", network=blue["id"])
    return {"vm1": lease1.ip, "vm2": lease2.ip, "vm3": lease3.ip}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-probe-", dir="/tmp"))
    directory.chmod(0o755)
    lab = Lab(directory)
    prefix = f"nb{uuid.uuid4().hex[:6]}-"
    results: dict[str, Any] = {"count": args.count, "loadavg_before": os.getloadavg()}
    try:
        ips = build(lab, prefix)
        cases = {
            "same host": {"destination": ips["vm3"]},
            "routed": {"destination": ips["vm2"]},
            "spoofed": {"destination": ips["vm2"], "source_ip": "192.0.2.99"},
        }
        with lab.controller() as api:
            vm1 = lab.state().vms["vm1"].port_id
            for name, question in cases.items():
                plain, agents, total, phases, fates = [], [], [], {}, set()
                for _ in range(args.count):
                    began = time.monotonic()
                    answer = api.trace(
                        source={"port_id": vm1}, protocol="sctp", destination_port=9,
                        verify=True, **question,
                    )  # fmt: skip
                    plain.append(time.monotonic() - began)
                    assert answer["verify"]["probe"]["verdict"] == "unavailable", answer
                    began = time.monotonic()
                    answer = api.trace(
                        source={"port_id": vm1}, protocol="icmp", verify=True, **question
                    )
                    agents.append(time.monotonic() - began)
                    found = answer["verify"]["probe"]
                    if found["verdict"] == "unavailable":
                        raise RuntimeError(found["reason"])
                    fates.add(("agents", found["verdict"], found["fate"]["outcome"]))
                    for phase, ms in found["milliseconds"].items():
                        phases.setdefault(phase, []).append(ms / 1000)
                    began = time.monotonic()
                    found = probe(lab.state(), "vm1", answer)
                    total.append(time.monotonic() - began)
                    if found["verdict"] == "unavailable":
                        raise RuntimeError(found["reason"])
                    fates.add(("lab", found["verdict"], found["fate"]["outcome"]))
                results[name] = {
                    "plain": summary(plain),
                    "agents": summary(agents),
                    "agent_phases": {k: summary(v) for k, v in phases.items()},
                    "lab": summary(total),
                    "fates": sorted(fates),
                }
                r = results[name]
                print(
                    f"{name}: verify without probe p50 {r['plain']['p50_ms']} ms, with the "
                    f"agents' probe p50 {r['agents']['p50_ms']} ms (slowest host: setup "
                    f"{r['agent_phases']['setup']['p50_ms']}, flight "
                    f"{r['agent_phases']['flight']['p50_ms']}, cleanup "
                    f"{r['agent_phases']['cleanup']['p50_ms']}); lab probe p50 "
                    f"{r['lab']['p50_ms']} ms; {sorted(fates)}",
                    file=sys.stderr,
                )
    finally:
        results["loadavg_after"] = os.getloadavg()
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
