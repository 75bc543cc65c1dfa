"""Token revocation: the events that revoke tokens, and this process's in-memory view of them.

Identity writes that take rights away write an event to ``revocations`` (a kind, a value and
``issued_before``); a token is revoked when an event names it and the token was issued at or
before the event. What each write revokes is Keystone's choice:

- ``DELETE /v3/auth/tokens``: that token (kind ``audit``, its audit id);
- deleting or disabling a user, changing its password: all its tokens (``user``);
- deleting or disabling a project: every token scoped to it (``project``);
- deleting a role: every token carrying it (``role``, by name, implied roles included);
- removing a user's role on project P: that user's tokens scoped to P only (``grant``, the
  digest of user and project, ``grant_key``); its tokens for other projects stay valid.

``RevocationLog`` owns the writing side: identity writes that may revoke go through its
``write`` (a ``Store.write`` transaction), and ``revoke`` records an event inside one. Once the
transaction commits, its events apply to this process's cache at once; a retried attempt starts
its list of events over, so only the committed attempt's events apply.

``RevocationCache`` owns the reading side: each process keeps the unexpired events in memory.
Events made by another replica are seen after at most ``REFRESH_SECONDS`` (1 s): at most once a
second, the first request checks ``(max(id), count(*))`` of the table and reloads it when that
changed (the count also catches an event whose id was assigned before a later one but committed
after it). Replicas must keep their clocks in sync: the comparison is between the token's issue
time (issuer's clock) and the event's time (revoker's clock). Events older than the token
lifetime (plus a margin, ``RevocationLog.max_age``) are pruned, since every token they could
match has expired.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from neutrino.common import clock
from neutrino.service.tokens import Claims, TokenAuthority
from neutrino.store import identity as repo
from neutrino.store.uow import Store, Tx

T = TypeVar("T")
REFRESH_SECONDS = 1.0


def grant_key(user_id: str, project_id: str) -> str:
    """The value of a ``grant`` event: user and project in one fixed-size text (the column
    holds 64 characters, two ids may not fit)."""
    return hashlib.sha256(f"{user_id}\n{project_id}".encode()).hexdigest()


def _epoch(when: dt.datetime) -> float:
    return when.replace(tzinfo=dt.UTC).timestamp()


class RevocationCache:
    """Unexpired revocation events in memory, refreshed from the table at most every second."""

    def __init__(self, store: Store, max_token_age: float) -> None:
        self._store = store
        self._max_age = max_token_age
        self._lock = threading.Lock()
        self._head: tuple[int, int] = (-1, -1)
        self._checked = float("-inf")
        self._events: dict[tuple[str, str], float] = {}
        self._local: dict[tuple[str, str], float] = {}  # ours, kept across reloads

    def add(self, kind: str, value: str, issued_before: dt.datetime) -> None:
        """Apply an event this process has committed, without waiting for a refresh."""
        key = (kind, value[:64])
        when = _epoch(issued_before)
        with self._lock:
            self._local[key] = max(self._local.get(key, 0.0), when)
            self._events = {**self._events, key: max(self._events.get(key, 0.0), when)}

    def is_revoked(self, claims: Claims) -> bool:
        self._refresh()
        events = self._events
        keys = [("audit", claims.audit_id), ("user", claims.user_id)]
        if claims.project_id:
            keys.append(("project", claims.project_id))
            keys.append(("grant", grant_key(claims.user_id, claims.project_id)))
        keys.extend(("role", name[:64]) for name in claims.roles)
        for key in keys:
            when = events.get(key)
            if when is not None and claims.issued_at <= when:
                return True
        return False

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._checked < REFRESH_SECONDS:
                return
            self._checked = now
            with self._store.read() as conn:
                head = repo.revocation_head(conn)
                if head == self._head:
                    return
                since = clock.now() - dt.timedelta(seconds=self._max_age)
                rows = repo.list_revocations(conn, since)
            oldest = _epoch(since)
            self._local = {k: v for k, v in self._local.items() if v >= oldest}
            events = dict(self._local)
            for row in rows:
                key = (row["kind"], row["value"])
                events[key] = max(events.get(key, 0.0), _epoch(row["issued_before"]))
            self._events = events
            self._head = head


class RevocationLog:
    """Identity writes that may revoke tokens, and the cache their events apply to."""

    def __init__(self, store: Store, tokens: TokenAuthority) -> None:
        self._store = store
        self._tokens = tokens
        self._pending = threading.local()
        self.cache = RevocationCache(store, self.max_age)

    @property
    def max_age(self) -> float:
        """How long an event can still match a token: the token lifetime plus a margin."""
        return max(self._tokens.ttl, 60) + 60

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``Store.write``, then the revocations it made apply here at once (after commit)."""
        events: list[tuple[str, str, dt.datetime]] = []

        def attempt(tx: Tx) -> T:
            events.clear()  # a retried attempt starts over
            self._pending.events = events
            return fn(tx, *args)

        result = self._store.write(attempt)
        for event in events:
            self.cache.add(*event)
        return result

    def revoke(self, tx: Tx, kind: str, value: str) -> None:
        """Record a revocation event; only inside ``write``."""
        now = clock.now()
        repo.add_revocation(tx.conn, kind, value, now)
        repo.prune_revocations(tx.conn, now - dt.timedelta(seconds=self.max_age))
        self._pending.events.append((kind, value, now))
