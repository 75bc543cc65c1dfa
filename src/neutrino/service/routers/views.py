"""How routers and router interfaces look on the wire.

Owns the Neutron shape of a router (``tenant_id`` beside ``project_id``, the
``external_gateway_info`` built from the gateway port and its fixed IPs, ``routes`` as
``destination``/``nexthop`` dicts, ``ha`` for admins) and of the answer to
``add/remove_router_interface``.
Rendering is read-only and batched: one query per related table for a whole page of routers,
never one per router.
"""

from __future__ import annotations

from typing import Any

from neutrino.service.common import standard_view
from neutrino.store import agents as agent_repo
from neutrino.store import l3 as l3_repo
from neutrino.store import routers as repo
from neutrino.store import tags as tag_repo


def render(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    routes = repo.routes_of(conn, ids)
    tags = tag_repo.tags_of(conn, ids)
    gw_ids = [r["gw_port_id"] for r in rows if r["gw_port_id"]]
    gw_ports = repo.gateway_ports(conn, gw_ids)
    gw_ips = repo.fixed_ips(conn, gw_ids)
    zones = l3_repo.router_zones(conn, ids)
    out = []
    for r in rows:
        gw = gw_ports.get(r["gw_port_id"] or "")
        info = (
            None
            if gw is None
            else {
                "network_id": gw["network_id"],
                "external_fixed_ips": [
                    {"subnet_id": s, "ip_address": a} for s, a in gw_ips.get(gw["id"], [])
                ],
                "enable_snat": r["enable_snat"],
            }
        )
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "tenant_id": r["project_id"],
                "project_id": r["project_id"],
                "admin_state_up": r["admin_state_up"],
                "status": r["status"],
                "external_gateway_info": info,
                "routes": [{"destination": d, "nexthop": n} for d, n in routes.get(r["id"], [])],
                **standard_view(r, tags.get(r["id"], [])),
                "ha": bool(r["ha"]),
                "availability_zone_hints": agent_repo.zone_list(r["availability_zone_hints"]),
                "availability_zones": zones.get(r["id"], []),
                "flavor_id": r["flavor_id"],
            }
        )
    return out


def for_caller(admin: bool, routers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attributes Neutron's policy shows to admins only: ``ha``."""
    if not admin:
        for router in routers:
            router.pop("ha", None)
    return routers


def render_one(conn: Any, router_id: str) -> dict[str, Any]:
    row = repo.find(conn, router_id)
    assert row is not None
    return render(conn, [row])[0]


def interface_info(
    router_id: str, port: Any, subnet_id: str, subnet_ids: list[str]
) -> dict[str, Any]:
    return {
        "id": router_id,
        "tenant_id": port["project_id"],
        "project_id": port["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": subnet_id,
        "subnet_ids": subnet_ids,
    }
