"""The agent's drift report and its answers to the controller's kernel checks.

Two uses of the read-only drift check (``agent.check.host_drift``), both beside the apply
loop and never instead of it (the loop's repair is unchanged):

* **The report.** Just before each periodic resync round (when no new state is waiting, so
  the kernel should already match), the loop calls ``DriftReport.observe``: the differences
  found are drift made by hand or by something else on the host, which that resync repairs
  (all but nft set elements changed by hand, which wait for the next reload of the tables,
  as before: the repair is unchanged). A new drift list is logged once, as a warning. Their
  count and the first ``SAMPLE`` lines go into the L2 agent's
  ``configurations["drift"]`` (sent with the next heartbeat: ``GET /v2.0/agents`` shows it;
  it changes only when the drift does, since each change of an agent's configurations is a
  logged change) and into the metrics (``neutrino_agent_drift_differences``,
  ``neutrino_agent_drift_checked_timestamp_seconds``).
* **The checks** (a trace's ``verify``, ``service/kernel_checks.py``): ``CheckAnswerer.run``
  long-polls ``GET /agent/v1/hosts/{host}/checks`` in a thread of its own and answers each
  check with the differences of the moment. The check opens sockets of its own, so it never
  shares one with the loop. A check carrying a ``probe`` (a real packet down the path) first
  has this host take part in it (``agent.probe_responder``: it has a deadline; the drift
  check does not), then answers both.

Errors: a failed check (or no host state yet) is logged and left unanswered (the trace then
reports the host as not answering); a controller that is away or too old (404) is retried
with a growing pause, so an agent never dies of its report.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neutrino.client import ClientError, Controller
from neutrino.domain.hoststate import HostState

if TYPE_CHECKING:
    from neutrino.agent.dataplane.drift import Drift
    from neutrino.agent.main import AgentSettings
    from neutrino.agent.metrics import AgentMetrics

__all__ = ["SAMPLE", "CheckAnswerer", "DriftReport"]

log = logging.getLogger(__name__)

SAMPLE = 20  # difference lines kept in the agent's status
MAX_PAUSE = 30.0


def _drift(settings: AgentSettings, state: HostState) -> list[Drift]:
    from neutrino.agent.check import host_drift  # the data plane's reads: root and pyroute2

    return host_drift(settings, state)


class DriftReport:
    """Observes the drift before each periodic resync (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        configurations: dict[str, Any],
        metrics: AgentMetrics | None = None,
        check: Callable[[AgentSettings, HostState], list[Drift]] = _drift,
    ) -> None:
        self.settings = settings
        self.configurations = configurations
        self.metrics = metrics
        self.check = check
        self.last: list[str] = []

    def observe(self, state: HostState | None) -> None:
        if state is None:
            return
        try:
            found = [str(d) for d in self.check(self.settings, state)]
        except Exception:  # a report must never stop the loop that repairs
            log.exception("drift check failed")
            return
        if found and found != self.last:  # said once; the same drift again is not news
            log.warning("drift before resync (%d): %s", len(found), "; ".join(found[:SAMPLE]))
        self.last = found
        now = dt.datetime.now(dt.UTC)
        # no timestamp here: a changed configuration is a logged agent change, so the status
        # changes only when the drift does (the time is in the metrics)
        self.configurations["drift"] = {"differences": len(found), "sample": found[:SAMPLE]}
        if self.metrics is not None:
            self.metrics.drift(len(found), now.timestamp())


class CheckAnswerer:
    """Answers the controller's kernel checks for this host (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        controller: Controller,
        state: Callable[[], HostState | None],
        check: Callable[[AgentSettings, HostState], list[Drift]] = _drift,
        poll_timeout: float = 30.0,
        probe: Callable[[Any, HostState], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.controller = controller
        self.state = state
        self.check = check
        self.poll_timeout = poll_timeout
        if probe is None:
            from neutrino.agent.probe_responder import ProbeResponder

            probe = ProbeResponder(settings).run
        self.probe = probe

    def run(self, stop: threading.Event) -> None:
        pause = 0.0
        host = self.settings.host
        while not stop.is_set():
            try:
                checks = self.controller.poll_check_requests(host, self.poll_timeout)
                state = self.state()
                reports = {
                    str(c["id"]): self.probe(c["probe"], state)
                    for c in checks
                    if "probe" in c and state is not None
                }  # before the drift check: a probe has a deadline
                differences = self._differences() if checks else None
                if differences is not None:
                    for c in checks:
                        check_id = str(c["id"])
                        self.controller.answer_check(
                            host, check_id, differences, probe=reports.get(check_id)
                        )
                pause = 0.0
            except ClientError as exc:
                pause = min(MAX_PAUSE, pause * 2 or 1.0)
                log.debug("kernel checks: %s; again in %.0fs", exc, pause)
                stop.wait(pause)

    def _differences(self) -> list[str] | None:
        state = self.state()
        if state is None:
            return None
        try:
            return [str(d) for d in self.check(self.settings, state)]
        except Exception:  # unanswered: the trace reports the host as not answering
            log.exception("drift check for the controller failed")
            return None
