"""The Neutron ``agents`` API over registered host agents (admin only).

``alive`` is derived from the last heartbeat: an agent is alive if it reported within
``AGENT_DOWN_TIME`` seconds (Neutron's default is 75 s).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from neutrino.common import clock
from neutrino.common.errors import MethodNotAllowed
from neutrino.domain.attributes import Attr, parse_update, string, to_bool
from neutrino.domain.listing import ListQuery
from neutrino.service.context import RequestContext
from neutrino.store import agents as repo
from neutrino.store.uow import Store, Tx

AGENT_DOWN_TIME = dt.timedelta(seconds=75)
SPEC = {"admin_state_up": Attr(to_bool), "description": Attr(string(255))}


class AgentService:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def view(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"], "agent_type": row["agent_type"], "binary": row["binary"],
            "topic": row["topic"], "host": row["host"],
            "admin_state_up": row["admin_state_up"],
            "availability_zone": row["availability_zone"],
            "description": row["description"],
            "configurations": orjson.loads(row["configurations"]),
            "created_at": row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            "started_at": row["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            "heartbeat_timestamp": row["heartbeat_timestamp"].strftime("%Y-%m-%d %H:%M:%S"),
            "alive": clock.now() - row["heartbeat_timestamp"] < AGENT_DOWN_TIME,
            "resources_synced": None,
        }

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        ctx.require_admin("get_agent")
        with self.store.read() as conn:
            return [self.view(r) for r in repo.list_rows(conn, query)]

    def get(self, ctx: RequestContext, agent_id: str) -> dict[str, Any]:
        ctx.require_admin("get_agent")
        with self.store.read() as conn:
            return self.view(repo.get(conn, agent_id))

    def create_bulk(self, ctx: RequestContext, bodies: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
        raise MethodNotAllowed("Agents register themselves; they cannot be created via the API.")

    def update(self, ctx: RequestContext, agent_id: str, body: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        ctx.require_admin("update_agent")
        attrs = parse_update(body, SPEC)

        def tx_fn(tx: Tx) -> dict[str, Any]:
            repo.get(tx.conn, agent_id)
            if attrs:
                repo.update_row(tx.conn, agent_id, attrs)
                tx.record("agent", agent_id, "update")
            return self.view(repo.get(tx.conn, agent_id))

        return self.store.write(tx_fn)

    def delete(self, ctx: RequestContext, agent_id: str, if_match: int | None = None) -> None:
        ctx.require_admin("delete_agent")

        def tx_fn(tx: Tx) -> None:
            repo.get(tx.conn, agent_id)
            repo.delete_row(tx.conn, agent_id)
            tx.record("agent", agent_id, "delete")

        self.store.write(tx_fn)
