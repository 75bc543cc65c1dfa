"""Network segments (``/v2.0/segments``, extensions ``segment``, ``standard-attr-segment``,
``multi-provider``): create, show, list, update, delete; the segment rows a network create
writes; and the subnet ``segment_id`` rules (``subnet-segmentid-writable``).

Every segment of a network has a row; the network row mirrors its first segment (the one
binding and host state use), so a network with several segments is bound on its first one:
routed networks (a host on one segment of several) are not scheduled by segment here.

Policy (Neutron's): segments are the admin's alone, to see and to change; anyone else lists
none and gets 404 (a write: 403). A segment with subnets cannot be deleted (409
``SegmentInUse``), nor a network's first segment while ports are bound on the network;
deleting a first segment makes the next one first (the network row follows).

Subnets (Neutron's ``_validate_segment``): a subnet's segment must be one of its network's
(400 ``NetworkIdsDontMatch``); a network's subnets are either all on segments or none
(``SubnetsNotAllAssociatedWithSegments``); an update may only give a segment to a subnet that
had none (``SubnetSegmentAssociationChangeNotAllowed``), on a network with a single segment
(``NoUpdateSubnetWhenMultipleSegmentsOnNetwork``).

Races (PostgreSQL): a segment write locks its network's row first (``for_change``), the row
subnet and port creates on it lock too; the allocation's primary key guards the wire.
"""

from __future__ import annotations

from typing import Any

from neutrino.common import clock
from neutrino.common.errors import (
    BadRequest,
    NamedBadRequest,
    NamedConflict,
    NamedNotFound,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain.attributes import (
    Attr,
    nullable,
    parse_create,
    parse_update,
    string,
    to_int,
    uuid,
)
from neutrino.domain.hoststate import VIF_BRIDGE
from neutrino.domain.listing import ListQuery
from neutrino.service.common import new_row
from neutrino.service.context import RequestContext
from neutrino.service.segment_alloc import Segment, SegmentAllocator
from neutrino.store import locks, raw
from neutrino.store import networks as network_repo
from neutrino.store import segments as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC: dict[str, Attr] = {
    "name": Attr(nullable(string(255))),
    "description": Attr(string(255)),
    "network_id": Attr(uuid, required=True, allow_put=False),
    "network_type": Attr(string(32), required=True, allow_put=False),
    "physical_network": Attr(nullable(string(64)), allow_put=False),
    "segmentation_id": Attr(nullable(to_int), allow_put=False),
    "project_id": Attr(string(64), allow_put=False),
    "tenant_id": Attr(string(64), allow_put=False),
}


def segment_not_found(segment_id: str) -> NamedNotFound:
    return NamedNotFound("SegmentNotFound", f"Segment {segment_id} could not be found.")


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "network_id": row["network_id"],
        "name": row["name"] or None,
        "description": row["description"],
        "network_type": row["network_type"],
        "physical_network": row["physical_network"],
        "segmentation_id": row["segmentation_id"],
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
    }


def provider_view(row: Any) -> dict[str, Any]:
    """One entry of a multi-provider network's ``segments``."""
    return {
        "provider:network_type": row["network_type"],
        "provider:physical_network": row["physical_network"],
        "provider:segmentation_id": row["segmentation_id"],
    }


def add(tx: Tx, network_id: str, project: str, segment: Segment, name: str = "") -> str:
    """Write a segment row of a network (its allocation is the caller's) and log it."""
    net_type, physnet, seg_id = segment
    segment_id = new_id()
    row = new_row(
        segment_id,
        project,
        {"name": name},
        network_id=network_id,
        network_type=net_type,
        physical_network=physnet,
        segmentation_id=seg_id,
        segment_index=repo.next_index(tx.conn, network_id),
    )
    repo.insert_row(tx.conn, row)
    tx.created(Resource.SEGMENT, row)
    return segment_id


def forget_network(tx: Tx, network_id: str) -> None:
    """A network is deleted: its segment rows go (logged) before it."""
    for row in repo.of_network(tx.conn, network_id):
        tx.deleted(Resource.SEGMENT, row)
        repo.delete_row(tx.conn, row["id"])


def check_subnet_segment(
    conn: Any, network_id: str, segment_id: str | None, old: str | None = None, *, update: bool
) -> None:
    """Neutron's rules for a subnet's ``segment_id`` (see the module docstring)."""
    associated = repo.subnet_segment_ids(conn, network_id)
    if None in associated and len(associated) > 1:
        raise _not_all(network_id)
    if not update and associated and (segment_id is None) != (None in associated):
        raise _not_all(network_id)
    if update and old != segment_id:
        if len(associated) > 1:
            raise _not_all(network_id)
        if old is not None:
            raise NamedBadRequest(
                "SubnetSegmentAssociationChangeNotAllowed",
                "A subnet that is already associated with a segment cannot have its segment "
                "association changed.",
            )
        if len(repo.of_network(conn, network_id)) > 1:
            raise NamedBadRequest(
                "NoUpdateSubnetWhenMultipleSegmentsOnNetwork",
                f"The network '{network_id}' has multiple segments, it is only possible to "
                f"associate an existing subnet with a segment on networks with a single "
                f"segment.",
            )
    if segment_id is not None:
        found = repo.find(conn, segment_id)
        if found is None:
            raise segment_not_found(segment_id)
        if found["network_id"] != network_id:
            raise NamedBadRequest(
                "NetworkIdsDontMatch",
                f"The subnet's network id, '{network_id}', doesn't match the network_id of "
                f"segment '{segment_id}'",
            )


def _not_all(network_id: str) -> NamedBadRequest:
    return NamedBadRequest(
        "SubnetsNotAllAssociatedWithSegments",
        f"All of the subnets on network '{network_id}' must either all be associated with "
        f"segments or all not associated with any segment.",
    )


class SegmentService:
    def __init__(self, store: Store, allocator: SegmentAllocator) -> None:
        self.store = store
        self.allocator = allocator

    def _load(self, conn: Any, ctx: RequestContext, segment_id: str) -> Any:
        row = None if "\x00" in segment_id else repo.find(conn, segment_id)
        if row is None or not ctx.is_admin:
            raise segment_not_found(segment_id)
        return row

    def get(self, ctx: RequestContext, segment_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return view(self._load(conn, ctx, segment_id))

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            scope = None if ctx.is_admin else (ctx.project_id or "")
            return [view(r) for r in repo.list_rows(conn, query, scope)]

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_admin("create_segment")
        return self.store.write(self._create_tx, [parse_create(b, SPEC) for b in bodies])

    def _create_tx(self, tx: Tx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = []
        for attrs in items:
            network_id = attrs["network_id"]
            locks.for_change(tx.conn, "networks", network_id)
            net = network_repo.find(tx.conn, network_id)
            if net is None:
                raise ResourceNotFound("Network", network_id)
            segment = self.allocator.choose(
                tx,
                {
                    "provider:network_type": attrs["network_type"],
                    "provider:physical_network": attrs.get("physical_network"),
                    "provider:segmentation_id": attrs.get("segmentation_id"),
                },
                project=net["project_id"],
            )
            if segment[0] is None:
                raise BadRequest(f"network_type value '{attrs['network_type']}' not supported")
            self.allocator.reserve(tx, network_id, segment)
            segment_id = add(tx, network_id, net["project_id"], segment, attrs.get("name") or "")
            if attrs.get("description"):
                tx.updated(Resource.SEGMENT, segment_id, {"description": attrs["description"]})
            if net["network_type"] is None:  # the network's first segment: its row follows
                _mirror(tx, network_id, segment)
            ids.append(segment_id)
        return [view(repo.find(tx.conn, i)) for i in ids]

    def update(
        self, ctx: RequestContext, segment_id: str, body: dict[str, Any], if_match: Any = None
    ) -> dict[str, Any]:
        self.get(ctx, segment_id)  # 404 for anyone but the admin, as Neutron hides them
        ctx.require_admin("update_segment")
        attrs = parse_update(body, SPEC)
        return self.store.write(self._update_tx, ctx, segment_id, attrs)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, segment_id: str, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        row = self._load(tx.conn, ctx, segment_id)
        locks.for_change(tx.conn, "networks", row["network_id"])
        values: dict[str, Any] = {}
        if "name" in attrs:
            values["name"] = attrs["name"] or ""
        if "description" in attrs:
            values["description"] = attrs["description"]
        changed = {k: v for k, v in values.items() if row[k] != v}
        if changed:
            tx.updated(Resource.SEGMENT, segment_id, changed)
        return view(repo.find(tx.conn, segment_id))

    def delete(self, ctx: RequestContext, segment_id: str, if_match: Any = None) -> None:
        self.get(ctx, segment_id)
        ctx.require_admin("delete_segment")
        self.store.write(self._delete_tx, ctx, segment_id)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, segment_id: str) -> None:
        found = repo.find(tx.conn, segment_id)
        if found is not None:
            locks.for_change(tx.conn, "networks", found["network_id"])
        row = self._load(tx.conn, ctx, segment_id)
        subnets = repo.subnets_on(tx.conn, segment_id)
        if subnets:
            raise _in_use(
                segment_id, f"The segment is still associated with subnet(s) {', '.join(subnets)}"
            )
        network_id = row["network_id"]
        rest = [r for r in repo.of_network(tx.conn, network_id) if r["id"] != segment_id]
        net = network_repo.get(tx.conn, network_id)
        first = (net["network_type"], net["physical_network"], net["segmentation_id"]) == (
            row["network_type"],
            row["physical_network"],
            row["segmentation_id"],
        )
        if first:
            bound = raw.rows(
                tx.conn,
                "SELECT id FROM ports WHERE network_id = ? AND binding_vif_type = ? ORDER BY id",
                (network_id, VIF_BRIDGE),
            )
            if bound:
                ports = ", ".join(p for (p,) in bound)
                raise _in_use(segment_id, f"The segment is still bound with port(s) {ports}")
        tx.deleted(Resource.SEGMENT, row)
        repo.delete_row(tx.conn, segment_id)
        repo.delete_allocation(
            tx.conn, row["network_type"], row["physical_network"], row["segmentation_id"]
        )
        if first:
            nxt = rest[0] if rest else None
            _mirror(
                tx,
                network_id,
                (None, None, None)
                if nxt is None
                else (nxt["network_type"], nxt["physical_network"], nxt["segmentation_id"]),
            )


def _in_use(segment_id: str, reason: str) -> NamedConflict:
    return NamedConflict("SegmentInUse", f"Segment '{segment_id}' cannot be deleted: {reason}.")


def _mirror(tx: Tx, network_id: str, segment: Segment) -> None:
    net_type, physnet, seg_id = segment
    tx.updated(
        Resource.NETWORK,
        network_id,
        {"network_type": net_type, "physical_network": physnet, "segmentation_id": seg_id},
    )
