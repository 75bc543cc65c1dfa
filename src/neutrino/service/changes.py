"""The change log in the service layer: which kinds invalidate each cache, and recent changes
for people.

Caches that read the log (``port_views``, the IPAM floors, host sync) each declare an
``Interest``: every kind (``store.changes``) is either invalidating or ignored.
``tests/store/test_changes.py`` fails when a kind exists that some cache has not classified,
so a new resource cannot be forgotten by a cache; at run time an unclassified kind (a type
this server does not know) counts as invalidating.

Recent changes: the newest rows the caller may know of (an admin sees all, anyone else only
rows of its own project; an unscoped caller sees none)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.service.context import RequestContext
from neutrino.store import changelog
from neutrino.store.changes import ALL_KINDS, ChangeKind, kind_of
from neutrino.store.uow import Store

MAX_RECENT = 100


@dataclass(frozen=True)
class Interest:
    """Which change kinds invalidate a cache (``invalidating``) and which it may ignore."""

    cache: str
    invalidating: frozenset[ChangeKind]
    ignored: frozenset[ChangeKind]

    def __post_init__(self) -> None:
        INTERESTS.append(self)

    def unclassified(self) -> frozenset[ChangeKind]:
        return ALL_KINDS - self.invalidating - self.ignored

    def ignores(self, resource_type: str, op: str) -> bool:
        kind = kind_of(resource_type, op)
        return kind is not None and kind in self.ignored


INTERESTS: list[Interest] = []  # every cache's declaration, checked by a test


class ChangeLogService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def recent(self, ctx: RequestContext, limit: int = 15) -> list[dict[str, Any]]:
        scope = ctx.list_scope
        if scope == "":
            return []
        with self.store.read() as conn:
            return changelog.recent(conn, scope, min(max(limit, 1), MAX_RECENT))
