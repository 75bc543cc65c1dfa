#!/usr/bin/env python3
"""Web UI page timings: the networks list and the topology, rendered on the server with 200
networks and 2,000 ports (issue 12's "< 150 ms").

Method
------
A fresh SQLite database in a temporary folder, filled through the services (the same calls
the API makes): one external network with a /24, ``--networks`` tenant networks with a /24
each and ``--ports`` ports spread evenly over them (bound to one host, half reported ACTIVE),
and one router per 10 networks with an interface on each of them and its gateway on the
external network. Then the app with the UI (``create_app`` + ``neutrino.web.WebUI``) is
driven in-process by Starlette's ``TestClient`` with a logged-in admin session, so each figure
is the whole request: cookie check, the service queries, layout and template, the HTML out.

- ``networks_list``: ``GET /ui/networks`` (all networks with their subnets' CIDRs);
- ``topology_page``: ``GET /ui/topology`` (page 1: the external network and 40 others, their
  routers and ports, as SVG inside the page);
- ``topology_svg``: ``GET /ui/topology/svg?page=3`` (what the live script fetches);
- ``overview``: ``GET /ui`` (counts over everything, agents);
- ``agents_hosts``: ``GET /ui/agents`` (agents, and per host what it serves, read from every
  port's binding).

Each is requested ``--rounds`` times after two warm-ups; p50/p99/max/mean of the wall time in
ms, and the same of the process's CPU time (``cpu``: the client, the app and the database all
run in this process, so it is the request's cost without the waits that other load on the
machine adds).
Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    .venv/bin/python bench/web.py [--networks 200] [--ports 2000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from stats import summary  # bench/stats.py

from neutrino.api.app import create_app
from neutrino.common import heap
from neutrino.common.settings import Settings
from neutrino.service.container import Services
from neutrino.service.context import admin_context
from neutrino.store.uow import Store
from neutrino.web import WebUI

PASSWORD = "bench-admin-secret"
PAGES = {
    "networks_list": "/ui/networks",
    "topology_page": "/ui/topology",
    "topology_svg": "/ui/topology/svg?page=3",
    "overview": "/ui",
    "agents_hosts": "/ui/agents",
}


def populate(svc: Services, networks: int, ports: int) -> dict[str, int]:
    ctx = admin_context()
    project = {"project_id": "bench", "tenant_id": "bench"}
    svc.agents.report(
        ctx,
        {
            "host": "hv1",
            "agent_type": "L2 agent",
            "binary": "neutrino-agent",
            "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.1"},
        },
    )
    ext = svc.networks.create_bulk(ctx, [{"name": "public", "router:external": True, **project}])[0]
    svc.subnets.create_bulk(
        ctx,
        [
            {
                "network_id": ext["id"],
                "cidr": "203.0.113.0/24",
                "ip_version": 4,
                "enable_dhcp": False,
                **project,
            }
        ],
    )
    nets = svc.networks.create_bulk(
        ctx, [{"name": f"net-{i:03d}", **project} for i in range(networks)]
    )
    subnets = svc.subnets.create_bulk(
        ctx,
        [
            {
                "network_id": n["id"],
                "cidr": f"10.{i // 256}.{i % 256}.0/24",
                "ip_version": 4,
                "enable_dhcp": False,
                **project,
            }
            for i, n in enumerate(nets)
        ],
    )
    made = []
    per = ports // networks
    for i, n in enumerate(nets):
        made += svc.ports.create_bulk(
            ctx,
            [
                {
                    "network_id": n["id"],
                    "name": f"vm-{i:03d}-{j}",
                    "device_owner": "compute:nova",
                    "device_id": f"vm-{i:03d}-{j}",
                    "binding:host_id": "hv1",
                    **project,
                }
                for j in range(per)
            ],
        )
    for port in made[::2]:
        svc.hostsync.report_status(ctx, port["id"], {"status": "ACTIVE", "host": "hv1"})
    routers = 0
    for start in range(0, networks, 10):
        router = svc.routers.create_bulk(
            ctx,
            [
                {
                    "name": f"r-{start // 10:02d}",
                    "external_gateway_info": {"network_id": ext["id"]},
                    **project,
                }
            ],
        )[0]
        for subnet in subnets[start : start + 10]:
            svc.routers.add_interface(ctx, router["id"], {"subnet_id": subnet["id"]})
        routers += 1
    return {"networks": networks + 1, "ports": len(made), "routers": routers}


def login(client: TestClient) -> None:
    html = client.get("/ui/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    r = client.post(
        "/ui/login",
        data={
            "csrf_token": token.group(1),
            "username": "admin",
            "password": PASSWORD,
            "domain": "Default",
            "project": "admin",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--ports", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="neutrino-bench-web-") as tmp:
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
        started = time.perf_counter()
        app = create_app(settings, store, extensions=[WebUI()])
        heap.settle()  # as `neutrino serve` does once the app is built
        with TestClient(app) as client:
            svc: Services = client.app.state.services  # type: ignore[attr-defined]
            svc.identity.bootstrap(PASSWORD)
            made = populate(svc, args.networks, args.ports)
            print(f"populated {made} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            login(client)
            figures: dict[str, Any] = {}
            for name, path in PAGES.items():
                for _ in range(2):
                    assert client.get(path).status_code == 200, path
                times, cpu = [], []
                size = 0
                for _ in range(args.rounds):
                    t0, c0 = time.perf_counter(), time.process_time()
                    r = client.get(path)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                    assert r.status_code == 200, path
                    size = len(r.content)
                figures[name] = {"path": path, "bytes": size, **summary(times), "cpu": summary(cpu)}
                print(
                    f"{name:14} {path:28} p50 {figures[name]['p50_ms']:6.1f} ms  "
                    f"p99 {figures[name]['p99_ms']:6.1f} ms  "
                    f"cpu p50 {figures[name]['cpu']['p50_ms']:6.1f} ms  {size // 1024} KiB",
                    file=sys.stderr,
                )
        store.dispose()
    result = {
        "bench": "web",
        "data": made,
        "rounds": args.rounds,
        "loadavg_after": list(os.getloadavg()),
        "figures": figures,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
