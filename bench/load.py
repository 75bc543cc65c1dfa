#!/usr/bin/env python3
"""Load on PostgreSQL: clients with a mixed workload against several API servers.

Starts ``--servers`` ``neutrino serve --workers N --no-migrate`` on one fresh PostgreSQL
database (``bench/pgcluster.py``; ``--pg-url`` or ``NEUTRINO_TEST_PG_URL`` names the server,
a superuser that may create databases) and runs ``--clients`` threads for ``--duration``
seconds. Client *i* talks to server ``i mod servers`` over one keep-alive connection, as the
admin acting for a project of its own (its ports and networks are created with that
``project_id``, quotas are finite so every create takes the quota lock), and loops over:

- ``port_create`` (on its own network, a /16 subnet), ``port_delete`` (a random one of its
  ports), ``port_show``, ``port_list`` (``?network_id=`` its network);
- ``network_create`` (with a /24 subnet: two requests, timed as one) and ``network_delete``
  (subnet and network) of a second network it keeps at most ``--networks`` of;
- ``sg_create`` and ``sg_delete`` (security groups, each with its two default rules);
- ``network_list`` (everything the admin sees).

Creates are chosen while a client holds fewer than ``--ports`` ports, so the data grows for
the first part of the run and then stays around ``clients x ports`` ports: the servers'
resident memory (all processes of each server, sampled every ``--sample-every`` seconds)
must be flat from then on. Every answer other than the expected status is an error.

Output: JSON on stdout (per operation: count, errors, p50/p99/max ms; the RSS series; the
RSS growth over the second half of the run; PostgreSQL's deadlock, commit and rollback counts
for the database), a summary on stderr. Exit status 1 when any request failed.

    NEUTRINO_TEST_PG_URL=postgresql://... python bench/load.py --duration 300
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pgcluster
import stats

QUOTAS = {
    "port": 100000,
    "network": 1000,
    "subnet": 1000,
    "security_group": 1000,
    "security_group_rule": 10000,
}


class Client:
    """One workload thread: its project, its network, what it holds, its timings."""

    def __init__(self, index: int, url: str, token: str, args: argparse.Namespace) -> None:
        self.index = index
        self.args = args
        self.project = uuid.uuid4().hex
        self.http = httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=60)
        self.rng = random.Random(index)
        self.ports: list[str] = []
        self.networks: list[str] = []
        self.groups: list[str] = []
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []  # the first few error answers, for the report
        self.net_id = ""

    def request(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body)
        if r.status_code != expect:
            raise AssertionError(f"{method} {path} -> {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def setup(self) -> None:
        self.request("PUT", f"/v2.0/quotas/{self.project}", 200, {"quota": QUOTAS})
        net = self.request(
            "POST",
            "/v2.0/networks",
            201,
            {"network": {"name": f"load-{self.index}", "project_id": self.project}},
        )["network"]
        self.net_id = net["id"]
        self.request(
            "POST",
            "/v2.0/subnets",
            201,
            {
                "subnet": {
                    "network_id": self.net_id,
                    "ip_version": 4,
                    "cidr": "10.0.0.0/16",
                    "project_id": self.project,
                }
            },
        )

    def timed(self, name: str, fn: Any) -> None:
        start = time.perf_counter()
        try:
            fn()
        except (AssertionError, httpx.HTTPError) as exc:
            self.errors[name] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{name}: {exc}")
        self.times[name].append(time.perf_counter() - start)

    # --- operations

    def port_create(self) -> None:
        port = self.request(
            "POST",
            "/v2.0/ports",
            201,
            {"port": {"network_id": self.net_id, "project_id": self.project}},
        )["port"]
        self.ports.append(port["id"])

    def port_delete(self) -> None:
        port_id = self.ports.pop(self.rng.randrange(len(self.ports)))
        self.request("DELETE", f"/v2.0/ports/{port_id}", 204)

    def port_show(self) -> None:
        self.request("GET", f"/v2.0/ports/{self.rng.choice(self.ports)}", 200)

    def port_list(self) -> None:
        self.request("GET", f"/v2.0/ports?network_id={self.net_id}", 200)

    def network_create(self) -> None:
        net = self.request(
            "POST",
            "/v2.0/networks",
            201,
            {"network": {"name": "extra", "project_id": self.project}},
        )["network"]
        self.networks.append(net["id"])
        self.request(
            "POST",
            "/v2.0/subnets",
            201,
            {
                "subnet": {
                    "network_id": net["id"],
                    "ip_version": 4,
                    "cidr": "192.0.2.0/24",
                    "project_id": self.project,
                }
            },
        )

    def network_delete(self) -> None:
        self.request("DELETE", f"/v2.0/networks/{self.networks.pop(0)}", 204)

    def network_list(self) -> None:
        self.request("GET", "/v2.0/networks", 200)

    def sg_create(self) -> None:
        sg = self.request(
            "POST",
            "/v2.0/security-groups",
            201,
            {"security_group": {"name": "load", "project_id": self.project}},
        )["security_group"]
        self.groups.append(sg["id"])

    def sg_delete(self) -> None:
        self.request("DELETE", f"/v2.0/security-groups/{self.groups.pop(0)}", 204)

    def step(self) -> None:
        a = self.args
        roll = self.rng.random()
        if roll < 0.30:
            if len(self.ports) < a.ports:
                self.timed("port_create", self.port_create)
            else:
                self.timed("port_delete", self.port_delete)
        elif roll < 0.45:
            if self.ports and (len(self.ports) >= a.ports or self.rng.random() < 0.3):
                self.timed("port_delete", self.port_delete)
            else:
                self.timed(
                    "port_show" if self.ports else "port_list",
                    self.port_show if self.ports else self.port_list,
                )
        elif roll < 0.65:
            self.timed("port_list", self.port_list)
        elif roll < 0.75:
            self.timed(
                "port_show" if self.ports else "port_list",
                self.port_show if self.ports else self.port_list,
            )
        elif roll < 0.82:
            if len(self.networks) < a.networks:
                self.timed("network_create", self.network_create)
            else:
                self.timed("network_delete", self.network_delete)
        elif roll < 0.87:
            self.timed("network_list", self.network_list)
        elif len(self.groups) < a.groups:
            self.timed("sg_create", self.sg_create)
        else:
            self.timed("sg_delete", self.sg_delete)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()


def sample_rss(
    cluster: pgcluster.Cluster,
    clients: list[Client],
    every: float,
    stop: threading.Event,
    out: list[dict[str, Any]],
    started: float,
) -> None:
    while True:
        out.append(
            {
                "t": round(time.monotonic() - started, 1),
                "rss_mib": [round(k / 1024, 1) for k in cluster.rss_kib()],
                "ports": sum(len(c.ports) for c in clients),
            }
        )
        if stop.wait(every):
            return


def report(
    clients: list[Client],
    series: list[dict[str, Any]],
    args: argparse.Namespace,
    elapsed: float,
    cluster: pgcluster.Cluster,
) -> dict[str, Any]:
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for c in clients:
        for name, values in c.times.items():
            times[name].extend(values)
        for name, count in c.errors.items():
            errors[name] += count
    ops = {
        name: {"count": len(values), "errors": errors.get(name, 0), **stats.summary(values)}
        for name, values in sorted(times.items())
    }
    total = sum(len(v) for v in times.values())
    half = [s for s in series if s["t"] >= elapsed / 2]
    growth = None
    if len(half) >= 2:
        growth = [
            round(b - a, 1) for a, b in zip(half[0]["rss_mib"], half[-1]["rss_mib"], strict=True)
        ]
    full = next((s["t"] for s in series if s["ports"] >= 0.95 * args.clients * args.ports), None)
    return {
        "bench": "load",
        "duration_s": round(elapsed, 1),
        "clients": args.clients,
        "servers": args.servers,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "requests": total,
        "errors": sum(errors.values()),
        "requests_per_s": round(total / elapsed, 1) if elapsed else 0.0,
        "ops": ops,
        "error_samples": [s for c in clients for s in c.samples][:10],
        "data_full_at_s": full,
        "rss_series": series,
        "rss_mib_start": series[0]["rss_mib"] if series else [],
        "rss_mib_end": series[-1]["rss_mib"] if series else [],
        "rss_growth_second_half_mib": growth,
        "server_pids": cluster.pids(),
        "db": cluster.db_stats(),
    }


def summary_text(res: dict[str, Any]) -> str:
    lines = [
        f"load: {res['requests']} requests in {res['duration_s']} s "
        f"({res['requests_per_s']}/s), {res['errors']} errors, {res['clients']} clients, "
        f"{res['servers']} servers x {res['workers']} workers"
    ]
    for name, op in res["ops"].items():
        lines.append(
            f"  {name:15} {op['count']:7d} req  {op['errors']:3d} err  "
            f"p50 {op['p50_ms']:7.1f} ms  p99 {op['p99_ms']:7.1f} ms  "
            f"max {op['max_ms']:7.1f} ms"
        )
    lines.append(
        f"  RSS MiB per server: start {res['rss_mib_start']}, end {res['rss_mib_end']},"
        f" growth over the second half {res['rss_growth_second_half_mib']}; "
        f"data full at {res['data_full_at_s']} s"
    )
    lines.append(f"  PostgreSQL: {res['db']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=300.0, help="seconds (default 300)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ports", type=int, default=60, help="ports each client holds at most")
    ap.add_argument("--networks", type=int, default=3, help="extra networks per client")
    ap.add_argument("--groups", type=int, default=3, help="security groups per client")
    ap.add_argument("--sample-every", type=float, default=10.0, help="RSS sampling (s)")
    ap.add_argument("--pg-url", default=os.environ.get("NEUTRINO_TEST_PG_URL", ""))
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    if not args.pg_url:
        ap.error("--pg-url or NEUTRINO_TEST_PG_URL is required")

    with (
        tempfile.TemporaryDirectory(prefix="neutrino-load-") as tmp,
        pgcluster.Cluster(
            args.pg_url, Path(tmp), servers=args.servers, workers=args.workers
        ) as cluster,
    ):
        token = cluster.token()
        clients = [
            Client(i, cluster.urls[i % len(cluster.urls)], token, args) for i in range(args.clients)
        ]
        for c in clients:
            c.setup()
        stop, series = threading.Event(), []  # type: ignore[var-annotated]
        started = time.monotonic()
        sampler = threading.Thread(
            target=sample_rss, args=(cluster, clients, args.sample_every, stop, series, started)
        )
        threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
        sampler.start()
        for t in threads:
            t.start()
        time.sleep(args.duration)
        stop.set()
        for t in threads:
            t.join()
        sampler.join()
        elapsed = time.monotonic() - started
        res = report(clients, series, args, elapsed, cluster)
        for c in clients:
            c.http.close()
    text = json.dumps(res)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(summary_text(res), file=sys.stderr)
    return 0 if res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
