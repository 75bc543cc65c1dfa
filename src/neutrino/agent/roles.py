"""The agent's roles behind one protocol, and the two that only wire: L2 and DHCP.

A role is one concern of a host's agent: ``L2Role`` (always), ``DhcpRole`` (``--dhcp``),
``agent.l3_role.L3Role`` (``--l3``) and ``agent.sg_role.SecurityRole`` (on by default). The
apply loop drives them all the same way (``Role``):

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

L2 freezes a key it cannot apply (``agent.isolation``) and retries it with backoff; DHCP
keeps each failed network's error, retrying the retryable ones (a bridge not made yet,
``Busy``) and leaving the others to the next resync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import ApplyReport, DataplaneError, L2Manager
from neutrino.agent.dhcp_calc import DhcpConfig, desired_dhcp
from neutrino.agent.isolation import apply_isolating
from neutrino.agent.model import AgentConfig, L2State
from neutrino.domain.hoststate import HostState

if TYPE_CHECKING:
    from neutrino.agent.dataplane.dhcp import DhcpReport

__all__ = ["DHCP_AGENT", "DhcpApplier", "DhcpRole", "L2Role", "Role", "Round"]

log = logging.getLogger(__name__)

DHCP_AGENT = "DHCP agent"


@dataclass
class Round:
    """What the roles of one round share: the state, L2's report (its ``wired`` taps are the
    ports reported ACTIVE) and ``wire``, set by the L2 role for taps made later in the round."""

    state: HostState
    report: ApplyReport = field(default_factory=ApplyReport)
    wire: Callable[[set[str]], None] = lambda taps: None


class Role(Protocol):
    @property
    def agent(self) -> tuple[str, str] | None: ...

    @property
    def configurations(self) -> dict[str, Any]: ...

    def apply(self, rnd: Round) -> None: ...

    def retryable(self) -> list[str]: ...

    def errors(self) -> list[DataplaneError]: ...

    def gauges(self) -> dict[str, int]: ...


def log_failures(what: str, failed: Mapping[str, DataplaneError]) -> None:
    for key, exc in sorted(failed.items()):
        retry = "retrying" if exc.retryable else "next resync"
        level = logging.WARNING if exc.retryable else logging.ERROR
        log.log(level, "%s %s failed (%s): %s", what, key, retry, exc)


class L2Role:
    """Bridges, VXLAN devices and their entries, taps attached: ``compute_l2`` → L2 manager."""

    agent = ("L2 agent", "neutrino-agent")

    def __init__(
        self, manager: L2Manager, config: AgentConfig, configurations: dict[str, Any] | None = None
    ) -> None:
        self.manager = manager
        self.config = config
        self.configurations = configurations or {}
        self.frozen: set[str] = set()  # culprits of the last apply (agent.isolation)
        self.desired = L2State()

    def apply(self, rnd: Round) -> None:
        desired = self.desired = compute_l2(rnd.state, self.config)
        rnd.report, self.frozen = apply_isolating(self.manager, desired)

        def wire(taps: set[str]) -> None:
            done = self.manager.wire(desired, taps - self.frozen)
            rnd.report.changes += done.changes
            rnd.report.wired |= done.wired

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


class DhcpRole:
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

    def retryable(self) -> list[str]:
        return sorted(n for n, e in self.failed.items() if e.retryable)

    def errors(self) -> list[DataplaneError]:
        return list(self.failed.values())

    def gauges(self) -> dict[str, int]:
        return {"dhcp_networks": len(self.served)}
