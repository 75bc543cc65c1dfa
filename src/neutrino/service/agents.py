"""Host agents: registration/heartbeat reports, and the Neutron ``agents`` API over them.

``alive`` is derived from the last heartbeat: an agent is alive if it reported within
``AGENT_DOWN_TIME`` seconds (Neutron's default is 75 s).

``report`` is both registration and heartbeat: an upsert by (agent_type, host) in one
transaction. A plain heartbeat only moves ``heartbeat_timestamp`` and records nothing in the
change log (it must not wake every watcher every few seconds); a new agent, a restart
(``start_flag``) or a configuration change is recorded, and retries the binding of the host's
failed ports so ports created before their agent came up get bound.

Races: two first reports of one agent collide on the (agent_type, host) unique key and the
loser is retried as a heartbeat (``Store.write``); an admin update or delete row-locks the
agent first (PostgreSQL, ``store.locks``), so of two deletes the second answers 404.
"""

from __future__ import annotations

from typing import Any

import orjson

from neutrino.common import clock
from neutrino.common.errors import (
    BadRequest,
    MethodNotAllowed,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain.attributes import Attr, parse_update, string, to_bool
from neutrino.domain.listing import ListQuery
from neutrino.service import binding, l3_scheduler, trunk_binding
from neutrino.service.context import RequestContext
from neutrino.service.dhcp import DhcpScheduler
from neutrino.service.l3_ha import HaConfig
from neutrino.store import agents as repo
from neutrino.store import locks
from neutrino.store import ports as port_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

AGENT_DOWN_TIME = binding.AGENT_DOWN_TIME
AGENT_TYPES = ("L2 agent", "DHCP agent", "L3 agent")
AGENT_ROLES = frozenset({"admin", "service"})
SPEC = {"admin_state_up": Attr(to_bool), "description": Attr(string(255))}


class AgentService:
    def __init__(
        self, store: Store, dhcp: DhcpScheduler | None = None, ha: HaConfig | None = None
    ) -> None:
        self.store = store
        self.dhcp = dhcp or DhcpScheduler()
        self.ha = ha or HaConfig()

    @staticmethod
    def view(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "agent_type": row["agent_type"],
            "binary": row["binary"],
            "topic": row["topic"],
            "host": row["host"],
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

    def report(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Register or heartbeat an agent (admin or ``service`` role); returns its view."""
        require_agent_role(ctx, "report_agent")
        host, agent_type = body.get("host"), body.get("agent_type")
        if not isinstance(host, str) or not host or len(host) > 255:
            raise BadRequest("'host' must be a non-empty string")
        if agent_type not in AGENT_TYPES:
            raise BadRequest(f"'agent_type' must be one of {', '.join(AGENT_TYPES)}")
        config = body.get("configurations") or {}
        if not isinstance(config, dict):
            raise BadRequest("'configurations' must be an object")
        binary = str(body.get("binary") or f"neutrino-{agent_type.split()[0].lower()}-agent")
        config_text = orjson.dumps(config, option=orjson.OPT_SORT_KEYS).decode()
        restarted = bool(body.get("start_flag"))

        def tx_fn(tx: Tx) -> dict[str, Any]:
            now = clock.now()
            row = repo.find_by_host(tx.conn, agent_type, host)
            if row is None:
                agent_id = new_id()
                repo.insert_row(
                    tx.conn,
                    {
                        "id": agent_id,
                        "agent_type": agent_type,
                        "binary": binary,
                        "topic": str(body.get("topic") or ""),
                        "host": host,
                        "admin_state_up": True,
                        "availability_zone": body.get("availability_zone") or "nova",
                        "description": "",
                        "configurations": config_text,
                        "created_at": now,
                        "started_at": now,
                        "heartbeat_timestamp": now,
                    },
                )
                changed = True
                revived = False
            else:
                agent_id = row["id"]
                # silent past the down time: the liveness sweep may have set its ports DOWN
                revived = now - row["heartbeat_timestamp"] >= AGENT_DOWN_TIME
                values: dict[str, Any] = {"heartbeat_timestamp": now}
                changed = restarted or row["configurations"] != config_text
                if changed:
                    values.update(configurations=config_text, binary=binary)
                if restarted:
                    values["started_at"] = now
                repo.update_row(tx.conn, agent_id, values)
            if changed:
                tx.updated(Resource.AGENT, {"id": agent_id})
                if agent_type == "L2 agent":
                    binding.rebind_failed_ports(tx, host)
                    trunk_binding.host_rebound(tx, host)
                elif agent_type == "DHCP agent":
                    self.dhcp.sync_all(tx)
                elif agent_type == l3_scheduler.L3_AGENT:
                    l3_scheduler.sync_all(tx, self.ha)
            elif agent_type == l3_scheduler.L3_AGENT:
                # routers of dead L3 agents move; unhosted ones wait for a change (an admin
                # may have taken them off), unless this agent is back from the dead
                l3_scheduler.reschedule_stranded(tx, self.ha, unhosted=revived)
            view = self.view(repo.get(tx.conn, agent_id))
            if revived:
                view["resync_statuses"] = True  # neutrino's agents re-report port statuses
            return view

        return self.store.write(tx_fn)

    # Agents are admin-only (Neutron's get_agent/update_agent/delete_agent): to anyone else
    # the list is empty and each agent does not exist, as Neutron answers.

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        if not ctx.is_admin:
            return []
        with self.store.read() as conn:
            return [self.view(r) for r in repo.list_rows(conn, query)]

    def bound_ports(self, ctx: RequestContext) -> list[tuple[str, str, str, str, str]]:
        """What every host serves, as ``store.ports.bound`` reads it (admin only, like the
        agents: it names the hosts)."""
        if not ctx.is_admin:
            return []
        with self.store.read() as conn:
            return port_repo.bound(conn)

    def get(self, ctx: RequestContext, agent_id: str) -> dict[str, Any]:
        _hidden_unless_admin(ctx, agent_id)
        with self.store.read() as conn:
            return self.view(repo.get(conn, agent_id))

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        raise MethodNotAllowed("Agents register themselves; they cannot be created via the API.")

    def update(
        self, ctx: RequestContext, agent_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        _hidden_unless_admin(ctx, agent_id)
        attrs = parse_update(body, SPEC)

        def tx_fn(tx: Tx) -> dict[str, Any]:
            locks.for_change(tx.conn, "agents", agent_id)
            row = repo.get(tx.conn, agent_id)
            if attrs:
                repo.update_row(tx.conn, agent_id, attrs)
                tx.updated(Resource.AGENT, row)
                if row["agent_type"] == l3_scheduler.L3_AGENT:
                    l3_scheduler.reschedule_stranded(tx, self.ha)  # off a disabled agent at once
            return self.view(repo.get(tx.conn, agent_id))

        return self.store.write(tx_fn)

    def delete(self, ctx: RequestContext, agent_id: str, if_match: int | None = None) -> None:
        _hidden_unless_admin(ctx, agent_id)

        def tx_fn(tx: Tx) -> None:
            locks.for_delete(tx.conn, "agents", agent_id)  # of two deletes, the second: 404
            tx.deleted(Resource.AGENT, repo.get(tx.conn, agent_id))
            repo.delete_row(tx.conn, agent_id)

        self.store.write(tx_fn)


def _hidden_unless_admin(ctx: RequestContext, agent_id: str) -> None:
    if not ctx.is_admin:
        raise ResourceNotFound("Agent", agent_id)


def require_agent_role(ctx: RequestContext, action: str) -> None:
    """The agent API is for agents: admin or the ``service`` role."""
    if not AGENT_ROLES & ctx.roles:
        raise PolicyNotAuthorized(f"rule:{action}")
