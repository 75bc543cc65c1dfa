#!/usr/bin/env python3
"""Port create on a network whose subnets have service types, next to one whose subnets
have none (``subnet-service-types``, issue 11).

Method
------
A fresh SQLite database in a temporary directory, the service layer built as the server
builds it (no HTTP), quotas off. Untimed setup: two networks with two IPv4 /20 subnets each;
on the ``typed`` network the subnets have service types (``compute:nova`` and
``network:floatingip``), on the ``plain`` one none. Timed, alternating between the two
networks (and which goes first) so load drifts hit both alike: ``--n`` port creates on
each (``device_owner`` ``compute:nova``: on the typed network only its first subnet serves
them). Since this
change every port create reads the network's service types (one more indexed query), typed
or not; the ``plain`` figure is what every other network pays.

Then the added read alone (``--n`` times per network, one open connection).

Output: one JSON object with p50/p99 per network, the ratio typed/plain of the p50s, and
the added read's p50/p99.

    PYTHONPATH=src python bench/service_types.py --n 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store import subnet_service_types as type_repo
from neutrino.store.models import Base
from neutrino.store.uow import Store

ADMIN = RequestContext(
    user_id="bench", project_id="admin", roles=frozenset({"admin", "member", "reader"})
)


def _summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        db_url = f"sqlite:///{Path(state) / 'bench.db'}"
        store = Store(db_url)
        Base.metadata.create_all(store.engines.write)
        settings = Settings(
            state_dir=state, db=db_url, token_key="bench-key", quota_port=-1, quota_subnet=-1
        )
        services = Services.build(settings, store)
        nets = {}
        for name, types in (
            ("plain", ([], [])),
            ("typed", (["compute:nova"], ["network:floatingip"])),
        ):
            net = services.networks.create(ADMIN, {"name": name})["id"]
            for i, service_types in enumerate(types):
                services.subnets.create(
                    ADMIN,
                    {
                        "network_id": net,
                        "ip_version": 4,
                        "cidr": f"10.{len(nets)}.{16 * i}.0/20",
                        "service_types": service_types,
                        "enable_dhcp": False,
                    },
                )
            nets[name] = net
        timings: dict[str, list[float]] = {name: [] for name in nets}
        for i in range(args.n):
            order = list(nets.items()) if i % 2 else list(reversed(nets.items()))
            for name, net in order:
                start = time.perf_counter()
                services.ports.create(ADMIN, {"network_id": net, "device_owner": "compute:nova"})
                timings[name].append((time.perf_counter() - start) * 1000)
        out: dict[str, Any] = {name: _summary(values) for name, values in timings.items()}
        # the read this change adds to every port create, on its own
        reads: list[float] = []
        with store.read() as conn:
            for _ in range(args.n):
                for net in nets.values():
                    start = time.perf_counter()
                    type_repo.on_network(conn, net)
                    reads.append((time.perf_counter() - start) * 1000)
        out["service_types_read"] = _summary(reads)
        out["typed_over_plain_p50"] = round(out["typed"]["p50_ms"] / out["plain"]["p50_ms"], 3)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
