"""Reporting HA routers' VRRP states, fast: ``HaReporter``.

keepalived's notify script writes each state change to a file (``dataplane.keepalived``);
``poll`` (called every ``POLL_INTERVAL`` by a thread of its own, and after each L3 apply)
reads the files of the HA routers the L3 role built, and posts each change to the controller
(``POST /agent/v1/routers/{id}/ha_state``). An ``active`` report is what moves the router's
ports (and with them l2population on every other host) to this host, so it must not wait for
the next apply round: a failover's outage is keepalived's detection plus this report plus
the other hosts' next watch answer.

``poll`` also says whether an HA router's keepalived is gone (killed): the caller then asks
the loop for an apply, which drops the addresses the dead keepalived left and starts a new
one (it rejoins as backup: ``nopreempt``).

A report the controller refuses (404: the router is gone; 409: no longer hosted here) is
dropped; any other client error is logged and retried at the next poll. Thread safety: one
lock around the whole poll (the loop thread and the poller both call it).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from neutrino.client import ClientError, Conflict, NotFound

__all__ = ["POLL_INTERVAL", "HaReporter"]

POLL_INTERVAL = 0.1
log = logging.getLogger(__name__)


class HaStates(Protocol):
    def ha_state(self, router_id: str) -> str | None: ...

    def ha_running(self, router_id: str) -> bool: ...


class HaStateSink(Protocol):
    def report_router_ha_state(self, router_id: str, host: str, ha_state: str) -> object: ...


class HaReporter:
    def __init__(self, states: HaStates, sink: HaStateSink | None, host: str) -> None:
        self.states = states
        self.sink = sink
        self.host = host
        self.routers: set[str] = set()  # the HA routers built here (the L3 role sets it)
        self.reported: dict[str, str] = {}
        self.down: set[str] = set()  # tracked routers whose keepalived is not running
        self._lock = threading.Lock()

    def track(self, routers: set[str]) -> None:
        with self._lock:
            self.routers = set(routers)
            self.down &= self.routers
            for gone in set(self.reported) - self.routers:
                del self.reported[gone]

    def poll(self) -> bool:
        """Report what changed; True when a tracked router's keepalived stopped running
        since the last poll (once per stop: the apply that follows starts another)."""
        with self._lock:
            stopped = False
            for router_id in sorted(self.routers):
                if self.states.ha_running(router_id):
                    self.down.discard(router_id)
                elif router_id not in self.down:
                    self.down.add(router_id)
                    stopped = True
                state = self.states.ha_state(router_id)
                if state is None or self.reported.get(router_id) == state:
                    continue
                if self._send(router_id, state):
                    self.reported[router_id] = state
            return stopped

    def _send(self, router_id: str, state: str) -> bool:
        if self.sink is None:
            return True
        try:
            self.sink.report_router_ha_state(router_id, self.host, state)
        except (NotFound, Conflict) as exc:
            log.info("router %s: ha_state %s not taken (%s)", router_id, state, exc.type)
            return True
        except (ClientError, OSError) as exc:
            log.warning("router %s: ha_state %s not reported: %s", router_id, state, exc)
            return False
        log.info("router %s: %s here", router_id, state)
        return True
