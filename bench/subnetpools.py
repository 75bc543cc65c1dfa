#!/usr/bin/env python3
"""Subnet-from-pool create latency next to the plain subnet create (issue 11).

Method
------
A fresh database (SQLite in a temporary directory, or a new PostgreSQL database on the
server of ``--pg URL``), the service layer built as the server builds it (no HTTP: the
figures are the transaction's, the query, the pool lock and the prefix arithmetic), quotas
off. Untimed setup: ``4 --n`` networks (four sets, so the network/pool affinity rules never
interfere) and two pools in ``10.0.0.0/8`` and ``172.16.0.0/12`` (default /24). Timed, each
create on its own network, one after the other:

* ``plain``: ``--n`` subnets with an explicit cidr and no pool;
* ``pool_prefixlen``: ``--n`` subnets from the first pool by prefix length (the pool picks:
  best fit over what it has handed out so far, read after its row lock);
* ``pool_cidr``: ``--n`` subnets from the second pool asking for a specific /24;
* ``concurrent``: ``--n`` more from the first pool by ``--threads`` creators at once (each a
  thread with its own connection; on SQLite writers queue on the database lock, on
  PostgreSQL on the pool's row lock); the cidrs are checked to be distinct.

Per phase: p50/p99/max latency in ms and creates per second over the phase's wall time.
Output: one JSON object on stdout.

    PYTHONPATH=src python bench/subnetpools.py --n 500 --threads 8 [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from neutrino.common.settings import Settings
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store.models import Base
from neutrino.store.uow import Store

ADMIN = RequestContext(
    user_id="bench", project_id="admin", roles=frozenset({"admin", "member", "reader"})
)


def _summary(latencies: list[float], wall: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
        "per_s": round(len(ordered) / wall, 1),
    }


def _networks(services: Services, n: int) -> list[str]:
    made = services.networks.create_bulk(ADMIN, [{"name": f"b{i}"} for i in range(n)])
    return [net["id"] for net in made]


def _timed(create: Any, bodies: list[dict[str, Any]]) -> tuple[list[float], list[str]]:
    latencies, cidrs = [], []
    for body in bodies:
        start = time.perf_counter()
        cidrs.append(create(ADMIN, [body])[0]["cidr"])
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies, cidrs


def run(db_url: str, n: int, threads: int, state: Path) -> dict[str, Any]:
    store = Store(db_url)
    Base.metadata.create_all(store.engines.write)
    settings = Settings(
        state_dir=state, db=db_url, token_key="bench-key", quota_network=-1, quota_subnet=-1
    )
    services = Services.build(settings, store)
    create = services.subnets.create_bulk
    sets = [_networks(services, n) for _ in range(4)]
    pools = [
        services.subnetpools.create_bulk(
            ADMIN, [{"name": "bench", "prefixes": [prefix], "default_prefixlen": 24}]
        )[0]["id"]
        for prefix in ("10.0.0.0/8", "172.16.0.0/12")
    ]
    out: dict[str, Any] = {
        "backend": "postgresql" if store.is_postgres else "sqlite",
        "n": n,
        "threads": threads,
    }
    phases = {
        "plain": [
            {"network_id": net, "ip_version": 4, "cidr": f"100.{64 + i // 256}.{i % 256}.0/24"}
            for i, net in enumerate(sets[0])
        ],
        "pool_prefixlen": [
            {"network_id": net, "ip_version": 4, "subnetpool_id": pools[0]} for net in sets[1]
        ],
        "pool_cidr": [
            {
                "network_id": net,
                "ip_version": 4,
                "subnetpool_id": pools[1],
                "cidr": f"172.{16 + i // 256}.{i % 256}.0/24",
            }
            for i, net in enumerate(sets[2])
        ],
    }
    for name, bodies in phases.items():
        start = time.perf_counter()
        latencies, _ = _timed(create, bodies)
        out[name] = _summary(latencies, time.perf_counter() - start)

    jobs = [{"network_id": net, "ip_version": 4, "subnetpool_id": pools[0]} for net in sets[3]]
    lock = threading.Lock()
    latencies: list[float] = []
    cidrs: list[str] = []

    def worker(mine: list[dict[str, Any]]) -> None:
        got = _timed(create, mine)
        with lock:
            latencies.extend(got[0])
            cidrs.extend(got[1])

    workers = [threading.Thread(target=worker, args=(jobs[i::threads],)) for i in range(threads)]
    start = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    out["concurrent"] = _summary(latencies, time.perf_counter() - start)
    assert len(cidrs) == n and len(set(cidrs)) == n, "every concurrent create, distinct cidrs"
    stored = [s["cidr"] for s in services.subnets.search(ADMIN, ListQuery())]
    from_pool = [c for c in stored if c.startswith("10.")]
    assert len(from_pool) == len(set(from_pool)) == 2 * n, "no overlap in the first pool"
    store.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL (a database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.pg:
            result = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.threads, Path(tmp))
        else:
            name = "neutrino_bench_" + uuid.uuid4().hex[:8]
            admin = create_engine(
                args.pg.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = args.pg.rsplit("/", 1)[0] + "/" + name
                result = run(url, args.n, args.threads, Path(tmp))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
