"""``PortForwardingService``: floating IP port forwardings,
``/v2.0/floatingips/{fip}/port_forwardings`` (extensions ``floating-ip-port-forwarding``,
``floating-ip-port-forwarding-description``, ``floating-ip-port-forwarding-port-ranges``).

A forwarding belongs to its floating IP: the floating IP's project owns it, and the floating
IP's policy applies (members of that project create, update and delete; readers read; other
projects get 404 ``FloatingIPNotFound``; admins everything). The first forwarding of a floating
IP sets its ``router_id`` (the router that connects the internal address to the floating
network), the last one clears it: that router's L3 agent DNATs each external port to its
internal port (``agent.l3_calc``). Rules: :mod:`.pf_rules`.

Ports are given either as single ports (``external_port``, ``internal_port``) or as ranges
(``external_port_range``, ``internal_port_range``, ``"start:end"``), one style per side; an
update may switch style. Each call parses its body first, then one transaction locks the
internal port and then the floating IP row (the lock order of ``store.locks``), so two
forwardings of one floating IP or one internal port are checked one at a time.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedConflict, ResourceNotFound
from neutrino.common.ids import new_id
from neutrino.domain import port_forwarding as pfd
from neutrino.domain.attributes import (
    Attr,
    ip_address,
    parse_create,
    parse_update,
    project_id,
    string,
    uuid,
)
from neutrino.domain.listing import ListQuery
from neutrino.service.context import RequestContext
from neutrino.service.routers import pf_rules
from neutrino.store import floatingips as fip_repo
from neutrino.store import locks
from neutrino.store import port_forwardings as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

KIND = "Port Forwarding"
SPEC: dict[str, Attr] = {
    "protocol": Attr(pfd.protocol, required=True),
    "internal_ip_address": Attr(ip_address, required=True),
    "internal_port_id": Attr(uuid, required=True),
    "external_port": Attr(pfd.port_or_none),
    "internal_port": Attr(pfd.port_or_none),
    "external_port_range": Attr(pfd.port_range_or_none),
    "internal_port_range": Attr(pfd.port_range_or_none),
    "description": Attr(string(255)),
    "project_id": Attr(project_id, allow_put=False),  # the floating IP's, whatever is sent
    "id": Attr(allow_post=False, allow_put=False),
}
SIDES = (
    ("external", "external_port", "external_port_range"),
    ("internal", "internal_port", "internal_port_range"),
)


def view(row: Any) -> dict[str, Any]:
    ext = (row["external_port_start"], row["external_port_end"])
    internal = (row["internal_port_start"], row["internal_port_end"])
    return {
        "id": row["id"],
        "protocol": row["protocol"],
        "internal_ip_address": row["internal_ip_address"],
        "internal_port_id": row["internal_port_id"],
        "external_port": ext[0] if pfd.span(ext) == 0 else None,
        "internal_port": internal[0] if pfd.span(internal) == 0 else None,
        "external_port_range": pfd.range_text(ext),
        "internal_port_range": pfd.range_text(internal),
        "description": row["description"],
    }


def _ports(attrs: dict[str, Any], current: Any | None) -> dict[str, int]:
    """The four range columns from a body (and the row being updated)."""
    out: dict[str, int] = {}
    for side, single, ranged in SIDES:
        given_single = attrs.get(single)
        given_range = attrs.get(ranged)
        if given_single is not None and given_range is not None:
            raise pf_rules.bad(
                f"You cannot use {single} and {ranged} in the same request; give one of them"
            )
        if given_single is not None:
            low, high = given_single, given_single
        elif given_range is not None:
            low, high = given_range
        elif current is not None:
            low, high = current[f"{side}_port_start"], current[f"{side}_port_end"]
        else:
            raise pf_rules.bad(f"{single} or {ranged} must be specified")
        out[f"{side}_port_start"], out[f"{side}_port_end"] = low, high
    return out


class PortForwardingService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads

    def get(self, ctx: RequestContext, fip_id: str, pf_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            _floating_ip(conn, ctx, fip_id)
            return view(_load(conn, fip_id, pf_id))

    def search(self, ctx: RequestContext, fip_id: str, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            _floating_ip(conn, ctx, fip_id)
            return [view(r) for r in repo.list_rows(conn, fip_id, query)]

    def _show_fip(self, ctx: RequestContext, fip_id: str) -> None:
        with self.store.read() as conn:
            _floating_ip(conn, ctx, fip_id)

    # --- writes

    def create(self, ctx: RequestContext, fip_id: str, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_write_on(
            "create_floatingip_port_forwarding", lambda: self._show_fip(ctx, fip_id)
        )
        attrs = parse_create(body, SPEC)
        ports = _ports(attrs, None)
        return self.store.write(self._create_tx, ctx, fip_id, attrs, ports)

    def _create_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        fip_id: str,
        attrs: dict[str, Any],
        ports: dict[str, int],
    ) -> dict[str, Any]:
        conn = tx.conn
        locks.for_change(conn, "ports", attrs["internal_port_id"])
        fip = _floating_ip(conn, ctx, fip_id, for_update=True)
        if fip["fixed_port_id"]:
            raise NamedConflict(
                "FloatingIPPortAlreadyAssociated",
                f"Cannot associate floating IP {fip['floating_ip_address']} ({fip_id}) with "
                f"port {attrs['internal_port_id']} using fixed IP "
                f"{attrs['internal_ip_address']}, as that fixed IP already has a floating IP "
                f"on external network {fip['floating_network_id']}.",
            )
        found = pf_rules.target(
            conn, ctx, fip, attrs["internal_port_id"], attrs["internal_ip_address"]
        )
        row = {
            "id": new_id(),
            "project_id": fip["project_id"],
            "floatingip_id": fip_id,
            "internal_port_id": attrs["internal_port_id"],
            "internal_ip_address": found.internal_ip_address,
            "protocol": attrs["protocol"],
            **ports,
            "description": attrs.get("description", ""),
        }
        pf_rules.check_collisions(conn, fip_id, row, None)
        if fip["router_id"] is None:
            tx.updated(Resource.FLOATINGIP, fip_id, {"router_id": found.router_id})
        repo.insert_row(conn, row)
        tx.created(Resource.PORT_FORWARDING, row)
        return view(row)

    def update(
        self, ctx: RequestContext, fip_id: str, pf_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        ctx.require_write_on(
            "update_floatingip_port_forwarding", lambda: self.get(ctx, fip_id, pf_id)
        )
        attrs = parse_update(body, SPEC)
        return self.store.write(self._update_tx, ctx, fip_id, pf_id, attrs)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, fip_id: str, pf_id: str, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        conn = tx.conn
        port_id = attrs.get("internal_port_id")
        if port_id:
            locks.for_change(conn, "ports", port_id)
        fip = _floating_ip(conn, ctx, fip_id, for_update=True)
        row = _load(conn, fip_id, pf_id)
        merged = {**row, **_ports(attrs, row)}
        for key in ("protocol", "internal_port_id", "internal_ip_address", "description"):
            if key in attrs:
                merged[key] = attrs[key]
        if merged["internal_port_id"] != row["internal_port_id"] or (
            merged["internal_ip_address"] != row["internal_ip_address"]
        ):
            others = [p for p in repo.of_floating_ip(conn, fip_id) if p["id"] != pf_id]
            # the floating IP keeps its router only while other forwardings hold it
            holder = fip if others else {**fip, "router_id": None}
            found = pf_rules.target(
                conn, ctx, holder, merged["internal_port_id"], merged["internal_ip_address"]
            )
            if found.router_id != fip["router_id"]:
                tx.updated(Resource.FLOATINGIP, fip_id, {"router_id": found.router_id})
        pf_rules.check_collisions(conn, fip_id, merged, pf_id)
        values = {k: v for k, v in merged.items() if row[k] != v}
        if values:
            repo.update_row(conn, pf_id, values)
            tx.updated(Resource.PORT_FORWARDING, {**row, **values})
        return view(merged)

    def delete(self, ctx: RequestContext, fip_id: str, pf_id: str) -> None:
        ctx.require_write_on(
            "delete_floatingip_port_forwarding", lambda: self.get(ctx, fip_id, pf_id)
        )
        self.store.write(self._delete_tx, ctx, fip_id, pf_id)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, fip_id: str, pf_id: str) -> None:
        _floating_ip(tx.conn, ctx, fip_id, for_update=True)
        pf_rules.delete(tx, _load(tx.conn, fip_id, pf_id))


def _floating_ip(conn: Any, ctx: RequestContext, fip_id: str, *, for_update: bool = False) -> Any:
    row = fip_repo.find(conn, fip_id, for_update=for_update)
    if row is None or not ctx.owns(row["project_id"]):
        raise ResourceNotFound("Floating IP", fip_id)
    return row


def _load(conn: Any, fip_id: str, pf_id: str) -> Any:
    row = repo.find(conn, pf_id)
    if row is None or row["floatingip_id"] != fip_id:
        raise ResourceNotFound(KIND, pf_id)
    return row
