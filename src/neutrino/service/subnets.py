"""Subnets: create (validation, gateway, allocation pools), show, list, update, delete.

One transaction per call (``Store.write``), like networks: a create takes its cidr from a
subnet pool when asked (``service.subnet_from_pool``, which also owns the network/pool affinity
rules), validates the request the way Neutron does (formats first, then who may create on the
network, then the semantic checks and the overlap with the network's other subnets), inserts
the subnet and its pools, DNS servers and host routes, gives existing ports their EUI-64
address when the subnet is SLAAC/DHCPv6-stateless, bumps the network's revision and appends
the changes to the log.

Policy (Neutron's defaults): a subnet is visible to its project, to the network's owner and to
everyone when the network is shared or external; only the network's owner (or an admin) may
create subnets on it; the subnet's or the network's owner may update and delete it. A caller
who can see a subnet but may not change it gets 403, otherwise 404.

Deleting a subnet is refused (409 SubnetInUse) while a router interface, or, unless the
subnet is auto-addressed, any port other than DHCP/distributed ones holds an address in it;
the remaining allocations are removed with it.

Races: on PostgreSQL every create, update and delete locks the network row
(``store.locks.for_change``, as port creates do) before it reads the network or the subnet,
after the project's subnet quota key on a create. So the overlap check and the EUI-64 pass see
every concurrent subnet and port; a delete's look for ports with addresses in the subnet sees
every port committed before it and no port create can pick an address in it until the delete
commits (the port create then answers 400/404, never leaving a port with an address of a
deleted subnet); ``If-Match`` compares the committed revision; of two deletes the second
answers 404. On SQLite writers are serialized anyway. ``Store.write`` retries the whole call
on a unique-key conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import (
    InvalidInput,
    NamedBadRequest,
    NamedConflict,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain import ipam as ip
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import ipam, policy, rbac
from neutrino.service import segments as segment_svc
from neutrino.service import subnet_attrs as sa
from neutrino.service import subnet_from_pool as from_pool
from neutrino.service import subnetpool_attrs as spa
from neutrino.service.common import check_revision, new_row, owner_project, per_project
from neutrino.service.context import RequestContext
from neutrino.service.dhcp import DhcpScheduler
from neutrino.service.quotas import QuotaService
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import subnet_service_types as type_repo
from neutrino.store import subnets as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC = sa.SPEC
AUTO_DELETE_OWNERS = frozenset(
    {"network:dhcp", "network:distributed", "network:floatingip_agent_gateway"}
)
IPV6_MIN_MTU = 1280
IPV4_MIN_MTU = 68
# Shorthands for the signatures below.
Items = list[dict[str, Any]]
Children = list[tuple[Any, ...]]
Intervals = list[ip.Interval]
Pairs = list[tuple[str, str]]


def _bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad subnets request: {message}.")


class SubnetService:
    def __init__(
        self, store: Store, quotas: QuotaService | None = None, dhcp: DhcpScheduler | None = None
    ) -> None:
        self.store = store
        self.quotas = quotas
        self.dhcp = dhcp or DhcpScheduler()

    # --- views

    def view(
        self,
        row: Any,
        pools: Children,
        dns: Children,
        routes: Children,
        tags: Sequence[str],
        admin: bool = True,
        service_types: Sequence[str] = (),
    ) -> dict[str, Any]:
        ordered = sorted((ip.to_int(a), a, b) for a, b in pools)
        out = {
            "id": row["id"],
            "name": row["name"],
            "project_id": row["project_id"],
            "network_id": row["network_id"],
            "ip_version": row["ip_version"],
            "subnetpool_id": row["subnetpool_id"],
            "enable_dhcp": row["enable_dhcp"],
            "ipv6_ra_mode": row["ipv6_ra_mode"],
            "ipv6_address_mode": row["ipv6_address_mode"],
            "gateway_ip": row["gateway_ip"],
            "cidr": row["cidr"],
            "allocation_pools": [{"start": a, "end": b} for _, a, b in ordered],
            "host_routes": [{"destination": d, "nexthop": n} for d, n in routes],
            "dns_nameservers": [a for (a,) in dns],
            "description": row["description"],
            "router:external": row["router_external"],
            "service_types": list(service_types),
            "segment_id": row["segment_id"],  # the admin's only (Neutron's policy)
            "tags": tags,
            "created_at": clock.iso_seconds(row["created_at"]),
            "updated_at": clock.iso_seconds(row["updated_at"]),
            "revision_number": row["revision_number"],
            "tenant_id": row["project_id"],
        }
        if not admin:
            del out["segment_id"]
        return out

    def _render(self, conn: Any, rows: Sequence[Any], admin: bool) -> Items:
        ids = [r["id"] for r in rows]
        pools, dns = repo.pools_of(conn, ids), repo.dns_of(conn, ids)
        routes, tags = repo.routes_of(conn, ids), tag_repo.tags_of(conn, ids)
        types = type_repo.of(conn, ids)
        return [
            self.view(
                r,
                pools.get(r["id"], []),
                dns.get(r["id"], []),
                routes.get(r["id"], []),
                tags.get(r["id"], []),
                admin,
                types.get(r["id"], []),
            )
            for r in rows
        ]

    def _render_one(self, conn: Any, subnet_id: str, admin: bool) -> dict[str, Any]:
        row = repo.find(conn, subnet_id)
        if row is None:
            raise ResourceNotFound("Subnet", subnet_id)
        return self._render(conn, [row], admin)[0]

    @staticmethod
    def _visible(conn: Any, ctx: RequestContext, row: Any) -> bool:
        return ctx.owns(row["network_project_id"]) or ctx.can_see(
            row["project_id"],
            public=rbac.access(conn, ctx, row["network_id"], row["network_shared"])[0],
        )

    def _load(
        self, conn: Any, ctx: RequestContext, subnet_id: str, action: str | None = None
    ) -> Any:
        row = repo.find(conn, subnet_id)
        if row is None or not self._visible(conn, ctx, row):
            raise ResourceNotFound("Subnet", subnet_id)
        if action and not (ctx.owns(row["project_id"]) or ctx.owns(row["network_project_id"])):
            raise PolicyNotAuthorized(f"rule:{action}")
        return row

    # --- reads

    def get(self, ctx: RequestContext, subnet_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._render(conn, [self._load(conn, ctx, subnet_id)], ctx.is_admin)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, ctx.list_scope)
            return self._render(conn, rows, ctx.is_admin)

    # --- create

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: RequestContext, bodies: Items) -> Items:
        ctx.require_write("create_subnet")
        parsed = [_parse_create(body) for body in bodies]
        for attrs in parsed:
            policy.check_admin_only(ctx, "create_subnet", SPEC, attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: Items) -> Items:
        if self.quotas is not None:
            for project, count in per_project(ctx, items):
                self.quotas.check(tx, project, "subnet", count)
        locks.for_change(tx.conn, "networks", *(attrs["network_id"] for attrs in items))
        return [
            self._render_one(tx.conn, self._create_one(tx, ctx, attrs), ctx.is_admin)
            for attrs in items
        ]

    def create_tx(self, tx: Tx, ctx: RequestContext, body: dict[str, Any]) -> str:
        """One subnet made inside the caller's transaction as a create call would."""
        return str(self._create_tx(tx, ctx, [_parse_create(body)])[0]["id"])

    def create_system_tx(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> str:
        """A subnet neutrino makes for itself inside the caller's transaction (an L3 HA
        network's): no quota; returns its id."""
        locks.for_change(tx.conn, "networks", attrs["network_id"])
        return self._create_one(tx, ctx, attrs)

    def _create_one(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> str:
        conn = tx.conn
        network_id = attrs["network_id"]
        network = network_repo.find(conn, network_id)
        if network is None or not ctx.can_see(
            network["project_id"], public=rbac.network_visible(conn, ctx, network)
        ):
            raise ResourceNotFound("Network", network_id)
        if not ctx.owns(network["project_id"]):
            raise PolicyNotAuthorized("rule:create_subnet")
        project = owner_project(ctx, attrs)
        pool = from_pool.pool_for(tx, ctx, attrs)
        if pool is not None:
            attrs["cidr"] = from_pool.carve(tx, pool, attrs, project)
        elif not attrs.get("cidr"):  # prefix delegation, which neutrino does not do
            raise spa.pool_not_found(attrs.get("subnetpool_id") or sa.PD_POOL_ID)
        net = ip.network(attrs["cidr"])
        sa.validate_subnet(attrs, net, attrs["ip_version"])
        _check_mtu(network, net.version)
        gateway = (
            ip.default_gateway(net)
            if "gateway_ip" not in attrs
            else None
            if attrs["gateway_ip"] is None
            else ip.to_int(attrs["gateway_ip"])
        )
        if "allocation_pools" in attrs:
            pools = ip.parse_pools(net, attrs["allocation_pools"])
            ip.check_gateway_outside(gateway, pools, net.version)
        else:
            pools = ip.default_pools(net, gateway)
        self._check_cidr(conn, net, network_id)
        from_pool.check_affinity(conn, network_id, net.version, pool)
        segment_svc.check_subnet_segment(conn, network_id, attrs.get("segment_id"), update=False)
        subnet_id = new_id()
        row = new_row(
            subnet_id,
            project,
            attrs,
            network_id=network_id,
            ip_version=net.version,
            cidr=str(net),
            gateway_ip=None if gateway is None else ip.to_text(gateway, net.version),
            enable_dhcp=attrs.get("enable_dhcp", True),
            ipv6_ra_mode=attrs.get("ipv6_ra_mode"),
            ipv6_address_mode=attrs.get("ipv6_address_mode"),
            subnetpool_id=None if pool is None else pool["id"],
            segment_id=attrs.get("segment_id"),
        )
        repo.insert_row(conn, row)
        repo.replace_pools(conn, subnet_id, _pool_texts(pools, net.version))
        repo.replace_dns(conn, subnet_id, attrs.get("dns_nameservers") or [])
        repo.replace_routes(conn, subnet_id, _route_pairs(attrs.get("host_routes")))
        if attrs.get("tags"):
            tag_repo.replace_tags(conn, "subnets", subnet_id, attrs["tags"])
        type_repo.replace(conn, subnet_id, attrs.get("service_types") or [])
        tx.created(Resource.SUBNET, row)
        if ip.is_auto_address(attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")):
            info = ipam.SubnetInfo(
                subnet_id,
                network_id,
                net,
                gateway,
                True,
                tuple(pools),
                tuple(attrs.get("service_types") or ()),
                row["enable_dhcp"],
            )
            ipam.add_auto_addresses(tx, info)
        tx.updated(Resource.NETWORK, network_id)
        self.dhcp.sync_network(tx, network_id)
        return subnet_id

    @staticmethod
    def _lock_network_of(conn: Any, subnet_id: str) -> None:
        """Serialize with port creates and other subnet changes on the subnet's network
        (PostgreSQL); the subnet is read again afterwards."""
        if not locks.enabled(conn):
            return
        network_id = repo.network_of(conn, subnet_id)
        if network_id is not None:
            locks.for_change(conn, "networks", network_id)

    @staticmethod
    def _check_cidr(conn: Any, net: ip.Network, network_id: str) -> None:
        if net.prefixlen == 0:
            raise InvalidInput("0 is not allowed as CIDR prefix length")
        for other in repo.on_network(conn, network_id):
            if ip.overlaps(ip.network(other["cidr"]), net):
                raise InvalidInput(
                    f"Requested subnet with cidr: {net} for network: "
                    f"{network_id} overlaps with another subnet"
                )

    # --- update

    def update(
        self, ctx: RequestContext, subnet_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_subnet", lambda: self.get(ctx, subnet_id))
        attrs = parse_update(body, SPEC)
        policy.check_admin_only(ctx, "update_subnet", SPEC, attrs)
        return self.store.write(self._update_tx, ctx, subnet_id, attrs, if_match)

    def _update_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        subnet_id: str,
        attrs: dict[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        conn = tx.conn
        self._lock_network_of(conn, subnet_id)
        row = self._load(conn, ctx, subnet_id, "update_subnet")
        check_revision(row["revision_number"], if_match)
        net = ip.network(row["cidr"])
        sa.validate_subnet(attrs, net, row["ip_version"], current=row)
        if "segment_id" in attrs:
            segment_svc.check_subnet_segment(
                conn, row["network_id"], attrs["segment_id"], row["segment_id"], update=True
            )
        old_gateway = ip.to_int(row["gateway_ip"]) if row["gateway_ip"] else None
        gateway = old_gateway
        if "gateway_ip" in attrs:
            gateway = None if attrs["gateway_ip"] is None else ip.to_int(attrs["gateway_ip"])
            if gateway != old_gateway and old_gateway is not None:
                _check_gateway_free(conn, subnet_id, row["gateway_ip"])
        values: dict[str, Any] = {
            k: attrs[k] for k in ("name", "description", "enable_dhcp", "segment_id") if k in attrs
        }
        if gateway != old_gateway:
            values["gateway_ip"] = None if gateway is None else ip.to_text(gateway, net.version)
        changed = {k: v for k, v in values.items() if row[k] != v}
        pools = dns = routes = None
        if "allocation_pools" in attrs:
            pools = ip.parse_pools(net, attrs["allocation_pools"])
        if gateway != old_gateway or pools is not None:
            current_pools = [
                (ip.to_int(a), ip.to_int(b))
                for a, b in repo.pools_of(conn, [subnet_id]).get(subnet_id, [])
            ]
            ip.check_gateway_outside(
                gateway, pools if pools is not None else current_pools, net.version
            )
        if "dns_nameservers" in attrs:
            dns = attrs["dns_nameservers"] or []
        if "host_routes" in attrs:
            routes = _route_pairs(attrs["host_routes"])
        children = self._replace_children(conn, subnet_id, net, pools, dns, routes)
        if "service_types" in attrs and sorted(attrs["service_types"]) != type_repo.of(
            conn, [subnet_id]
        ).get(subnet_id, []):
            type_repo.replace(conn, subnet_id, attrs["service_types"])
            children = True
        if changed or children:
            tx.updated(Resource.SUBNET, subnet_id, changed)
            self.dhcp.sync_network(tx, row["network_id"])
        return self._render_one(conn, subnet_id, ctx.is_admin)

    @staticmethod
    def _replace_children(
        conn: Any,
        subnet_id: str,
        net: ip.Network,
        pools: Intervals | None,
        dns: Sequence[str] | None,
        routes: Pairs | None,
    ) -> bool:
        """Write the given child lists; True when any of them differs from what was stored."""
        changed = False
        if pools is not None:
            texts = _pool_texts(pools, net.version)
            if sorted(texts) != sorted(repo.pools_of(conn, [subnet_id]).get(subnet_id, [])):
                repo.replace_pools(conn, subnet_id, texts)
                ipam.forget(subnet_id)
                changed = True
        if dns is not None and [(a,) for a in dns] != repo.dns_of(conn, [subnet_id]).get(
            subnet_id, []
        ):
            repo.replace_dns(conn, subnet_id, dns)
            changed = True
        if routes is not None and sorted(routes) != sorted(
            repo.routes_of(conn, [subnet_id]).get(subnet_id, [])
        ):
            repo.replace_routes(conn, subnet_id, routes)
            changed = True
        return changed

    # --- delete

    def delete(self, ctx: RequestContext, subnet_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_subnet", lambda: self.get(ctx, subnet_id))
        self.store.write(self._delete_tx, ctx, subnet_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, subnet_id: str, if_match: int | None) -> None:
        conn = tx.conn
        self._lock_network_of(conn, subnet_id)
        row = self._load(conn, ctx, subnet_id, "delete_subnet")
        check_revision(row["revision_number"], if_match)
        auto = ip.is_auto_address(row["ipv6_ra_mode"], row["ipv6_address_mode"])
        users = repo.allocation_users(conn, subnet_id)
        for _port, owner, _address, _project in users:
            if owner in ip.ROUTER_INTERFACE_OWNERS or not (auto or owner in AUTO_DELETE_OWNERS):
                raise NamedConflict(
                    "SubnetInUse",
                    f"Unable to complete operation on subnet {subnet_id}: One "
                    f"or more ports have an IP allocation from this subnet.",
                )
        type_repo.remove(conn, subnet_id)
        repo.delete_row(conn, subnet_id)
        for port_id in sorted({port for port, _, _, _ in users}):
            tx.updated(Resource.PORT, port_id)
        tag_repo.delete_all(conn, subnet_id)
        ipam.forget(subnet_id)
        tx.deleted(Resource.SUBNET, row)
        tx.updated(Resource.NETWORK, row["network_id"])
        self.dhcp.sync_network(tx, row["network_id"])


# --- helpers --------------------------------------------------------------------------------


def _parse_create(body: dict[str, Any]) -> dict[str, Any]:
    attrs = parse_create(body, SPEC)
    has_cidr = attrs.get("cidr") is not None
    if has_cidr and attrs.get("prefixlen") is not None:
        raise _bad("cidr and prefixlen must not be supplied together")
    pool = attrs.get("subnetpool_id")
    from_default = attrs.get("use_default_subnetpool")
    if from_default and pool is not None:
        raise _bad("subnetpool_id and use_default_subnetpool cannot both be specified")
    if not has_cidr and pool is None and not from_default:
        raise _bad("a subnetpool must be specified in the absence of a cidr")
    if not has_cidr and attrs.get("allocation_pools"):
        raise _bad("allocation_pools allowed only for specific subnet requests")
    if has_cidr:
        attrs["cidr"] = str(ip.network(attrs["cidr"]))  # host bits set: the network it names
    return attrs


def _check_mtu(network: Any, version: int) -> None:
    mtu = network["mtu"]
    minimum = IPV4_MIN_MTU if mtu < IPV4_MIN_MTU else IPV6_MIN_MTU if version == 6 else 0
    if mtu and mtu < minimum:
        raise NamedConflict(
            "NetworkMTUSubnetConflict",
            f"MTU of {network['id']} is not valid, subnet requires a minimum of {minimum}",
        )


def _check_gateway_free(conn: Any, subnet_id: str, gateway: str) -> None:
    """Neutron: the gateway cannot move while a router interface holds the current one."""
    for port_id, owner, address, _project in repo.allocation_users(conn, subnet_id):
        if address == gateway and owner in ip.ROUTER_INTERFACE_OWNERS:
            raise NamedConflict(
                "GatewayIpInUse",
                f"Current gateway ip {gateway} already in use by port {port_id}. Unable to update.",
            )


def _pool_texts(pools: list[ip.Interval], version: int) -> list[tuple[str, str]]:
    return [(ip.to_text(a, version), ip.to_text(b, version)) for a, b in pools]


def _route_pairs(routes: list[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(r["destination"], r["nexthop"]) for r in routes or []]
