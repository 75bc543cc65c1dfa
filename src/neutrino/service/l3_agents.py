"""The L3 agents of a router: Neutron's ``GET /v2.0/routers/{id}/l3-agents``, an admin's
scheduling of routers on L3 agents (extension ``l3_agent_scheduler``) and the agents' VRRP
state reports (``service.l3_ha``).

``hosting`` lists the L3 agents hosting a router (admin only, Neutron's ``get_l3-agents``
rule; 404 for a router that does not exist); for an HA router each agent carries its
``ha_state`` as Neutron shows it: what the agent last reported (``standby`` before any
report), except that an agent no longer alive is shown ``standby`` when another agent of the
router is alive and ``unknown`` when none is (its router may still forward: nobody can say).

``routers_of``/``add``/``remove`` are ``/v2.0/agents/{id}/l3-routers`` (admin only, as
Neutron's ``get_l3-routers``, ``create_l3-router``, ``delete_l3-router``), with the ML2/OVS
semantics: only an L3 agent whose ``admin_state_up`` is true can be given a router (else
``InvalidL3Agent``, a 404); a legacy router hosted by another agent is refused
(``RouterHostedByL3Agent``, 409), one hosted by this agent already is a no-op; an HA router
gains the agent as one more host (a standby until VRRP says otherwise). Removing a router the
agent does not host changes nothing and succeeds, as Neutron's does. The move itself is
``l3_scheduler.add_host``/``remove_host``, inside one transaction.

``report_ha_state`` takes an agent's report (``active``/``standby``) in one transaction,
row-locking the router first (PostgreSQL) so two agents' reports are applied one after the
other; an ``active`` report binds the router's ports to the reporting host
(``l3_scheduler.bind_ports``), which moves l2population on every other host.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, NamedConflict, NamedNotFound, ResourceNotFound
from neutrino.domain.listing import ListQuery
from neutrino.service import binding, l3_ha, l3_scheduler
from neutrino.service.agents import AgentService, require_agent_role
from neutrino.service.context import RequestContext
from neutrino.service.l3_ha import HaConfig
from neutrino.service.routers import RouterService
from neutrino.store import agents as agent_repo
from neutrino.store import l3 as repo
from neutrino.store import locks
from neutrino.store.uow import Store, Tx


class L3AgentsService:
    def __init__(
        self, store: Store, routers: RouterService | None = None, ha: HaConfig | None = None
    ) -> None:
        self.store = store
        self.routers = routers
        self.ha = ha or HaConfig()

    def routers_of(self, ctx: RequestContext, agent_id: str) -> list[dict[str, Any]]:
        ctx.require_admin("get_l3-routers")
        with self.store.read() as conn:
            host = agent_repo.get(conn, agent_id)["host"]
            ids = repo.routers_of_host(conn, host)
        if not ids or self.routers is None:
            return []
        return self.routers.search(ctx, ListQuery(filters={"id": ids}, sorts=[("id", True)]))

    def add(self, ctx: RequestContext, agent_id: str, body: Any) -> None:
        ctx.require_admin("create_l3-router")
        router_id = body.get("router_id") if isinstance(body, dict) else None
        if not isinstance(router_id, str) or not router_id:
            raise BadRequest("'router_id' must be given as a string")

        def tx_fn(tx: Tx) -> None:
            if repo.router_ha(tx.conn, router_id) is None:
                raise ResourceNotFound("Router", router_id)
            agent = agent_repo.get(tx.conn, agent_id)
            if agent["agent_type"] != repo.L3_AGENT or not agent["admin_state_up"]:
                raise NamedNotFound(
                    "InvalidL3Agent", f"Agent {agent_id} is not a L3 Agent or has been disabled"
                )
            other = l3_scheduler.add_host(tx, router_id, agent["host"], self.ha)
            if other is not None:
                found = agent_repo.find_by_host(tx.conn, repo.L3_AGENT, other)
                raise NamedConflict(
                    "RouterHostedByL3Agent",
                    f"The router {router_id} has been already hosted by the L3 Agent "
                    f"{found['id'] if found else other}.",
                )

        self.store.write(tx_fn)

    def remove(self, ctx: RequestContext, agent_id: str, router_id: str) -> None:
        ctx.require_admin("delete_l3-router")

        def tx_fn(tx: Tx) -> None:
            agent = agent_repo.get(tx.conn, agent_id)
            if repo.router_ha(tx.conn, router_id) is None:
                raise ResourceNotFound("Router", router_id)
            if agent["agent_type"] == repo.L3_AGENT:
                l3_scheduler.remove_host(tx, router_id, agent["host"], self.ha)

        self.store.write(tx_fn)

    def hosting(self, ctx: RequestContext, router_id: str) -> list[dict[str, Any]]:
        ctx.require_admin("get_l3-agents")
        with self.store.read() as conn:
            mode = repo.router_ha(conn, router_id)
            if mode is None:
                raise ResourceNotFound("Router", router_id)
            states = repo.ha_states(conn, router_id)
            rows = [agent_repo.find_by_host(conn, repo.L3_AGENT, h) for h in states]
        now = clock.now()
        agents = [(r, now - r["heartbeat_timestamp"] < binding.AGENT_DOWN_TIME) for r in rows if r]
        any_alive = any(alive for _, alive in agents)
        out = []
        for row, alive in agents:
            view = AgentService.view(row)
            if mode[0]:
                reported = states.get(row["host"]) or "standby"
                if not alive:
                    reported = "standby" if any_alive else "unknown"
                view["ha_state"] = reported
            out.append(view)
        return out

    def report_ha_state(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        require_agent_role(ctx, "update_ha_state")
        state, host = body.get("ha_state"), body.get("host")
        if state not in l3_ha.HA_STATES:
            raise BadRequest(f"'ha_state' must be one of {', '.join(l3_ha.HA_STATES)}")
        if not isinstance(host, str) or not host or len(host) > 255:
            raise BadRequest("'host' must be a non-empty string of at most 255 characters")

        def tx_fn(tx: Tx) -> dict[str, Any]:
            locks.for_change(tx.conn, "routers", router_id)
            mode = repo.router_ha(tx.conn, router_id)
            if mode is None:
                raise ResourceNotFound("Router", router_id)
            changed = l3_ha.record_state(tx, router_id, host, state)
            if state == "active" and mode[0]:
                l3_scheduler.bind_ports(tx, repo.router_ports(tx.conn, router_id), host)
            return {"id": router_id, "host": host, "ha_state": state, "changed": changed}

        return self.store.write(tx_fn)
