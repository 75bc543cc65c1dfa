"""Agents and hosts (admin): every agent with its liveness, then every host with what it
serves, read from where the controller put things: the ports bound to the host
(``binding:host_id``): its VMs' ports, the networks whose DHCP port it holds and the routers
whose ports it holds (the L3 scheduler binds a router's ports to the host it chose). A host
with bound ports and no live agent is flagged: nothing wires what it should serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.domain.listing import ListQuery
from neutrino.web.render import guarded, page
from neutrino.web.session import current, services

router = APIRouter()


@dataclass
class HostRow:
    name: str
    agents: list[dict[str, Any]] = field(default_factory=list)
    vm_ports: int = 0
    active_ports: int = 0
    dhcp: dict[str, str] = field(default_factory=dict)  # network id -> name
    routers: dict[str, str] = field(default_factory=dict)  # router id -> name

    @property
    def alive(self) -> bool:
        return any(a["alive"] for a in self.agents)


def host_rows(
    agents: list[dict[str, Any]],
    bound: list[tuple[str, str, str, str, str]],
    network_names: dict[str, str],
    router_names: dict[str, str],
) -> list[HostRow]:
    """One row per host from its agents and the ports bound to it (``bound``:
    ``(host, device_owner, network_id, device_id, status)``)."""
    rows: dict[str, HostRow] = {}

    def row(name: str) -> HostRow:
        return rows.setdefault(name, HostRow(name))

    for agent in agents:
        row(agent["host"]).agents.append(agent)
    for host, owner, network_id, device_id, status in bound:
        here = row(host)
        if owner == "network:dhcp":
            here.dhcp[network_id] = network_names.get(network_id, "")
        elif owner.startswith("network:router"):
            here.routers[device_id] = router_names.get(device_id, "")
        elif not owner.startswith("network:"):
            here.vm_ports += 1
            here.active_ports += status == "ACTIVE"
    return sorted(rows.values(), key=lambda r: r.name)


@router.get("/ui/agents")
@guarded
async def agents(request: Request) -> Response:
    me = current(request)
    me.ctx.require_admin("get_agent")
    svc = services(request)
    found = svc.agents.search(me.ctx, ListQuery(sorts=[("host", True), ("id", True)]))
    names = ListQuery(fields=["id", "name"])
    rows = host_rows(
        found,
        svc.agents.bound_ports(me.ctx),
        {n["id"]: n["name"] for n in svc.networks.search(me.ctx, names)},
        {r["id"]: r["name"] for r in svc.routers.search(me.ctx, names)},
    )
    return page(request, me, "agents.html", agents=found, hosts=rows)
