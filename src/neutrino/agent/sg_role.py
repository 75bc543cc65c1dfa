"""The security-group step of an apply round: ``compute_sg`` (pure) → the nft manager.

``SecurityRole`` (an ``agent.roles.Role``) runs after the L2 (and DHCP/L3) roles of a round
and before port statuses are reported: it renders the host's ruleset and applies it. When the
apply fails, the taps of the ports whose filter is not in force as rendered are removed from
the round's wired taps, so none of them is reported ACTIVE before its filter is in place; the
error is kept for ``retryable`` and the loop retries with backoff. The ruleset is rendered
again only when the watcher brought a new state object (a resync round reuses the last
rendering; the manager then finds nothing to load).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.roles import Round
from neutrino.agent.sg_calc import SgRuleset, compute_sg
from neutrino.domain.hoststate import HostState

__all__ = ["SecurityApplier", "SecurityRole"]

log = logging.getLogger(__name__)


class SecurityApplier(Protocol):
    """The security-group data plane (``dataplane.nft.NftManager`` is one)."""

    applied: SgRuleset | None

    def apply(self, ruleset: SgRuleset) -> Any: ...


class SecurityRole:
    agent = None  # nothing to register: the L2 agent's ports are the ones filtered

    def __init__(self, manager: SecurityApplier) -> None:
        self.manager = manager
        self.configurations: dict[str, Any] = {}
        self.on_applied: Callable[[float], None] | None = None  # seconds (agent metrics)
        self.failed: DataplaneError | None = None
        self._rendered: tuple[HostState, SgRuleset] | None = None

    def apply(self, rnd: Round) -> None:
        state, wired = rnd.state, rnd.report.wired
        if self._rendered is not None and self._rendered[0] is state:
            ruleset = self._rendered[1]  # same state object (resync, retry): same ruleset
        else:
            ruleset = compute_sg(state)
            self._rendered = (state, ruleset)
        started = time.perf_counter()
        try:
            report = self.manager.apply(ruleset)
        except DataplaneError as exc:
            self.failed = exc
            before = self.manager.applied
            pending = {
                f.device
                for pid, f in ruleset.ports.items()
                if pid in ruleset.protected and (before is None or before.ports.get(pid) != f)
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
