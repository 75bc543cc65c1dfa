"""``FloatingIpService``: floating IPs (``/v2.0/floatingips``) and their pools
(``/v2.0/floatingip_pools``, extension ``floatingip-pools``).

A floating IP is an IPv4 address of an external network held by a port the floating IP owns
(device_owner ``network:floatingip``, device_id the floating IP's id, project ``''`` as in
Neutron so no project sees it), optionally associated with a fixed IPv4 address of an internal
port, NATed by the router that connects that address's subnet to the external network.

Each call checks policy and parses the body before it opens one transaction
(``Store.write``): the quota check, the port and its address, the association
(:mod:`.fip_assoc`), the row, the tags and the change-log entries commit together, so a
failed create leaves nothing. Changes are recorded as ``floatingip`` with the floating
network's id, which is what the L3 agents watch.

Status is ``DOWN`` until an L3 agent reports the floating IP configured
(:meth:`FloatingIpService.set_status`); a disassociated floating IP goes back to ``DOWN``.

The router is found from the port (:mod:`.fip_assoc`), or named by the caller
(``router_id``, extension ``floating-ip-router-writable``) for ports behind other routers.

Locks (PostgreSQL, ``store.locks`` and its order): a create takes the project's quota key,
then the external network (its port's address is picked as any port's is), then the
associated port (:mod:`.fip_assoc`); an update locks the port it associates first, then the
floating IP row (``FOR UPDATE``) before comparing ``If-Match``; a delete and a status report
lock the row before reading it: of two deletes the second answers 404.

Policy (Neutron's defaults): floating IPs are project-scoped (404 for others); members create,
update and delete their project's; choosing the address (``floating_ip_address``) is
admin-only. Pools list the IPv4 subnets of every external network, visible to all.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import NamedBadRequest, ResourceNotFound
from neutrino.common.ids import new_id
from neutrino.common.settings import Settings
from neutrino.domain import dns
from neutrino.domain.attributes import (
    Attr,
    ip_address,
    nullable,
    parse_create,
    parse_update,
    project_id,
    string,
    tag_list,
    uuid,
)
from neutrino.domain.listing import ListQuery
from neutrino.service import ipam, policy, qos, rbac, system_ports
from neutrino.service.common import check_revision, owner_project
from neutrino.service.context import RequestContext
from neutrino.service.quotas import QuotaService
from neutrino.service.routers import fip_assoc, fip_rules, pf_rules
from neutrino.service.routers.fip_views import pool_view, render, render_one
from neutrino.store import floatingips as repo
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import port_forwardings as pf_repo
from neutrino.store import subnets as subnet_repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

Items = list[dict[str, Any]]
KIND = "Floating IP"
STATUSES = frozenset({"ACTIVE", "DOWN", "ERROR"})

SPEC: dict[str, Attr] = {
    "floating_network_id": Attr(uuid, allow_put=False, required=True),
    "floating_ip_address": Attr(nullable(ip_address), allow_put=False),
    "subnet_id": Attr(nullable(uuid), allow_put=False),
    "port_id": Attr(nullable(uuid)),
    "fixed_ip_address": Attr(nullable(ip_address)),
    "description": Attr(string(255)),
    "project_id": Attr(project_id, allow_put=False),
    "tenant_id": Attr(project_id, allow_put=False),
    "tags": Attr(tag_list, allow_put=False),
    "router_id": Attr(nullable(uuid)),  # floating-ip-router-writable
    "qos_policy_id": Attr(nullable(uuid)),  # qos-fip
    # dns-integration: checked, then kept nowhere (Neutron stores them only for an external
    # DNS service, which neutrino has not: the floating IP shows "")
    "dns_name": Attr(dns.fip_dns_name, allow_put=False),
    "dns_domain": Attr(dns.dns_domain, allow_put=False),
    "status": Attr(allow_post=False, allow_put=False),
    "id": Attr(allow_post=False, allow_put=False),
}


class FloatingIpService:
    def __init__(self, store: Store, settings: Settings, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas
        self.base_mac = settings.base_mac
        self.window = settings.ipam_window

    # --- reads

    def get(self, ctx: RequestContext, fip_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [_load(conn, ctx, fip_id)])[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, ctx.list_scope)
            return render(conn, rows)

    def pools(self, ctx: RequestContext) -> Items:
        with self.store.read() as conn:
            return [pool_view(r) for r in repo.pools(conn)]

    # --- create

    def create_bulk(self, ctx: RequestContext, bodies: Items) -> Items:
        ctx.require_write("create_floatingip")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            policy.check_floating_ip(ctx, attrs)
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: Items) -> Items:
        return [self._create_one(tx, ctx, attrs) for attrs in items]

    def _create_one(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> dict[str, Any]:
        conn = tx.conn
        project = owner_project(ctx, attrs)
        network_id = attrs["floating_network_id"]
        net = network_repo.find(conn, network_id)
        if net is None or not ctx.can_see(
            net["project_id"], public=rbac.network_visible(conn, ctx, net)
        ):
            raise ResourceNotFound("Network", network_id)
        if not net["router_external"]:
            raise fip_assoc.bad(f"Network {network_id} is not a valid external network")
        if 4 not in subnet_repo.ip_versions_on(conn, network_id):
            raise fip_assoc.bad(f"Network {network_id} does not contain any IPv4 subnet")
        self.quotas.check(tx, project, "floatingip")
        fip_id = new_id()
        port_id, address = self._create_port(tx, fip_id, network_id, attrs)
        row = {
            "id": fip_id,
            "project_id": project,
            "floating_network_id": network_id,
            "floating_ip_address": address,
            "floating_port_id": port_id,
            "fixed_port_id": None,
        }
        assoc = fip_assoc.resolve(conn, ctx, row, attrs)
        now = clock.now()
        repo.insert_row(
            conn,
            {
                **row,
                **assoc.values(),
                "name": "",
                "description": attrs.get("description", ""),
                "created_at": now,
                "updated_at": now,
                "revision_number": 1,
                "status": "DOWN",
                "qos_policy_id": qos.attach(tx, ctx, attrs.get("qos_policy_id")),
            },
        )
        if attrs.get("tags"):
            tag_repo.replace_tags(conn, "floatingips", fip_id, attrs["tags"])
        tx.created(Resource.FLOATINGIP, row)
        return render_one(conn, fip_id)

    def _create_port(
        self, tx: Tx, fip_id: str, network_id: str, attrs: dict[str, Any]
    ) -> tuple[str, str]:
        """The floating IP's own port and its IPv4 address (Neutron: every subnet when none
        is named, then the first IPv4 address; none is 400 ``ExternalIpAddressExhausted``)."""
        conn = tx.conn
        locks.for_change(conn, "networks", network_id)
        requested = {
            k: v
            for k, v in (
                ("subnet_id", attrs.get("subnet_id")),
                ("ip_address", attrs.get("floating_ip_address")),
            )
            if v
        }
        port = system_ports.insert(
            tx,
            network_id,
            self.base_mac,
            device_id=fip_id,
            device_owner=repo.DEVICE_OWNER,
            status="N/A",
        )
        port_id, mac = port["id"], port["mac_address"]
        fixed = ipam.allocate(
            tx,
            network_id,
            [requested] if requested else None,
            mac,
            port_id=port_id,
            device_owner=repo.DEVICE_OWNER,
            window=self.window,
        )
        v4 = [f["ip_address"] for f in fixed if ipaddress.ip_address(f["ip_address"]).version == 4]
        if not v4:
            raise NamedBadRequest(
                "ExternalIpAddressExhausted",
                f"Unable to find any IP address on external network {network_id}.",
            )
        tx.created(Resource.PORT, port_id)
        return port_id, v4[0]

    # --- update

    def update(
        self, ctx: RequestContext, fip_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_floatingip", lambda: self.get(ctx, fip_id))
        attrs = parse_update(body, SPEC)
        return self.store.write(self._update_tx, ctx, fip_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, fip_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> dict[str, Any]:
        conn = tx.conn
        if attrs.get("port_id"):  # ports before floating IPs (the lock order of store.locks)
            locks.for_change(conn, "ports", attrs["port_id"])
        row = _load(conn, ctx, fip_id, for_update=True)
        check_revision(row["revision_number"], if_match)
        forwarded = pf_repo.exists_for(conn, fip_id)
        if forwarded and attrs.get("port_id"):
            pf_rules.check_fip_free(conn, fip_id)
        if forwarded:  # its router is its forwardings': an update cannot move or clear it
            assoc = fip_assoc.Association(None, None, row["router_id"])
        else:
            assoc = fip_assoc.resolve(conn, ctx, row, attrs)
        values = {k: v for k, v in assoc.values().items() if row[k] != v}
        if "description" in attrs and attrs["description"] != row["description"]:
            values["description"] = attrs["description"]
        if "qos_policy_id" in attrs and attrs["qos_policy_id"] != row["qos_policy_id"]:
            values["qos_policy_id"] = qos.attach(tx, ctx, attrs["qos_policy_id"])
        if values.get("router_id", row["router_id"]) is None and row["router_id"] is not None:
            values["status"] = "DOWN"
        if values:
            tx.updated(Resource.FLOATINGIP, fip_id, values)
        return render_one(conn, fip_id)

    def set_status(self, fip_id: str, status: str) -> None:
        """The hook for L3 agents: the floating IP is (``ACTIVE``) or is not (``DOWN``,
        ``ERROR``) configured in its router. Callers authorize the agent first."""
        if status not in STATUSES:
            raise fip_assoc.bad(f"Invalid floating IP status {status}")

        def tx_fn(tx: Tx) -> None:
            row = repo.find(tx.conn, fip_id, for_update=True)
            if row is None:
                raise ResourceNotFound(KIND, fip_id)
            if row["status"] != status:
                tx.updated(Resource.FLOATINGIP, fip_id, {"status": status})

        self.store.write(tx_fn)

    # --- delete

    def delete(self, ctx: RequestContext, fip_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_floatingip", lambda: self.get(ctx, fip_id))
        self.store.write(self._delete_tx, ctx, fip_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, fip_id: str, if_match: int | None) -> None:
        row = _load(tx.conn, ctx, fip_id, for_update=True)
        check_revision(row["revision_number"], if_match)
        pf_rules.check_fip_free(tx.conn, fip_id)
        fip_rules.delete(tx, row)


def _load(conn: Any, ctx: RequestContext, fip_id: str, *, for_update: bool = False) -> Any:
    row = repo.find(conn, fip_id, for_update=for_update)
    if row is None or not ctx.owns(row["project_id"]):
        raise ResourceNotFound(KIND, fip_id)
    return row
