#!/usr/bin/env python3
"""CPU per write through the service layer: what the write ritual costs (issue 14).

Every write records its change through ``Tx.created``/``updated``/``deleted`` (one
``UPDATE ... RETURNING`` for an update); this measures the service calls that go through it,
in-process on SQLite with one thread (no HTTP, no token), so the figure is the write path's
own CPU: port create, port update (a name), tag add (a child change: the port's revision
moves) and network update (a name), each ``--count`` times, median and p99 of the process's
CPU milliseconds per call.

Compare two trees back to back on the same box (``PYTHONPATH=<tree>/src``): on a shared
machine wall-clock and even CPU figures move by ±30% from run to run, so alternate the trees
and compare medians of several runs.

Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import stats

from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.service.context import admin_context
from neutrino.store.models import Base
from neutrino.store.uow import Store


def cpu_per_call(fn: Callable[[Any], object], args: Iterable[Any]) -> dict[str, float]:
    times = []
    for arg in args:
        started = time.process_time()
        fn(arg)
        times.append(time.process_time() - started)
    return stats.summary(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="neutrino-writes-"))
    settings = Settings(
        state_dir=tmp / "state", db=f"sqlite:///{tmp / 'db.sqlite'}", token_key="bench"
    )
    store = Store(settings.db_url)
    Base.metadata.create_all(store.engines.write)
    svc = Services.build(settings, store)
    ctx = admin_context()
    net = svc.networks.create_bulk(ctx, [{"name": "bench"}])[0]
    subnet = {"network_id": net["id"], "cidr": "10.0.0.0/16", "ip_version": 4}
    svc.subnets.create_bulk(ctx, [subnet])
    ports: list[dict[str, Any]] = []

    def create(i: int) -> None:
        ports.extend(svc.ports.create_bulk(ctx, [{"network_id": net["id"], "name": f"p{i}"}]))

    out = {
        "count": args.count,
        "port_create": cpu_per_call(create, range(args.count)),
        "port_update": cpu_per_call(lambda p: svc.ports.update(ctx, p["id"], {"name": "x"}), ports),
        "tag_add": cpu_per_call(lambda p: svc.tags.add(ctx, "ports", p, "t"), ports),
        "network_update": cpu_per_call(
            lambda i: svc.networks.update(ctx, net["id"], {"name": f"n{i}"}), range(args.count)
        ),
    }
    store.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
