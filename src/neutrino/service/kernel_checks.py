"""Asking agents for their kernel's drift (the trace's ``--verify``), across server processes.

The controller never connects to an agent: agents only ever call the controller (one
direction, one auth, the agent API's limits). So a question for the kernel goes the way the
host state does: on a long-poll the agent keeps open (a second one, beside its watch). The
trace request and the agent's long-poll may reach different server processes (``serve
--workers N``, replicas on one PostgreSQL), so the checks live in the database (the
``kernel_checks`` table, ``store/kernel_checks.py``), not in a process's memory:

1. ``ask(hosts, timeout)`` (a worker thread of the trace request) files one row per host and
   waits, at most ``timeout`` seconds, for all the answers: it reads them back every
   ``ANSWER_POLL`` seconds, or at once when an answer arrives through this very process;
2. each agent's checker thread long-polls ``GET /agent/v1/hosts/{host}/checks``
   (``pending``): it takes the host's untaken rows (a conditional ``UPDATE``: one long-poll
   gets each check) at once if any wait, else when woken, else ``[]`` at the timeout. It is
   woken by ``ask`` in this process, and for checks filed by another process by one poller
   thread per process (``FILED_POLL``: one ``SELECT MAX(seq)`` while any long-poll waits,
   whatever the number of agents, and when it moved one read of the hosts with untaken
   checks), so a waiting long-poll holds no thread and issues no query of its own; a woken
   one looks (a read) only when its host is among those named, and writes only to take;
3. the agent runs its drift check (``agent/check.py``: read only) and posts the differences
   to ``POST /agent/v1/hosts/{host}/checks/{id}`` (``answer``), through any process;
4. ``ask`` deletes its rows and returns each host's differences, None for a host that did not
   answer in time.

A check may carry a request (``ask_with``: the row's ``request``, JSON, handed to the agent
in its check as ``{"id", "probe"}``): today a trace's probe packet (``trace_probe``), which
the agent runs before its drift check and reports with it (``probe_report`` checks that
report: 400 otherwise). An agent of before ignores the request and answers the differences
only; the asker sees no report and says so.

Why polling and not the change log: a check is not a change of the intended network, and a
change-log entry would wake every agent's host-state watch for nothing. The cost is bounded:
``FILED_POLL`` queries per second per process while agents wait, ``1/ANSWER_POLL`` per trace
waiting for an answer. The cross-process latency is at most the two intervals (measured in
``docs/performance.md``).

Limits: at most ``MAX_DIFFERENCES`` lines of at most ``MAX_LINE`` characters per answer (the
body limit of every request applies too); an answer to a check nobody waits for any more, or
from another host, is refused (404). Rows left by a process that died while waiting are swept
by the next ``ask`` after ``STALE`` seconds. At shutdown ``close`` ends the waiting
long-polls at once, as ``Store.close_waits`` does for the others.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from neutrino.common.errors import BadRequest, NotFound
from neutrino.common.wakeup import Wakeup
from neutrino.store import kernel_checks as repo
from neutrino.store.uow import Store, Tx

__all__ = ["MAX_DIFFERENCES", "MAX_LINE", "KernelChecks", "probe_report"]

MAX_DIFFERENCES = 5000
MAX_LINE = 1024
FILED_POLL = 0.2  # seconds between a process's looks for checks filed elsewhere
ANSWER_POLL = 0.1  # seconds between a waiting trace's looks for answers given elsewhere
STALE = 120.0  # seconds after which a check's row is swept (its asker is gone)
PROBE_KEYS = frozenset({"lines", "error", "milliseconds", "sent"})


def _answer_of(stored: Any) -> dict[str, Any]:
    """A stored answer: ``{"differences", "probe"?}`` (a bare list: a server of before)."""
    return stored if isinstance(stored, dict) else {"differences": stored}


def probe_report(report: Any) -> dict[str, Any]:
    """An agent's probe report, checked (400 otherwise): ``lines`` as ``[role, label,
    line]`` (the nft monitor's trace lines of each namespace it watched), ``error`` (it
    could not take part), ``milliseconds`` (phase -> ms), ``sent`` (it injected the probe)."""
    if not isinstance(report, dict) or set(report) - PROBE_KEYS:
        raise BadRequest(f"'probe' must be an object of {', '.join(sorted(PROBE_KEYS))}")
    lines = report.get("lines", [])
    if not isinstance(lines, list) or len(lines) > MAX_DIFFERENCES or not all(
        isinstance(x, list) and len(x) == 3 and all(isinstance(f, str) for f in x)
        and sum(len(f) for f in x) <= MAX_LINE
        for x in lines
    ):  # fmt: skip
        raise BadRequest("'probe.lines' must be a list of [role, label, line] strings")
    error = report.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_LINE):
        raise BadRequest("'probe.error' must be a string")
    timings = report.get("milliseconds", {})
    if not isinstance(timings, dict) or len(timings) > 8 or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in timings.items()
    ):  # fmt: skip
        raise BadRequest("'probe.milliseconds' must map phases to numbers")
    if not isinstance(report.get("sent", False), bool):
        raise BadRequest("'probe.sent' must be true or false")
    return {
        "lines": lines,
        "error": error,
        "milliseconds": timings,
        "sent": report.get("sent", False),
    }


class KernelChecks:
    """The broker (see the module docstring); one per server process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._filed = Wakeup()  # a check may wait: long-polls of ``_named`` hosts look again
        self._named: set[str] = set()  # hosts with untaken checks, as last seen
        self._answered = Wakeup()  # an answer arrived through this process
        self._lock = threading.Lock()
        self._waiters = 0
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self.closing = False  # the server is shutting down: long-polls answer at once

    def ask(self, hosts: list[str], timeout: float) -> dict[str, list[str] | None]:
        """File one check per host; each host's differences, None if it did not answer."""
        return {
            host: None if found is None else found["differences"]
            for host, found in self.ask_with(hosts, timeout).items()
        }

    def ask_with(
        self, hosts: list[str], timeout: float, requests: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, dict[str, Any] | None]:
        """File one check per host, carrying its entry of ``requests`` (e.g. ``{"probe":
        ...}``) if any; each host's answer (``{"differences", "probe"?}``), None if it did not
        answer in time."""
        filed = {uuid.uuid4().hex: host for host in hosts}
        asked = {h: json.dumps(r) for h, r in (requests or {}).items() if h in hosts}
        now = time.time()
        self.store.write(
            lambda tx: repo.file(tx.conn, list(filed.items()), now, now - STALE, asked),
        )
        with self._lock:
            self._named |= set(hosts)
        self._filed.notify()
        deadline = time.monotonic() + timeout
        got: dict[str, str] = {}
        try:
            while True:
                seen = self._answered.generation
                with self.store.read() as conn:
                    got = repo.answers(conn, list(filed))
                left = deadline - time.monotonic()
                if len(got) == len(filed) or left <= 0 or self.closing:
                    break
                self._answered.wait_blocking(seen, min(left, ANSWER_POLL))
        finally:
            self.store.write(lambda tx: repo.forget(tx.conn, list(filed)))
        return {
            host: _answer_of(json.loads(got[cid])) if cid in got else None
            for cid, host in filed.items()
        }

    def _take(self, host: str) -> list[dict[str, Any]]:
        """Take ``host``'s waiting checks: a read first, the write only when some wait."""
        with self.store.read() as conn:
            if not repo.waiting_hosts(conn, host):
                return []

        def take(tx: Tx) -> list[tuple[str, str | None]]:
            return repo.take(tx.conn, host)

        return [
            {"id": cid, **(json.loads(request) if request else {})}
            for cid, request in self.store.write(take)
        ]

    async def pending(self, host: str, timeout: float) -> list[dict[str, Any]]:
        """The checks filed for ``host`` (``{"id", "probe"?}``): at once if any wait, else as
        soon as one is filed (by any process), else ``[]`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self._waiting(+1)
        look = True  # at the start, then when woken for this host
        try:
            while True:
                seen = self._filed.generation  # before the look: a check filed after wakes us
                found = await asyncio.to_thread(self._take, host) if look else []
                left = deadline - time.monotonic()
                if found or left <= 0 or self.closing:
                    return found
                await self._filed.wait(seen, left)
                look = host in self._named
        finally:
            self._waiting(-1)

    def _waiting(self, delta: int) -> None:
        with self._lock:
            self._waiters += delta
            if self._poller is None and self._waiters > 0 and not self._stop.is_set():
                self._poller = threading.Thread(target=self._poll, name="checks", daemon=True)
                self._poller.start()

    def _poll(self) -> None:
        """While long-polls wait here, wake them when a check was filed by any process."""
        last = -1
        while not self._stop.wait(FILED_POLL):
            if self._waiters <= 0:
                continue
            try:
                with self.store.read() as conn:
                    latest = repo.latest(conn)
                    if latest == last:
                        continue
                    named = repo.waiting_hosts(conn)
            except Exception:  # the database is away: the long-polls time out as usual
                continue
            with self._lock:
                self._named = named
            # the first look too: a check filed before it (after a long-poll's own look, before
            # this thread's first poll) must wake that long-poll; a long-poll for a host not
            # named goes back to waiting without a query
            self._filed.notify()
            last = latest

    def close(self) -> None:
        """End every waiting long-poll now (and any later one at once): server shutdown."""
        self.closing = True
        self._stop.set()
        self._filed.notify()
        self._answered.notify()

    def answer(self, host: str, check_id: str, body: Any) -> None:
        """Record an agent's answer (``{"differences": [str, ...], "probe"?: {...}}``)."""
        differences = body.get("differences") if isinstance(body, dict) else None
        if not isinstance(differences, list) or not all(isinstance(d, str) for d in differences):
            raise BadRequest("'differences' must be a list of strings")
        if len(differences) > MAX_DIFFERENCES or any(len(d) > MAX_LINE for d in differences):
            raise BadRequest(
                f"at most {MAX_DIFFERENCES} differences of at most {MAX_LINE} characters"
            )
        answer: dict[str, Any] = {"differences": list(differences)}
        if body.get("probe") is not None:
            answer["probe"] = probe_report(body["probe"])
        lines = json.dumps(answer)

        def record(tx: Tx) -> bool:
            return repo.answer(tx.conn, host, check_id[:64], lines)

        if not self.store.write(record):
            raise NotFound(f"No check {check_id[:64]} waits for host {host[:64]}")
        self._answered.notify()
