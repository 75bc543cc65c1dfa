#!/usr/bin/env python3
"""Trace figures through the service, on a real store: the model kept per change-log revision
against the model built per request (issue 16: a trace answers in < 100 ms at 1,000 ports).

Method
------
A fresh SQLite database in a temporary folder, filled through the services as the API does
(``bench/web.py``'s ``populate``: ``--networks`` tenant networks with a /24 each, ``--ports``
ports spread over them, bound to hv1 in the project's default group, one router per 10
networks with a gateway on an external network). Then, side by side in one run, each
``--rounds`` times (wall time, ``time.perf_counter``):

* ``cached``: ``TraceService.trace`` with no change since the last one: one change-log
  revision read, then the walk from the kept model;
* ``after_change``: the same trace right after a port is renamed (an invalidating change):
  the model is rebuilt from every collection's list render, then walked;
* ``build``: ``TraceService.load`` alone (what every trace cost before the cache);
* ``after_ignored``: the trace right after a quota change (a kind the model ignores): the
  log's changes since the kept revision are read and the model relabelled.

The traces are between two ports of one network (admitted by the default group's remote-group
rule) and across the router. Output: JSON on stdout, a summary on stderr.

    .venv/bin/python bench/trace_service.py [--networks 10] [--ports 1000] [--rounds 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stats import summary  # bench/stats.py

from neutrino.common.settings import Settings
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import admin_context
from neutrino.store.uow import Store
from web import PASSWORD, populate  # bench/web.py


def timed(
    fn: Callable[[], object], rounds: int, before: Callable[[], object] | None = None
) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return summary(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--networks", type=int, default=10)
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="neutrino-bench-trace-") as tmp:
        settings = Settings(
            state_dir=Path(tmp),
            db=f"sqlite:///{tmp}/neutrino.db",
            listen="127.0.0.1:9696",
            token_key="bench-key",
            admin_password=PASSWORD,
            agent_sweep_interval=0,
            quota_network=-1,
            quota_subnet=-1,
            quota_port=-1,
            quota_router=-1,
        )
        store = Store(settings.db_url)
        store.create_all()
        svc = Services.build(settings, store)
        svc.identity.bootstrap(PASSWORD)
        started = time.perf_counter()
        l3 = {"host": "hv1", "agent_type": "L3 agent", "binary": "neutrino-l3-agent"}
        svc.agents.report(admin_context(), {**l3, "configurations": {"agent_mode": "legacy"}})
        made = populate(svc, args.networks, args.ports)
        print(f"populated {made} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        ctx = admin_context()
        ports = svc.ports.search(ctx, ListQuery())
        vms = [p for p in ports if p["device_owner"] == "compute:nova"]
        by_net: dict[str, list[dict[str, Any]]] = {}
        for p in vms:
            by_net.setdefault(p["network_id"], []).append(p)
        nets = list(by_net.values())
        a, b, c = nets[0][0], nets[0][1], nets[1][0]

        def question(dst: dict[str, Any]) -> dict[str, Any]:
            ip = dst["fixed_ips"][0]["ip_address"]
            return {"trace": {"source": {"port_id": a["id"]}, "destination": ip}}

        same, routed = question(b), question(c)
        for q, want in ((same, "delivered"), (routed, "delivered")):
            got = svc.trace.trace(ctx, q)
            assert got["verdict"] == want, got["hops"][-1]
        counter = iter(range(10**9))

        def rename() -> None:
            svc.ports.update(ctx, b["id"], {"name": f"renamed-{next(counter)}"})

        def quota() -> None:
            svc.quotas.update(ctx, "bench", {"network": 100 + next(counter)})

        result: dict[str, Any] = {"ports": made["ports"], "networks": made["networks"]}
        result["cached_same_net"] = timed(lambda: svc.trace.trace(ctx, same), args.rounds)
        result["cached_routed"] = timed(lambda: svc.trace.trace(ctx, routed), args.rounds)
        rounds = max(5, args.rounds // 5)
        result["after_change_routed"] = timed(lambda: svc.trace.trace(ctx, routed), rounds, rename)
        result["build"] = timed(svc.trace.load, rounds)
        result["after_ignored_routed"] = timed(lambda: svc.trace.trace(ctx, routed), rounds, quota)
        result["model_builds"] = svc.trace.models.builds
        result["loadavg"] = os.getloadavg()
    json.dump(result, sys.stdout, indent=2)
    print(file=sys.stdout)
    print(
        " ".join(f"{k}={v['p50_ms']}ms" for k, v in result.items() if isinstance(v, dict)),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
