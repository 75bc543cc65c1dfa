"""The apply loop: the one place that changes this host's kernel, and reports what it did.

What it owns: the dirty flag, the resync and heartbeat timers and the port statuses last
reported; each role owns its own state. One thread runs ``run``; the watcher
only sets the dirty flag (``mark_dirty``), so kernel writes never race each other.

A round (``apply_once``): take the watcher's latest ``HostState`` → each role in order
(``agent.roles``: L2, then DHCP and L3, which plug taps into L2's bridges, then security
groups, which hold back the ports whose filter is not in place) → report port statuses:
ACTIVE for a port whose tap is wired, DOWN for one that is not (VM not plugged, admin down,
frozen) or that left this host — each only when it differs from what was last reported, so
a converged host sends nothing. Several changed statuses (a start reports every port) go in
one call per ``STATUS_BATCH`` ports, one transaction on the controller.

Invariants:

* no round before the first snapshot (``state`` None): an agent that starts while the
  controller is away must not tear down a working host;
* a round happens when the watcher brought a new state, every ``resync_interval`` seconds (a
  full re-read of the kernel: drift such as a bridge deleted by hand is repaired; just before
  it, with no new state waiting, ``before_resync`` — the drift report — sees the kernel as
  it was left), and after a failure, with backoff;
* only the first round, a resync and a retry are ``full``; in the rounds between, each role
  converges from what changed since its last apply and trusts the kernel to hold that apply
  (``Round.full``): the same result, without reading back what nobody changed. A host with
  HA routers is the exception: keepalived moves their addresses and MACs by itself, so every
  round there is full (and a dead keepalived asks for one at once, ``mark_full``);
* a heartbeat every ``heartbeat_interval`` seconds, whatever the rounds do: each role with
  an agent registers it (``start_flag`` on the first), the L2 agent first.

Retries: retryable errors — ``Busy`` from the kernel, transport/5xx from the controller — end
the round early and schedule a retry with jittered backoff; what a role lists in
``retryable()`` (a frozen culprit, a DHCP network or router waiting for its bridge, a ruleset
not loaded) is retried the same way (the next round tries the full state again). A 404/409
on a status report (or that error in a batch's item) means the port is gone or moved:
forgotten. Every other exception is a
bug or a misconfiguration and propagates out of ``run``: die loudly, let the supervisor
restart the agent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from neutrino.agent.dataplane import ApplyReport, DataplaneError
from neutrino.agent.metrics import AgentMetrics
from neutrino.agent.roles import Role, Round
from neutrino.agent.watcher import Backoff
from neutrino.client import ClientError, Conflict, NotFound
from neutrino.domain.hoststate import HostState, PortState, tap_name

__all__ = ["ACTIVE", "DOWN", "AgentLoop", "ControllerPort"]

log = logging.getLogger(__name__)

STATUS_BATCH = 500  # ports per batched status report (the API takes up to 1,000)

ACTIVE, DOWN = "ACTIVE", "DOWN"


class ControllerPort(Protocol):
    """What the loop needs of the controller (``neutrino.client.Controller`` has it)."""

    def report_agent(
        self,
        host: str,
        configurations: dict[str, Any],
        *,
        agent_type: str = ...,
        binary: str = ...,
        start_flag: bool = ...,
    ) -> dict[str, Any]: ...

    def report_port_status(self, port_id: str, status: str, host: str) -> dict[str, Any]: ...

    def report_port_statuses(
        self, host: str, statuses: list[tuple[str, str]]
    ) -> list[dict[str, Any]]: ...


class AgentLoop:
    """One host's apply loop over its roles (see the module docstring)."""

    def __init__(
        self,
        host: str,
        controller: ControllerPort,
        state: Callable[[], HostState | None],
        roles: Sequence[Role],
        *,
        resync_interval: float = 30.0,
        heartbeat_interval: float = 10.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.host = host
        self.controller = controller
        self.state = state
        self.roles = list(roles)
        self.resync_interval = resync_interval
        self.heartbeat_interval = heartbeat_interval
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.metrics = metrics  # agent.metrics: round time, devices, errors (optional)
        self.reported: dict[str, str] = {}
        # what the last status report looked at (``_to_check``): its ports, their taps, the
        # wired taps, and the ports whose report was not taken (asked again)
        self._ports: tuple[PortState, ...] | None = None
        self._taps: dict[str, str] = {}
        self._wired: set[str] = set()
        self._unsent: set[str] = set()
        self.last_report: ApplyReport | None = None
        self.rounds = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._started = False
        self._full = True  # the next round reads the kernel whole (start, resync, retry)
        self.before_resync: Callable[[], None] | None = None
        # the heap's settle (common/heap.py): after a full round, and after a round whose
        # host grew by a quarter since (CPython's own trigger for a full collection, which
        # would walk it all at a moment of its choosing)
        self.settle: Callable[[], None] | None = None
        self._settled_size = 0

    # --- signals from other threads ----------------------------------------------------------

    def mark_dirty(self) -> None:
        """The watcher's callback: a new desired state is waiting."""
        self._dirty.set()

    def mark_full(self) -> None:
        """Something changed the kernel behind the roles' backs (a router's keepalived died
        and left its addresses): the next round reads the kernel whole, as a resync does,
        instead of trusting what the last apply wrote."""
        self._full = True
        self._dirty.set()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()

    # --- the pieces of a round ---------------------------------------------------------------

    def heartbeat(self) -> None:
        """Register (first call, ``start_flag``) or heartbeat each role's agent, in order.
        Raises ``ClientError``."""
        for role in self.roles:
            if role.agent is None:
                continue
            agent_type, binary = role.agent
            reply = self.controller.report_agent(
                self.host,
                role.configurations,
                agent_type=agent_type,
                binary=binary,
                start_flag=not self._started,
            )
            if reply.get("resync_statuses"):
                # we were silent past the down time (a long round, an outage): the controller
                # may have set our ports DOWN; report every status again in the next round
                self.reported.clear()
                self._ports = None  # every status checked again
                self._dirty.set()
        self._started = True

    def apply_once(self, *, full: bool = True) -> ApplyReport | None:
        """One round (``full``: read the kernel whole, else converge from what changed);
        None when there is no state yet. Raises retryable errors and bugs."""
        state = self.state()
        if state is None:
            return None
        # keepalived moves an HA router's addresses and MACs without the agent: a host
        # running one trusts nothing the last apply wrote
        full = full or any(r.ha is not None for r in state.routers)
        rnd = Round(state, full=full)
        for role in self.roles:
            role.apply(rnd)
        report = rnd.report
        if report.changes:
            log.info("applied revision %s: %s", state.revision, "; ".join(report.changes))
        self.last_report = report
        self.rounds += 1
        self._report_statuses(state, report, full=full)
        return report

    def _report_statuses(self, state: HostState, report: ApplyReport, *, full: bool) -> None:
        # only the ports whose status may have changed are looked at (a host of 5,000 ports
        # reports one or two per round), and only what changed is sorted
        ports: dict[str, PortState] = state.indexed("ports")
        wired, reported = report.wired, self.reported
        changed: list[tuple[bool, str, str]] = []
        for pid in self._to_check(state, wired, full=full):
            port = ports.get(pid)
            status = ACTIVE if port is not None and tap_name(pid) in wired else DOWN
            if port is None and pid in reported:
                changed.append((True, pid, DOWN))
            elif port is not None and reported.get(pid) != status:
                # trunk sub-ports before the rest: the controller judges a trunk DEGRADED
                # when its parent is wired and a sub-port is not, so a parent reported last
                # never flickers it
                changed.append((port.trunk_parent is None, pid, status))
        todo = [(port_id, status) for _, port_id, status in sorted(changed)]
        self._unsent = set()
        if len(todo) > 1:  # one call (and one commit) for many: a start reports every port
            for start in range(0, len(todo), STATUS_BATCH):
                chunk = todo[start : start + STATUS_BATCH]
                results = self.controller.report_port_statuses(self.host, chunk)
                for (port_id, status), result in zip(chunk, results, strict=True):
                    self._reported(port_id, status, ports, result.get("error"))
            return
        for port_id, status in todo:
            error = None
            try:
                self.controller.report_port_status(port_id, status, self.host)
            except (NotFound, Conflict) as exc:
                error = {"type": exc.type}
            self._reported(port_id, status, ports, error)

    def _to_check(self, state: HostState, wired: set[str], *, full: bool) -> set[str]:
        """Ids of the ports whose status may differ from the one last reported: all of them
        (and those reported) in a full round, else those the state's patch touched, those
        whose tap was wired or unwired, and those whose last report was not taken."""
        touched = None if full else state.touched("ports", self._ports)
        if touched is None:
            self._taps = {tap_name(pid): pid for pid in state.indexed("ports")}
            touched = set(self._taps.values()) | self.reported.keys()
        else:
            ports = state.indexed("ports")
            for pid in touched:
                if pid in ports:
                    self._taps[tap_name(pid)] = pid
                elif self._taps.get(tap_name(pid)) == pid:
                    del self._taps[tap_name(pid)]
            touched |= {self._taps[t] for t in wired ^ self._wired if t in self._taps}
            touched |= self._unsent
        self._ports, self._wired = state.ports, set(wired)
        return touched

    def _reported(
        self, port_id: str, status: str, here: Mapping[str, Any], error: dict[str, Any] | None
    ) -> None:
        if error is not None:  # gone, or bound elsewhere: asked again if it comes back
            log.info("port %s: status %s not taken (%s)", port_id, status, error.get("type"))
            self.reported.pop(port_id, None)
            self._unsent.add(port_id)
        elif port_id in here:
            self.reported[port_id] = status
        else:
            self.reported.pop(port_id, None)

    def _observe(self, seconds: float) -> None:
        assert self.metrics is not None
        wired = len(self.last_report.wired) if self.last_report else 0
        figures = {"wired": wired}
        for role in self.roles:
            figures.update(role.gauges())
            for failed in role.errors():
                self.metrics.error("apply", failed)
        self.metrics.round_done(seconds, figures)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Rounds and heartbeats until ``stop``; see the module docstring for retries."""
        now = self.clock()
        next_heartbeat, next_resync = now, now + self.resync_interval
        retry_at: float | None = None
        heartbeat_failed = False
        retry_in = 0.0
        while not self._stop.is_set():
            now = self.clock()
            if now >= next_heartbeat:
                next_heartbeat = now + self.heartbeat_interval
                try:
                    self.heartbeat()
                except ClientError as exc:
                    if not exc.retryable:
                        raise
                    # controller away (stopping, restarting): say so once, then retry at
                    # 1, 2, 4 ... s up to the heartbeat interval, quietly
                    log.log(
                        logging.DEBUG if heartbeat_failed else logging.WARNING,
                        "heartbeat failed: %s",
                        exc,
                    )
                    if self.metrics is not None:
                        self.metrics.error("heartbeat", exc)
                    heartbeat_failed = True
                    retry_in = min(self.heartbeat_interval, retry_in * 2) if retry_in else 1.0
                    next_heartbeat = now + min(self.heartbeat_interval, retry_in)
                else:
                    retry_in = 0.0
                    if heartbeat_failed:
                        log.info("heartbeat: controller reachable again")
                        # while we were unreachable the controller may have marked our ports
                        # DOWN (liveness sweep): report every status again, now
                        heartbeat_failed = False
                        self.reported.clear()
                        self._ports = None
                        self._dirty.set()
            if now >= next_resync:
                next_resync = now + self.resync_interval
                if not self._dirty.is_set() and self.before_resync is not None:
                    self.before_resync()  # the drift report, before the repair
                self._full = True
                self._dirty.set()
            if retry_at is not None and now >= retry_at:
                retry_at = None
                self._dirty.set()
            if self._dirty.is_set():
                self._dirty.clear()
                retry_at = self._round()
            deadlines = [next_heartbeat, next_resync] + ([retry_at] if retry_at else [])
            self._dirty.wait(max(0.0, min(deadlines) - self.clock()))

    def _round(self) -> float | None:
        """Run a round; the time of the retry it needs, or None."""
        started = time.perf_counter()
        full, self._full = self._full, False
        try:
            self.apply_once(full=full)
        except (DataplaneError, ClientError) as exc:
            if self.metrics is not None:
                self.metrics.error("round", exc)
            if not exc.retryable:
                raise
            self._full = True
            delay = self.backoff.next()
            log.warning("round failed (%s); retrying in %.1fs", exc, delay)
            return self.clock() + delay
        if self.metrics is not None:
            self._observe(time.perf_counter() - started)
        pending = [key for role in self.roles for key in role.retryable()]
        if pending:
            self._full = True
            delay = self.backoff.next()
            log.warning("pending %s; retrying in %.1fs", pending, delay)
            return self.clock() + delay
        self.backoff.reset()
        size = len(self._ports or ())
        if self.settle is not None and (full or size > self._settled_size * 5 // 4 + 100):
            self.settle()
            self._settled_size = size
        return None
