#!/usr/bin/env python3
"""RBAC-filtered network lists next to the plain ones (issue 11: RBAC must not make lists
slow; target: the RBAC-filtered list of 10,000 networks in less than 2x the plain list).

Method
------
A fresh database (SQLite in a temporary directory, or a new PostgreSQL database on the
server of ``--pg URL``) gets, by direct inserts (setup, untimed): ``--n`` networks of project
A, each shared to project B by a policy naming B (``access_as_shared``), and ``--n`` private
networks of project C (rows the filters must skip). Then, through the network service (the
query, the per-row rendering and the ``shared`` flag as each caller sees it; no HTTP), the
median of ``--rounds`` full lists of:

* ``owner``: A lists its own ``--n`` networks (the plain list: ownership alone decides);
* ``rbac``: B lists the same ``--n`` networks, each visible through its policy only (the
  visibility ``EXISTS`` on every row);
* ``wildcard``: after the same networks were shared to all (``shared`` column), B lists them;
* ``admin``: the admin lists all ``2 --n`` networks (no visibility clause).

Output: one JSON object on stdout; ``rbac / owner`` is the figure the target is about.

    PYTHONPATH=src python bench/rbac.py --n 10000 [--pg postgresql://...]
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

from sqlalchemy import create_engine, insert, text, update

from neutrino.common.settings import Settings
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store.models import Base, Network
from neutrino.store.models_rbac import RbacPolicy
from neutrino.store.uow import Store


def _rows(project: str, n: int, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "project_id": project,
            "name": f"n{i}",
            "description": "",
            "created_at": now,
            "updated_at": now,
            "revision_number": 1,
            "admin_state_up": True,
            "status": "ACTIVE",
            "shared": False,
            "mtu": 1450,
            "port_security_enabled": True,
            "router_external": False,
            "is_default": False,
            "network_type": "vxlan",
            "physical_network": None,
            "segmentation_id": None,
        }
        for i in range(n)
    ]


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
    settings = Settings(state_dir=state, db=db_url, token_key="bench-key")
    services = Services.build(settings, store)
    a, b, c = (uuid.uuid4().hex for _ in range(3))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    mine, others = _rows(a, n, now), _rows(c, n, now)
    with store.engines.write.begin() as conn:
        conn.execute(insert(Network.__table__), mine + others)
        conn.execute(
            insert(RbacPolicy.__table__),
            [
                {
                    "id": str(uuid.uuid4()),
                    "project_id": a,
                    "object_type": "network",
                    "object_id": row["id"],
                    "action": "access_as_shared",
                    "target_project": b,
                }
                for row in mine
            ],
        )
    if store.is_postgres:
        with store.engines.write.begin() as conn:
            conn.execute(text("ANALYZE"))

    def lister(project: str, roles: set[str]) -> Any:
        ctx = RequestContext(user_id="bench", project_id=project, roles=frozenset(roles))
        return lambda: services.networks.search(ctx, ListQuery())

    out: dict[str, Any] = {
        "backend": "postgresql" if store.is_postgres else "sqlite",
        "n": n,
        "rounds": rounds,
    }
    for name, project, roles in (
        ("owner", a, {"member", "reader"}),
        ("rbac", b, {"member", "reader"}),
        ("admin", "admin", {"admin", "member", "reader"}),
    ):
        ms, count = _time(lister(project, roles), rounds)
        out[f"{name}_ms"], out[f"{name}_count"] = round(ms, 1), count
    shown = lister(b, {"member"})()
    assert all(item["shared"] for item in shown), "shared to B by name: shown shared to B"
    with store.engines.write.begin() as conn:
        conn.execute(
            update(Network.__table__).where(Network.__table__.c.project_id == a).values(shared=True)
        )
    ms, count = _time(lister(b, {"member", "reader"}), rounds)
    out["wildcard_ms"], out["wildcard_count"] = round(ms, 1), count
    out["rbac_over_owner"] = round(out["rbac_ms"] / out["owner_ms"], 2)
    store.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL (a database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.pg:
            result = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.rounds, Path(tmp))
        else:
            name = "neutrino_bench_" + uuid.uuid4().hex[:8]
            admin = create_engine(
                args.pg.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                result = run(args.pg.rsplit("/", 1)[0] + "/" + name, args.n, args.rounds, Path(tmp))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
