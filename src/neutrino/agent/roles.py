"""The agent's roles behind one protocol: L2, DHCP, L3 and security groups.

A role is one concern of a host's agent: ``L2Role`` (always), ``DhcpRole`` (``--dhcp``),
``L3Role`` (``--l3``) and ``SecurityRole`` (on by default). The apply loop drives them all
the same way (``Role``):

* ``agent``: the (agent type, binary) it registers at each heartbeat with ``configurations``,
  or None. L2 comes first: the controller binds the DHCP and router ports to the L2 agent of
  the same host;
* ``apply(rnd)``: converge its part of the kernel to ``rnd.state`` (pure calc → manager),
  reading and extending what the round's roles share (``Round``);
* ``retryable()``: what it must retry with backoff (the loop schedules a round for it);
  ``errors()``: the errors of its last apply and ``gauges()``: its figures (metrics).

The loop's order is L2, DHCP, L3, security groups: DHCP and L3 plug taps into the bridges L2
makes, and hand the taps they just made to ``rnd.wire``, which the L2 role wires at once
(one link dump, no second full apply) so they count in this round's port statuses; security
groups come last and drop from ``rnd.report.wired`` the taps whose filter is not in force.

L2 freezes a key it cannot apply (``agent.isolation``) and retries it with backoff; DHCP and
L3 keep each failed network's or router's error, retrying the retryable ones (a bridge not
made yet, ``Busy``) and leaving the others to the next resync; security groups retry a
ruleset that was not loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from neutrino.agent.calc import L2Calc
from neutrino.agent.dataplane import ApplyReport, DataplaneError, L2Manager
from neutrino.agent.dhcp_calc import DhcpConfig, desired_dhcp
from neutrino.agent.ha_report import HaReporter
from neutrino.agent.isolation import apply_isolating
from neutrino.agent.l3_calc import RouterConfig, desired_routers
from neutrino.agent.linkwatch import LinkEvents
from neutrino.agent.model import AgentConfig, L2State
from neutrino.agent.sg_calc import PortFilter, SgCalc, SgRuleset
from neutrino.client import Conflict, NotFound
from neutrino.domain.hoststate import HostState

if TYPE_CHECKING:
    from neutrino.agent.dataplane.dhcp import DhcpReport
    from neutrino.agent.dataplane.l3 import L3Report

__all__ = [
    "DHCP_AGENT",
    "L3_AGENT",
    "DhcpApplier",
    "DhcpRole",
    "KeyedRole",
    "L2Role",
    "L3Applier",
    "L3Role",
    "Role",
    "Round",
    "SecurityApplier",
    "SecurityRole",
]

log = logging.getLogger(__name__)

DHCP_AGENT, L3_AGENT = "DHCP agent", "L3 agent"


@dataclass
class Round:
    """What the roles of one round share: the state, L2's report (its ``wired`` taps are the
    ports reported ACTIVE) and ``wire``, set by the L2 role for taps made later in the round."""

    state: HostState
    report: ApplyReport = field(default_factory=ApplyReport)
    wire: Callable[[set[str]], None] = lambda taps: None
    full: bool = True  # read the kernel whole (a resync); else converge from what changed


class Role(Protocol):
    @property
    def agent(self) -> tuple[str, str] | None: ...

    @property
    def configurations(self) -> dict[str, Any]: ...

    def apply(self, rnd: Round) -> None: ...

    def retryable(self) -> list[str]: ...

    def errors(self) -> list[DataplaneError]: ...

    def gauges(self) -> dict[str, int]: ...


class KeyedRole:
    """What the DHCP, L3 and QoS roles share: failures kept by key (network, router, device),
    and skipping a round between resyncs whose inputs equal those of the last apply."""

    failed: dict[str, DataplaneError]
    _inputs: tuple[object, ...] | None = None

    def unchanged(self, rnd: Round, *inputs: object) -> bool:
        """True when this round has nothing to do (not ``full``, nothing failed, the same
        inputs: ``HostState.patched`` keeps the very objects of untouched sections, so the
        comparison is mostly by identity); else remembers ``inputs`` for the next round."""
        if not rnd.full and not self.failed and inputs == self._inputs:
            return True
        self._inputs = inputs
        return False

    def retryable(self) -> list[str]:
        return sorted(key for key, exc in self.failed.items() if exc.retryable)

    def errors(self) -> list[DataplaneError]:
        return list(self.failed.values())


def log_failures(what: str, failed: Mapping[str, DataplaneError]) -> None:
    for key, exc in sorted(failed.items()):
        retry = "retrying" if exc.retryable else "next resync"
        level = logging.WARNING if exc.retryable else logging.ERROR
        log.log(level, "%s %s failed (%s): %s", what, key, retry, exc)


class L2Role:
    """Bridges, VXLAN devices and their entries, taps attached: ``L2Calc`` (memoised
    ``compute_l2``) → L2 manager."""

    agent = ("L2 agent", "neutrino-agent")

    def __init__(
        self, manager: L2Manager, config: AgentConfig, configurations: dict[str, Any] | None = None
    ) -> None:
        self.manager = manager
        self.config = config
        self.calc = L2Calc(config)
        self.configurations = configurations or {}
        self.frozen: set[str] = set()  # culprits of the last apply (agent.isolation)
        self.desired = L2State()
        self.applied: L2State | None = None  # what the last apply wrote in full
        self.link_events: LinkEvents | None = None  # the link watcher's, when one runs

    def apply(self, rnd: Round) -> None:
        desired = self.desired = self.calc.compute(rnd.state)
        applied, self.applied = self.applied, None  # unknown until this apply is done
        trusted = None if rnd.full or self.frozen else applied
        # the devices that came or went since the last apply: between resyncs, looked up
        # one by one instead of dumping every link (taken every round, so none is lost)
        touched = self.link_events.take() if self.link_events is not None else None
        rnd.report, self.frozen = apply_isolating(self.manager, desired, trusted, touched)
        self.applied = None if self.frozen else desired

        def wire(taps: set[str]) -> None:
            done = self.manager.wire(desired, taps - self.frozen)
            rnd.report.changes += done.changes
            rnd.report.wired |= done.wired
            rnd.report.attached |= done.attached

        rnd.wire = wire

    def retryable(self) -> list[str]:
        return sorted(self.frozen)

    def errors(self) -> list[DataplaneError]:
        return []

    def gauges(self) -> dict[str, int]:
        return {
            "frozen": len(self.frozen),
            "bridges": len(self.desired.bridges),
            "vxlans": len(self.desired.vxlans),
        }


class DhcpApplier(Protocol):
    """The DHCP data plane (``neutrino.agent.dataplane.dhcp.DhcpManager`` is one)."""

    def apply(self, desired: Mapping[str, DhcpConfig]) -> DhcpReport: ...


class DhcpRole(KeyedRole):
    """dnsmasq per served network: ``desired_dhcp`` → DHCP manager (``qdhcp-`` namespaces)."""

    agent = (DHCP_AGENT, "neutrino-dhcp-agent")

    def __init__(
        self,
        manager: DhcpApplier,
        config: AgentConfig,
        *,
        namespace_suffix: str = "",
        configurations: dict[str, Any] | None = None,
    ) -> None:
        self.manager = manager
        self.config = config
        self.namespace_suffix = namespace_suffix
        self.configurations = configurations or {}
        self.served: set[str] = set()
        self.failed: dict[str, DataplaneError] = {}

    def apply(self, rnd: Round) -> None:
        if self.unchanged(rnd, rnd.state.networks, rnd.state.dhcp):
            return  # nothing it serves changed: the resync still checks the dnsmasqs
        desired = desired_dhcp(
            rnd.state, namespace_suffix=self.namespace_suffix, underlay_mtu=self.config.underlay_mtu
        )
        result = self.manager.apply(desired)
        log_failures("DHCP for network", result.failed)
        if result.removed:
            log.info("DHCP stopped for %s", ", ".join(result.removed))
        new = set(result.applied) - self.served
        if new:
            log.info("DHCP serving %s", ", ".join(sorted(new)))
            rnd.wire({desired[n].host_device for n in new})  # a new tap: wire it now
        self.served = set(result.applied)
        self.failed = dict(result.failed)

    def gauges(self) -> dict[str, int]:
        return {"dhcp_networks": len(self.served)}


class L3Applier(Protocol):
    """The L3 data plane (``neutrino.agent.dataplane.l3.L3Manager`` is one)."""

    def apply(self, desired: Mapping[str, RouterConfig]) -> L3Report: ...

    def pin_router_macs(self, desired: Mapping[str, RouterConfig]) -> list[str]:
        """HA routers: pin their MACs to their taps once the taps are on bridges."""
        ...


class StatusReporter(Protocol):
    def report_floatingip_status(self, fip_id: str, status: str) -> dict[str, Any]: ...


class L3Role(KeyedRole):
    """Routers of a network node (``--l3``): ``desired_routers`` (pure) → the L3 manager.

    The taps it made go to ``rnd.wire``, so router ports count as wired in this round. Floating
    IPs of a router applied without error (associated, or holding port forwardings) are
    reported ``ACTIVE`` once (the controller sets
    ``DOWN`` itself on disassociation); a 404/409 answer means the floating IP is gone: it is
    forgotten; other client errors propagate (retryable ones end the round, retried)."""

    agent = (L3_AGENT, "neutrino-l3-agent")

    def __init__(
        self,
        manager: L3Applier,
        config: AgentConfig,
        *,
        namespace_suffix: str = "",
        configurations: dict[str, Any] | None = None,
        reporter: StatusReporter | None = None,
        ha: HaReporter | None = None,
    ) -> None:
        self.manager = manager
        self.reporter = reporter
        self.ha = ha  # HA routers' VRRP states (agent.ha_report)
        self.fips_active: set[str] = set()
        self.config = config
        self.namespace_suffix = namespace_suffix
        self.configurations = configurations or {"agent_mode": "legacy"}
        self.hosted: set[str] = set()
        self.failed: dict[str, DataplaneError] = {}

    def apply(self, rnd: Round) -> None:
        """Converge the routers; the taps made are wired in this round."""
        state = rnd.state
        if self.unchanged(rnd, state.networks, state.routers):
            if self.ha is not None:
                self.ha.poll()
            return  # no router or network changed: the resync still reads the kernel
        desired = desired_routers(state, self.config, self.namespace_suffix)
        result = self.manager.apply(desired)
        log_failures("router", result.failed)
        if result.changes:
            log.info("routers: %s", "; ".join(result.changes))
        if result.removed:
            log.info("routers removed: %s", ", ".join(result.removed))
        self.hosted = set(result.applied)
        self.failed = dict(result.failed)
        self._report_floating_ips(state)
        if self.ha is not None:
            self.ha.track({r for r, c in desired.items() if c.ha is not None} & self.hosted)
            self.ha.poll()
        if result.new_taps:
            rnd.wire(set(result.new_taps))
        if any(c.ha is not None for c in desired.values()):  # taps are on bridges now
            pinned = self.manager.pin_router_macs(desired)
            if pinned:
                log.info("routers: %s", "; ".join(pinned))

    def _report_floating_ips(self, state: HostState) -> None:
        if self.reporter is None:
            return
        configured = {f.id for r in state.routers if r.id in self.hosted for f in r.floating_ips}
        configured |= {  # a floating IP that holds port forwardings is configured as well
            p.floatingip_id
            for r in state.routers
            if r.id in self.hosted
            for p in r.port_forwardings
        }
        self.fips_active &= configured
        for fip_id in sorted(configured - self.fips_active):
            try:
                self.reporter.report_floatingip_status(fip_id, "ACTIVE")
            except (NotFound, Conflict) as exc:
                log.info("floating IP %s: status not taken (%s)", fip_id, exc.type)
                continue
            self.fips_active.add(fip_id)

    def gauges(self) -> dict[str, int]:
        return {"routers": len(self.hosted)}


def _in_force(before: SgRuleset, pid: str, now: PortFilter, ruleset: SgRuleset) -> bool:
    """Whether port ``pid``'s filter in ``before`` (applied) is ``now``'s (in ``ruleset``)."""
    was = before.ports.get(pid)
    return was == now and before.flows(was) == ruleset.flows(now)


class SecurityApplier(Protocol):
    """The security-group data plane (``dataplane.nft.NftManager`` is one)."""

    applied: SgRuleset | None

    def apply(self, ruleset: SgRuleset, *, full: bool = ...) -> Any: ...


class SecurityRole:
    """Security groups: ``SgCalc`` (pure, memoised: a round renders what changed) → the nft
    manager, after the other roles.

    When the apply fails, the taps of the ports whose filter is not in force as rendered are
    removed from the round's wired taps, so none is reported ACTIVE before its filter is in
    place; the error is kept for ``retryable``. The ruleset is rendered again only when the
    watcher brought a new state object (a resync round reuses it; the manager then finds
    nothing to load)."""

    agent = None  # nothing to register: the L2 agent's ports are the ones filtered

    def __init__(self, manager: SecurityApplier) -> None:
        self.manager = manager
        self.configurations: dict[str, Any] = {}
        self.on_applied: Callable[[float], None] | None = None  # seconds (agent metrics)
        self.failed: DataplaneError | None = None
        self._rendered: tuple[HostState, SgRuleset] | None = None
        self.calc = SgCalc()

    def apply(self, rnd: Round) -> None:
        state, wired = rnd.state, rnd.report.wired
        if self._rendered is not None and self._rendered[0] is state:
            ruleset = self._rendered[1]  # same state object (resync, retry): same ruleset
        else:
            ruleset = self.calc.compute(state)
            self._rendered = (state, ruleset)
        started = time.perf_counter()
        try:
            report = self.manager.apply(ruleset, full=rnd.full)
        except DataplaneError as exc:
            self.failed = exc
            before = self.manager.applied
            pending = {
                f.device
                for pid, f in ruleset.ports.items()
                if f.groups is not None
                and (before is None or not _in_force(before, pid, f, ruleset))
            }
            wired.difference_update(pending)
            log.error("security groups not applied (%s); %d ports held back", exc, len(pending))
            return
        self.failed = None
        if self.on_applied is not None:
            self.on_applied(time.perf_counter() - started)
        changes = getattr(report, "changes", None)
        if changes:
            log.info("security groups: %s", "; ".join(changes))

    def retryable(self) -> list[str]:
        """What to retry (non-empty while the last apply failed)."""
        return ["security groups"] if self.failed is not None else []

    def errors(self) -> list[DataplaneError]:
        return [self.failed] if self.failed is not None else []

    def gauges(self) -> dict[str, int]:
        return {}
