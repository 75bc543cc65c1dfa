"""Recent changes for people: the change log's newest rows that the caller may know of (an
admin sees all, anyone else only rows of its own project; an unscoped caller sees none)."""

from __future__ import annotations

from typing import Any

from neutrino.service.context import RequestContext
from neutrino.store import changelog
from neutrino.store.uow import Store

MAX_RECENT = 100


class ChangeLogService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def recent(self, ctx: RequestContext, limit: int = 15) -> list[dict[str, Any]]:
        scope = ctx.list_scope
        if scope == "":
            return []
        with self.store.read() as conn:
            return changelog.recent(conn, scope, min(max(limit, 1), MAX_RECENT))
