"""Asking agents for their kernel's drift (the trace's ``--verify``): a broker in this process.

The controller never connects to an agent: agents only ever call the controller (one
direction, one auth, the agent API's limits). So a question for the kernel goes the way the
host state does: on a long-poll the agent keeps open (a second one, beside its watch):

1. ``ask(hosts, timeout)`` (a worker thread of the trace request) files one check per host
   and waits, at most ``timeout`` seconds, for all the answers;
2. each agent's checker thread long-polls ``GET /agent/v1/hosts/{host}/checks``
   (``pending``: it returns at once when checks wait, else when one is filed — a
   ``common.wakeup.Wakeup`` notified by ``ask``, so a waiting long-poll holds no thread and
   costs nothing until then — or at the timeout), runs its drift check (``agent/check.py``:
   read only) and posts the differences to ``POST /agent/v1/hosts/{host}/checks/{id}`` (``answer``);
3. ``ask`` returns each host's differences, None for a host that did not answer in time.

Limits: at most ``MAX_DIFFERENCES`` lines of at most ``MAX_LINE`` characters per answer (the
body limit of every request applies too); an answer to a check nobody waits for any more, or
from another host, is refused (404). Checks live in this process's memory: the agent must
long-poll the server process the trace request reached (true for the all-in-one and a single
``serve`` process; with several processes a host whose agent polls another one is reported
as not answering). Nothing is written to the database. At shutdown ``close`` ends the waiting
long-polls at once, as ``Store.close_waits`` does for the others.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from neutrino.common.errors import BadRequest, NotFound
from neutrino.common.wakeup import Wakeup

__all__ = ["MAX_DIFFERENCES", "MAX_LINE", "KernelChecks"]

MAX_DIFFERENCES = 5000
MAX_LINE = 1024


@dataclass
class _Check:
    id: str
    host: str
    taken: bool = False
    answer: list[str] | None = None
    done: threading.Event = field(default_factory=threading.Event)


class KernelChecks:
    """The broker (see the module docstring); one per server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, _Check] = {}
        self._filed = Wakeup()
        self.closing = False  # the server is shutting down: long-polls answer at once

    def ask(self, hosts: list[str], timeout: float) -> dict[str, list[str] | None]:
        """File one check per host; each host's differences, None if it did not answer."""
        filed = {}
        with self._lock:
            for host in hosts:
                check = _Check(uuid.uuid4().hex, host)
                self._checks[check.id] = check
                filed[host] = check
        self._filed.notify()
        deadline = time.monotonic() + timeout
        try:
            for check in filed.values():
                check.done.wait(max(0.0, deadline - time.monotonic()))
        finally:
            with self._lock:
                for check in filed.values():
                    self._checks.pop(check.id, None)
        return {host: check.answer for host, check in filed.items()}

    def _take(self, host: str) -> list[str]:
        with self._lock:
            found = [c for c in self._checks.values() if c.host == host and not c.taken]
            for check in found:
                check.taken = True
            return [c.id for c in found]

    async def pending(self, host: str, timeout: float) -> list[str]:
        """The ids of the checks filed for ``host``: at once if any wait, else as soon as one
        is filed, else ``[]`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._filed.generation  # before the look: a check filed after it wakes us
            found = self._take(host)
            left = deadline - time.monotonic()
            if found or left <= 0 or self.closing:
                return found
            await self._filed.wait(seen, left)

    def close(self) -> None:
        """End every waiting long-poll now (and any later one at once): server shutdown."""
        self.closing = True
        self._filed.notify()

    def answer(self, host: str, check_id: str, body: Any) -> None:
        """Record an agent's answer (``{"differences": [str, ...]}``)."""
        differences = body.get("differences") if isinstance(body, dict) else None
        if not isinstance(differences, list) or not all(isinstance(d, str) for d in differences):
            raise BadRequest("'differences' must be a list of strings")
        if len(differences) > MAX_DIFFERENCES or any(len(d) > MAX_LINE for d in differences):
            raise BadRequest(
                f"at most {MAX_DIFFERENCES} differences of at most {MAX_LINE} characters"
            )
        with self._lock:
            check = self._checks.get(check_id)
            if check is None or check.host != host:
                raise NotFound(f"No check {check_id[:64]} waits for host {host[:64]}")
            check.answer = list(differences)
        check.done.set()
