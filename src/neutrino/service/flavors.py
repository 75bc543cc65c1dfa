"""Service flavors (extension ``flavors``): ``/v2.0/flavors``, ``/v2.0/service_profiles``
and the binding of profiles to flavors (``/v2.0/flavors/{id}/service_profiles``); and, for
routers (``l3-flavors``), the provider a flavor picks.

Policy (Neutron's defaults): anyone holding a role lists and shows flavors; service profiles
are the admin's alone (others list none and get 404 for one); every write is the admin's
(others get 403, or 404 for a profile they cannot see). Bodies are validated before policy,
as Neutron does.

Rules, as Neutron's ``FlavorsDbMixin``: a profile needs a driver or metainfo
(``ServiceProfileEmpty``); a non-empty driver must be a provider's (``flavor_attrs``); a
profile bound to a flavor cannot be updated or deleted (``ServiceProfileInUse``, 409); a
binding made twice is 409, one that does not exist 404; a flavor a router was made with
cannot be deleted (``FlavorInUse``, 409). A flavor's update is always allowed
(``service_type`` is read-only).

A router's flavor (``provider_for``): the flavor must exist and be enabled (neutron-lib's
``FlavorDisabled``, 503: Neutron defines it but its router path never checks the flag; a
disabled flavor offered for new routers is what the flag is for), be a flavor of routers
(``L3_ROUTER_NAT``, else 400), and have a profile bound (the first, by id: Neutron's "next
provider"), enabled (``ServiceProfileDisabled``, 503) and naming a router provider.

Races (PostgreSQL): writes lock the flavor or profile row they change (``for_change``/
``for_delete``); a binding locks its flavor and profile; a router create share-locks its
flavor (``for_use``), so a flavor delete waits for it and then sees the router.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedBadRequest, NotFound, PolicyNotAuthorized
from neutrino.common.ids import new_id
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import flavor_attrs as fa
from neutrino.service.common import changed_attrs
from neutrino.service.context import RequestContext
from neutrino.store import flavors as repo
from neutrino.store import locks
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

Items = list[dict[str, Any]]


def flavor_view(row: Any, profiles: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "service_type": row["service_type"],
        "enabled": bool(row["enabled"]),
        "service_profiles": profiles,
    }


def profile_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "description": row["description"],
        "driver": row["driver"],
        "enabled": bool(row["enabled"]),
        "metainfo": row["metainfo"],
    }


def _render(conn: Any, rows: list[Any]) -> Items:
    bound = repo.profiles_of(conn, [r["id"] for r in rows])
    return [flavor_view(r, bound.get(r["id"], [])) for r in rows]


def _hidden() -> NotFound:
    """Neutron's answer to a show its policy refuses: the resource does not exist."""
    return NotFound("The resource could not be found.")


def _valid_id(resource_id: str | None) -> bool:
    return isinstance(resource_id, str) and "\x00" not in resource_id and len(resource_id) <= 36


class FlavorService:
    """``/v2.0/flavors`` (the generic collection) and the profile bindings."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _load(self, conn: Any, flavor_id: str) -> Any:
        row = repo.find_flavor(conn, flavor_id) if _valid_id(flavor_id) else None
        if row is None:
            raise fa.flavor_not_found(str(flavor_id))
        return row

    def get(self, ctx: RequestContext, flavor_id: str) -> dict[str, Any]:
        if not ctx.roles:
            raise _hidden()
        with self.store.read() as conn:
            return _render(conn, [self._load(conn, flavor_id)])[0]

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_flavors(conn, query)  # filters checked for everyone
            return _render(conn, rows) if ctx.roles else []

    def _require_admin(self, ctx: RequestContext, action: str, flavor_id: str = "") -> None:
        if not ctx.is_admin:
            if flavor_id:
                self.get(ctx, flavor_id)  # 404 first for what the caller cannot see
            raise PolicyNotAuthorized(f"rule:{action}")

    def create_bulk(self, ctx: RequestContext, bodies: Items) -> Items:
        parsed = [parse_create(body, fa.FLAVOR_SPEC) for body in bodies]
        self._require_admin(ctx, "create_flavor")
        return self.store.write(self._create_tx, parsed)

    def _create_tx(self, tx: Tx, items: Items) -> Items:
        ids = []
        for attrs in items:
            row = {
                "id": new_id(),
                "name": attrs.get("name", ""),
                "description": attrs.get("description", ""),
                "service_type": attrs["service_type"],
                "enabled": attrs.get("enabled", True),
            }
            repo.insert_flavor(tx.conn, row)
            tx.created(Resource.FLAVOR, {**row, "project_id": ""})
            ids.append(row["id"])
        return _render(tx.conn, [repo.find_flavor(tx.conn, i) for i in ids])

    def update(
        self, ctx: RequestContext, flavor_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        attrs = parse_update(body, fa.FLAVOR_SPEC)
        self._require_admin(ctx, "update_flavor", flavor_id)
        return self.store.write(self._update_tx, flavor_id, attrs)

    def _update_tx(self, tx: Tx, flavor_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        locks.for_change(tx.conn, "flavors", flavor_id)
        row = self._load(tx.conn, flavor_id)
        values = changed_attrs(attrs, row, ("name", "description", "enabled"))
        if values:
            repo.update_flavor(tx.conn, flavor_id, values)
            tx.updated(Resource.FLAVOR, dict(row))
        return _render(tx.conn, [repo.find_flavor(tx.conn, flavor_id)])[0]

    def delete(self, ctx: RequestContext, flavor_id: str, if_match: int | None = None) -> None:
        self._require_admin(ctx, "delete_flavor", flavor_id)
        self.store.write(self._delete_tx, flavor_id)

    def _delete_tx(self, tx: Tx, flavor_id: str) -> None:
        locks.for_delete(tx.conn, "flavors", flavor_id)
        row = self._load(tx.conn, flavor_id)
        if repo.flavor_in_use(tx.conn, flavor_id):
            raise fa.flavor_in_use(flavor_id)
        tx.deleted(Resource.FLAVOR, {**row, "project_id": ""})
        repo.delete_flavor(tx.conn, flavor_id)

    # --- profile bindings

    def bind(self, ctx: RequestContext, flavor_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("service_profile"), dict):
            raise NamedBadRequest(
                "HTTPBadRequest", "Unable to find 'service_profile' in request body"
            )
        attrs = parse_create(body["service_profile"], fa.BINDING_SPEC)
        self._require_admin(ctx, "create_flavor_service_profile")
        return self.store.write(self._bind_tx, flavor_id, attrs["id"])

    def _bind_tx(self, tx: Tx, flavor_id: str, profile_id: str) -> dict[str, Any]:
        locks.for_change(tx.conn, "flavors", flavor_id)
        locks.for_change(tx.conn, "serviceprofiles", profile_id)
        flavor = self._load(tx.conn, flavor_id)
        if repo.find_profile(tx.conn, profile_id) is None:
            raise fa.profile_not_found(profile_id)
        if repo.bound(tx.conn, flavor_id, profile_id):
            raise fa.binding_exists(profile_id, flavor_id)
        repo.bind(tx.conn, flavor_id, profile_id)
        tx.updated(Resource.FLAVOR, dict(flavor))
        return {"id": profile_id}

    def unbind(self, ctx: RequestContext, flavor_id: str, profile_id: str) -> None:
        self._require_admin(ctx, "delete_flavor_service_profile")
        self.store.write(self._unbind_tx, flavor_id, profile_id)

    def _unbind_tx(self, tx: Tx, flavor_id: str, profile_id: str) -> None:
        locks.for_change(tx.conn, "flavors", flavor_id)
        flavor = repo.find_flavor(tx.conn, flavor_id) if _valid_id(flavor_id) else None
        if (
            flavor is None
            or not _valid_id(profile_id)
            or not repo.unbind(tx.conn, flavor_id, profile_id)
        ):
            raise fa.binding_not_found(profile_id, flavor_id)
        tx.updated(Resource.FLAVOR, dict(flavor))

    # --- routers (l3-flavors)

    def provider_for(self, tx: Tx, flavor_id: str) -> str:
        """The router provider (``single_node``/``ha``) a router made with the flavor gets;
        share-locks the flavor so it cannot be deleted meanwhile."""
        if _valid_id(flavor_id):
            locks.for_use(tx.conn, "flavors", [flavor_id])
        flavor = self._load(tx.conn, flavor_id)
        if not flavor["enabled"]:
            raise fa.flavor_disabled()
        if flavor["service_type"] != fa.L3:
            raise NamedBadRequest(
                "InvalidInput",
                f"Invalid input for operation: Flavor {flavor_id} is not a flavor of service "
                f"type {fa.L3}.",
            )
        profile = repo.first_profile(tx.conn, flavor_id)
        if profile is None:
            raise fa.binding_not_found("", flavor_id)
        if not profile["enabled"]:
            raise fa.profile_disabled()
        return fa.check_driver(profile["driver"])


class ServiceProfileService:
    """``/v2.0/service_profiles`` (the generic collection): the admin's alone."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _load(self, conn: Any, profile_id: str) -> Any:
        row = repo.find_profile(conn, profile_id) if _valid_id(profile_id) else None
        if row is None:
            raise fa.profile_not_found(profile_id)
        return row

    def get(self, ctx: RequestContext, profile_id: str) -> dict[str, Any]:
        if not ctx.is_admin:
            raise _hidden()
        with self.store.read() as conn:
            return profile_view(self._load(conn, profile_id))

    def search(self, ctx: RequestContext, query: ListQuery) -> Items:
        with self.store.read() as conn:
            rows = repo.list_profiles(conn, query)
            return [profile_view(r) for r in rows] if ctx.is_admin else []

    def create_bulk(self, ctx: RequestContext, bodies: Items) -> Items:
        parsed = [parse_create(body, fa.PROFILE_SPEC) for body in bodies]
        ctx.require_admin("create_service_profile")
        for attrs in parsed:
            if attrs.get("driver"):
                fa.check_driver(attrs["driver"])
            elif not attrs.get("metainfo"):
                raise fa.profile_empty()
        return self.store.write(self._create_tx, parsed)

    def _create_tx(self, tx: Tx, items: Items) -> Items:
        rows = []
        for attrs in items:
            row = {
                "id": new_id(),
                "description": attrs.get("description", ""),
                "driver": attrs.get("driver", ""),
                "enabled": attrs.get("enabled", True),
                "metainfo": attrs.get("metainfo", ""),
            }
            repo.insert_profile(tx.conn, row)
            tx.created(Resource.SERVICE_PROFILE, {**row, "project_id": ""})
            rows.append(row)
        return [profile_view(r) for r in rows]

    def update(
        self,
        ctx: RequestContext,
        profile_id: str,
        body: dict[str, Any],
        if_match: int | None = None,
    ) -> dict[str, Any]:
        attrs = parse_update(body, fa.PROFILE_SPEC)
        if not ctx.is_admin:
            self.get(ctx, profile_id)
            raise PolicyNotAuthorized("rule:update_service_profile")
        if attrs.get("driver"):
            fa.check_driver(attrs["driver"])
        return self.store.write(self._update_tx, profile_id, attrs)

    def _update_tx(self, tx: Tx, profile_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        locks.for_change(tx.conn, "serviceprofiles", profile_id)
        if repo.profile_bound(tx.conn, profile_id):
            raise fa.profile_in_use(profile_id)
        row = self._load(tx.conn, profile_id)
        values = {k: v for k, v in attrs.items() if v != row[k]}
        if values:
            repo.update_profile(tx.conn, profile_id, values)
            tx.updated(Resource.SERVICE_PROFILE, dict(row))
        return profile_view(repo.find_profile(tx.conn, profile_id))

    def delete(self, ctx: RequestContext, profile_id: str, if_match: int | None = None) -> None:
        if not ctx.is_admin:
            self.get(ctx, profile_id)
            raise PolicyNotAuthorized("rule:delete_service_profile")
        self.store.write(self._delete_tx, profile_id)

    def _delete_tx(self, tx: Tx, profile_id: str) -> None:
        locks.for_delete(tx.conn, "serviceprofiles", profile_id)
        if repo.profile_bound(tx.conn, profile_id):
            raise fa.profile_in_use(profile_id)
        row = self._load(tx.conn, profile_id)
        tx.deleted(Resource.SERVICE_PROFILE, {**row, "project_id": ""})
        repo.delete_profile(tx.conn, profile_id)
