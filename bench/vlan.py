#!/usr/bin/env python3
"""VLAN wiring's cost in the agent, where it can be measured on a kernel without 8021q
(issue 15): calc and the L2 manager on the fake kernel for one trunk with N sub-ports (each
on a network of its own) beside N VLAN provider networks, and the store's extra query per
host state (the sub-ports' parents and tags among a host's ports).

Figures (median of ``--rounds`` runs, milliseconds):

- ``calc_ms``: ``compute_l2`` of the host state (trunk + VLAN networks);
- ``first_apply_ms`` / ``writes_first``: the manager wiring it all on an empty fake kernel;
- ``reapply_ms`` / ``writes_reapply``: the same state again (a resync: 0 writes expected);
- ``subport_tags_ms``: ``store.hostsync.subport_tags`` over ``--ports`` port ids on SQLite
  with N sub-ports among them (one indexed query).

The fake kernel's times are the Python of calc and the manager, not the kernel's: netlink
costs come on top on a real host. Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import FakeKernel, L2Manager
from neutrino.agent.model import AgentConfig
from neutrino.domain.hoststate import FixedIp, HostState, NetworkState, PortState, tap_name

CONFIG = AgentConfig("198.51.100.1", "eth1", physical_interfaces={"physnet1": "eth2"}, vlan=True)


def host_state(n: int) -> HostState:
    parent_net = str(uuid.uuid4())
    nets = [NetworkState(parent_net, "vxlan", 5000, None, 1450)]
    parent = str(uuid.uuid4())
    ports = [PortState(parent, parent_net, "fa:16:3e:00:00:01", (), True)]
    for i in range(n):
        net = str(uuid.uuid4())
        nets.append(NetworkState(net, "vlan", 100 + i, "physnet1", 1450))
        ports.append(
            PortState(
                str(uuid.uuid4()),
                net,
                "fa:16:3e:00:00:02",
                (FixedIp("s", "192.0.2.10"),),
                True,
                trunk_parent=parent,
                vlan_id=100 + i,
            )
        )
    return HostState("hv1", 1, networks=tuple(nets), ports=tuple(ports))


def timed(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 3)


def wiring(n: int, rounds: int) -> dict[str, float]:
    state = host_state(n)
    parent_tap = tap_name(state.ports[0].id)
    desired = compute_l2(state, CONFIG)
    firsts, writes_first = [], 0
    for _ in range(rounds):
        kernel = FakeKernel()
        for dev in ("eth1", "eth2", parent_tap):
            kernel.add_device(dev)
        start = time.perf_counter()
        L2Manager(kernel).apply(desired)
        firsts.append((time.perf_counter() - start) * 1000)
        writes_first = kernel.writes
    manager = L2Manager(kernel)
    before = kernel.writes
    reapply = timed(lambda: manager.apply(desired), rounds)
    return {
        "calc_ms": timed(lambda: compute_l2(state, CONFIG), rounds),
        "first_apply_ms": round(statistics.median(firsts), 3),
        "writes_first": writes_first,
        "reapply_ms": reapply,
        "writes_reapply": kernel.writes - before,
    }


def tag_query(ports: int, subports: int, rounds: int) -> float:
    import sqlite3

    from neutrino.store import hostsync
    from neutrino.store.engine import Engines
    from neutrino.store.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        upgrade(f"sqlite:///{path}")
        ids = [str(uuid.uuid4()) for _ in range(ports)]
        with sqlite3.connect(path) as raw:  # foreign keys off: the rows alone are measured
            raw.executemany(
                "INSERT INTO trunk_subports (port_id, trunk_id, segmentation_type, "
                "segmentation_id, position) VALUES (?, 't', 'vlan', ?, ?)",
                [(pid, i + 1, i) for i, pid in enumerate(ids[:subports])],
            )
        engines = Engines(f"sqlite:///{path}")
        try:
            with engines.read.connect() as conn:
                return timed(lambda: hostsync.subport_tags(conn, ids), rounds)
        finally:
            engines.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subports", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--ports", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    out: dict[str, object] = {str(n): wiring(n, args.rounds) for n in args.subports}
    out["subport_tags_ms"] = tag_query(args.ports, max(args.subports), args.rounds)
    out["ports"] = args.ports
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
