"""The router row inside a write: finding it as the caller may see it, and bumping it.

Owns two rules every router operation follows:

- a router the caller's project does not own (and the caller is not admin) does not exist for
  them: :func:`load` answers 404 ``Router``, never 403;
- any change to a router or to what hangs off it (gateway, interfaces, routes) bumps its
  ``revision_number`` and ``updated_at`` once, and records an ``update`` in the change log in
  the same transaction (:func:`bump`).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import ResourceNotFound
from neutrino.service.context import RequestContext
from neutrino.store import routers as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx


def load(conn: Any, ctx: RequestContext, router_id: str, *, for_update: bool = False) -> Any:
    row = repo.find(conn, router_id, for_update=for_update)
    if row is None or not ctx.owns(row["project_id"]):
        raise ResourceNotFound("Router", router_id)
    return row


def bump(tx: Tx, router_id: str, values: dict[str, Any] | None = None) -> None:
    tx.updated(Resource.ROUTER, router_id, values or {})
