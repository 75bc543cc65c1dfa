"""What each host was served lately, per process: the watch's memory between long-polls.

``Served`` is what the watch needs to sort new changes for a host (its networks, whether
its rules name remote groups) and to tell a recomputed state from the one the host holds
(its digest); it is kept for ``SERVED_CACHE`` (host, revision) pairs, least recently used
out. The wire forms themselves (``body``) are kept for the last ``BODIES_PER_HOST``
revisions of each host, ``BODY_CACHE`` in all: a delta is made against the one the agent
holds, and ``service.hostdelta`` builds the next state from it. Several agents on one host
(L2 + DHCP) each keep their own cursor, hence two per host.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from neutrino.domain.hoststate import body_digest

SERVED_CACHE = 16384  # (host, revision) pairs: two or more for each watching agent
BODY_CACHE = 2048
BODIES_PER_HOST = 2


@dataclass(frozen=True)
class Served:
    """What a host was handed at a revision, as much as the watch needs to sort changes."""

    networks: frozenset[str]
    digest: str
    remote_groups: bool

    @classmethod
    def of(cls, body: dict[str, Any], digest: str | None = None) -> Served:
        return cls(
            frozenset(n["id"] for n in body["networks"]),
            digest or body_digest(body),
            bool(body["remote_groups"]),
        )


class ServedMemory:
    def __init__(self) -> None:
        self._served: OrderedDict[tuple[str, int], Served] = OrderedDict()
        self._bodies: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._body_revisions: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def remember(self, host: str, revision: int, served: Served) -> None:
        with self._lock:
            self._served[(host, revision)] = served
            self._served.move_to_end((host, revision))
            while len(self._served) > SERVED_CACHE:
                self._served.popitem(last=False)

    def recall(self, host: str, revision: int) -> Served | None:
        with self._lock:
            return self._served.get((host, revision))

    def body(self, host: str, revision: int) -> dict[str, Any] | None:
        with self._lock:
            return self._bodies.get((host, revision))

    def keep_body(self, host: str, revision: int, body: dict[str, Any]) -> None:
        with self._lock:
            revisions = self._body_revisions.setdefault(host, [])
            if revision not in revisions:
                revisions.append(revision)
            while len(revisions) > BODIES_PER_HOST:
                self._bodies.pop((host, revisions.pop(0)), None)
            self._bodies[(host, revision)] = body
            self._bodies.move_to_end((host, revision))
            while len(self._bodies) > BODY_CACHE:
                (old_host, old_revision), _ = self._bodies.popitem(last=False)
                kept = self._body_revisions.get(old_host, [])
                if old_revision in kept:
                    kept.remove(old_revision)
