#!/usr/bin/env python3
"""What ``dns_assignment`` costs the hottest read: the whole port list (oVirt lists every port
on every vNIC allocation).

Method
------
A fresh SQLite database gets, by direct inserts (setup, untimed), one network with an IPv4
subnet and ``--n`` ports of one address each, half of them named (``dns_name``). Then the
median of ``--rounds`` renders of all ``--n`` ports (admin view, no cache), by:

* ``sql_before``: SQLite's JSON renderer (``store.port_json``) without the two DNS keys (the
  document before dns-integration);
* ``sql_default``: the renderer with ``dns_domain`` and ``dns_assignment`` under the default
  domain (every port ``host-<address>``);
* ``sql_names``: the same under ``example.org.`` (names in use: a ``CASE`` per address);
* ``python_names``: the Python renderer (``PortService._render``, PostgreSQL's path) under
  ``example.org.``.

Output: one JSON object on stdout (seconds, and ratios to ``sql_before``).

    PYTHONPATH=src python bench/dns.py --n 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neutrino.common.settings import Settings
from neutrino.domain.dns import DnsConfig
from neutrino.service.container import Services
from neutrino.service.context import RequestContext
from neutrino.store import port_json, raw
from neutrino.store import ports as port_repo
from neutrino.store.models import Base
from neutrino.store.uow import Store

PROJECT = "p" * 32


def populate(store: Store, n: int) -> list[str]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    net, sub = str(uuid.uuid4()), str(uuid.uuid4())
    ids = []
    with store.engines.write.begin() as conn:
        raw.run(
            conn,
            "INSERT INTO networks (id, project_id, name, description, created_at, updated_at, "
            "revision_number, admin_state_up, status, shared, mtu, port_security_enabled, "
            "router_external, is_default) VALUES (?, ?, 'n', '', ?, ?, 1, 1, 'ACTIVE', 0, "
            "1450, 1, 0, 0)",
            (net, PROJECT, now, now),
        )
        raw.run(
            conn,
            "INSERT INTO subnets (id, project_id, name, description, created_at, updated_at, "
            "revision_number, network_id, ip_version, cidr, gateway_ip, enable_dhcp) VALUES "
            "(?, ?, 's', '', ?, ?, 1, ?, 4, '10.0.0.0/8', '10.0.0.1', 1)",
            (sub, PROJECT, now, now, net),
        )
        for i in range(n):
            pid = str(uuid.uuid4())
            ids.append(pid)
            port_repo.insert_row(
                conn,
                {
                    "id": pid,
                    "project_id": PROJECT,
                    "name": f"vm{i}",
                    "description": "",
                    "created_at": now,
                    "updated_at": now,
                    "revision_number": 1,
                    "network_id": net,
                    "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    "admin_state_up": True,
                    "status": "ACTIVE",
                    "device_id": f"vm{i}",
                    "device_owner": "compute:nova",
                    "port_security_enabled": True,
                    "binding_host_id": "hv1",
                    "binding_vnic_type": "normal",
                    "binding_vif_type": "bridge",
                    "binding_vif_details": "{}",
                    "binding_profile": "{}",
                    "dns_name": f"vm-{i}" if i % 2 else "",
                },
            )
            raw.run(
                conn,
                "INSERT INTO ip_allocations (port_id, ip_address, subnet_id, network_id, "
                "position, ip_key) VALUES (?, ?, ?, ?, 0, ?)",
                (pid, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", sub, net, f"{i:032x}"),
            )
    return ids


def median(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store(url)
        Base.metadata.create_all(store.engines.write)
        ids = populate(store, args.n)
        named = DnsConfig.parse("example.org.")
        default = DnsConfig()
        before = port_json.view(True, default).replace(
            ", 'dns_domain', ports.dns_domain, 'dns_assignment', json("
            + port_json._dns_assignment(default)
            + ")",
            "",
        )
        assert "dns_assignment" not in before

        def render(expression: str) -> Callable[[], Any]:
            def run() -> None:
                with store.read() as conn:
                    for start in range(0, len(ids), 500):
                        chunk = ids[start : start + 500]
                        marks = ", ".join("?" * len(chunk))
                        raw.rows(
                            conn,
                            f"SELECT ports.id, {expression} FROM ports WHERE ports.id IN ({marks})",
                            chunk,
                        )

            return run

        services = Services.build(
            Settings(state_dir=Path(tmp), db=url, token_key="k", dns_domain="example.org."),
            store,
        )
        admin = RequestContext(user_id="u", project_id=PROJECT, roles=frozenset({"admin"}))

        def python() -> None:
            with store.read() as conn:
                services.ports._render_ids(conn, admin, ids)

        out: dict[str, Any] = {"n": args.n, "rounds": args.rounds}
        out["sql_before"] = median(render(before), args.rounds)
        out["sql_default"] = median(render(port_json.view(True, default)), args.rounds)
        out["sql_names"] = median(render(port_json.view(True, named)), args.rounds)
        out["python_names"] = median(python, args.rounds)
        for key in ("sql_default", "sql_names", "python_names"):
            out[f"{key}/sql_before"] = round(out[key] / out["sql_before"], 2)
        store.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
