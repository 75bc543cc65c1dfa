"""The L3 role of an agent: register an "L3 agent" and converge this host's routers.

``L3Role`` (an ``agent.roles.Role``) is what the apply loop holds when the host is a network
node (``--l3``). Each heartbeat the loop registers the host's "L3 agent" with it (after the L2
agent: the scheduler binds router ports to the L2 agent of the same host). Each round, after
the L2 role, ``apply`` renders ``desired_routers`` (pure) and hands them to the L3 data plane
(``dataplane.l3.L3Manager``); the taps it made are handed to ``rnd.wire``, so those router
ports count as wired in this round's status reports. Routers that failed are kept in
``failed``; the loop retries the retryable ones with backoff.

Floating IPs of a router applied without error are reported ``ACTIVE`` (once; the controller
sets ``DOWN`` itself on disassociation). A 404/409 answer means the floating IP is gone: it
is forgotten; other client errors propagate (retryable ones end the round, retried).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from neutrino.agent.dataplane import DataplaneError
from neutrino.agent.l3_calc import RouterConfig, desired_routers
from neutrino.agent.model import AgentConfig
from neutrino.agent.roles import Round, log_failures
from neutrino.client import Conflict, NotFound
from neutrino.domain.hoststate import HostState

if TYPE_CHECKING:
    from neutrino.agent.dataplane.l3 import L3Report

__all__ = ["L3_AGENT", "L3Applier", "L3Role"]

L3_AGENT = "L3 agent"
log = logging.getLogger(__name__)


class L3Applier(Protocol):
    """The L3 data plane (``neutrino.agent.dataplane.l3.L3Manager`` is one)."""

    def apply(self, desired: Mapping[str, RouterConfig]) -> L3Report: ...


class StatusReporter(Protocol):
    def report_floatingip_status(self, fip_id: str, status: str) -> dict[str, Any]: ...


class L3Role:
    agent = (L3_AGENT, "neutrino-l3-agent")

    def __init__(
        self,
        manager: L3Applier,
        config: AgentConfig,
        *,
        namespace_suffix: str = "",
        configurations: dict[str, Any] | None = None,
        reporter: StatusReporter | None = None,
    ) -> None:
        self.manager = manager
        self.reporter = reporter
        self.fips_active: set[str] = set()
        self.config = config
        self.namespace_suffix = namespace_suffix
        self.configurations = configurations or {"agent_mode": "legacy"}
        self.hosted: set[str] = set()
        self.failed: dict[str, DataplaneError] = {}

    def apply(self, rnd: Round) -> None:
        """Converge the routers; the taps made are wired in this round."""
        state = rnd.state
        result = self.manager.apply(desired_routers(state, self.config, self.namespace_suffix))
        log_failures("router", result.failed)
        if result.changes:
            log.info("routers: %s", "; ".join(result.changes))
        if result.removed:
            log.info("routers removed: %s", ", ".join(result.removed))
        self.hosted = set(result.applied)
        self.failed = dict(result.failed)
        self._report_floating_ips(state)
        if result.new_taps:
            rnd.wire(set(result.new_taps))

    def _report_floating_ips(self, state: HostState) -> None:
        if self.reporter is None:
            return
        configured = {f.id for r in state.routers if r.id in self.hosted for f in r.floating_ips}
        self.fips_active &= configured
        for fip_id in sorted(configured - self.fips_active):
            try:
                self.reporter.report_floatingip_status(fip_id, "ACTIVE")
            except (NotFound, Conflict) as exc:
                log.info("floating IP %s: status not taken (%s)", fip_id, exc.type)
                continue
            self.fips_active.add(fip_id)

    def retryable(self) -> list[str]:
        return sorted(r for r, e in self.failed.items() if e.retryable)

    def errors(self) -> list[DataplaneError]:
        return list(self.failed.values())

    def gauges(self) -> dict[str, int]:
        return {"routers": len(self.hosted)}
