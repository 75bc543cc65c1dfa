#!/usr/bin/env python3
"""Does ``/metrics`` tell the truth? Server-side latency histogram vs the client's own clock.

Starts ``neutrino serve`` (the real CLI: uvicorn, httptools, uvloop; a throwaway state dir
and SQLite database) on a free loopback port, takes a token, creates one network and one /16
subnet, then creates ``--n`` ports one by one (``POST /v2.0/ports``) and deletes them
(``DELETE /v2.0/ports/{id}``), timing every request with ``time.perf_counter`` from the
first byte sent to the last byte of the response read. The timed requests go through a
minimal HTTP/1.1 client on one keep-alive socket (request bytes built before the clock
starts, the response read by its Content-Length): a general-purpose client such as httpx
adds about a millisecond of its own Python per request on this machine, which is client
time, not server time. ``/metrics`` is scraped before and after and parsed
with prometheus_client's text parser; for each route the server's figures come from the
deltas of ``neutrino_http_request_duration_seconds``: mean = sum/count, p50/p95 by linear
interpolation inside the histogram's buckets (what Prometheus' ``histogram_quantile`` does).

The server's clock starts when the request reaches the app and stops when the response is
handed to uvicorn; the client's also holds the HTTP round trip over loopback and httpx. So
the server's figures are expected a little lower; ``agreement`` is server/client.

Output: one JSON object on stdout; a summary on stderr.

    python bench/metrics.py --n 800
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
METRIC = "neutrino_http_request_duration_seconds"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def server_figures(
    before: dict[Any, float], after: dict[Any, float], method: str, route: str, status: str
) -> dict[str, float]:
    def delta(name: str, **extra: str) -> float:
        labels = tuple(
            sorted({"method": method, "route": route, "status": status, **extra}.items())
        )
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    count = delta(f"{METRIC}_count")
    total = delta(f"{METRIC}_sum")
    bounds = sorted(
        {
            float(dict(k[1])["le"])
            for k in after
            if k[0] == f"{METRIC}_bucket" and dict(k[1]).get("route") == route
        }
    )
    buckets = [(b, delta(f"{METRIC}_bucket", le=_le(b))) for b in bounds]
    return {
        "count": count,
        "mean_ms": 1000 * total / count if count else 0.0,
        "p50_ms": 1000 * quantile(0.5, buckets),
        "p95_ms": 1000 * quantile(0.95, buckets),
    }


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Linear interpolation inside the bucket holding rank q * count (histogram_quantile)."""
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, cumulative
    return lower


class RawHttp:
    """HTTP/1.1 over one keep-alive socket: ``request`` -> (status, body, seconds)."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token
        self.buffer = b""

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, bytes, float]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {self.token}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
            f"\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        self.sock.sendall(head + payload)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self.sock.recv(65536)
        seconds = time.perf_counter() - started
        self.buffer = rest[length:]
        return int(header.split(b" ", 2)[1]), rest[:length], seconds

    def close(self) -> None:
        self.sock.close()


def client_figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "mean_ms": 1000 * statistics.fmean(ordered),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=800, help="ports to create and delete")
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness for this client and the server it starts (root: "
        "negative values keep other load from adding wakeup delays "
        "that no server-side clock can see); 0 leaves it",
    )
    args = parser.parse_args()
    if args.nice:
        try:
            os.nice(args.nice)
        except PermissionError:
            print("not root: running at the default priority", file=sys.stderr)
    port, password = free_port(), secrets.token_urlsafe(12)
    state = Path(tempfile.mkdtemp(prefix="neutrino-bench-metrics-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NEUTRINO_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neutrino.cli.main",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(state),
            "--admin-password",
            password,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            auth = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"name": "Default"},
                                "password": password,
                            }
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
                }
            }
            client.headers["X-Auth-Token"] = client.post("/v3/auth/tokens", json=auth).headers[
                "X-Subject-Token"
            ]
            net = client.post("/v2.0/networks", json={"network": {"name": "m"}}).json()
            client.post(
                "/v2.0/subnets",
                json={
                    "subnet": {
                        "network_id": net["network"]["id"],
                        "cidr": "10.0.0.0/16",
                        "ip_version": 4,
                    }
                },
            )
            before = scrape(client)
            raw = RawHttp(port, client.headers["X-Auth-Token"])
            created, deleted, ids = [], [], []
            try:
                for i in range(args.n):
                    status, body, seconds = raw.request(
                        "POST",
                        "/v2.0/ports",
                        {"port": {"network_id": net["network"]["id"], "name": f"p{i}"}},
                    )
                    assert status == 201, body
                    created.append(seconds)
                    ids.append(json.loads(body)["port"]["id"])
                for port_id in ids:
                    status, body, seconds = raw.request("DELETE", f"/v2.0/ports/{port_id}")
                    assert status == 204, body
                    deleted.append(seconds)
            finally:
                raw.close()
            after = scrape(client)
    finally:
        server.terminate()
        server.wait(30)
    result: dict[str, Any] = {"n": args.n, "nice": os.nice(0), "loadavg": os.getloadavg()}
    for name, method, route, status, samples in (
        ("create", "POST", "/v2.0/ports", "201", created),
        ("delete", "DELETE", "/v2.0/ports/{resource_id}", "204", deleted),
    ):
        server_side = server_figures(before, after, method, route, status)
        client_side = client_figures(samples)
        result[name] = {
            "server": server_side,
            "client": client_side,
            "agreement": {
                k: round(server_side[k] / client_side[k], 3)
                for k in ("mean_ms", "p50_ms", "p95_ms")
            },
        }
        print(
            f"{name}: server mean {server_side['mean_ms']:.2f} ms p50 "
            f"{server_side['p50_ms']:.2f} p95 {server_side['p95_ms']:.2f} "
            f"(count {server_side['count']:.0f}) | client mean {client_side['mean_ms']:.2f} "
            f"p50 {client_side['p50_ms']:.2f} p95 {client_side['p95_ms']:.2f} | "
            f"server/client {result[name]['agreement']}",
            file=sys.stderr,
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
