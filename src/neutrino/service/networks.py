"""Networks: create (with segment allocation), show, list, update, delete.

Segments: a tenant network gets the configured tenant type (VXLAN by default) with the lowest
free VNI; admins may ask for flat/vlan/vxlan explicitly with ``provider:*``. The
``segment_allocations`` primary key makes two networks on one segment impossible even under
concurrent creates (the loser retries and sees the segment taken). Creating a network also
creates its project's ``default`` security group if missing, in the same transaction (as
Neutron's ML2 does): one primary-key lookup once the group exists. Deleting an external
network first deletes its floating IPs that are not associated (as Neutron does); any other
port on it keeps the network in use (409 ``NetworkInUse``).

Locks (PostgreSQL, ``store.locks``): a create takes the project's network quota key before
counting. An update locks the network (``for_change``) before comparing ``If-Match`` and
building the new revision. A delete locks it (``for_delete``) before anything else: port
creates, subnet creates and deletes lock the same row first, so the delete's look for ports in
use and its removal of DHCP ports and subnets see every port committed before it, and no port
can be added until it commits (the port create then answers 404); of two deletes the second
answers 404.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import (
    BadRequest,
    InvalidInput,
    NamedConflict,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain import dns
from neutrino.domain import segments as seg
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    dict_value,
    list_of,
    nullable,
    parse_create,
    parse_update,
    string,
    tag_list,
    to_bool,
    to_int,
    uuid,
)
from neutrino.domain.listing import ListQuery
from neutrino.service import availability_zones as az
from neutrino.service import common, policy, qos, rbac
from neutrino.service import segments as segment_svc
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.service.routers import fip_rules
from neutrino.service.security_groups import ensure_default as ensure_default_security_group
from neutrino.service.segment_alloc import Segment, SegmentAllocator
from neutrino.store import agents as agent_repo
from neutrino.store import dhcp as dhcp_repo
from neutrino.store import locks
from neutrino.store import networks as repo
from neutrino.store import ports as port_repo
from neutrino.store import rbac as rbac_repo
from neutrino.store import segments as seg_repo
from neutrino.store import subnetpools as pool_repo
from neutrino.store import subnets as subnet_repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC: dict[str, Attr] = {
    **STANDARD,
    "admin_state_up": Attr(to_bool),
    "shared": Attr(to_bool, admin_only=True, default=False),
    "mtu": Attr(to_int),
    "port_security_enabled": Attr(to_bool),
    "router:external": Attr(to_bool, admin_only=True, default=False),
    "is_default": Attr(to_bool, admin_only=True, default=False),
    "provider:network_type": Attr(nullable(string(32)), admin_only=True),
    "provider:physical_network": Attr(nullable(string(64)), admin_only=True),
    "provider:segmentation_id": Attr(nullable(to_int), admin_only=True),
    "availability_zone_hints": Attr(az.hints, allow_put=False),
    "tags": Attr(tag_list, allow_put=False),
    "dns_domain": Attr(dns.dns_domain),  # dns-integration: stored and shown (domain.dns)
    "qos_policy_id": Attr(nullable(uuid)),
    "segments": Attr(list_of(dict_value), admin_only=True),
}
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
MIN_MTU = {4: 68, 6: 1280}


class NetworkService:
    def __init__(self, store: Store, segments: seg.SegmentConfig, quotas: QuotaService) -> None:
        self.store = store
        self.segments = segments
        self.allocator = SegmentAllocator(segments)
        self.quotas = quotas

    # --- views

    def view(
        self,
        row: Any,
        subnet_ids: list[str],
        tags: list[str],
        ctx: RequestContext,
        shared: bool,
        scopes: dict[int, str] | None = None,
        segments: list[Any] | None = None,
        zones: list[str] | None = None,
    ) -> dict[str, Any]:
        out = {
            "id": row["id"],
            "name": row["name"],
            "tenant_id": row["project_id"],
            "project_id": row["project_id"],
            "admin_state_up": row["admin_state_up"],
            "mtu": row["mtu"],
            "status": row["status"],
            "subnets": subnet_ids,
            "shared": shared,
            "availability_zone_hints": agent_repo.zone_list(row["availability_zone_hints"]),
            "availability_zones": zones or [],
            "router:external": row["router_external"],
            "port_security_enabled": row["port_security_enabled"],
            "is_default": row["is_default"],
            "l2_adjacency": True,
            "ipv4_address_scope": (scopes or {}).get(4),
            "ipv6_address_scope": (scopes or {}).get(6),
            "qos_policy_id": row["qos_policy_id"],
            "dns_domain": row["dns_domain"],
            **common.standard_view(row, tags),
        }
        if ctx.is_admin and segments:  # multi-provider: the list replaces the provider keys
            out["segments"] = [segment_svc.provider_view(s) for s in segments]
        elif ctx.is_admin:
            out["provider:network_type"] = row["network_type"]
            out["provider:physical_network"] = row["physical_network"]
            out["provider:segmentation_id"] = row["segmentation_id"]
        return out

    def _load(self, conn: Any, ctx: RequestContext, network_id: str) -> Any:
        row = repo.find(conn, network_id)
        if row is None or not ctx.can_see(
            row["project_id"], public=rbac.network_visible(conn, ctx, row)
        ):
            raise ResourceNotFound("Network", network_id)
        return row

    def _render_one(self, conn: Any, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        row = repo.get(conn, network_id)
        subs = repo.subnet_ids(conn, [network_id]).get(network_id, [])
        return self.view(
            row,
            subs,
            tag_repo.tags_of(conn, [network_id]).get(network_id, []),
            ctx,
            rbac.shared_with(conn, ctx, row),
            pool_repo.network_scopes(conn, [network_id]).get(network_id),
            seg_repo.multi(conn, [network_id]).get(network_id) if ctx.is_admin else None,
            dhcp_repo.network_zones(conn, [network_id]).get(network_id),
        )

    # --- operations

    def get(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            self._load(conn, ctx, network_id)
            return self._render_one(conn, ctx, network_id)

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, ctx.list_scope)
            ids = [r["id"] for r in rows]
            subs = repo.subnet_ids(conn, ids)
            tags = tag_repo.tags_of(conn, ids)
            named = rbac_repo.shared_to(conn, ctx.project_id, ids)  # shared to us by name
            scopes = pool_repo.network_scopes(conn, ids)
            multi = seg_repo.multi(conn, ids) if ctx.is_admin else {}
            zones = dhcp_repo.network_zones(conn, ids)
            return [
                self.view(
                    r,
                    subs.get(r["id"], []),
                    tags.get(r["id"], []),
                    ctx,
                    r["shared"] or r["id"] in named,
                    scopes.get(r["id"]),
                    multi.get(r["id"]),
                    zones.get(r["id"]),
                )
                for r in rows
            ]

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_network")
        parsed = [self._parse_create(ctx, b) for b in bodies]
        return self.store.write(self._create_tx, ctx, parsed)

    def _parse_create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = parse_create(body, SPEC)
        policy.check_admin_only(ctx, "create_network", SPEC, attrs)
        return attrs

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for project, count in common.per_project(ctx, items):
            self.quotas.check(tx, project, "network", count)
            ensure_default_security_group(tx, project)  # as Neutron's ML2 does
        return [self._render_one(tx.conn, ctx, self._insert(tx, ctx, attrs)) for attrs in items]

    def create_tx(self, tx: Tx, ctx: RequestContext, body: dict[str, Any]) -> str:
        """One network made inside the caller's transaction as a create call would (its
        quota, its project's default security group): the auto-allocated topology's."""
        return str(self._create_tx(tx, ctx, [self._parse_create(ctx, body)])[0]["id"])

    def delete_tx(self, tx: Tx, ctx: RequestContext, network_id: str) -> None:
        self._delete_tx(tx, ctx, network_id, None)

    def create_system_tx(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> str:
        """A network neutrino makes for itself inside the caller's transaction (an L3 HA
        network): no quota, no default security group, no QoS policy; returns its id."""
        return self._insert(tx, ctx, {"qos_policy_id": None, **attrs})

    def _insert(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> str:
        network_id = new_id()
        project = common.owner_project(ctx, attrs)
        chosen = self._choose_segments(tx, attrs, project)
        net_type, physnet, seg_id = chosen[0]
        hints = attrs.get("availability_zone_hints") or []
        az.check_hints(tx.conn, dhcp_repo.DHCP_AGENT, hints)
        external = bool(attrs.get("router:external"))
        is_default = external and bool(attrs.get("is_default"))
        if is_default:
            check_single_default(tx.conn, network_id)
        max_mtu = self.segments.mtu_for(net_type)
        mtu = attrs.get("mtu", max_mtu)
        _check_mtu(mtu, max_mtu)
        row = common.new_row(
            network_id,
            project,
            attrs,
            revision=1,
            admin_state_up=attrs.get("admin_state_up", True),
            status="ACTIVE",
            shared=attrs.get("shared", False),
            mtu=mtu,
            port_security_enabled=attrs.get("port_security_enabled", True),
            router_external=attrs.get("router:external", False),
            is_default=is_default,
            network_type=net_type,
            physical_network=physnet,
            segmentation_id=seg_id,
            availability_zone_hints=az.hints_text(hints),
            dns_domain=attrs.get("dns_domain", ""),
            qos_policy_id=(
                qos.attach(tx, ctx, attrs["qos_policy_id"])
                if "qos_policy_id" in attrs
                else None
                if attrs.get("router:external")
                else qos.default_for(tx.conn, project)  # Neutron's qos-default
            ),
        )
        repo.insert_row(tx.conn, row)
        for segment in chosen:
            if segment[0] is not None:
                self.allocator.reserve(tx, network_id, segment)
                segment_svc.add(tx, network_id, project, segment)
        if attrs.get("tags"):
            tag_repo.replace_tags(tx.conn, "networks", network_id, attrs["tags"])
        rbac.attach_wildcards(
            tx,
            network_id,
            project,
            shared=attrs.get("shared"),
            external=attrs.get("router:external"),
        )
        tx.created(Resource.NETWORK, row)
        return network_id

    def _choose_segments(self, tx: Tx, attrs: dict[str, Any], project: str) -> list[Segment]:
        """The provider segment, or each of a multi-provider network's ``segments`` (the first
        one goes on the network row)."""
        wanted = attrs.get("segments")
        if wanted is None:
            return [self.allocator.choose(tx, attrs, project=project)]
        if any(k in attrs for k in PROVIDER):
            raise InvalidInput("Segments and provider values cannot both be set.")
        if not wanted:
            return [self.allocator.choose(tx, {}, project=project)]
        chosen: list[Segment] = []
        for item in wanted:
            unknown = [k for k in item if k not in PROVIDER]
            if unknown:
                raise InvalidInput(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
            segment = self.allocator.choose(tx, item, tuple(chosen), project)
            if segment in chosen:
                raise InvalidInput("Duplicate segment entry in request.")
            chosen.append(segment)
        return chosen

    def update(
        self,
        ctx: RequestContext,
        network_id: str,
        body: dict[str, Any],
        if_match: int | None = None,
    ) -> dict[str, Any]:
        ctx.require_write_on("update_network", lambda: self.get(ctx, network_id))
        attrs = parse_update(body, SPEC)
        policy.check_admin_only(ctx, "update_network", SPEC, attrs)
        return self.store.write(self._update_tx, ctx, network_id, attrs, if_match)

    def _update_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        network_id: str,
        attrs: dict[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "networks", network_id)
        row = self._load(tx.conn, ctx, network_id)
        if not ctx.owns(row["project_id"]):
            raise PolicyNotAuthorized("rule:update_network")
        common.check_revision(row["revision_number"], if_match)
        values: dict[str, Any] = {}
        for wire, column in (
            ("name", "name"),
            ("description", "description"),
            ("admin_state_up", "admin_state_up"),
            ("shared", "shared"),
            ("port_security_enabled", "port_security_enabled"),
            ("router:external", "router_external"),
            ("mtu", "mtu"),
            ("dns_domain", "dns_domain"),
        ):
            if wire in attrs:
                values[column] = attrs[wire]
        external = values.get("router_external", row["router_external"])
        if not external:  # a default flag lives with the external network (Neutron's)
            values["is_default"] = False
        elif "is_default" in attrs:
            values["is_default"] = attrs["is_default"]
            if attrs["is_default"]:
                check_single_default(tx.conn, network_id)
        if "qos_policy_id" in attrs and attrs["qos_policy_id"] != row["qos_policy_id"]:
            values["qos_policy_id"] = qos.replace(
                tx, ctx, row["qos_policy_id"], attrs["qos_policy_id"]
            )
        if "mtu" in values:
            _check_mtu(values["mtu"], self.segments.mtu_for(row["network_type"]))
            check_mtu_fits_subnets(
                network_id, values["mtu"], subnet_repo.ip_versions_on(tx.conn, network_id)
            )
        for key in (
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ):
            current = {
                "provider:network_type": row["network_type"],
                "provider:physical_network": row["physical_network"],
                "provider:segmentation_id": row["segmentation_id"],
            }[key]
            if key in attrs and attrs[key] != current:
                raise InvalidInput("Plugin does not support updating provider attributes")
        if "segments" in attrs:
            raise InvalidInput("Plugin does not support updating network segments")
        changed = {k: v for k, v in values.items() if row[k] != v}
        if changed.get("shared") is False:
            check_unshare(tx.conn, row)
        rbac.attach_wildcards(
            tx,
            network_id,
            row["project_id"],
            shared=changed.get("shared"),
            external=changed.get("router_external"),
        )
        if changed:
            tx.updated(Resource.NETWORK, network_id, changed)
        return self._render_one(tx.conn, ctx, network_id)

    def delete(self, ctx: RequestContext, network_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_network", lambda: self.get(ctx, network_id))
        self.store.write(self._delete_tx, ctx, network_id, if_match)

    def delete_system_tx(self, tx: Tx, ctx: RequestContext, network_id: str) -> None:
        """Delete a network the server made for itself (an HA network), inside ``tx``."""
        self._delete_tx(tx, ctx, network_id, None)

    def _delete_tx(
        self, tx: Tx, ctx: RequestContext, network_id: str, if_match: int | None
    ) -> None:
        locks.for_delete(tx.conn, "networks", network_id)
        row = self._load(tx.conn, ctx, network_id)
        if not ctx.owns(row["project_id"]):  # visible (shared, external) but not ours
            raise PolicyNotAuthorized("rule:delete_network")
        common.check_revision(row["revision_number"], if_match)
        if row["router_external"]:
            fip_rules.delete_disassociated(tx, network_id)  # as Neutron does
        in_use = [
            pid for pid, owner in repo.port_ids_on(tx.conn, network_id) if owner != "network:dhcp"
        ]
        if in_use:
            raise NamedConflict(
                "NetworkInUse",
                f"Unable to complete operation on network {network_id}. There are one or more "
                f"ports still in use on the network, id for these ports is: {','.join(in_use)}.",
            )
        port_repo.delete_on_network(tx.conn, network_id)
        for subnet_id in repo.subnet_ids(tx.conn, [network_id]).get(network_id, []):
            tx.deleted(Resource.SUBNET, subnet_id)
            subnet_repo.delete_row(tx.conn, subnet_id)
            tag_repo.delete_all(tx.conn, subnet_id)
        segment_svc.forget_network(tx, network_id)
        repo.forget_topology(tx.conn, network_id)
        repo.delete_row(tx.conn, network_id)
        tag_repo.delete_all(tx.conn, network_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, network_id))
        tx.deleted(Resource.NETWORK, row)


def check_single_default(conn: Any, network_id: str) -> None:
    """At most one external network is the default (Neutron's 409); concurrent writers take
    one key first (PostgreSQL; SQLite runs one writer at a time)."""
    locks.key(conn, "default-external-network")
    other = repo.default_external(conn)
    if other is not None and other != network_id:
        raise NamedConflict(
            "DefaultExternalNetworkExists",
            f"A default external network already exists: {other}.",
        )


def check_unshare(conn: Any, row: Any) -> None:
    """Neutron's check before ``shared`` goes false: no port (but the network's own
    ``network:*`` ports) or subnet of a project that only the wildcard lets in."""
    users = rbac_repo.port_projects(conn, row["id"], skip_network_owned=True)
    users |= subnet_repo.projects_on(conn, row["id"])
    allowed = rbac_repo.targets(conn, row["id"], rbac_repo.SHARED) - {rbac_repo.WILDCARD}
    if users - allowed - {row["project_id"]}:
        raise NamedConflict(
            "InvalidSharedSetting",
            f"Unable to reconfigure sharing settings for network {row['name']}. "
            f"Multiple tenants are using it.",
        )


def _check_mtu(mtu: int, maximum: int) -> None:
    if mtu > maximum:
        raise InvalidInput(f"Requested MTU is too big, maximum is {maximum}")
    if mtu < 0:
        raise BadRequest(f"Invalid input for mtu. Reason: '{mtu}' should be non-negative.")


def check_mtu_fits_subnets(network_id: str, mtu: int, ip_versions: set[int]) -> None:
    """IPv4 needs an MTU of at least 68 and IPv6 of 1280 (RFC 791, RFC 8200); a network may
    have a smaller MTU only while it has no subnet of that version (409 otherwise)."""
    for version in sorted(ip_versions):
        minimum = MIN_MTU[version]
        if mtu < minimum:
            raise NamedConflict(
                "NetworkMTUSubnetConflict",
                f"MTU {mtu} of network {network_id} is too small for IPv{version} subnets "
                f"(minimum {minimum}).",
            )
