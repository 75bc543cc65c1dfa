"""Address groups (``/v2.0/address-groups``, extensions ``address-group`` and
``rbac-address-group``): named sets of CIDRs that security-group rules name as their remote
(``remote_address_group_id``, extension ``security-groups-remote-address-group``).

Attributes as Neutron's: ``name``, ``description`` (1,024 characters), ``project_id``,
``addresses`` (a list of CIDRs, given on create only; afterwards changed through the member
actions ``add_addresses``/``remove_addresses``) and ``shared``, read-only: the derived view of
a wildcard ``access_as_shared`` RBAC policy (true also to a project the group is shared to by
name). Addresses are normalised to their network (``192.0.2.7/24`` is ``192.0.2.0/24``) and
de-duplicated. Adding an address already present answers 400 ``AddressesAlreadyExist``,
removing one absent 404 ``AddressesNotFound``, naming every offender, and changing nothing.

Policy (Neutron's defaults): a group is its project's (or an admin's) to change and delete; a
project sees it also when an RBAC policy shares it. A group some rule names cannot be deleted
(409 ``AddressGroupInUse``). There is no quota for address groups (Neutron has none).

The data plane: a change of the addresses is an update of the group (its revision moves, the
change log records it), which wakes every host whose rules name the group
(``service.hostsync``); the host state carries each named group's addresses.

Races (PostgreSQL): every write locks the group's row (``for_change``, ``for_delete`` for a
delete), the row a rule create naming the group share-locks (``for_use``): a delete waits for
the rule's commit and then sees it (409), or the rule create sees the group gone (404).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import (
    BadRequest,
    NamedBadRequest,
    NamedConflict,
    NamedNotFound,
    PolicyNotAuthorized,
    excerpt,
)
from neutrino.common.ids import new_id
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    parse_create,
    parse_update,
    string,
    to_bool,
)
from neutrino.domain.listing import ListQuery
from neutrino.service import rbac, rbac_objects
from neutrino.service.common import changed_attrs, check_revision, new_row, owner_project
from neutrino.service.context import RequestContext
from neutrino.store import address_groups as repo
from neutrino.store import locks
from neutrino.store import rbac as rbac_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx


def _address(value: Any) -> str:
    """Neutron's ``type:subnet``: a CIDR (an IPv4 one without leading zeros), normalised."""
    if not isinstance(value, str) or "/" not in value or value != value.strip():
        raise Invalid(f"'{excerpt(value)}' is not a valid IP subnet")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Invalid(f"'{excerpt(value)}' is not a valid IP subnet") from None
    if network.version == 4 and any(
        p != "0" and p.startswith("0") for p in value.split("/")[0].split(".")
    ):
        raise Invalid(f"'{excerpt(value)}' isn't a recognized IP subnet cidr")
    return str(network)


@described({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]})
def address_list(value: Any) -> list[str]:
    """``addresses``: a list of CIDRs (None is an empty list); duplicates as given refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"'{excerpt(value)}' is not a list")
    dupes = sorted({str(v) for v in value if value.count(v) > 1})
    if dupes:
        raise Invalid(f"Duplicate items in the list: '{excerpt(', '.join(dupes))}'")
    return [_address(v) for v in value]


SPEC: dict[str, Attr] = {
    "name": STANDARD["name"],
    "description": Attr(string(1024)),
    "project_id": STANDARD["project_id"],
    "tenant_id": STANDARD["tenant_id"],
    "addresses": Attr(address_list, allow_put=False),
    "shared": Attr(to_bool, allow_post=False, allow_put=False),
}


def view(row: Any, addresses: list[str], shared: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "tenant_id": row["project_id"],
        "project_id": row["project_id"],
        "addresses": addresses,
        "shared": shared,
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
    }


def render(conn: Any, rows: list[Any], project: str) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    granted = rbac_repo.granted_ids(conn, project, ids)
    addresses = repo.addresses_of(conn, ids)
    return [
        view(r, addresses.get(r["id"], []), bool(r["shared"]) or r["id"] in granted) for r in rows
    ]


def _action_addresses(body: Any) -> list[str]:
    """The body of ``add_addresses``/``remove_addresses``: ``{"addresses": [cidr, ...]}``.
    Unlike a create, an action takes a bare address as its host prefix, as Neutron does (it
    normalises the action's list itself instead of validating it as ``type:subnet``)."""
    wanted = body.get("addresses") if isinstance(body, dict) else None
    if not isinstance(wanted, list) or set(body) != {"addresses"}:
        raise BadRequest("Request body contains invalid data")
    try:
        return sorted(set(address_list([_host_prefixed(a) for a in wanted])))
    except Invalid as exc:
        raise BadRequest(f"Invalid input for addresses. Reason: {exc}.") from None


def _host_prefixed(value: Any) -> Any:
    if not isinstance(value, str) or "/" in value:
        return value
    try:
        return f"{value}/{ipaddress.ip_address(value).max_prefixlen}"
    except ValueError:
        return value  # refused by address_list with the usual message


class AddressGroupService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _load(self, conn: Any, ctx: RequestContext, group_id: str, action: str = "") -> Any:
        row = rbac_objects.load(conn, ctx, "address_group", group_id)
        if action and not ctx.owns(row["project_id"]):
            if action in ("update_address_group", "delete_address_group"):
                # Neutron checks "may the caller see it" on the row as loaded for the update's
                # policy, without ``shared``: a group shared through RBAC is not found (404).
                # Its actions load the whole group, so there the caller gets a 403.
                raise rbac_objects.not_found("address_group", group_id)
            raise PolicyNotAuthorized(f"rule:{action}")
        return row

    def _owned(self, ctx: RequestContext, group_id: str) -> None:
        """404 unless the caller's project owns the group (see ``_load``)."""
        with self.store.read() as conn:
            self._load(conn, ctx, group_id, "update_address_group")

    def get(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return render(conn, [self._load(conn, ctx, group_id)], ctx.project_id)[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return render(conn, repo.list_rows(conn, query, ctx.list_scope), ctx.project_id)

    # --- create

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_address_group")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            attrs["project"] = owner_project(ctx, attrs)
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]) -> Any:
        ids = []
        for attrs in items:
            group_id = new_id()
            repo.insert_row(tx.conn, new_row(group_id, attrs["project"], attrs, shared=False))
            repo.add_addresses(tx.conn, group_id, sorted(set(attrs.get("addresses") or ())))
            tx.created(Resource.ADDRESS_GROUP, group_id)
            ids.append(group_id)
        rows = [repo.find(tx.conn, i) for i in ids]
        return render(tx.conn, rows, ctx.project_id)

    # --- update and the member actions

    def update(
        self, ctx: RequestContext, group_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_address_group", lambda: self._owned(ctx, group_id))
        attrs = parse_update(body, SPEC)
        return self.store.write(self._update_tx, ctx, group_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, group_id: str, attrs: dict[str, Any], if_match: Any
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "address_groups", group_id)
        row = self._load(tx.conn, ctx, group_id, "update_address_group")
        check_revision(row["revision_number"], if_match)
        changed = changed_attrs(attrs, row, ("name", "description"))
        if changed:
            tx.updated(Resource.ADDRESS_GROUP, group_id, changed)
        return render(tx.conn, [repo.find(tx.conn, group_id)], ctx.project_id)[0]

    def add_addresses(self, ctx: RequestContext, group_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("add_addresses", lambda: self.get(ctx, group_id))
        wanted = _action_addresses(body)
        return self.store.write(self._addresses_tx, ctx, group_id, wanted, True)

    def remove_addresses(self, ctx: RequestContext, group_id: str, body: Any) -> dict[str, Any]:
        ctx.require_write_on("remove_addresses", lambda: self.get(ctx, group_id))
        wanted = _action_addresses(body)
        return self.store.write(self._addresses_tx, ctx, group_id, wanted, False)

    def _addresses_tx(
        self, tx: Tx, ctx: RequestContext, group_id: str, wanted: list[str], adding: bool
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "address_groups", group_id)
        self._load(tx.conn, ctx, group_id, "add_addresses" if adding else "remove_addresses")
        present = set(repo.addresses_of(tx.conn, [group_id]).get(group_id, ()))
        if adding:
            clash = [a for a in wanted if a in present]
            if clash:
                raise NamedBadRequest(
                    "AddressesAlreadyExist",
                    f"Addresses {clash} already exist in the address group {group_id}.",
                )
            repo.add_addresses(tx.conn, group_id, wanted)
        else:
            absent = [a for a in wanted if a not in present]
            if absent:
                raise NamedNotFound(
                    "AddressesNotFound",
                    f"Addresses {absent} not found in the address group {group_id}.",
                )
            repo.remove_addresses(tx.conn, group_id, wanted)
        if wanted:
            tx.updated(Resource.ADDRESS_GROUP, group_id)
        rows = [repo.find(tx.conn, group_id)]
        return {"address_group": render(tx.conn, rows, ctx.project_id)[0]}

    # --- delete

    def delete(self, ctx: RequestContext, group_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_address_group", lambda: self._owned(ctx, group_id))
        self.store.write(self._delete_tx, ctx, group_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, group_id: str, if_match: Any) -> None:
        locks.for_delete(tx.conn, "address_groups", group_id)
        row = self._load(tx.conn, ctx, group_id, "delete_address_group")
        check_revision(row["revision_number"], if_match)
        if repo.in_use(tx.conn, group_id):
            raise NamedConflict(
                "AddressGroupInUse",
                f"Address group {group_id} is in use on one or more security group rules.",
            )
        tx.deleted(Resource.ADDRESS_GROUP, row)
        repo.delete_row(tx.conn, group_id)
        rbac.record_deleted(tx, rbac_repo.delete_for(tx.conn, group_id))
