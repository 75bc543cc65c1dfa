"""The apply loop: the one place that changes this host's kernel, and reports what it did.

What it owns: the dirty flag, the resync and heartbeat timers, the port statuses last
reported, and the culprits frozen by the last apply. One thread runs ``run``; the watcher
only sets the dirty flag (``mark_dirty``), so kernel writes never race each other.

A round (``apply_once``): take the watcher's latest ``HostState`` → ``compute_l2`` (pure) →
``apply_isolating`` (the L2 manager's minimal diff; a bad object is frozen, not fatal) →
DHCP role (``dhcp`` manager given): ``desired_dhcp`` (pure) → ``dhcp.apply`` — after the L2
apply, because the DHCP port's tap plugs into the bridge L2 builds; when a network starts being
served, L2 is applied once more so the DHCP port's tap counts as wired in this round's reports →
L3 role (``l3`` given, ``agent.l3_role``): routers converged likewise, L2 again for new taps →
security groups (``security`` given, ``agent.sg_role``): the nft ruleset, after every tap is
wired; a port whose filter could not be put in place is not reported ACTIVE →
report port statuses: ACTIVE for a port whose tap is wired, DOWN for one that is not (VM not
plugged, admin down, frozen) or that left this host — each only when it differs from what was
last reported, so a converged host sends nothing.

Invariants:

* no round before the first snapshot (``state`` None): an agent that starts while the
  controller is away must not tear down a working host;
* a round happens when the watcher brought a new state, every ``resync_interval`` seconds (a
  full re-read of the kernel: drift such as a bridge deleted by hand is repaired), and after a
  failure, with backoff;
* a heartbeat (the registration call, ``start_flag`` on the first) every
  ``heartbeat_interval`` seconds, whatever the rounds do — for the L2 agent and, with the DHCP
  role, for a "DHCP agent" of the same host (registered second: its DHCP ports bind to the
  L2 agent).

Retries: retryable errors — ``Busy`` from the kernel, transport/5xx from the controller — end
the round early and schedule a retry with jittered backoff; a frozen culprit is retried the
same way (the next round tries the full state again). A 404/409 on a status report means the
port is gone or moved: forgotten. Every other exception is a bug or a misconfiguration and
propagates out of ``run``: die loudly, let the supervisor restart the agent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import ApplyReport, DataplaneError, L2Manager
from neutrino.agent.dhcp_calc import DhcpConfig, desired_dhcp
from neutrino.agent.isolation import apply_isolating
from neutrino.agent.l3_role import L3Role
from neutrino.agent.metrics import AgentMetrics
from neutrino.agent.model import AgentConfig
from neutrino.agent.sg_role import SecurityRole
from neutrino.agent.watcher import Backoff
from neutrino.client import ClientError, Conflict, NotFound
from neutrino.domain.hoststate import HostState, tap_name

if TYPE_CHECKING:
    from neutrino.agent.dataplane.dhcp import DhcpReport

__all__ = ["ACTIVE", "DHCP_AGENT", "DOWN", "AgentLoop", "ControllerPort", "DhcpApplier"]

log = logging.getLogger(__name__)

ACTIVE, DOWN = "ACTIVE", "DOWN"
DHCP_AGENT = "DHCP agent"


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


class DhcpApplier(Protocol):
    """The DHCP data plane (``neutrino.agent.dataplane.dhcp.DhcpManager`` is one)."""

    def apply(self, desired: Mapping[str, DhcpConfig]) -> DhcpReport: ...


class AgentLoop:
    """One host's apply loop (see the module docstring)."""

    def __init__(
        self,
        host: str,
        config: AgentConfig,
        manager: L2Manager,
        controller: ControllerPort,
        state: Callable[[], HostState | None],
        *,
        configurations: dict[str, Any] | None = None,
        resync_interval: float = 30.0,
        heartbeat_interval: float = 10.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        dhcp: DhcpApplier | None = None,
        dhcp_configurations: dict[str, Any] | None = None,
        dhcp_namespace_suffix: str = "",
        l3: L3Role | None = None,
        security: SecurityRole | None = None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.host = host
        self.config = config
        self.manager = manager
        self.controller = controller
        self.state = state
        self.configurations = configurations or {}
        self.resync_interval = resync_interval
        self.heartbeat_interval = heartbeat_interval
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.reported: dict[str, str] = {}
        self.frozen: set[str] = set()
        self.last_report: ApplyReport | None = None
        self.rounds = 0
        self.dhcp = dhcp
        self.dhcp_configurations = dhcp_configurations or {}
        self.dhcp_namespace_suffix = dhcp_namespace_suffix
        self.dhcp_served: set[str] = set()
        self.dhcp_failed: dict[str, DataplaneError] = {}
        self.l3 = l3  # the L3 role (routers), see agent.l3_role
        self.security = security  # security groups (nft), see agent.sg_role
        self.metrics = metrics  # agent.metrics: round time, devices, errors (optional)
        self._desired_sizes = (0, 0)  # bridges, VXLAN devices of the last round
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._started = False

    # --- signals from other threads ----------------------------------------------------------

    def mark_dirty(self) -> None:
        """The watcher's callback: a new desired state is waiting."""
        self._dirty.set()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()

    # --- the pieces of a round ---------------------------------------------------------------

    def heartbeat(self) -> None:
        """Register (first call, ``start_flag``) or heartbeat: the L2 agent, then the DHCP
        agent when this host has the DHCP role. Raises ``ClientError``."""
        reply = self.controller.report_agent(
            self.host, self.configurations, start_flag=not self._started
        )
        if reply.get("resync_statuses"):
            # we were silent past the down time (a long round, an outage): the controller may
            # have set our ports DOWN; report every status again in the next round
            self.reported.clear()
            self._dirty.set()
        if self.dhcp is not None:
            self.controller.report_agent(
                self.host,
                self.dhcp_configurations,
                agent_type=DHCP_AGENT,
                binary="neutrino-dhcp-agent",
                start_flag=not self._started,
            )
        if self.l3 is not None:
            self.l3.heartbeat(self.controller, self.host, not self._started)
        self._started = True

    def apply_once(self) -> ApplyReport | None:
        """One round; None when there is no state yet. Raises retryable errors and bugs."""
        state = self.state()
        if state is None:
            return None
        desired = compute_l2(state, self.config)
        self._desired_sizes = (len(desired.bridges), len(desired.vxlans))
        report, frozen = apply_isolating(self.manager, desired)
        if self.dhcp is not None and self._apply_dhcp(state):
            report, frozen = apply_isolating(self.manager, desired)  # DHCP taps now plugged
        if self.l3 is not None and self.l3.apply(state):
            report, frozen = apply_isolating(self.manager, desired)  # router taps now plugged
        if self.security is not None:
            self.security.apply(state, report.wired)  # before any port is reported ACTIVE
        if report.changes:
            log.info("applied revision %s: %s", state.revision, "; ".join(report.changes))
        self.frozen = frozen
        self.last_report = report
        self.rounds += 1
        self._report_statuses(state, report)
        return report

    def _apply_dhcp(self, state: HostState) -> bool:
        """Converge dnsmasq; True when a network started being served (its tap is new)."""
        assert self.dhcp is not None
        result = self.dhcp.apply(
            desired_dhcp(
                state,
                namespace_suffix=self.dhcp_namespace_suffix,
                underlay_mtu=self.config.underlay_mtu,
            )
        )
        for network_id, exc in sorted(result.failed.items()):
            log.log(
                logging.WARNING if exc.retryable else logging.ERROR,
                "DHCP for network %s failed (%s): %s",
                network_id,
                "retrying" if exc.retryable else "next resync",
                exc,
            )
        if result.removed:
            log.info("DHCP stopped for %s", ", ".join(result.removed))
        new = set(result.applied) - self.dhcp_served
        if new:
            log.info("DHCP serving %s", ", ".join(sorted(new)))
        self.dhcp_served = set(result.applied)
        self.dhcp_failed = dict(result.failed)
        return bool(new)

    def _report_statuses(self, state: HostState, report: ApplyReport) -> None:
        here = {p.id for p in state.ports}
        want = {p.id: ACTIVE if tap_name(p.id) in report.wired else DOWN for p in state.ports}
        want.update({pid: DOWN for pid in self.reported if pid not in here})
        for port_id, status in sorted(want.items()):
            if self.reported.get(port_id) == status and port_id in here:
                continue
            try:
                self.controller.report_port_status(port_id, status, self.host)
            except (NotFound, Conflict) as exc:
                log.info("port %s: status %s not taken (%s)", port_id, status, exc.type)
                self.reported.pop(port_id, None)
                continue
            if port_id in here:
                self.reported[port_id] = status
            else:
                self.reported.pop(port_id, None)

    def _observe(self, seconds: float) -> None:
        assert self.metrics is not None
        report = self.last_report
        self.metrics.round_done(
            seconds,
            wired=len(report.wired) if report else 0,
            frozen=len(self.frozen),
            bridges=self._desired_sizes[0],
            vxlans=self._desired_sizes[1],
            routers=len(self.l3.hosted) if self.l3 else 0,
            dhcp_networks=len(self.dhcp_served),
        )
        for failed in (
            *self.dhcp_failed.values(),
            *(self.l3.failed.values() if self.l3 else ()),
            *([self.security.failed] if self.security and self.security.failed else []),
        ):
            self.metrics.error("apply", failed)

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
                        self._dirty.set()
            if now >= next_resync:
                next_resync = now + self.resync_interval
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
        try:
            self.apply_once()
        except (DataplaneError, ClientError) as exc:
            if self.metrics is not None:
                self.metrics.error("round", exc)
            if not exc.retryable:
                raise
            delay = self.backoff.next()
            log.warning("round failed (%s); retrying in %.1fs", exc, delay)
            return self.clock() + delay
        if self.metrics is not None:
            self._observe(time.perf_counter() - started)
        retry_dhcp = sorted(n for n, e in self.dhcp_failed.items() if e.retryable)
        retry_dhcp += self.l3.retryable() if self.l3 is not None else []  # routers too
        retry_dhcp += self.security.retryable() if self.security is not None else []
        if self.frozen or retry_dhcp:
            delay = self.backoff.next()
            log.warning(
                "frozen %s, DHCP pending %s; retrying in %.1fs",
                sorted(self.frozen),
                retry_dhcp,
                delay,
            )
            return self.clock() + delay
        self.backoff.reset()
        return None
