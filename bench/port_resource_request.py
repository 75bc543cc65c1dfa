#!/usr/bin/env python3
"""What the ports' ``resource_request`` (port-resource-request) costs an admin's port list.

Method
------
A fresh SQLite database gets, by direct inserts (setup, untimed), one VXLAN network with a
QoS policy and ``--n`` ports on it. Then, through the port service's JSON list (what
``GET /v2.0/ports`` without ``fields`` serves; no HTTP), the median of ``--rounds`` full
lists of:

* ``member``: the network owner's project lists them (no ``resource_request``: admin only);
* ``admin_none``: the admin lists them while no minimum rule exists anywhere (one extra query,
  every port's request ``null``);
* ``admin_min``: the admin lists them after a minimum-bandwidth rule was added to the
  network's policy (every port gets a request group: the ports' policies, the networks and the
  rules are read, and a group built per port).

Output: one JSON object on stdout, with ``admin_min / admin_none``.

    PYTHONPATH=src python bench/port_resource_request.py --n 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from neutrino.common.settings import Settings
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store.models import Base, Network, Port
from neutrino.store.models_qos import QosMinimumBandwidthRule, QosPolicy
from neutrino.store.uow import Store


def _time(fn: Any, rounds: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        count = len(fn())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), count


def run(db_url: str, n: int, rounds: int, state: Path) -> dict[str, Any]:
    store = Store(db_url)
    Base.metadata.create_all(store.engines.write)
    services = Services.build(Settings(state_dir=state, db=db_url, token_key="k"), store)
    project, net_id, policy_id = uuid.uuid4().hex, str(uuid.uuid4()), str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    std = {"created_at": now, "updated_at": now, "revision_number": 1, "description": ""}
    with store.engines.write.begin() as conn:
        conn.execute(
            insert(QosPolicy.__table__),
            [{"id": policy_id, "project_id": project, "name": "p", **std}],
        )
        conn.execute(
            insert(Network.__table__),
            [
                {
                    "id": net_id,
                    "project_id": project,
                    "name": "n",
                    "admin_state_up": True,
                    "status": "ACTIVE",
                    "shared": False,
                    "mtu": 1450,
                    "port_security_enabled": True,
                    "router_external": False,
                    "is_default": False,
                    "network_type": "vxlan",
                    "segmentation_id": 1001,
                    "qos_policy_id": policy_id,
                    **std,
                }
            ],
        )
        conn.execute(
            insert(Port.__table__),
            [
                {
                    "id": str(uuid.uuid4()),
                    "project_id": project,
                    "name": f"p{i}",
                    "network_id": net_id,
                    "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    **std,
                }
                for i in range(n)
            ],
        )

    def lister(who: str, roles: set[str]) -> Any:
        ctx = RequestContext(user_id="bench", project_id=who, roles=frozenset(roles))
        return lambda: services.ports.search_json(ctx, ListQuery())

    admin = lister("admin", {"admin", "member", "reader"})
    out: dict[str, Any] = {"backend": "sqlite", "n": n, "rounds": rounds}
    admin()  # fill the view cache: every figure below reads cached port texts
    for name, fn in (("member", lister(project, {"member", "reader"})), ("admin_none", admin)):
        ms, count = _time(fn, rounds)
        out[f"{name}_ms"], out[f"{name}_count"] = round(ms, 1), count
    with store.engines.write.begin() as conn:
        conn.execute(
            insert(QosMinimumBandwidthRule.__table__),
            [
                {
                    "id": str(uuid.uuid4()),
                    "qos_policy_id": policy_id,
                    "min_kbps": 1000,
                    "direction": "egress",
                }
            ],
        )
    (sample,) = [json.loads(t) for _, t in admin()[:1]]
    assert sample["resource_request"]["request_groups"], "every port asks for the minimum"
    ms, count = _time(admin, rounds)
    out["admin_min_ms"], out["admin_min_count"] = round(ms, 1), count
    out["admin_min_over_none"] = round(out["admin_min_ms"] / out["admin_none_ms"], 2)
    store.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        json.dump(run(url, args.n, args.rounds, Path(tmp)), sys.stdout)
    print()


if __name__ == "__main__":
    main()
