"""``GET /v2.0/availability_zones`` (extension ``availability_zone``): the zones the agents
report, as Neutron lists them. A DHCP agent's zone is a ``network`` zone, an L3 agent's a
``router`` zone; a zone is ``available`` while one of its agents there is administratively
up, else ``unavailable``. Any caller holding a role may list them (Neutron's
``regular_user``). Zones have no id: the list sorts and filters but does not page by marker.

``availability_zone_hints`` (extension ``network_availability_zone``) are a network's wish for
the zones of its DHCP agents: given at create only, a list of distinct names whose JSON form
fits 255 characters (Neutron's column), each the zone of some DHCP agent (else
``AvailabilityZoneNotFound``, a 404). The DHCP scheduler then picks only agents of those
zones; ``availability_zones`` shows where the network is served.
"""

from __future__ import annotations

from typing import Any

import orjson

from neutrino.common.errors import InvalidInput, NamedNotFound
from neutrino.domain.attributes import Invalid, described
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


@described({"type": "array", "uniqueItems": True, "items": {"type": "string", "maxLength": 255}})
def hints(value: Any) -> list[str]:
    """Neutron's ``availability_zone_hints``: a list of unique strings, 255 characters as
    JSON at most."""
    if not isinstance(value, list):
        raise Invalid(f"'{str(value)[:64]}' is not a list")
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f"'{str(item)[:64]}' is not a valid string")
    if len(set(value)) != len(value):
        raise Invalid(f"Duplicate items in the list: '{', '.join(sorted(set(value)))[:64]}'")
    if len(hints_text(value)) > 255:
        raise InvalidInput("Too many availability_zone_hints specified")
    return list(value)


def hints_text(value: list[str]) -> str:
    return orjson.dumps(value).decode() if value else ""


def check_hints(conn: Any, agent_type: str, wanted: list[str]) -> None:
    """Each hinted zone is some ``agent_type`` agent's, or 404 as Neutron."""
    known = set(repo.agent_zones(conn, agent_type).values())
    for zone in wanted:
        if zone not in known:
            raise NamedNotFound(
                "AvailabilityZoneNotFound", f"AvailabilityZone {zone} could not be found."
            )
