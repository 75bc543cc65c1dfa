"""Routers: create, show, list, update, delete; interfaces (add/remove by subnet or by port),
the external gateway (``ext-gw-mode``) and extra routes (``extraroute``, ``extraroute-atomic``).

A router's ports are ordinary ports on its networks: an interface is a
``network:router_interface`` port holding the subnet's gateway IP, the gateway is a
``network:router_gateway`` port (project ``''``, as Neutron) on an external network. Each port
is created, allocated and linked to the router (``router_ports``) in the same transaction as
the router's revision bump and the change-log entries, so a failed attach leaves nothing.

Invariants, as Neutron's l3_db keeps them:
- a router never has two interfaces on one subnet nor on overlapping CIDRs (the gateway's
  network's subnets count too);
- a router with interfaces cannot be deleted (409 ``RouterInUse``); its gateway port goes with it;
- every extra route's next hop lies in a subnet the router is connected to and is not one of
  the router's own addresses; an interface a route needs cannot be removed.

Policy (Neutron's defaults): routers are project-scoped; admins see and change all; members
write their own project's routers; readers only read. Setting ``enable_snat`` or
``external_fixed_ips`` of the gateway is admin-only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import (
    NamedBadRequest,
    NamedConflict,
    NotFound,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import is_uuid, new_id
from neutrino.common.settings import Settings
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    list_of,
    nullable,
    parse_create,
    parse_update,
    string,
    to_bool,
)
from neutrino.domain.listing import ListQuery
from neutrino.domain.macs import random_mac
from neutrino.service import ipam
from neutrino.service.common import check_revision, owner_project, standard_view
from neutrino.service.context import RequestContext
from neutrino.store import networks as network_repo
from neutrino.store import ports as port_repo
from neutrino.store import routers as repo
from neutrino.store import subnets as subnet_repo
from neutrino.store import tags as tag_repo
from neutrino.store.uow import Store, Tx

INTERFACE = repo.INTERFACE
GATEWAY = repo.GATEWAY
MAC_ATTEMPTS = 16
Route = tuple[str, str]
# Aliases keep ``list`` in signatures from resolving to ``RouterService.list`` (mypy).
Routes = list[Route]
RouteDicts = list[dict[str, str]]
Strs = list[str]
Rows = list[Any]
Items = list[dict[str, Any]]


# --- request attributes -------------------------------------------------------------------


def _gateway_info(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"'{value}' is not a dictionary")
    if not value:
        return {}  # Neutron: an empty dict clears the gateway, as null does
    unknown = set(value) - {"network_id", "enable_snat", "external_fixed_ips"}
    if unknown:
        raise Invalid(f"Unexpected keys supplied: {', '.join(sorted(unknown))}")
    if "network_id" not in value or not is_uuid(value["network_id"]):
        raise Invalid(f"'{value.get('network_id')}' is not a valid UUID")
    out: dict[str, Any] = {"network_id": value["network_id"]}
    if "enable_snat" in value:
        out["enable_snat"] = to_bool(value["enable_snat"])
    if "external_fixed_ips" in value:
        ips = value["external_fixed_ips"]
        if not isinstance(ips, list) or not all(
                isinstance(i, dict) and i and set(i) <= {"subnet_id", "ip_address"}
                for i in ips):
            raise Invalid(f"Invalid data format for fixed IP: '{ips}'")
        out["external_fixed_ips"] = [dict(i) for i in ips]
    return out


def _route(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != {"destination", "nexthop"}:
        raise Invalid(f"Invalid data format for hostroute: '{value}'")
    dest, hop = value["destination"], value["nexthop"]
    try:
        net = ipaddress.ip_network(dest, strict=False)
    except (TypeError, ValueError):
        raise Invalid(f"'{dest}' is not a valid IP subnet") from None
    if str(net) != dest:
        raise Invalid(f"'{dest}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    try:
        addr = ipaddress.ip_address(hop)
    except (TypeError, ValueError):
        raise Invalid(f"'{hop}' is not a valid IP address") from None
    return {"destination": str(net), "nexthop": str(addr)}


def _routes(value: Any) -> list[dict[str, str]]:
    items = list_of(_route)(value)
    seen: set[Route] = set()
    for r in items:
        key = (r["destination"], r["nexthop"])
        if key in seen:
            raise Invalid(f"Duplicate hostroute '{r}'")
        seen.add(key)
    return items


SPEC: dict[str, Attr] = {
    **STANDARD,
    "admin_state_up": Attr(to_bool),
    "external_gateway_info": Attr(nullable(_gateway_info)),
    "routes": Attr(_routes, allow_post=False),
    "tags": Attr(list_of(string(255)), allow_put=False),
}
ROUTES_SPEC: dict[str, Attr] = {"routes": Attr(_routes, required=True)}


def _bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad router request: {message}.")


def _invalid_routes(routes: list[dict[str, str]], reason: str) -> NamedBadRequest:
    return NamedBadRequest("InvalidRoutes", f"Invalid format for routes: {routes}, {reason}.")


class RouterService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.base_mac = settings.base_mac
        self.window = settings.ipam_window

    # --- views

    def _render(self, conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        routes = repo.routes_of(conn, ids)
        tags = tag_repo.tags_of(conn, ids)
        gw_ids = [r["gw_port_id"] for r in rows if r["gw_port_id"]]
        gw_ports = repo.gateway_ports(conn, gw_ids)
        gw_ips = repo.fixed_ips(conn, gw_ids)
        out = []
        for r in rows:
            gw = gw_ports.get(r["gw_port_id"] or "")
            info = None if gw is None else {
                "network_id": gw["network_id"],
                "external_fixed_ips": [{"subnet_id": s, "ip_address": a}
                                       for s, a in gw_ips.get(gw["id"], [])],
                "enable_snat": r["enable_snat"],
            }
            out.append({
                "id": r["id"],
                "name": r["name"],
                "tenant_id": r["project_id"],
                "project_id": r["project_id"],
                "admin_state_up": r["admin_state_up"],
                "status": r["status"],
                "external_gateway_info": info,
                "routes": [{"destination": d, "nexthop": n} for d, n in routes.get(r["id"], [])],
                **standard_view(r, tags.get(r["id"], [])),
            })
        return out

    def _render_one(self, conn: Any, router_id: str) -> dict[str, Any]:
        row = repo.find(conn, router_id)
        assert row is not None
        return self._render(conn, [row])[0]

    def _load(self, conn: Any, ctx: RequestContext, router_id: str, *,
              for_update: bool = False) -> Any:
        row = repo.find(conn, router_id, for_update=for_update)
        if row is None or not ctx.owns(row["project_id"]):
            raise ResourceNotFound("Router", router_id)
        return row

    # --- reads

    def get(self, ctx: RequestContext, router_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._load(conn, ctx, router_id)
            return self._render(conn, [row])[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, None if ctx.is_admin else ctx.project_id)
            return self._render(conn, rows)

    # --- create

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: RequestContext, bodies: Items
                    ) -> Items:
        ctx.require_write("create_router")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            _check_gateway_policy(ctx, attrs, "create_router")
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: Items
                   ) -> Items:
        created = []
        for attrs in items:
            router_id = new_id()
            now = clock.now()
            project = owner_project(ctx, attrs)
            repo.insert_row(tx.conn, {
                "id": router_id, "project_id": project, "name": attrs.get("name", ""),
                "description": attrs.get("description", ""), "created_at": now,
                "updated_at": now, "revision_number": 1,
                "admin_state_up": attrs.get("admin_state_up", True), "status": "ACTIVE",
                "gw_port_id": None, "enable_snat": True,
            })
            if attrs.get("external_gateway_info"):
                row = repo.find(tx.conn, router_id)
                self._set_gateway(tx, ctx, row, attrs["external_gateway_info"])
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "routers", router_id, attrs["tags"])
            tx.record("router", router_id, "create", project)
            created.append(self._render_one(tx.conn, router_id))
        return created

    # --- update

    def update(self, ctx: RequestContext, router_id: str, body: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        ctx.require_write("update_router")
        attrs = parse_update(body, SPEC)
        _check_gateway_policy(ctx, attrs, "update_router")
        return self.store.write(self._update_tx, ctx, router_id, attrs, if_match)

    def _update_tx(self, tx: Tx, ctx: RequestContext, router_id: str, attrs: dict[str, Any],
                   if_match: int | None) -> dict[str, Any]:
        row = self._load(tx.conn, ctx, router_id, for_update=True)
        check_revision(row["revision_number"], if_match)
        values: dict[str, Any] = {k: attrs[k] for k in ("name", "description", "admin_state_up")
                  if k in attrs and attrs[k] != row[k]}
        touched = bool(values)
        if "external_gateway_info" in attrs:
            touched |= self._set_gateway(tx, ctx, row, attrs["external_gateway_info"])
        if "routes" in attrs:
            wanted = [(r["destination"], r["nexthop"]) for r in attrs["routes"]]
            touched |= self._replace_routes(tx, router_id, attrs["routes"], wanted)
        if touched:
            self._bump(tx, router_id, values)
        return self._render_one(tx.conn, router_id)

    def _bump(self, tx: Tx, router_id: str, values: dict[str, Any] | None = None) -> None:
        row = repo.find(tx.conn, router_id)
        assert row is not None
        repo.update_row(tx.conn, router_id, {
            **(values or {}), "revision_number": row["revision_number"] + 1,
            "updated_at": clock.now()})
        tx.record("router", router_id, "update", row["project_id"])

    # --- extra routes

    def _replace_routes(self, tx: Tx, router_id: str, shown: RouteDicts,
                        wanted: Routes) -> bool:
        current = repo.routes_of(tx.conn, [router_id]).get(router_id, [])
        if sorted(set(wanted)) == sorted(current):
            return False
        self._check_routes(tx.conn, router_id, shown, wanted)
        repo.replace_routes(tx.conn, router_id, wanted)
        return True

    @staticmethod
    def _check_routes(conn: Any, router_id: str, shown: RouteDicts,
                      wanted: Routes) -> None:
        attached = repo.attached_subnets(conn, router_id)
        nets = [ipaddress.ip_network(a["cidr"]) for a in attached]
        own = {ipaddress.ip_address(a["ip_address"]) for a in attached}
        for _dest, hop in wanted:
            addr = ipaddress.ip_address(hop)
            if not any(addr.version == n.version and addr in n for n in nets):
                raise _invalid_routes(shown, "the nexthop is not connected with router")
            if addr in own:
                raise _invalid_routes(shown, "the nexthop is used by router")

    def add_extraroutes(self, ctx: RequestContext, router_id: str, body: dict[str, Any]
                        ) -> dict[str, Any]:
        return self._change_routes(ctx, router_id, body, add=True)

    def remove_extraroutes(self, ctx: RequestContext, router_id: str, body: dict[str, Any]
                           ) -> dict[str, Any]:
        return self._change_routes(ctx, router_id, body, add=False)

    def _change_routes(self, ctx: RequestContext, router_id: str, body: dict[str, Any],
                       *, add: bool) -> dict[str, Any]:
        ctx.require_write("add_extraroutes" if add else "remove_extraroutes")
        routes = parse_update(body, ROUTES_SPEC)["routes"] if body else None
        if routes is None:
            raise NamedBadRequest("HTTPBadRequest", "Failed to parse request. Required "
                                  "attribute 'routes' not specified")

        def tx_fn(tx: Tx) -> dict[str, Any]:
            self._load(tx.conn, ctx, router_id, for_update=True)
            current = repo.routes_of(tx.conn, [router_id]).get(router_id, [])
            given = [(r["destination"], r["nexthop"]) for r in routes]
            wanted = (current + [g for g in given if g not in current] if add
                      else [c for c in current if c not in given])
            shown = [{"destination": d, "nexthop": n} for d, n in wanted]
            if self._replace_routes(tx, router_id, shown, wanted):
                self._bump(tx, router_id)
            return self._render_one(tx.conn, router_id)

        return self.store.write(tx_fn)

    # --- the external gateway

    def _set_gateway(self, tx: Tx, ctx: RequestContext, router: Any,
                     info: dict[str, Any] | None) -> bool:
        """Make the router's gateway match ``info`` (None: no gateway); True if it changed."""
        conn = tx.conn
        current = (port_repo.find(conn, router["gw_port_id"]) if router["gw_port_id"]
                   else None)
        if not info:
            if current is None:
                return False
            self._delete_port(tx, current)
            repo.update_row(conn, router["id"], {"gw_port_id": None})
            return True
        network_id = info["network_id"]
        net = network_repo.find(conn, network_id)
        if net is None or not (ctx.owns(net["project_id"]) or net["shared"]
                               or net["router_external"]):
            raise ResourceNotFound("Network", network_id)
        if not net["router_external"]:
            raise _bad(f"Network {network_id} is not an external network")
        snat = info.get("enable_snat", True)
        requested = info.get("external_fixed_ips")
        if current is not None and current["network_id"] == network_id:
            ips = [{"subnet_id": s, "ip_address": a}
                   for s, a in repo.fixed_ips(conn, [current["id"]]).get(current["id"], [])]
            same_ips = requested is None or (
                len(requested) == len(ips)
                and all(any(all(i[k] == r[k] for k in r) for i in ips) for r in requested))
            if same_ips:
                if snat == router["enable_snat"]:
                    return False
                repo.update_row(conn, router["id"], {"enable_snat": snat})
                return True
        if current is not None:
            self._delete_port(tx, current)
            repo.update_row(conn, router["id"], {"gw_port_id": None})
        self._check_overlap(conn, router["id"], subnet_repo.on_network(conn, network_id),
                            gateway=True)
        port_id, fixed = self._create_port(tx, network_id, "", router["id"], GATEWAY,
                                           requested)
        if not fixed:
            raise _bad(f"No IPs available for external network {network_id}")
        repo.update_row(conn, router["id"], {"gw_port_id": port_id, "enable_snat": snat})
        return True

    # --- interfaces

    def add_interface(self, ctx: RequestContext, router_id: str, body: dict[str, Any]
                      ) -> dict[str, Any]:
        ctx.require_write("add_router_interface")
        by_port, by_subnet = _interface_keys(body, removal=False)
        return self.store.write(self._add_interface_tx, ctx, router_id,
                                body["port_id"] if by_port else None,
                                body["subnet_id"] if by_subnet else None)

    def _add_interface_tx(self, tx: Tx, ctx: RequestContext, router_id: str,
                          port_id: str | None, subnet_id: str | None) -> dict[str, Any]:
        router = self._load(tx.conn, ctx, router_id, for_update=True)
        if port_id is not None:
            result = self._add_by_port(tx, ctx, router, port_id)
        else:
            assert subnet_id is not None
            result = self._add_by_subnet(tx, ctx, router, subnet_id)
        self._bump(tx, router_id)
        return result

    def _add_by_port(self, tx: Tx, ctx: RequestContext, router: Any, port_id: str
                     ) -> dict[str, Any]:
        conn = tx.conn
        port = port_repo.find(conn, port_id)
        if port is None or not ctx.owns(port["project_id"]):
            raise ResourceNotFound("Port", port_id)
        if port["device_id"]:
            raise NamedConflict("PortInUse", f"Unable to complete operation on port {port_id} "
                                f"for network {port['network_id']}. Port already has an "
                                f"attached device {port['device_id']}.")
        ips = repo.fixed_ips(conn, [port_id]).get(port_id, [])
        if not ips:
            raise _bad("Router port must have at least one fixed IP")
        subnets = [subnet_repo.find(conn, s) for s, _ in ips]
        found = [s for s in subnets if s is not None]
        self._check_overlap(conn, router["id"], found)
        if len([s for s in found if s["ip_version"] == 4]) > 1:
            raise _bad("Cannot have multiple IPv4 subnets on router port")
        port_repo.update_row(conn, port_id, {
            "device_id": router["id"], "device_owner": INTERFACE,
            "revision_number": port["revision_number"] + 1, "updated_at": clock.now()})
        repo.attach_port(conn, router["id"], port_id, INTERFACE)
        tx.record("port", port_id, "update", port["project_id"], port["network_id"])
        subnet_ids = [s for s, _ in ips]
        return _interface_info(router["id"], port, subnet_ids[-1], subnet_ids)

    def _add_by_subnet(self, tx: Tx, ctx: RequestContext, router: Any, subnet_id: str
                       ) -> dict[str, Any]:
        conn = tx.conn
        subnet = subnet_repo.find(conn, subnet_id)
        if subnet is None or not (ctx.owns(subnet["project_id"])
                                  or ctx.owns(subnet["network_project_id"])
                                  or subnet["network_shared"] or subnet["router_external"]):
            raise ResourceNotFound("Subnet", subnet_id)
        if not subnet["gateway_ip"]:
            raise _bad("Subnet for router interface must have a gateway IP")
        if not ctx.owns(subnet["project_id"]):
            raise _bad(f"Cannot add interface to router because subnet {subnet_id} is not "
                       f"owned by project making the request")
        if (subnet["ip_version"] == 6 and subnet["ipv6_ra_mode"] is None
                and subnet["ipv6_address_mode"] is not None):
            raise _bad(f"IPv6 subnet {subnet_id} configured to receive RAs from an external "
                       f"router cannot be added to Neutron Router")
        self._check_overlap(conn, router["id"], [subnet])
        fixed = {"subnet_id": subnet_id, "ip_address": subnet["gateway_ip"]}
        if subnet["ip_version"] == 6:
            existing = self._ipv6_interface_on(conn, router["id"], subnet["network_id"])
            if existing is not None:
                current = [{"subnet_id": s, "ip_address": a} for s, a in
                           repo.fixed_ips(conn, [existing["id"]]).get(existing["id"], [])]
                ipam.reallocate(tx, existing["network_id"], existing["id"], current,
                                [*current, fixed], existing["mac_address"],
                                device_owner=INTERFACE, window=self.window)
                port_repo.update_row(conn, existing["id"], {
                    "revision_number": existing["revision_number"] + 1,
                    "updated_at": clock.now()})
                tx.record("port", existing["id"], "update", existing["project_id"],
                          existing["network_id"])
                return _interface_info(router["id"], existing, subnet_id, [subnet_id])
        port_id, _ = self._create_port(tx, subnet["network_id"], router["project_id"],
                                       router["id"], INTERFACE, [fixed])
        port = port_repo.get(conn, port_id)
        return _interface_info(router["id"], port, subnet_id, [subnet_id])

    @staticmethod
    def _ipv6_interface_on(conn: Any, router_id: str, network_id: str) -> Any:
        for a in repo.attached_subnets(conn, router_id, INTERFACE):
            if a["network_id"] == network_id and a["ip_version"] == 6:
                return port_repo.get(conn, a["port_id"])
        return None

    @staticmethod
    def _check_overlap(conn: Any, router_id: str, new: Rows, *, gateway: bool = False
                       ) -> None:
        """Neutron's ``_check_for_dup_router_subnets``: no subnet twice, no overlapping CIDRs
        (for the gateway, every subnet of the external network counts)."""
        new_ids = {s["id"] for s in new}
        theirs: dict[str, str] = {}
        gateways = set(repo.port_ids(conn, router_id, GATEWAY))
        for a in repo.attached_subnets(conn, router_id):
            if a["subnet_id"] in new_ids and not gateway:
                raise _bad(f"Router already has a port on subnet {a['subnet_id']}")
            if a["port_id"] in gateways:
                for s in subnet_repo.on_network(conn, a["network_id"]):
                    theirs[s["id"]] = s["cidr"]
            else:
                theirs[a["subnet_id"]] = a["cidr"]
        for s in new:
            mine = ipaddress.ip_network(s["cidr"])
            for other_id, cidr in theirs.items():
                other = ipaddress.ip_network(cidr)
                if other_id != s["id"] and mine.version == other.version \
                        and mine.overlaps(other):
                    raise _bad(f"Cidr {s['cidr']} of subnet {s['id']} overlaps with cidr "
                               f"{cidr} of subnet {other_id}")

    def remove_interface(self, ctx: RequestContext, router_id: str, body: dict[str, Any]
                         ) -> dict[str, Any]:
        ctx.require_write("remove_router_interface")
        by_port, by_subnet = _interface_keys(body, removal=True)
        return self.store.write(self._remove_interface_tx, ctx, router_id,
                                body["port_id"] if by_port else None,
                                body["subnet_id"] if by_subnet else None)

    def _remove_interface_tx(self, tx: Tx, ctx: RequestContext, router_id: str,
                             port_id: str | None, subnet_id: str | None) -> dict[str, Any]:
        conn = tx.conn
        router = self._load(conn, ctx, router_id, for_update=True)
        interfaces = set(repo.port_ids(conn, router_id, INTERFACE))
        if port_id is not None:
            port = port_repo.find(conn, port_id)
            if port is None or port_id not in interfaces:
                raise NotFoundRouterInterface(router_id, port_id)
            ips = repo.fixed_ips(conn, [port_id]).get(port_id, [])
            subnet_ids = [s for s, _ in ips]
            if subnet_id is not None and subnet_id not in subnet_ids:
                raise NamedBadRequest("SubnetMismatchForPort", f"Subnet on port {port_id} "
                                      f"does not match the requested subnet {subnet_id}")
            removed = [subnet_id] if subnet_id is not None else subnet_ids
        else:
            assert subnet_id is not None
            if subnet_repo.find(conn, subnet_id) is None:
                raise ResourceNotFound("Subnet", subnet_id)
            holder = next((a for a in repo.attached_subnets(conn, router_id, INTERFACE)
                           if a["subnet_id"] == subnet_id), None)
            if holder is None:
                raise NamedNotFound("RouterInterfaceNotFoundForSubnet",
                                    f"Router {router_id} has no interface on subnet "
                                    f"{subnet_id}")
            port = port_repo.get(conn, holder["port_id"])
            ips = repo.fixed_ips(conn, [port["id"]]).get(port["id"], [])
            removed = [subnet_id]
        self._check_not_needed_by_routes(conn, router_id, removed)
        remaining = [{"subnet_id": s, "ip_address": a} for s, a in ips if s not in removed]
        if remaining:
            current = [{"subnet_id": s, "ip_address": a} for s, a in ips]
            ipam.reallocate(tx, port["network_id"], port["id"], current, remaining,
                            port["mac_address"], device_owner=INTERFACE, window=self.window)
            port_repo.update_row(conn, port["id"], {
                "revision_number": port["revision_number"] + 1, "updated_at": clock.now()})
            tx.record("port", port["id"], "update", port["project_id"], port["network_id"])
        else:
            self._delete_port(tx, port)
        self._bump(tx, router["id"])
        return _interface_info(router_id, port, removed[0], removed)

    @staticmethod
    def _check_not_needed_by_routes(conn: Any, router_id: str, removed: Strs) -> None:
        routes = repo.routes_of(conn, [router_id]).get(router_id, [])
        if not routes:
            return
        attached = repo.attached_subnets(conn, router_id)
        gone = [ipaddress.ip_network(a["cidr"]) for a in attached if a["subnet_id"] in removed]
        kept = [ipaddress.ip_network(a["cidr"]) for a in attached
                if a["subnet_id"] not in removed]
        for _dest, hop in routes:
            addr = ipaddress.ip_address(hop)
            needed = any(addr.version == n.version and addr in n for n in gone)
            if needed and not any(addr.version == n.version and addr in n for n in kept):
                raise NamedConflict(
                    "RouterInterfaceInUseByRoute",
                    f"Router interface for subnet {removed[0]} on router {router_id} cannot "
                    f"be deleted, as it is required by one or more routes.")

    # --- delete

    def delete(self, ctx: RequestContext, router_id: str, if_match: int | None = None) -> None:
        ctx.require_write("delete_router")
        self.store.write(self._delete_tx, ctx, router_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, router_id: str,
                   if_match: int | None) -> None:
        conn = tx.conn
        row = self._load(conn, ctx, router_id, for_update=True)
        check_revision(row["revision_number"], if_match)
        if repo.port_ids(conn, router_id, INTERFACE):
            raise NamedConflict("RouterInUse", f"Router {router_id} still has ports")
        if row["gw_port_id"]:
            gw = port_repo.find(conn, row["gw_port_id"])
            if gw is not None:
                self._delete_port(tx, gw)
        repo.delete_row(conn, router_id)
        tag_repo.delete_all(conn, router_id)
        tx.record("router", router_id, "delete", row["project_id"])

    # --- router ports

    def _create_port(self, tx: Tx, network_id: str, project: str, router_id: str,
                     owner: str, requested: Items | None
                     ) -> tuple[str, RouteDicts]:
        conn = tx.conn
        if self.store.is_postgres:
            network_repo.get(conn, network_id, for_update=True)
        port_id = new_id()
        now = clock.now()
        port_repo.insert_row(conn, {
            "id": port_id, "project_id": project, "name": "", "description": "",
            "created_at": now, "updated_at": now, "revision_number": 1,
            "network_id": network_id, "mac_address": self._free_mac(tx, network_id),
            "admin_state_up": True, "status": "DOWN", "device_id": router_id,
            "device_owner": owner, "port_security_enabled": False, "binding_host_id": "",
            "binding_vnic_type": "normal", "binding_vif_type": "unbound",
            "binding_vif_details": "{}", "binding_profile": "{}", "dns_name": "",
        })
        mac = port_repo.get(conn, port_id)["mac_address"]
        fixed = ipam.allocate(tx, network_id, requested, mac, port_id=port_id,
                              device_owner=owner, window=self.window)
        repo.attach_port(conn, router_id, port_id, owner)
        tx.record("port", port_id, "create", project, network_id)
        return port_id, fixed

    def _free_mac(self, tx: Tx, network_id: str) -> str:
        for _ in range(MAC_ATTEMPTS):
            candidate = random_mac(self.base_mac)
            if not port_repo.mac_in_use(tx.conn, network_id, candidate):
                return candidate
        raise NamedConflict("MacAddressGenerationFailure",
                            f"Unable to generate unique mac on network {network_id}.")

    @staticmethod
    def _delete_port(tx: Tx, port: Any) -> None:
        ipam.release(tx, port["id"])
        port_repo.delete_row(tx.conn, port["id"])
        tag_repo.delete_all(tx.conn, port["id"])
        tx.record("port", port["id"], "delete", port["project_id"], port["network_id"])


class NamedNotFound(NotFound):
    """A 404 whose Neutron type is given explicitly."""

    def __init__(self, neutron_type: str, message: str) -> None:
        super().__init__(message)
        self._type = neutron_type

    @property
    def type(self) -> str:
        return self._type


class NotFoundRouterInterface(NamedNotFound):
    def __init__(self, router_id: str, port_id: str) -> None:
        super().__init__("RouterInterfaceNotFound", f"Router {router_id} does not have an "
                         f"interface with id {port_id}")


def _interface_keys(body: Any, *, removal: bool) -> tuple[bool, bool]:
    """Neutron's ``_validate_interface_info``."""
    if not isinstance(body, dict):
        body = {}
    by_port, by_subnet = "port_id" in body, "subnet_id" in body
    if not (by_port or by_subnet):
        raise _bad("Either subnet_id or port_id must be specified")
    for key in ("port_id", "subnet_id"):
        if key in body and not is_uuid(body[key]):
            raise _bad(f"'{body[key]}' is not a valid UUID")
    if not removal and by_port and by_subnet:
        raise _bad("Cannot specify both subnet-id and port-id")
    return by_port, by_subnet


def _interface_info(router_id: str, port: Any, subnet_id: str, subnet_ids: Strs
                    ) -> dict[str, Any]:
    return {"id": router_id, "tenant_id": port["project_id"], "project_id": port["project_id"],
            "port_id": port["id"], "network_id": port["network_id"], "subnet_id": subnet_id,
            "subnet_ids": subnet_ids}


def _check_gateway_policy(ctx: RequestContext, attrs: dict[str, Any], action: str) -> None:
    info = attrs.get("external_gateway_info")
    if ctx.is_admin or not info:
        return
    for key in ("enable_snat", "external_fixed_ips"):
        if key in info:
            raise PolicyNotAuthorized(f"rule:{action} and "
                                      f"rule:{action}:external_gateway_info:{key}")

