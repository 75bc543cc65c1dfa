#!/usr/bin/env python3
"""Router figures (issue 5, done-means 5): floating IP associate → reachable, and throughput
VM → external through the router vs a direct veth.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
A lab (``neutrino.lab``: its own controller on SQLite, two hypervisors, one network node with
L2 + DHCP + L3 agents, ``--external``: the outside world ``ext`` = 203.0.113.1 on the flat
``public`` network). One VXLAN network 192.0.2.0/24 joined by a router with a gateway on
``public``; a "VM" on hv1 (port bound to hv1, port security off so no security group is in
the way, static address, default route via the router).

``fip`` (associate → reachable, p50/p99 over ``--count``): one floating IP, created once;
each round disassociates it (``port_id: null``), waits until ``ext`` no longer reaches it,
then ``PUT port_id`` (t0) and pings it from ``ext`` every 5 ms until the first reply. The
figure covers the API call, the change log, the network node's watch wake-up, the L3 apply
(nft table replace, /32 on ``qg-``, GARP) and the first ICMP round trip.

``throughput``: one TCP stream for ``--seconds`` (a Python sender and receiver, 1 MiB writes;
no iperf3 here) from the VM on hv1 to ``ext`` (VXLAN to the network node, the router's
forwarding and SNAT, the flat bridge), against the same tool over a bare veth pair between two
fresh namespaces (the physical reference). The sender's CPU is the bound on both paths.

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/l3.py [--count 20] [--seconds 3]
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

from stats import summary  # bench/stats.py

from neutrino.domain.hoststate import tap_name
from neutrino.lab import Lab
from neutrino.lab import netns as labns

EXT = "203.0.113.1"
RECEIVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5201)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); buf = bytearray(1 << 20); n = 0
while True:
    k = c.recv_into(buf)
    if not k:
        break
    n += k
print(n, flush=True)
"""
SENDER = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], 5201)); chunk = bytes(1 << 20)
end = time.perf_counter() + float(sys.argv[2]); t0 = time.perf_counter()
while time.perf_counter() < end:
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR); s.recv(1); print(time.perf_counter() - t0, flush=True)
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def reachable(namespace: str, target: str, wait: float) -> bool:
    """Ping every 5 ms until one reply (or ``wait`` seconds)."""
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
            str(wait),
            target,
        ],
        capture_output=True,
    )
    return done.returncode == 0


def stream(src: str, dst: str, dst_ip: str, seconds: float) -> float:
    """Gbit/s of one TCP stream from namespace ``src`` to ``dst_ip`` in ``dst``."""
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", dst, sys.executable, "-c", RECEIVER, dst_ip],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        sent = subprocess.run(
            ["ip", "netns", "exec", src, sys.executable, "-c", SENDER, dst_ip, str(seconds)],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        )
        received = int(receiver.stdout.readline())
    finally:
        receiver.wait(10)
    return round(received * 8 / float(sent.stdout) / 1e9, 2)


def build(lab: Lab, prefix: str) -> dict[str, Any]:
    state = lab.up(
        hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60, external=True
    )
    with lab.controller() as api:
        req = api.session.request
        net = api.create_network(name="bench-l3", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(
            net["id"], "192.0.2.0/24", enable_dhcp=False, gateway_ip="192.0.2.1"
        )
        router = req(
            "POST",
            "/v2.0/routers",
            json={
                "router": {
                    "name": "bench",
                    "external_gateway_info": {"network_id": state.external_network_id},
                }
            },
        )["router"]
        req(
            "PUT",
            f"/v2.0/routers/{router['id']}/add_router_interface",
            json={"subnet_id": sub["id"]},
        )
        port = api.create_port(
            net["id"],
            name="vm1",
            device_owner="compute:bench",
            device_id="vm1",
            port_security_enabled=False,
            security_groups=[],
            **{"binding:host_id": "hv1"},
        )
    vm = f"{prefix}vm1"
    labns.add_namespace(vm)
    labns.plug_vm(f"{prefix}hv1", tap_name(port["id"]), vm, port["mac_address"], net["mtu"])
    ip("-n", vm, "addr", "add", port["fixed_ips"][0]["ip_address"] + "/24", "dev", "eth0")
    ip("-n", vm, "route", "add", "default", "via", "192.0.2.1")
    if not reachable(vm, EXT, 30):
        raise RuntimeError("the VM does not reach the outside through the router")
    return {
        "vm": vm,
        "port": port["id"],
        "ext": state.external,
        "ext_net": state.external_network_id,
    }


def fip_latency(lab: Lab, env: dict[str, Any], count: int) -> dict[str, Any]:
    times = []
    with lab.controller() as api:
        req = api.session.request
        fip = req(
            "POST",
            "/v2.0/floatingips",
            json={"floatingip": {"floating_network_id": env["ext_net"]}},
        )["floatingip"]
        address = fip["floating_ip_address"]
        for _ in range(count):
            t0 = time.perf_counter()
            req(
                "PUT",
                f"/v2.0/floatingips/{fip['id']}",
                json={"floatingip": {"port_id": env["port"]}},
            )
            if not reachable(env["ext"], address, 10):
                raise RuntimeError(f"floating IP {address} not reachable")
            times.append(time.perf_counter() - t0)
            req("PUT", f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}})
            deadline = time.monotonic() + 10
            while reachable(env["ext"], address, 0.3):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"floating IP {address} still reachable")
    return {"rounds": count, "associate_to_reachable": summary(times)}


def throughput(env: dict[str, Any], prefix: str, seconds: float, made: list[str]) -> dict[str, Any]:
    a, b = f"{prefix}ta", f"{prefix}tb"
    for ns in (a, b):
        labns.add_namespace(ns)
        made.append(ns)
    ip("-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
    for ns, addr in ((a, "198.51.100.1/24"), (b, "198.51.100.2/24")):
        ip("-n", ns, "addr", "add", addr, "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
    runs = {
        "router_gbps": [stream(env["vm"], env["ext"], EXT, seconds) for _ in range(2)],
        "veth_gbps": [stream(a, b, "198.51.100.2", seconds) for _ in range(2)],
    }
    return {"seconds": seconds, **runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-l3-", dir="/tmp"))
    directory.chmod(0o755)
    prefix = f"bl{uuid.uuid4().hex[:5]}-"
    lab = Lab(directory, progress=lambda m: print(m, file=sys.stderr))
    made: list[str] = [f"{prefix}vm1"]
    try:
        env = build(lab, prefix)
        result = {
            "fip": fip_latency(lab, env, args.count),
            "throughput": throughput(env, prefix, args.seconds, made),
        }
    finally:
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
    fip = result["fip"]["associate_to_reachable"]
    tput = result["throughput"]
    print(
        f"FIP associate -> reachable: p50 {fip['p50_ms']} ms, p99 {fip['p99_ms']} ms; "
        f"VM -> external via router {tput['router_gbps']} Gbit/s, "
        f"bare veth {tput['veth_gbps']} Gbit/s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
