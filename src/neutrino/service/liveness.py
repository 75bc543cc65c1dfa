"""The liveness sweep: what the controller does when an agent stops reporting.

Run every ``interval`` seconds by each API process (idempotent: two replicas sweeping at once
do the same writes, the second finds nothing left to do). On PostgreSQL a sweep holds a key
lock (``store.locks.key``) so replicas sweep one after the other, and the ports it sets DOWN
are row-locked as they are read (a status report racing with it is not lost: whichever
commits second builds on the first's revision). An agent is dead when its last
heartbeat is older than ``AGENT_DOWN_TIME`` (75 s); an agent an admin set down is not dead.

* Dead L2 agent: its host's ACTIVE ports turn DOWN (revision bump, change recorded, so
  managers watching the port see it). Nothing is unbound: the binding names where the VM
  runs. When the agent comes back it reports its wired ports ACTIVE again: its next
  heartbeat answers ``resync_statuses`` (the previous one is older than the down time), and
  an agent whose heartbeats failed re-reports too.
* Dead DHCP agent: each network it served moves to a live DHCP agent when one is free — the
  old ``network:dhcp`` port is deleted and ``DhcpScheduler.sync_network`` creates one on the
  least-loaded live host (its address changes: clients renew against the new server; the
  downtime is the detection delay, 75 s, plus one sweep interval and the new agent's round).
  With no live candidate the port stays where it is, so a returning agent resumes at once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from neutrino.common import clock
from neutrino.service import binding
from neutrino.service.dhcp import DHCP_OWNER, DhcpScheduler
from neutrino.store import liveness as repo
from neutrino.store import locks
from neutrino.store.changes import Op, Resource
from neutrino.store.dhcp import DHCP_AGENT
from neutrino.store.hostsync import L2_AGENT
from neutrino.store.uow import Store, Tx

__all__ = ["LivenessSweeper", "SweepResult"]
SWEEP_KEY = "liveness-sweep"

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    ports_down: list[str] = field(default_factory=list)
    dhcp_moved: list[str] = field(default_factory=list)  # network ids


@dataclass
class LivenessSweeper:
    store: Store
    dhcp: DhcpScheduler

    def sweep(self) -> SweepResult:
        return self.store.write(self._sweep)

    def _sweep(self, tx: Tx) -> SweepResult:
        result = SweepResult()
        locks.key(tx.conn, SWEEP_KEY)  # one sweep at a time across processes
        now = clock.now()
        deadline = now - binding.AGENT_DOWN_TIME
        # DHCP first: it locks networks, then their ports (the lock order of store.locks)
        dead_dhcp = set(repo.stale_hosts(tx.conn, DHCP_AGENT, deadline))
        if dead_dhcp and self.dhcp.live_hosts(tx):
            networks = sorted(
                {n for _p, n in repo.dhcp_ports_on(tx.conn, DHCP_OWNER, sorted(dead_dhcp))}
            )
            for network_id in networks:
                if self.dhcp.reschedule(tx, network_id, dead_dhcp):
                    result.dhcp_moved.append(network_id)
        for port_id, _project, _network_id, _revision in repo.active_ports_on(
            tx.conn, repo.stale_hosts(tx.conn, L2_AGENT, deadline)
        ):
            tx.updated(Resource.PORT, port_id, {"status": "DOWN"}, Op.STATUS)
            result.ports_down.append(port_id)
        return result

    def run(self, stop: threading.Event, interval: float = 15.0) -> None:
        """Sweep every ``interval`` seconds until ``stop``; errors are logged, not fatal."""
        while not stop.wait(interval):
            try:
                result = self.sweep()
            except Exception:
                log.exception("liveness sweep failed")
                continue
            if result.ports_down:
                log.info("agents down: %d ports set DOWN", len(result.ports_down))
            if result.dhcp_moved:
                log.info("DHCP moved off dead agents for networks %s", ", ".join(result.dhcp_moved))
