#!/usr/bin/env python3
"""Controller cost of one port change as a host grows (issue 14): 100, 1,000, 5,000 ports.

Controller only, in this process, on SQLite, with a simulated agent (no kernel): the host
``hv1`` (L2 agent, VXLAN) gets ``N`` bound ports on one network with a /16 subnet, each in
the project's default security group (whose rules name the group itself as remote, so
membership is part of the host's state), and ``hv2`` one port on the same network. The
simulated agent takes a snapshot and then, ``--changes`` times: one more port is created and
bound to hv1 (``write``: the API call's service, in a transaction), and the agent's pending
watch (``HostSyncService.watch(since=R, delta=True)``) is answered with the delta (``watch``:
reading the new changes, recomputing the host, the digest and the delta against the state
served at R). Each figure is the process CPU time (``time.process_time``, every thread)
spent in that step, and the wall time from the write's start to the delta in hand
(``change_to_delta``). Kernel wiring is not part of it: on 2 shared cores a 5,000-tap host
takes minutes to build.

Output: one JSON object on stdout, a table on stderr.

    PYTHONPATH=src python bench/hostscale.py [--sizes 100,1000,5000] [--changes 15]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stats import summary  # bench/stats.py

from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.service.context import admin_context
from neutrino.store.uow import Store

PROJECT = {"project_id": "bench", "tenant_id": "bench"}
TUNNELS = {"hv1": "198.51.100.1", "hv2": "198.51.100.2"}
LOOP = asyncio.new_event_loop()


def register(svc: Services, host: str, tunnel_ip: str) -> None:
    config = {"tunnel_types": ["vxlan"], "tunnel_ip": tunnel_ip}
    body = {"host": host, "agent_type": "L2 agent", "binary": "neutrino-agent"}
    svc.agents.report(admin_context(), {**body, "configurations": config})


def bind(svc: Services, network_id: str, host: str, n: int, first: int) -> None:
    register(svc, host, TUNNELS[host])  # the heartbeat: a port binds only to a live agent
    ports = [
        {
            "network_id": network_id,
            "device_owner": "compute:bench",
            "device_id": f"vm-{first + i}",
            "binding:host_id": host,
            **PROJECT,
        }
        for i in range(n)
    ]
    for start in range(0, n, 500):
        svc.ports.create_bulk(admin_context(), ports[start : start + 500])


def cpu_and_wall(call: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    if inspect.isawaitable(result):  # the watch is a coroutine since issue 14
        result = LOOP.run_until_complete(result)  # one loop: asyncio.run adds its own set-up
    return result, time.process_time() - cpu, time.perf_counter() - wall


def run(sizes: list[int], changes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ctx = admin_context()
    with tempfile.TemporaryDirectory(prefix="bench-hostscale-") as tmp:
        settings = Settings(
            state_dir=Path(tmp),
            db=f"sqlite:///{tmp}/neutrino.db",
            token_key="bench-key",
            agent_sweep_interval=0,
            quota_network=-1,
            quota_subnet=-1,
            quota_port=-1,
        )
        store = Store(settings.db_url)
        store.create_all()
        svc = Services.build(settings, store)
        for host, tunnel in TUNNELS.items():
            register(svc, host, tunnel)
        net = svc.networks.create_bulk(ctx, [{"name": "scale", **PROJECT}])[0]
        cidr = {"cidr": "10.0.0.0/16", "ip_version": 4, "enable_dhcp": False}
        svc.subnets.create_bulk(ctx, [{"network_id": net["id"], **cidr, **PROJECT}])
        bind(svc, net["id"], "hv2", 1, 0)
        bound = 0
        for size in sizes:
            bind(svc, net["id"], "hv1", size - bound, bound + 1)
            bound = size
            first, _, _ = cpu_and_wall(lambda: svc.hostsync.watch(ctx, "hv1", None, 0))
            assert first.state is not None and len(first.state.ports) == size
            since = first.revision
            writes, watches, walls = [], [], []
            for _ in range(changes):
                _, write_cpu, write_wall = cpu_and_wall(lambda: bind(svc, net["id"], "hv1", 1, 0))
                result, watch_cpu, watch_wall = cpu_and_wall(
                    lambda: svc.hostsync.watch(ctx, "hv1", since, 5, delta=True)  # noqa: B023
                )
                assert result.state is not None and result.delta is not None
                since = result.revision
                writes.append(write_cpu)
                watches.append(watch_cpu)
                walls.append(write_wall + watch_wall)
            bound += changes
            out[str(size)] = {
                "write_cpu": summary(writes),
                "watch_cpu": summary(watches),
                "change_to_delta": summary(walls),
            }
        store.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--changes", type=int, default=15)
    args = ap.parse_args()
    result = run([int(s) for s in args.sizes.split(",")], args.changes)
    print(json.dumps(result))
    print("ports/host  write CPU p50  watch CPU p50  change->delta p50 (ms)", file=sys.stderr)
    for size, figures in result.items():
        print(
            f"{size:>10}  {figures['write_cpu']['p50_ms']:>13}  "
            f"{figures['watch_cpu']['p50_ms']:>13}  {figures['change_to_delta']['p50_ms']:>17}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
