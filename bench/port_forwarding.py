#!/usr/bin/env python3
"""Port forwarding figures (issue 15, item 3): forwarding create → the first TCP connection
through it, and delete → refused, side by side with a floating IP associate → the first TCP
connection to the VM.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
The lab of ``bench/l3.py`` (``build``: a controller on SQLite, two hypervisors, a network node
with the L3 role, the outside namespace ``ext``; a VM on hv1 behind a router, port security
off) with a TCP listener on the VM's port 80 and one free floating IP.

Each round: a prober in ``ext`` tries ``connect`` to the target every 5 ms (50 ms timeout per
try) and prints the wall-clock time of the first success; the bench notes the time, makes the
API call, and the figure is the difference. ``forward``: ``POST .../port_forwardings`` (tcp
8080 → VM:80), target floating IP:8080; then ``DELETE`` it and time until a connect fails
(``unforward``). ``associate``: ``PUT port_id`` on the same floating IP, target floating
IP:80; then ``port_id: null``. Each figure covers the API call, the change log, the network
node's watch wake-up, the L3 apply (map elements, /32 on ``qg-``, GARP; on removal the
conntrack deletions) and the first TCP handshake.

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/port_forwarding.py [--count 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from l3 import build  # bench/l3.py
from stats import summary  # bench/stats.py

from neutrino.lab import Lab
from neutrino.lab import netns as labns

PROBE = """
import socket, sys, time
host, port, want = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "up"
print("ready", flush=True)
deadline = time.time() + 15
while time.time() < deadline:
    s = socket.socket(); s.settimeout(0.05)
    try:
        s.connect((host, port)); ok = True
    except OSError:
        ok = False
    finally:
        s.close()
    if ok == want:
        print(time.time(), flush=True); sys.exit(0)
    time.sleep(0.005)
print("timeout", flush=True); sys.exit(1)
"""


def timed(ext: str, host: str, port: int, want: str, call: Any) -> float:
    """Seconds from just before ``call()`` until ``host:port`` is ``want`` ("up"/"down")."""
    probe = subprocess.Popen(
        ["ip", "netns", "exec", ext, sys.executable, "-c", PROBE, host, str(port), want],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert probe.stdout is not None
    assert probe.stdout.readline().strip() == "ready"
    t0 = time.time()
    call()
    line = probe.stdout.readline().strip()
    probe.wait(20)
    if line == "timeout" or not line:
        raise RuntimeError(f"{host}:{port} never {want}")
    return float(line) - t0


def rounds(lab: Lab, env: dict[str, Any], count: int) -> dict[str, Any]:
    forward, unforward, associate = [], [], []
    with lab.controller() as api:
        req = api.session.request
        fip = req(
            "POST",
            "/v2.0/floatingips",
            json={"floatingip": {"floating_network_id": env["ext_net"]}},
        )["floatingip"]
        address = fip["floating_ip_address"]
        port = req("GET", f"/v2.0/ports/{env['port']}")["port"]
        base = f"/v2.0/floatingips/{fip['id']}/port_forwardings"
        body = {
            "port_forwarding": {
                "protocol": "tcp",
                "internal_port_id": port["id"],
                "internal_ip_address": port["fixed_ips"][0]["ip_address"],
                "internal_port": 80,
                "external_port": 8080,
            }
        }
        made: dict[str, Any] = {}  # the forwarding of the current round

        def create() -> None:
            made.update(req("POST", base, json=body)["port_forwarding"])

        for _ in range(count):
            forward.append(timed(env["ext"], address, 8080, "up", create))
            unforward.append(
                timed(
                    env["ext"],
                    address,
                    8080,
                    "down",
                    lambda: req("DELETE", f"{base}/{made['id']}"),
                )
            )
            associate.append(
                timed(
                    env["ext"],
                    address,
                    80,
                    "up",
                    lambda: req(
                        "PUT",
                        f"/v2.0/floatingips/{fip['id']}",
                        json={"floatingip": {"port_id": env["port"]}},
                    ),
                )
            )
            timed(
                env["ext"],
                address,
                80,
                "down",
                lambda: req(
                    "PUT", f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}}
                ),
            )
    return {
        "rounds": count,
        "forward_to_connect": summary(forward),
        "unforward_to_refused": summary(unforward),
        "associate_to_connect": summary(associate),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-pf-", dir="/tmp"))
    directory.chmod(0o755)
    prefix = f"bp{uuid.uuid4().hex[:5]}-"
    lab = Lab(directory, progress=lambda m: print(m, file=sys.stderr))
    made: list[str] = [f"{prefix}vm1"]
    listener = None
    try:
        env = build(lab, prefix)
        listener = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                env["vm"],
                "socat",
                "TCP-LISTEN:80,reuseaddr,fork",
                "SYSTEM:true",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = rounds(lab, env, args.count)
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(5)
        try:
            lab.down()
        finally:
            for ns in made:
                labns.delete_namespace(ns)
            for name in labns.list_namespaces():
                if name.startswith(("qrouter-", "qdhcp-")) and f"-{prefix}" in name:
                    labns.delete_namespace(name)
            shutil.rmtree(directory, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    f, u, a = (
        result["forward_to_connect"],
        result["unforward_to_refused"],
        result["associate_to_connect"],
    )
    print(
        f"forward -> connect p50 {f['p50_ms']} ms p99 {f['p99_ms']} ms; "
        f"unforward -> refused p50 {u['p50_ms']} ms; "
        f"associate -> connect p50 {a['p50_ms']} ms p99 {a['p99_ms']} ms",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
