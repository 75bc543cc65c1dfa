"""Trunks (``/v2.0/trunks``, extensions ``trunk`` and ``trunk-details``): create, show, list,
update, delete, and the ``add_subports``/``remove_subports``/``get_subports`` actions.

Validation is Neutron's, in its order (its ``TrunkPortValidator`` and ``SubPortsValidator``):
the parent must not already be a sub-port (409 ``TrunkPortInUse``) or a parent
(``ParentPortInUse``), must exist for the caller (404), and if bound, bound by our agent (a
failed binding has no trunk driver: ``ParentPortInUse``). Each sub-port: not the parent
(``ParentPortInUse``), its network's MTU not above the parent's (409
``SubPortMtuGreaterThanTrunkPortMtu``), both segmentation values, ``vlan`` with an id in
1-4094 (400), not in another trunk (``TrunkPortInUse``/``ParentPortInUse``), visible (404)
and not used by a device (409 ``PortInUse``); a (type, id) the trunk already carries is 409
``DuplicateSubPort``. ``inherit`` takes the sub-port network's provider type and id.

A disabled trunk (``admin_state_up`` false) cannot change its sub-ports or be deleted (409
``TrunkDisabled``); a trunk in ``ERROR`` takes no new sub-ports (409 ``TrunkInErrorState``)
until the failed ones are removed. Ports in a trunk cannot be deleted
(``service.trunk_binding``). Policy (Neutron's defaults): a trunk is its project's and the
admin's, to see and to change; the ports it names must be the caller's to see.

Races (PostgreSQL): every write locks the ports it names (``for_change``, in id order) and,
for an existing trunk, the trunk's row first; the unique keys (one trunk per parent, one
trunk per sub-port, one (type, id) per trunk) make the loser of any race retry and then see
the winner's rows (409).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import (
    InvalidInput,
    NamedConflict,
    NamedNotFound,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import new_id
from neutrino.domain import trunks as rules
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    described,
    parse_create,
    parse_update,
    tag_list,
    to_bool,
    uuid,
)
from neutrino.domain.hoststate import VIF_BRIDGE
from neutrino.domain.listing import ListQuery
from neutrino.service import common, trunk_binding
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import ports as port_repo
from neutrino.store import tags as tag_repo
from neutrino.store import trunks as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SUBPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "port_id": {"type": "string", "format": "uuid"},
        "segmentation_type": {"enum": [rules.VLAN, rules.INHERIT]},
        "segmentation_id": {"type": "integer", "minimum": 1, "maximum": 4094},
    },
}
subports = described({"type": "array", "items": SUBPORT_SCHEMA})(rules.subports_body)

SPEC: dict[str, Attr] = {
    **STANDARD,
    "admin_state_up": Attr(to_bool),
    "port_id": Attr(uuid, required=True, allow_put=False),
    "sub_ports": Attr(subports, allow_put=False),
    "tags": Attr(tag_list, allow_put=False),
}
ACTION_SPEC: dict[str, Attr] = {"sub_ports": Attr(subports, required=True)}


def trunk_not_found(trunk_id: str) -> NamedNotFound:
    return NamedNotFound("TrunkNotFound", f"Trunk {trunk_id} could not be found.")


def _in_use(port_id: str, *, parent: bool) -> NamedConflict:
    if parent:
        return NamedConflict(
            "ParentPortInUse",
            f"Port {port_id} is currently in use and is not eligible for use as a parent port.",
        )
    return NamedConflict("TrunkPortInUse", f"Port {port_id} is in use by another trunk.")


def _disabled(trunk_id: str) -> NamedConflict:
    return NamedConflict("TrunkDisabled", f"Trunk {trunk_id} is currently disabled.")


def view(row: Any, subs: list[repo.SubPortRow], tags: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "port_id": row["port_id"],
        "admin_state_up": bool(row["admin_state_up"]),
        "status": row["status"],
        "sub_ports": [
            {"segmentation_id": i, "segmentation_type": t, "port_id": p} for p, t, i in subs
        ],
        **common.standard_view(row, tags),
    }


def render(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    subs = repo.subports_of(conn, ids)
    tags = tag_repo.tags_of(conn, ids)
    return [view(r, subs.get(r["id"], []), tags.get(r["id"], [])) for r in rows]


class TrunkService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads

    def _load(self, conn: Any, ctx: RequestContext, trunk_id: str) -> Any:
        row = None if "\x00" in trunk_id else repo.find(conn, trunk_id)
        if row is None or not ctx.in_project(row["project_id"]):
            raise trunk_not_found(trunk_id)
        return row

    def get(self, ctx: RequestContext, trunk_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [self._load(conn, ctx, trunk_id)])[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return render(conn, repo.list_rows(conn, query, ctx.list_scope))

    def get_subports(self, ctx: RequestContext, trunk_id: str) -> dict[str, Any]:
        return {"sub_ports": self.get(ctx, trunk_id)["sub_ports"]}

    # --- validation (inside the write)

    def _port(self, conn: Any, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        """The port as the caller may see it (its own, or on a network it owns): else 404."""
        port = port_repo.find(conn, port_id)
        if port is not None and not ctx.in_project(port["project_id"]):
            net = network_repo.find(conn, port["network_id"])
            if net is None or not ctx.in_project(net["project_id"]):
                port = None
        if port is None:
            raise ResourceNotFound("Port", port_id)
        return port

    def _check_free(self, conn: Any, port_id: str, *, parent: bool) -> None:
        if repo.trunk_of_subport(conn, port_id) is not None:
            raise _in_use(port_id, parent=False)
        if repo.trunk_of_parent(conn, port_id) is not None:
            raise _in_use(port_id, parent=True)

    def _check_parent(self, conn: Any, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        self._check_free(conn, port_id, parent=True)
        port = self._port(conn, ctx, port_id)
        if port["binding_host_id"] and port["binding_vif_type"] != VIF_BRIDGE:
            raise _in_use(port_id, parent=True)  # bound, but by no driver that trunks
        return port

    def _check_subports(
        self, conn: Any, ctx: RequestContext, parent: dict[str, Any], items: list[dict[str, Any]]
    ) -> list[repo.SubPortRow]:
        parent_mtu = network_repo.get(conn, parent["network_id"])["mtu"]
        found: dict[str, tuple[dict[str, Any] | None, Any]] = {}
        for item in items:  # Neutron reads them all first (inherit, MTUs): 404 comes later
            port = port_repo.find(conn, item["port_id"])
            net = None if port is None else network_repo.find(conn, port["network_id"])
            found[item["port_id"]] = (port, net)
        out = []
        for item in items:
            port_id = item["port_id"]
            port, net = found[port_id]
            if item.get("segmentation_type") == rules.INHERIT and net is not None:
                if net["network_type"] is None or net["segmentation_id"] is None:
                    raise InvalidInput(f"Cannot inherit the segmentation of port {port_id}")
                item = {
                    "port_id": port_id,
                    "segmentation_type": net["network_type"],
                    "segmentation_id": net["segmentation_id"],
                }
            if port_id == parent["id"]:
                raise _in_use(port_id, parent=True)
            if net is not None and net["mtu"] > parent_mtu:
                raise NamedConflict(
                    "SubPortMtuGreaterThanTrunkPortMtu",
                    f"MTU {net['mtu']} of subport {port_id} cannot be greater than MTU "
                    f"{parent_mtu} of trunk {parent['id']}.",
                )
            seg_type, seg_id = rules.segmentation(item)
            self._check_free(conn, port_id, parent=False)
            port = self._port(conn, ctx, port_id)
            if port["device_id"]:
                raise NamedConflict(
                    "PortInUse",
                    f"Unable to complete operation on port {port_id} for network "
                    f"{port['network_id']}. Port already has an attached device "
                    f"{port['device_id']}.",
                )
            out.append((port_id, seg_type, seg_id))
        return out

    def _check_unique(self, conn: Any, trunk_id: str, items: list[repo.SubPortRow]) -> None:
        for _port_id, seg_type, seg_id in items:
            if repo.segmentation_in_use(conn, trunk_id, seg_type, seg_id):
                raise NamedConflict(
                    "DuplicateSubPort",
                    f"segmentation_type {seg_type} and segmentation_id {seg_id} already in "
                    f"use on trunk {trunk_id}.",
                )

    # --- create

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_trunk")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            attrs["project"] = common.owner_project(ctx, attrs)
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]) -> Any:
        ids = []
        for attrs in items:
            named = [attrs["port_id"]] + [s["port_id"] for s in attrs.get("sub_ports", [])]
            locks.for_change(tx.conn, "ports", *named)
            parent = self._check_parent(tx.conn, ctx, attrs["port_id"])
            subs = self._check_subports(tx.conn, ctx, parent, attrs.get("sub_ports", []))
            trunk_id = new_id()
            row = common.new_row(
                trunk_id,
                attrs["project"],
                attrs,
                admin_state_up=attrs.get("admin_state_up", True),
                status=rules.DOWN,
                port_id=parent["id"],
            )
            repo.insert_row(tx.conn, row)
            repo.add_subports(tx.conn, trunk_id, subs)
            if attrs.get("tags"):
                tag_repo.replace_tags(tx.conn, "trunks", trunk_id, attrs["tags"])
            tx.created(Resource.TRUNK, row)
            trunk_binding.sync(tx, trunk_id)
            ids.append(trunk_id)
        return render(tx.conn, [repo.find(tx.conn, i) for i in ids])

    # --- update and delete

    def update(
        self, ctx: RequestContext, trunk_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_trunk", lambda: self.get(ctx, trunk_id))
        attrs = parse_update(body, SPEC)
        return self.store.write(self._update_tx, ctx, trunk_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, trunk_id: str, attrs: dict[str, Any], if_match: Any
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "trunks", trunk_id)
        row = self._load(tx.conn, ctx, trunk_id)
        common.check_revision(row["revision_number"], if_match)
        changed = common.changed_attrs(attrs, row, ("name", "description", "admin_state_up"))
        if changed:
            tx.updated(Resource.TRUNK, trunk_id, changed)
        return render(tx.conn, [repo.find(tx.conn, trunk_id)])[0]

    def delete(self, ctx: RequestContext, trunk_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_trunk", lambda: self.get(ctx, trunk_id))
        self.store.write(self._delete_tx, ctx, trunk_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, trunk_id: str, if_match: Any) -> None:
        locks.for_delete(tx.conn, "trunks", trunk_id)
        row = self._load(tx.conn, ctx, trunk_id)
        common.check_revision(row["revision_number"], if_match)
        if not row["admin_state_up"]:
            raise _disabled(trunk_id)
        parent = port_repo.get(tx.conn, row["port_id"])
        if parent["binding_host_id"] and parent["binding_vif_type"] != VIF_BRIDGE:
            raise NamedConflict("TrunkInUse", f"Trunk {trunk_id} is currently in use.")
        members = [p for p, _t, _i in repo.subports_of(tx.conn, [trunk_id]).get(trunk_id, [])]
        tx.deleted(Resource.TRUNK, row)
        repo.delete_row(tx.conn, trunk_id)
        tag_repo.delete_all(tx.conn, trunk_id)
        trunk_binding.release(tx, members)

    # --- sub-port actions

    def add_subports(self, ctx: RequestContext, trunk_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("add_subports", lambda: self.get(ctx, trunk_id))
        items = self._action_body(body)
        return self.store.write(self._add_tx, ctx, trunk_id, items)

    def remove_subports(self, ctx: RequestContext, trunk_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("remove_subports", lambda: self.get(ctx, trunk_id))
        items = self._action_body(body)
        return self.store.write(self._remove_tx, ctx, trunk_id, items)

    @staticmethod
    def _action_body(body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            raise InvalidInput("Invalid data format for subports: the body is not an object")
        return list(parse_create(body, ACTION_SPEC)["sub_ports"])

    def _add_tx(
        self, tx: Tx, ctx: RequestContext, trunk_id: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "trunks", trunk_id)
        row = self._load(tx.conn, ctx, trunk_id)
        if not ctx.owns(row["project_id"]):
            raise PolicyNotAuthorized("rule:add_subports")
        locks.for_change(tx.conn, "ports", *[i["port_id"] for i in items])
        parent = port_repo.get(tx.conn, row["port_id"])
        subs = self._check_subports(tx.conn, ctx, parent, items)
        if not row["admin_state_up"]:
            raise _disabled(trunk_id)
        if row["status"] == rules.ERROR:
            raise NamedConflict(
                "TrunkInErrorState",
                f"Trunk {trunk_id} is in error state. Attempt to resolve the error condition "
                f"before proceeding.",
            )
        self._check_unique(tx.conn, trunk_id, subs)
        repo.add_subports(tx.conn, trunk_id, subs)
        tx.updated(Resource.TRUNK, trunk_id)
        trunk_binding.sync(tx, trunk_id)
        return render(tx.conn, [repo.find(tx.conn, trunk_id)])[0]

    def _remove_tx(
        self, tx: Tx, ctx: RequestContext, trunk_id: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "trunks", trunk_id)
        row = self._load(tx.conn, ctx, trunk_id)
        if not ctx.owns(row["project_id"]):
            raise PolicyNotAuthorized("rule:remove_subports")
        if not row["admin_state_up"]:
            raise _disabled(trunk_id)
        current = {p for p, _t, _i in repo.subports_of(tx.conn, [trunk_id]).get(trunk_id, [])}
        gone = []
        for item in items:
            if item["port_id"] not in current:
                raise NamedNotFound(
                    "SubPortNotFound",
                    f"SubPort {item['port_id']} on trunk {trunk_id} could not be found.",
                )
            gone.append(item["port_id"])
        locks.for_change(tx.conn, "ports", *gone)
        repo.remove_subports(tx.conn, trunk_id, gone)
        tx.updated(Resource.TRUNK, trunk_id)
        trunk_binding.release(tx, gone)
        trunk_binding.sync(tx, trunk_id)
        return render(tx.conn, [repo.find(tx.conn, trunk_id)])[0]
