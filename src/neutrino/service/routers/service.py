"""``RouterService``: the one entry point the API uses for routers.

Owns the router's create, show, list, update and delete, and is the facade for the rest: every
public method checks the caller's policy and parses the body *before* opening a write, then
runs one transaction (``Store.write``, which retries it whole on a retryable conflict) whose
body lives with the concern it changes: :mod:`.gateway`, :mod:`.interfaces`, :mod:`.routes`.

Invariants kept here:
- a router is created, its gateway set, its tags stored and the change recorded in one
  transaction; a router's revision is bumped once per update that changes anything;
- a router with interfaces cannot be deleted (409 ``RouterInUse``); its gateway port goes with
  it.

Locks (PostgreSQL, ``store.locks`` and its order): a create takes the project's router quota
key before counting; every other write (update, gateway, routes, interfaces, delete) locks the
router row (``SELECT ... FOR UPDATE``, :func:`.records.load`) before reading it, so
``If-Match`` compares the committed revision, interface and route checks see every committed
interface, and of two deletes the second answers 404. Ports the router creates lock their
network after the router (routers come before networks in the lock order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neutrino.common.errors import InvalidInput, NamedBadRequest, NamedConflict
from neutrino.common.ids import new_id
from neutrino.common.settings import Settings
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import availability_zones as az
from neutrino.service import common, l3_ha, l3_scheduler, policy
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.service.routers import interfaces
from neutrino.service.routers.attributes import (
    ROUTES_SPEC,
    SPEC,
    interface_keys,
)
from neutrino.service.routers.gateway import set_gateway
from neutrino.service.routers.ports import RouterPorts
from neutrino.service.routers.records import bump, load
from neutrino.service.routers.routes import change_routes_tx, replace_routes
from neutrino.service.routers.views import for_caller, render, render_one
from neutrino.store import ports as port_repo
from neutrino.store import routers as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

if TYPE_CHECKING:  # they import this package's fip rules
    from neutrino.service.flavors import FlavorService
    from neutrino.service.networks import NetworkService
    from neutrino.service.subnets import SubnetService

# Aliases keep ``list`` in signatures from resolving to a method of the class (mypy).
Items = list[dict[str, Any]]


# who makes the HA networks: the server itself, as an admin of no project
SYSTEM = RequestContext(user_id="neutrino", project_id="", roles=frozenset({"admin"}))


class RouterService:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        quotas: QuotaService,
        networks: NetworkService | None = None,
        subnets: SubnetService | None = None,
        flavors: FlavorService | None = None,
    ) -> None:
        self.store = store
        self.flavors = flavors
        self.quotas = quotas
        self.ports = RouterPorts(store, settings)
        self.networks = networks
        self.subnets = subnets

    # --- reads

    def get(self, ctx: RequestContext, router_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = load(conn, ctx, router_id)
            return for_caller(ctx.is_admin, render(conn, [row]))[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, ctx.list_scope)
            return for_caller(ctx.is_admin, render(conn, rows))

    # --- create

    def create_bulk(self, ctx: RequestContext, bodies: Items) -> Items:
        ctx.require_write("create_router")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            policy.check_router_gateway(ctx, "create_router", attrs)
            policy.check_admin_only(ctx, "create_router", SPEC, attrs)
            if "flavor_id" in attrs and self.flavors is None:
                raise NamedBadRequest("BadRequest", "Router flavors are not available here")
            attrs["ha_given"] = "ha" in attrs
            attrs.setdefault("ha", self.ports.ha.default_ha)
            if attrs["ha"] and self.networks is None:
                raise NamedBadRequest("BadRequest", "L3 HA is not available on this server")
            parsed.append(attrs)
        return for_caller(ctx.is_admin, self.store.write(self._create_tx, ctx, parsed))

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: Items) -> Items:
        created = []
        for project, count in common.per_project(ctx, items):
            self.quotas.check(tx, project, "router", count)
        for attrs in items:
            if "flavor_id" in attrs:
                self._apply_flavor(tx, attrs)
            router_id = new_id()
            project = common.owner_project(ctx, attrs)
            hints = attrs.get("availability_zone_hints") or []
            az.check_hints(tx.conn, l3_scheduler.L3_AGENT, hints)
            repo.insert_row(
                tx.conn,
                common.new_row(
                    router_id,
                    project,
                    attrs,
                    revision=1,
                    admin_state_up=attrs.get("admin_state_up", True),
                    status="ACTIVE",
                    gw_port_id=None,
                    enable_snat=True,
                    ha=attrs["ha"],
                    ha_vr_id=l3_ha.allocate_vr_id(tx, project) if attrs["ha"] else None,
                    availability_zone_hints=az.hints_text(hints),
                    flavor_id=attrs.get("flavor_id"),
                ),
            )
            if attrs["ha"]:
                self._ensure_ha_network(tx, project)
            if attrs.get("external_gateway_info"):
                row = repo.find(tx.conn, router_id)
                set_gateway(tx, ctx, self.ports, row, attrs["external_gateway_info"])
                l3_scheduler.sync_router(tx, router_id, ha=self.ports.ha)
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "routers", router_id, attrs["tags"])
            tx.created(Resource.ROUTER, router_id)
            created.append(render_one(tx.conn, router_id))
        return created

    def _apply_flavor(self, tx: Tx, attrs: dict[str, Any]) -> None:
        """``l3-flavors``: the flavor's provider decides ``ha``; an ``ha`` the provider does
        not support is refused (Neutron's driver controller)."""
        assert self.flavors is not None
        provider = self.flavors.provider_for(tx, attrs["flavor_id"])
        ha = provider == "ha"
        if attrs["ha_given"] and attrs["ha"] != ha:
            raise InvalidInput(f"Provider {provider} does not support ha={attrs['ha']}")
        attrs["ha"] = ha

    def create_tx(self, tx: Tx, ctx: RequestContext, body: dict[str, Any]) -> str:
        """One router made inside the caller's transaction as a create call would."""
        attrs = parse_create(body, SPEC)
        attrs.setdefault("ha", self.ports.ha.default_ha and self.networks is not None)
        return str(self._create_tx(tx, ctx, [attrs])[0]["id"])

    def delete_tx(self, tx: Tx, ctx: RequestContext, router_id: str) -> None:
        self._delete_tx(tx, ctx, router_id, None)

    # --- update

    def update(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_router", lambda: self.get(ctx, router_id))
        attrs = parse_update(body, SPEC)
        policy.check_router_gateway(ctx, "update_router", attrs)
        policy.check_admin_only(ctx, "update_router", SPEC, attrs)
        return for_caller(
            ctx.is_admin, [self.store.write(self._update_tx, ctx, router_id, attrs, if_match)]
        )[0]

    def _update_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        router_id: str,
        attrs: dict[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        row = load(tx.conn, ctx, router_id, for_update=True)
        common.check_revision(row["revision_number"], if_match)
        values = common.changed_attrs(attrs, row, ("name", "description", "admin_state_up"))
        resync = False
        if "ha" in attrs and attrs["ha"] != bool(row["ha"]):
            if row["flavor_id"]:
                raise InvalidInput(
                    "Changing the 'ha' and 'distributed' attributes on a router associated "
                    "with a flavor is not supported"
                )
            values.update(self._change_ha(tx, row, attrs))
            resync = True
        touched = bool(values)
        if "external_gateway_info" in attrs and set_gateway(
            tx, ctx, self.ports, row, attrs["external_gateway_info"]
        ):
            resync = True  # bind the new gateway port
            touched = True
        if "routes" in attrs:
            wanted = [(r["destination"], r["nexthop"]) for r in attrs["routes"]]
            touched |= replace_routes(tx, router_id, attrs["routes"], wanted)
        if touched:
            bump(tx, router_id, values)
        if resync:
            l3_scheduler.sync_router(tx, router_id, ha=self.ports.ha)
        return render_one(tx.conn, router_id)

    def _change_ha(self, tx: Tx, row: Any, attrs: dict[str, Any]) -> dict[str, Any]:
        """Neutron's rule: a router changes HA mode only while administratively down (the
        new mode's agents take over from nothing)."""
        if attrs.get("admin_state_up", row["admin_state_up"]):
            raise NamedBadRequest(
                "BadRequest",
                "Cannot change HA attribute of active routers. Please set router "
                "admin_state_up to False prior to upgrade",
            )
        if not attrs["ha"]:
            l3_ha.sync_ha_ports(tx, row["id"], [], self.ports.ha)  # before their network goes
            self._drop_ha_network(tx, row["project_id"], row["id"])
            return {"ha": False, "ha_vr_id": None}
        if self.networks is None:
            raise NamedBadRequest("BadRequest", "L3 HA is not available on this server")
        self._ensure_ha_network(tx, row["project_id"])
        return {"ha": True, "ha_vr_id": l3_ha.allocate_vr_id(tx, row["project_id"])}

    def _ensure_ha_network(self, tx: Tx, project: str) -> str:
        """The project's HA network (``service.l3_ha``), made with its subnet if missing."""
        l3_ha.ha_network_lock(tx, project)
        found = l3_ha.ha_network(tx, project)
        if found is not None:
            return found
        assert self.networks is not None and self.subnets is not None
        network_id = self.networks.create_system_tx(
            tx,
            SYSTEM,
            {"name": l3_ha.network_name(project), "tenant_id": "", "admin_state_up": True},
        )
        self.subnets.create_system_tx(
            tx,
            SYSTEM,
            {
                "network_id": network_id,
                "name": f"HA subnet tenant {project}",
                "tenant_id": "",
                "cidr": l3_ha.HA_CIDR,
                "ip_version": 4,
                "enable_dhcp": False,
                "gateway_ip": None,
            },
        )
        return network_id

    def _drop_ha_network(self, tx: Tx, project: str, router_id: str) -> None:
        """Delete the project's HA network when ``router_id`` was its last HA router (its HA
        ports are gone by now)."""
        l3_ha.ha_network_lock(tx, project)
        if l3_ha.other_ha_routers(tx, project, router_id):
            return
        network_id = l3_ha.ha_network(tx, project)
        if network_id is not None and self.networks is not None:
            self.networks.delete_system_tx(tx, SYSTEM, network_id)

    # --- extra routes

    def add_extraroutes(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._change_routes(ctx, router_id, body, add=True)

    def remove_extraroutes(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._change_routes(ctx, router_id, body, add=False)

    def _change_routes(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any], *, add: bool
    ) -> dict[str, Any]:
        ctx.require_write_on(
            "add_extraroutes" if add else "remove_extraroutes", lambda: self.get(ctx, router_id)
        )
        routes = parse_update(body, ROUTES_SPEC)["routes"] if body else None
        if routes is None:
            raise NamedBadRequest(
                "HTTPBadRequest",
                "Failed to parse request. Required attribute 'routes' not specified",
            )
        return for_caller(
            ctx.is_admin, [self.store.write(change_routes_tx, ctx, router_id, routes, add=add)]
        )[0]

    # --- interfaces

    def add_interface(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._interface(ctx, router_id, body, removal=False)

    def remove_interface(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._interface(ctx, router_id, body, removal=True)

    def _interface(
        self, ctx: RequestContext, router_id: str, body: dict[str, Any], *, removal: bool
    ) -> dict[str, Any]:
        action = "remove_router_interface" if removal else "add_router_interface"
        ctx.require_write_on(action, lambda: self.get(ctx, router_id))
        by_port, by_subnet = interface_keys(body, removal=removal)
        return self.store.write(
            interfaces.remove_tx if removal else interfaces.add_tx,
            ctx,
            self.ports,
            router_id,
            body["port_id"] if by_port else None,
            body["subnet_id"] if by_subnet else None,
        )

    # --- delete

    def delete(self, ctx: RequestContext, router_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_router", lambda: self.get(ctx, router_id))
        self.store.write(self._delete_tx, ctx, router_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, router_id: str, if_match: int | None) -> None:
        conn = tx.conn
        row = load(conn, ctx, router_id, for_update=True)
        common.check_revision(row["revision_number"], if_match)
        if repo.port_ids(conn, router_id, repo.INTERFACE):
            raise NamedConflict("RouterInUse", f"Router {router_id} still has ports")
        l3_ha.sync_ha_ports(tx, router_id, [], self.ports.ha)  # an HA router's HA ports
        if row["gw_port_id"]:
            gw = port_repo.find(conn, row["gw_port_id"])
            if gw is not None:
                self.ports.delete(tx, gw)
        tx.deleted(Resource.ROUTER, row)
        repo.delete_row(conn, router_id)
        tag_repo.delete_all(conn, router_id)
        if row["ha"]:
            self._drop_ha_network(tx, row["project_id"], router_id)
