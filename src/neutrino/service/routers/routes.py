"""Extra routes (``extraroute``, ``extraroute-atomic``): replacing, adding, removing them.

Owns the router's static routes and their one invariant, as Neutron's l3_db keeps it: every
route's next hop lies in a subnet the router is connected to (interface or gateway) and is not
one of the router's own addresses. It is checked whenever the set of routes changes
(:func:`replace_routes`), and from the other side whenever an interface goes away
(:func:`check_not_needed_by_routes`: an interface a route needs cannot be removed, unless
another attached subnet still reaches the next hop).

Routes are a set: asking for the routes already there is not a change and does not bump the
router's revision. ``add``/``remove`` keep the current order and append new routes at the end.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.errors import NamedConflict
from neutrino.service.context import RequestContext
from neutrino.service.routers.errors import invalid_routes
from neutrino.service.routers.records import bump, load
from neutrino.service.routers.views import render_one
from neutrino.store import routers as repo
from neutrino.store.uow import Tx

Route = tuple[str, str]


def replace_routes(
    tx: Tx, router_id: str, shown: list[dict[str, str]], wanted: list[Route]
) -> bool:
    """Make the router's routes ``wanted``; True if they changed. ``shown`` is for errors."""
    current = repo.routes_of(tx.conn, [router_id]).get(router_id, [])
    if sorted(set(wanted)) == sorted(current):
        return False
    _check_routes(tx.conn, router_id, shown, wanted)
    repo.replace_routes(tx.conn, router_id, wanted)
    return True


def _check_routes(
    conn: Any, router_id: str, shown: list[dict[str, str]], wanted: list[Route]
) -> None:
    attached = repo.attached_subnets(conn, router_id)
    nets = [ipaddress.ip_network(a["cidr"]) for a in attached]
    own = {ipaddress.ip_address(a["ip_address"]) for a in attached}
    for _dest, hop in wanted:
        addr = ipaddress.ip_address(hop)
        if not any(addr.version == n.version and addr in n for n in nets):
            raise invalid_routes(shown, "the nexthop is not connected with router")
        if addr in own:
            raise invalid_routes(shown, "the nexthop is used by router")


def change_routes_tx(
    tx: Tx, ctx: RequestContext, router_id: str, routes: list[dict[str, str]], *, add: bool
) -> dict[str, Any]:
    """``add_extraroutes`` (``add``) or ``remove_extraroutes``, inside one transaction."""
    load(tx.conn, ctx, router_id, for_update=True)
    current = repo.routes_of(tx.conn, [router_id]).get(router_id, [])
    given = [(r["destination"], r["nexthop"]) for r in routes]
    wanted = (
        current + [g for g in given if g not in current]
        if add
        else [c for c in current if c not in given]
    )
    shown = [{"destination": d, "nexthop": n} for d, n in wanted]
    if replace_routes(tx, router_id, shown, wanted):
        bump(tx, router_id)
    return render_one(tx.conn, router_id)


def check_not_needed_by_routes(conn: Any, router_id: str, removed: list[str]) -> None:
    routes = repo.routes_of(conn, [router_id]).get(router_id, [])
    if not routes:
        return
    attached = repo.attached_subnets(conn, router_id)
    gone = [ipaddress.ip_network(a["cidr"]) for a in attached if a["subnet_id"] in removed]
    kept = [ipaddress.ip_network(a["cidr"]) for a in attached if a["subnet_id"] not in removed]
    for _dest, hop in routes:
        addr = ipaddress.ip_address(hop)
        needed = any(addr.version == n.version and addr in n for n in gone)
        if needed and not any(addr.version == n.version and addr in n for n in kept):
            raise NamedConflict(
                "RouterInterfaceInUseByRoute",
                f"Router interface for subnet {removed[0]} on router {router_id} cannot "
                f"be deleted, as it is required by one or more routes.",
            )
