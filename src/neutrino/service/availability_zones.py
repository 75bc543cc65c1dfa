"""``GET /v2.0/availability_zones`` (extension ``availability_zone``): the zones the agents
report, as Neutron lists them. A DHCP agent's zone is a ``network`` zone, an L3 agent's a
``router`` zone; a zone is ``available`` while one of its agents there is administratively
up, else ``unavailable``. Any caller holding a role may list them (Neutron's
``regular_user``). Zones have no id: the list sorts and filters but does not page by marker.
"""

from __future__ import annotations

from typing import Any

from neutrino.domain.listing import ListQuery, in_memory
from neutrino.service.context import RequestContext
from neutrino.store import agents as repo
from neutrino.store.uow import Store

RESOURCES = {"DHCP agent": "network", "L3 agent": "router"}
KEYS = ("name", "resource", "state")


class AvailabilityZoneService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        in_memory([], query, KEYS, "Availability zones")  # the query's errors, for anyone
        if not ctx.roles:
            return []
        with self.store.read() as conn:
            rows = repo.list_rows(conn, ListQuery())
        up: dict[tuple[str, str], bool] = {}
        for row in rows:
            resource = RESOURCES.get(row["agent_type"])
            if resource is None or not row["availability_zone"]:
                continue
            zone = (row["availability_zone"], resource)
            up[zone] = up.get(zone, False) or bool(row["admin_state_up"])
        items = [
            {"name": name, "resource": resource, "state": "available" if ok else "unavailable"}
            for (name, resource), ok in up.items()
        ]
        return in_memory(items, query, KEYS, "Availability zones")
