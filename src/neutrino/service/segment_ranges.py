"""Network segment ranges (``/v2.0/network_segment_ranges``, extension
``network-segment-range``): create, show, list, update, delete, and the default ranges the
configuration defines.

What a range is for: a tenant network (no ``provider:segmentation_id`` given) draws the lowest
free id of its type from its project's own ranges, then from the shared ranges minus every
other project's own ranges (``domain.segments.tenant_intervals``; ``service.segment_alloc``
reads them). An id named explicitly by an admin needs no range, as in Neutron.

Rules (Neutron's): the API is the admin's (anyone else lists none, gets 404 for a range and
403 for a create). Types are vlan and vxlan (gre and geneve: 400
``NetworkSegmentRangeNetTypeNotSupported``, neutrino has no driver for them); a VLAN range
needs its ``physical_network``, other types have none (''). A shared range has no project; a
private one belongs to the project given, or the caller's. ``minimum``/``maximum`` must be
valid ids of the type (400 ``NetworkVlanRangeError``/``NetworkTunnelRangeError``: Neutron
answers these with a 500) and must not overlap another non-default range of the same wire
(409 ``NetworkSegmentRangeOverlaps``). Default ranges cannot be updated or deleted (400
``NetworkSegmentRangeDefaultReadOnly``). A range with ids in use cannot be deleted, nor
shrunk so that one in use falls out of it (409 ``NetworkSegmentRangeReferencedByProject``):
ids in use stay allocated whatever happens to the ranges.

``used`` maps each allocated id of the span to the project of its network; ``available``
lists the span's free ids (computed only when the caller's ``fields`` want them).

Default ranges: ``sync_defaults`` writes the configured ranges as ``default`` rows at start
(ids derived from the span, so two servers starting at once meet on the primary key and the
loser's retry finds the rows) and removes default rows the configuration no longer has, as
Neutron does. It is configuration, not an API write: it is not logged (no cache reads ranges).

Races (PostgreSQL): update and delete lock the range's row (``for_change``/``for_delete``).
An overlap between two concurrent creates is not excluded by a key (Neutron has none either);
allocation stays correct with overlapping ranges, since ``segment_allocations`` guards ids.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, NamedBadRequest, NamedConflict, NamedNotFound
from neutrino.common.ids import new_id
from neutrino.domain import segments as seg
from neutrino.domain.attributes import (
    Attr,
    nullable,
    one_of,
    parse_create,
    parse_update,
    project_id,
    string,
    tag_list,
    to_bool,
    to_int,
)
from neutrino.domain.listing import ListQuery
from neutrino.service.common import changed_attrs
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import segment_ranges as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SPEC: dict[str, Attr] = {
    "name": Attr(string(255)),
    "description": Attr(string(255)),
    "shared": Attr(to_bool, allow_put=False),
    "project_id": Attr(project_id, allow_put=False),
    "tenant_id": Attr(project_id, allow_put=False),
    "network_type": Attr(one_of(*seg.RANGE_TYPES), required=True, allow_put=False),
    "physical_network": Attr(nullable(string(64)), allow_put=False),
    "minimum": Attr(to_int, required=True),
    "maximum": Attr(to_int, required=True),
    "tags": Attr(tag_list, allow_put=False),
}
LIMIT = (1, 2**32 - 1)  # Neutron's bounds of any range's ids, checked before the type's
DEFAULTS_NAMESPACE = uuidlib.UUID("5c0a3e7e-1d2b-4c1e-9a57-6e6574726e6f")
COMPUTED = ("used", "available")


def not_found(range_id: str) -> NamedNotFound:
    return NamedNotFound(
        "NetworkSegmentRangeNotFound", f"Network Segment Range {range_id} could not be found."
    )


def default_id(network_type: str, physnet: str, lo: int, hi: int) -> str:
    return str(uuidlib.uuid5(DEFAULTS_NAMESPACE, f"{network_type}:{physnet}:{lo}:{hi}"))


def view(conn: Any, row: Any, tags: list[str], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "name": None if row["default_range"] and not row["name"] else row["name"],
        "description": row["description"],
        "default": row["default_range"],
        "shared": row["shared"],
        "project_id": None if row["shared"] else row["project_id"],
        "network_type": row["network_type"],
        "physical_network": row["physical_network"] if row["network_type"] == "vlan" else None,
        "minimum": row["minimum"],
        "maximum": row["maximum"],
        "tags": tags,
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
    }
    wanted = [f for f in COMPUTED if not fields or f in fields]
    if wanted:
        lo, hi = row["minimum"], row["maximum"]
        used = repo.used(conn, row["network_type"], row["physical_network"], lo, hi)
        if "used" in wanted:
            out["used"] = {str(k): v for k, v in used.items()}
        if "available" in wanted:
            out["available"] = [i for i in range(lo, hi + 1) if i not in used]
    return out


def _render(conn: Any, rows: list[Any], fields: list[str]) -> list[dict[str, Any]]:
    tags = tag_repo.tags_of(conn, [r["id"] for r in rows])
    return [view(conn, r, tags.get(r["id"], []), fields) for r in rows]


def _bounds(name: str, value: int) -> None:
    lo, hi = LIMIT
    if value < lo:
        raise BadRequest(
            f"Invalid input for {name}. Reason: '{value}' is too small - must be at least '{lo}'."
        )
    if value > hi:
        raise BadRequest(
            f"Invalid input for {name}. Reason: '{value}' is too large - must be no larger "
            f"than '{hi}'."
        )


def _check_span(network_type: str, lo: int, hi: int) -> None:
    reason = seg.range_error(network_type, lo, hi)
    if reason is None:
        return
    if network_type == "vlan":
        raise NamedBadRequest(
            "NetworkVlanRangeError", f"Invalid network VLAN range: '{lo}:{hi}' - '{reason}'."
        )
    raise NamedBadRequest(
        "NetworkTunnelRangeError", f"Invalid network tunnel range: '{lo}:{hi}' - {reason}."
    )


def _check_overlap(conn: Any, row: dict[str, Any], skip: str | None = None) -> None:
    found = repo.overlapping(
        conn, row["network_type"], row["physical_network"], row["minimum"], row["maximum"], skip
    )
    if found:
        raise NamedConflict(
            "NetworkSegmentRangeOverlaps",
            f"Network segment range overlaps with range(s) with id {', '.join(found)}",
        )


def _referenced(range_id: str) -> NamedConflict:
    return NamedConflict(
        "NetworkSegmentRangeReferencedByProject",
        f"Network Segment Range {range_id} is referenced by one or more project networks.",
    )


def _read_only(range_id: str) -> NamedBadRequest:
    return NamedBadRequest(
        "NetworkSegmentRangeDefaultReadOnly",
        f"Network Segment Range {range_id} is a default segment range which could not be "
        f"updated or deleted.",
    )


def sync_defaults(store: Store, config: seg.SegmentConfig) -> None:
    """Make the ``default`` rows match the configured ranges (see the module docstring)."""
    wanted = {default_id(*span): span for span in config.default_ranges()}
    with store.read() as conn:
        have = {row["id"] for row in repo.defaults(conn)}
    if have == set(wanted):
        return

    def write(tx: Tx) -> None:
        current = {row["id"] for row in repo.defaults(tx.conn)}
        repo.delete_rows(tx.conn, current - set(wanted))
        now = clock.now()
        for range_id in sorted(set(wanted) - current):
            net_type, physnet, lo, hi = wanted[range_id]
            repo.insert_row(
                tx.conn,
                {
                    "id": range_id,
                    "project_id": "",
                    "name": "",
                    "description": "",
                    "created_at": now,
                    "updated_at": now,
                    "revision_number": 0,
                    "default_range": True,
                    "shared": True,
                    "network_type": net_type,
                    "physical_network": physnet,
                    "minimum": lo,
                    "maximum": hi,
                },
            )

    store.write(write)


class SegmentRangeService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _load(self, conn: Any, ctx: RequestContext, range_id: str) -> Any:
        row = None if "\x00" in range_id else repo.find(conn, range_id)
        if row is None or not ctx.is_admin:
            raise not_found(range_id)
        return row

    def get(
        self, ctx: RequestContext, range_id: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        with self.store.read() as conn:
            return _render(conn, [self._load(conn, ctx, range_id)], fields or [])[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return _render(conn, repo.list_rows(conn, query, ctx.is_admin), query.fields)

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_admin("create_network_segment_range")
        return self.store.write(self._create_tx, ctx, [self._parse(ctx, b) for b in bodies])

    def _parse(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = parse_create(body, SPEC)
        _bounds("minimum", attrs["minimum"])
        _bounds("maximum", attrs["maximum"])
        net_type = attrs["network_type"]
        if net_type not in seg.RANGED_TYPES:
            raise NamedBadRequest(
                "NetworkSegmentRangeNetTypeNotSupported",
                f"Network type {net_type} does not support network segment ranges.",
            )
        _check_span(net_type, attrs["minimum"], attrs["maximum"])
        physnet = attrs.get("physical_network")
        if net_type == "vlan" and physnet is None:
            raise BadRequest(
                "Bad network_segment_range request: Network type vlan requires "
                "'physical_network' to be specified while creating new range."
            )
        shared = attrs.get("shared", True)
        project, tenant = attrs.get("project_id"), attrs.get("tenant_id")
        if project is not None and tenant is not None and project != tenant:
            raise BadRequest("Both project_id and tenant_id were specified and do not match.")
        owner = "" if shared else (project if project is not None else tenant)
        if owner is None:
            owner = ctx.project_id
        if not shared and not owner:
            raise BadRequest("A network segment range that is not shared must have a project_id.")
        now = clock.now()
        return {
            "id": new_id(),
            "project_id": owner,
            "name": attrs.get("name", ""),
            "description": attrs.get("description", ""),
            "created_at": now,
            "updated_at": now,
            "revision_number": 0,
            "default_range": False,
            "shared": shared,
            "network_type": net_type,
            "physical_network": (physnet or "") if net_type == "vlan" else "",
            "minimum": attrs["minimum"],
            "maximum": attrs["maximum"],
            "tags": attrs.get("tags", []),
        }

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for parsed in rows:
            row = {k: v for k, v in parsed.items() if k != "tags"}
            _check_overlap(tx.conn, row)
            repo.insert_row(tx.conn, row)
            if parsed["tags"]:  # tag-creation: in the create's own transaction
                tag_repo.replace_tags(tx.conn, "network_segment_ranges", row["id"], parsed["tags"])
            tx.created(Resource.NETWORK_SEGMENT_RANGE, row)
        return _render(tx.conn, [repo.find(tx.conn, row["id"]) for row in rows], [])

    def update(
        self, ctx: RequestContext, range_id: str, body: dict[str, Any], if_match: Any = None
    ) -> dict[str, Any]:
        self.get(ctx, range_id, ["id"])  # 404 for anyone but the admin, as Neutron hides them
        attrs = parse_update(body, SPEC)
        for name in ("minimum", "maximum"):
            if name in attrs:
                _bounds(name, attrs[name])
        return self.store.write(self._update_tx, ctx, range_id, attrs)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, range_id: str, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "network_segment_ranges", range_id)
        row = dict(self._load(tx.conn, ctx, range_id))
        if row["default_range"]:
            raise _read_only(range_id)
        new = {**row, **{k: attrs[k] for k in ("minimum", "maximum") if k in attrs}}
        used = repo.used(
            tx.conn, row["network_type"], row["physical_network"], row["minimum"], row["maximum"]
        )
        if used and (new["minimum"] > min(used) or new["maximum"] < max(used)):
            raise _referenced(range_id)
        _check_span(row["network_type"], new["minimum"], new["maximum"])
        _check_overlap(tx.conn, new, skip=range_id)
        changed = changed_attrs(attrs, row, ("name", "description", "minimum", "maximum"))
        if changed:
            tx.updated(Resource.NETWORK_SEGMENT_RANGE, range_id, changed)
        return _render(tx.conn, [repo.find(tx.conn, range_id)], [])[0]

    def delete(self, ctx: RequestContext, range_id: str, if_match: Any = None) -> None:
        self.get(ctx, range_id, ["id"])
        self.store.write(self._delete_tx, ctx, range_id)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, range_id: str) -> None:
        locks.for_delete(tx.conn, "network_segment_ranges", range_id)
        row = self._load(tx.conn, ctx, range_id)
        if row["default_range"]:
            raise _read_only(range_id)
        if repo.used(
            tx.conn, row["network_type"], row["physical_network"], row["minimum"], row["maximum"]
        ):
            raise _referenced(range_id)
        tx.deleted(Resource.NETWORK_SEGMENT_RANGE, row)
        repo.delete_rows(tx.conn, [range_id])
        tag_repo.delete_all(tx.conn, range_id)
