"""Which DHCP agents serve which networks, for admins (extension ``dhcp_agent_scheduler``):
list the networks of an agent and the agents of a network, add a network to an agent,
remove it from one.

The scheduler (``service.dhcp``) binds networks to hosts by itself; these calls let an admin
overrule it, as Neutron's do: an added network is served by that host besides the ones the
scheduler chose, a removed one loses the host's DHCP port at once. A network moved to another
agent (added there, removed here) stays there; one left with no agent is scheduled again at
its next subnet write or DHCP agent change, as Neutron's auto-scheduling does. Only a DHCP
agent whose ``admin_state_up`` is true can be given a network (Neutron's
``InvalidDHCPAgent``, a 404).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import BadRequest, NamedConflict, NamedNotFound, ResourceNotFound
from neutrino.domain.listing import ListQuery
from neutrino.service.agents import AgentService
from neutrino.service.context import RequestContext
from neutrino.service.dhcp import DhcpScheduler
from neutrino.service.networks import NetworkService
from neutrino.store import agents as agent_repo
from neutrino.store import dhcp as repo
from neutrino.store import networks as network_repo
from neutrino.store.uow import Store, Tx


class DhcpAgentService:
    def __init__(
        self, store: Store, dhcp: DhcpScheduler, agents: AgentService, networks: NetworkService
    ) -> None:
        self.store = store
        self.dhcp = dhcp
        self.agents = agents
        self.networks = networks

    def networks_of(self, ctx: RequestContext, agent_id: str) -> list[dict[str, Any]]:
        ctx.require_admin("get_dhcp-networks")
        with self.store.read() as conn:
            host = agent_repo.get(conn, agent_id)["host"]
            ids = repo.networks_of_host(conn, host)
        if not ids:
            return []
        return self.networks.search(ctx, ListQuery(filters={"id": ids}, sorts=[("id", True)]))

    def agents_of(self, ctx: RequestContext, network_id: str) -> list[dict[str, Any]]:
        ctx.require_admin("get_dhcp-agents")
        with self.store.read() as conn:
            if network_repo.find(conn, network_id) is None:
                raise ResourceNotFound("Network", network_id)
            hosts = set(repo.bound_hosts(conn, network_id))
        found = self.agents.search(
            ctx, ListQuery(filters={"agent_type": [repo.DHCP_AGENT]}, sorts=[("host", True)])
        )
        return [a for a in found if a["host"] in hosts]

    def add(self, ctx: RequestContext, agent_id: str, body: Any) -> None:
        ctx.require_admin("create_dhcp-network")
        network_id = body.get("network_id") if isinstance(body, dict) else None
        if not isinstance(network_id, str) or not network_id:
            raise BadRequest("'network_id' must be given as a string")

        def tx_fn(tx: Tx) -> None:
            agent = agent_repo.get(tx.conn, agent_id)
            if agent["agent_type"] != repo.DHCP_AGENT or not agent["admin_state_up"]:
                raise NamedNotFound(
                    "InvalidDHCPAgent",
                    f"Agent {agent_id} is not a valid DHCP Agent or has been disabled.",
                )
            if network_repo.find(tx.conn, network_id) is None:
                raise ResourceNotFound("Network", network_id)
            if not self.dhcp.add(tx, network_id, agent["host"]):
                raise NamedConflict(
                    "NetworkHostedByDHCPAgent",
                    f"The network {network_id} has been already hosted by the DHCP Agent "
                    f"{agent_id}.",
                )

        self.store.write(tx_fn)

    def remove(self, ctx: RequestContext, agent_id: str, network_id: str) -> None:
        ctx.require_admin("delete_dhcp-network")

        def tx_fn(tx: Tx) -> None:
            agent = agent_repo.get(tx.conn, agent_id)
            if network_repo.find(tx.conn, network_id) is None or not self.dhcp.remove(
                tx, network_id, agent["host"]
            ):
                raise NamedConflict(
                    "NetworkNotHostedByDhcpAgent",
                    f"The network {network_id} is not hosted by the DHCP Agent {agent_id}.",
                )

        self.store.write(tx_fn)
