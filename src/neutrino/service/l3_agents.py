"""The L3 agents of a router: Neutron's ``GET /v2.0/routers/{id}/l3-agents`` and the agents'
VRRP state reports (``service.l3_ha``).

``hosting`` lists the L3 agents hosting a router (admin only, Neutron's ``get_l3-agents``
rule; 404 for a router that does not exist); for an HA router each agent carries its
``ha_state`` as Neutron shows it: what the agent last reported (``standby`` before any
report), except that an agent no longer alive is shown ``standby`` when another agent of the
router is alive and ``unknown`` when none is (its router may still forward: nobody can say).

``report_ha_state`` takes an agent's report (``active``/``standby``) in one transaction,
row-locking the router first (PostgreSQL) so two agents' reports are applied one after the
other; an ``active`` report binds the router's ports to the reporting host
(``l3_scheduler.bind_ports``), which moves l2population on every other host.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, ResourceNotFound
from neutrino.service import binding, l3_ha, l3_scheduler
from neutrino.service.agents import AgentService, require_agent_role
from neutrino.service.context import RequestContext
from neutrino.store import agents as agent_repo
from neutrino.store import l3 as repo
from neutrino.store import locks
from neutrino.store.uow import Store, Tx


class L3AgentsService:
    def __init__(self, store: Store) -> None:
        self.store = store

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
