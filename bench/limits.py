#!/usr/bin/env python3
"""Figures for the request and connection limits (issue 9, "Hostile limits").

``sizes`` (no server): the JSON size of the largest legitimate request bodies, which the
default ``max_body_bytes`` must admit: a bulk create of the default port quota (500) of ports
with every attribute set to a realistic value, the same with every string at its maximum
length, and a bulk of the default security-group-rule quota (100) of full rules.

``live`` (a ``neutrino serve`` child on SQLite, default limits, ``--header-timeout``):
- ``reject_50mb_ms``: an unauthenticated ``POST /v3/auth/tokens`` declaring 50 MB, sent at
  full speed from a second thread: milliseconds until the 413's status line (median, max);
- ``peak_rss_growth_mib``: the server's peak RSS over those requests minus its RSS before
  (the peak is reset through ``/proc/<pid>/clear_refs`` first);
- ``request_ms`` before, under and after ``--idle`` idle connections (held by
  ``tests/idle_clients.py`` children): ``GET /v2.0/networks`` on a new raw connection,
  median of 9; plus ``open_s`` (opening them), ``still_open_after_opening`` (not yet seen
  closed by the clients then: the server keeps at most ``max_connections``, closing the oldest
  idle ones, and its closes are still arriving) and ``all_closed_s`` (until the header
  deadline had closed every one).

Output: one JSON object on stdout, a summary on stderr.

    .venv/bin/python bench/limits.py [--idle 20000] [--header-timeout 10]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from served import ROOT, admin_token, serve

PASSWORD = "bench-limits-secret"
FIFTY_MB = 50 * 1024 * 1024


# --- sizes --------------------------------------------------------------------------------


def realistic_port(i: int) -> dict[str, Any]:
    a, b, c = i >> 16 & 255, i >> 8 & 255, i & 255
    return {
        "network_id": str(uuid.uuid4()),
        "name": f"vm-{i:05d}-nic0",
        "description": "NIC 0 of a virtual machine of the accounting cluster, production",
        "admin_state_up": True,
        "mac_address": f"fa:16:3e:{a:02x}:{b:02x}:{c:02x}",
        "fixed_ips": [
            {"subnet_id": str(uuid.uuid4()), "ip_address": f"10.{b}.{c}.10"},
            {"subnet_id": str(uuid.uuid4()), "ip_address": f"2001:db8::{i:x}"},
        ],
        "device_id": str(uuid.uuid4()),
        "device_owner": "compute:nova",
        "security_groups": [str(uuid.uuid4()), str(uuid.uuid4())],
        "port_security_enabled": True,
        "binding:host_id": "hypervisor-017.dc1.example.org",
        "binding:profile": {},
        "binding:vnic_type": "normal",
        "allowed_address_pairs": [
            {"ip_address": "192.0.2.100/32", "mac_address": "fa:16:3e:00:00:01"}
        ],
        "extra_dhcp_opts": [{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}],
        "dns_name": f"vm-{i:05d}",
        "tags": ["env-production", "team-network"],
        "tenant_id": uuid.uuid4().hex,
    }


def maximal_port(i: int) -> dict[str, Any]:
    port = realistic_port(i)
    for key in ("name", "description", "device_id", "device_owner", "binding:host_id"):
        port[key] = "x" * 255
    port["dns_name"] = ".".join(["x" * 63] * 4)  # 255 characters: the longest valid name
    port["tags"] = ["t" * 255] * 5
    return port


def rule() -> dict[str, Any]:
    return {
        "security_group_id": str(uuid.uuid4()),
        "direction": "ingress",
        "ethertype": "IPv6",
        "protocol": "tcp",
        "port_range_min": 10000,
        "port_range_max": 20000,
        "remote_ip_prefix": "2001:db8:1234:5678::/64",
        "description": "d" * 255,
    }


def sizes() -> dict[str, int]:
    def size(body: Any) -> int:
        return len(json.dumps(body).encode())

    return {
        "port_realistic": size({"port": realistic_port(1)}),
        "port_maximal": size({"port": maximal_port(1)}),
        "bulk_500_ports_realistic": size({"ports": [realistic_port(i) for i in range(500)]}),
        "bulk_500_ports_maximal": size({"ports": [maximal_port(i) for i in range(500)]}),
        "bulk_100_rules_maximal": size({"security_group_rules": [rule() for _ in range(100)]}),
    }


# --- live ---------------------------------------------------------------------------------


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def read_status_line(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        data += chunk
    return int(data.split(b" ", 2)[1])


def reject_50mb(port: int) -> tuple[float, int]:
    sock = socket.create_connection(("127.0.0.1", port))
    start = time.perf_counter()
    sock.sendall(
        b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        b"\r\nContent-Length: %d\r\n\r\n[" % FIFTY_MB
    )

    def pump() -> None:
        chunk = b"1," * 32768
        try:
            for _ in range(FIFTY_MB // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    status = read_status_line(sock)
    elapsed = (time.perf_counter() - start) * 1000
    sender.join(timeout=30)
    sock.close()
    return elapsed, status


def request_ms(port: int, token: str) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
            f"Connection: close\r\n\r\n".encode()
        )
        status = read_status_line(sock)
        while sock.recv(65536):
            pass
    if status != 200:
        raise RuntimeError(f"GET /v2.0/networks answered {status}")
    return (time.perf_counter() - start) * 1000


def median_request_ms(port: int, token: str, n: int = 9) -> float:
    return round(statistics.median(request_ms(port, token) for _ in range(n)), 2)


def ask(holder: subprocess.Popen[str], command: str) -> tuple[int, int]:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(command + "\n")
    holder.stdin.flush()
    _, still_open, _, closed = holder.stdout.readline().split()
    return int(still_open), int(closed)


def live(idle: int, header_timeout: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    server = serve(
        tmp / "serve.log",
        settings={
            "NEUTRINO_ADMIN_PASSWORD": PASSWORD,
            "NEUTRINO_HEADER_TIMEOUT": str(header_timeout),
        },
        args=["--state-dir", str(tmp / "state")],
    )
    proc, port = server.proc, server.port
    try:
        token = admin_token(server.url, PASSWORD)
        out: dict[str, Any] = {}

        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        rss_before = proc_status(proc.pid, "VmRSS")
        tries = [reject_50mb(port) for _ in range(7)]
        assert all(status == 413 for _, status in tries), tries
        out["reject_50mb_ms"] = {
            "median": round(statistics.median(t for t, _ in tries), 2),
            "max": round(max(t for t, _ in tries), 2),
        }
        out["peak_rss_growth_mib"] = round((proc_status(proc.pid, "VmHWM") - rss_before) / 1024, 1)

        out["request_ms_before"] = median_request_ms(port, token)
        holders = 2 if idle > 10_000 else 1
        start = time.monotonic()
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests" / "idle_clients.py"),
                    "127.0.0.1",
                    str(port),
                    str(idle // holders),
                    f"127.0.0.{2 + i}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(holders)
        ]
        try:
            for child in children:
                assert child.stdout is not None
                child.stdout.readline()
            out["idle"] = {
                "connections": idle // holders * holders,
                "open_s": round(time.monotonic() - start, 1),
                "still_open_after_opening": sum(ask(c, "count")[0] for c in children),
            }
            out["request_ms_under_idle"] = median_request_ms(port, token)
            for child in children:
                ask(child, f"wait {header_timeout + 30}")
            out["idle"]["all_closed_s"] = round(time.monotonic() - start, 1)
        finally:
            for child in children:
                child.kill()
                child.wait()
        out["request_ms_after"] = median_request_ms(port, token)
        return out
    finally:
        server.stop(grace=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=int, default=20_000)
    ap.add_argument("--header-timeout", type=float, default=10.0)
    ap.add_argument("--no-live", action="store_true", help="only the body sizes")
    args = ap.parse_args()
    result: dict[str, Any] = {"sizes_bytes": sizes()}
    if not args.no_live:
        result["live"] = live(args.idle, args.header_timeout)
    print(json.dumps(result, indent=2))
    for key, value in result["sizes_bytes"].items():
        print(f"  {key:28} {value / 1024:9.1f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
