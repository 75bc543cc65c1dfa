"""The Keystone resources behind ``/v3``: domains, projects, users, roles and role assignments
(grants), with their policy checks.

Who may do what: roles are readable by every caller, and one's own user, project, domain and
grants by their owner; every other read and every write needs the admin role
(``ctx.require_admin``). Names are unique per
domain (users, projects) or globally (domains, roles): a duplicate is a 409. A row leaves this
module as a plain dict and never with its password hash; a ``password`` in a request body is
hashed on the way in (``passwords``).

Writes run through ``RevocationLog.write``, and those that take rights away revoke tokens in the
same transaction: deleting a user, project or role, disabling a user or project, changing a
password, or removing a grant (the user's tokens carry the role).
"""

from __future__ import annotations

import uuid
from typing import Any

from neutrino.common.errors import BadRequest, Conflict, PolicyNotAuthorized, ResourceNotFound
from neutrino.service.context import RequestContext
from neutrino.service.identity.passwords import hash_password
from neutrino.service.identity.revocation import RevocationLog, grant_key
from neutrino.store import identity as repo
from neutrino.store.uow import Store, Tx

PROJECT_FIELDS = ("description", "enabled")
USER_FIELDS = ("password", "enabled", "default_project_id", "description", "email")
Row = dict[str, Any]


class Resources:
    """CRUD of domains, projects, users and roles, and the grants between them."""

    def __init__(self, store: Store, log: RevocationLog) -> None:
        self._store = store
        self._log = log

    # --- domains and projects -----------------------------------------------------------

    def list_domains(self, ctx: RequestContext, name: str | None = None) -> list[Row]:
        with self._store.read() as conn:
            rows = repo.find(conn, "domain", **({"name": name} if name is not None else {}))
        return [dict(r) for r in rows if ctx.is_admin or r["id"] == ctx.domain_id]

    def get_domain(self, ctx: RequestContext, domain_id: str) -> Row:
        if not ctx.is_admin and domain_id != ctx.domain_id:
            ctx.require_admin("identity:get_domain")
        return self._get("domain", domain_id)

    def list_projects(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        ctx.require_admin("identity:list_projects")
        return self._list("project", filters, ("name", "domain_id", "enabled"))

    def get_project(self, ctx: RequestContext, project_id: str) -> Row:
        if project_id != ctx.project_id:
            ctx.require_admin("identity:get_project")
        return self._get("project", project_id)

    def create_project(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:create_project")
        values = {
            "id": uuid.uuid4().hex,
            "name": _name(body),
            "enabled": True,
            "description": "",
            "domain_id": _domain_id(body, ctx),
            **_optional(body, PROJECT_FIELDS),
        }
        return self._log.write(self._create, "project", values)

    def update_project(self, ctx: RequestContext, project_id: str, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:update_project")
        values = _optional(body, ("name", *PROJECT_FIELDS))
        return self._log.write(self._update, "project", project_id, values)

    def delete_project(self, ctx: RequestContext, project_id: str) -> None:
        ctx.require_admin("identity:delete_project")
        self._log.write(self._delete, "project", project_id)

    # --- users and roles ----------------------------------------------------------------

    def list_users(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        ctx.require_admin("identity:list_users")
        return self._list("user", filters, ("name", "domain_id", "enabled"))

    def get_user(self, ctx: RequestContext, user_id: str) -> Row:
        if user_id != ctx.user_id:
            ctx.require_admin("identity:get_user")
        return self._get("user", user_id)

    def create_user(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:create_user")
        values = {
            "id": uuid.uuid4().hex,
            "name": _name(body),
            "enabled": True,
            "description": "",
            "domain_id": _domain_id(body, ctx),
            "password_hash": None,
            **_optional(body, USER_FIELDS),
        }
        return self._log.write(self._create, "user", values)

    def update_user(self, ctx: RequestContext, user_id: str, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:update_user")
        values = _optional(body, ("name", *USER_FIELDS))
        return self._log.write(self._update, "user", user_id, values)

    def delete_user(self, ctx: RequestContext, user_id: str) -> None:
        ctx.require_admin("identity:delete_user")
        self._log.write(self._delete, "user", user_id)

    def list_roles(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        _require_some_role(ctx, "identity:list_roles")
        return self._list("role", filters, ("name",))

    def get_role(self, ctx: RequestContext, role_id: str) -> Row:
        _require_some_role(ctx, "identity:get_role")
        return self._get("role", role_id)

    def create_role(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:create_role")
        return self._log.write(self._create, "role", {"id": uuid.uuid4().hex, "name": _name(body)})

    def delete_role(self, ctx: RequestContext, role_id: str) -> None:
        ctx.require_admin("identity:delete_role")
        self._log.write(self._delete, "role", role_id)

    # --- grants (role assignments) ------------------------------------------------------

    def grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        ctx.require_admin("identity:create_grant")

        def run(tx: Tx) -> None:
            self._check_grant_parts(tx.conn, project_id, user_id, role_id)
            repo.assign(tx.conn, project_id, user_id, role_id)

        self._log.write(run)

    def check_grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        if user_id != ctx.user_id:
            ctx.require_admin("identity:check_grant")
        with self._store.read() as conn:
            self._check_grant_parts(conn, project_id, user_id, role_id)
            if not repo.has_assignment(conn, project_id, user_id, role_id):
                raise ResourceNotFound("Role assignment", f"{project_id}/{user_id}/{role_id}")

    def ungrant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        """Removes the assignment and, as Keystone, revokes the user's tokens scoped to that
        project (they carry the role); its tokens for other projects stay valid."""
        ctx.require_admin("identity:revoke_grant")

        def run(tx: Tx) -> None:
            self._check_grant_parts(tx.conn, project_id, user_id, role_id)
            if not repo.has_assignment(tx.conn, project_id, user_id, role_id):
                raise ResourceNotFound("Role assignment", f"{project_id}/{user_id}/{role_id}")
            repo.unassign(tx.conn, project_id, user_id, role_id)
            self._log.revoke(tx, "grant", grant_key(user_id, project_id))

        self._log.write(run)

    def list_grants(self, ctx: RequestContext, project_id: str, user_id: str) -> list[Row]:
        if user_id != ctx.user_id:
            ctx.require_admin("identity:list_grants")
        with self._store.read() as conn:
            self._get_in(conn, "project", project_id)
            self._get_in(conn, "user", user_id)
            return [dict(r) for r in repo.roles_on(conn, user_id, project_id)]

    def list_assignments(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        """Assignments filtered by user.id, scope.project.id, role.id (wire filter names)."""
        names = {"user.id": "user_id", "scope.project.id": "project_id", "role.id": "role_id"}
        equal = {names[k]: v for k, v in filters.items() if k in names}
        if equal.get("user_id") != ctx.user_id:
            ctx.require_admin("identity:list_role_assignments")
        with self._store.read() as conn:
            return [dict(r) for r in repo.list_assignments(conn, **equal)]

    def user_projects(self, ctx: RequestContext) -> list[Row]:
        """The enabled projects the caller holds a role on (``/v3/auth/projects``)."""
        with self._store.read() as conn:
            return [dict(r) for r in repo.projects_of(conn, ctx.user_id) if r["enabled"]]

    # --- internals ----------------------------------------------------------------------

    def _get_in(self, conn: Any, kind: str, row_id: str) -> Row:
        row = repo.get(conn, kind, row_id)
        if row is None:
            raise ResourceNotFound(kind.capitalize(), row_id)
        return _public(row)

    def _get(self, kind: str, row_id: str) -> Row:
        with self._store.read() as conn:
            return self._get_in(conn, kind, row_id)

    def _list(self, kind: str, filters: dict[str, str], allowed: tuple[str, ...]) -> list[Row]:
        equal: dict[str, Any] = {k: v for k, v in filters.items() if k in allowed}
        if "enabled" in equal:
            equal["enabled"] = str(equal["enabled"]).lower() in ("true", "1", "yes")
        with self._store.read() as conn:
            return [_public(r) for r in repo.find(conn, kind, **equal)]

    def _create(self, tx: Tx, kind: str, values: dict[str, Any]) -> Row:
        conn = tx.conn
        if "domain_id" in values and repo.get(conn, "domain", values["domain_id"]) is None:
            raise BadRequest(f"Could not find domain: {values['domain_id']}.")
        self._check_unique(conn, kind, values)
        if (
            values.get("default_project_id")
            and repo.get(conn, "project", values["default_project_id"]) is None
        ):
            raise BadRequest(f"Could not find project: {values['default_project_id']}.")
        repo.insert_row(conn, kind, values)
        return self._get_in(conn, kind, values["id"])

    def _update(self, tx: Tx, kind: str, row_id: str, values: dict[str, Any]) -> Row:
        conn = tx.conn
        row = self._get_in(conn, kind, row_id)
        if values.get("name", row["name"]) != row["name"]:
            self._check_unique(conn, kind, {**row, **values})
        repo.update_row(conn, kind, row_id, values)
        if "password_hash" in values or values.get("enabled") is False:
            self._log.revoke(tx, kind, row_id)
        return self._get_in(conn, kind, row_id)

    def _delete(self, tx: Tx, kind: str, row_id: str) -> None:
        row = self._get_in(tx.conn, kind, row_id)
        repo.delete_assignments(tx.conn, f"{kind}_id", row_id)
        repo.delete_row(tx.conn, kind, row_id)
        self._log.revoke(tx, kind, row["name"] if kind == "role" else row_id)

    def _check_unique(self, conn: Any, kind: str, values: dict[str, Any]) -> None:
        scope = {"domain_id": values["domain_id"]} if "domain_id" in values else {}
        if repo.find_one(conn, kind, name=values["name"], **scope) is not None:
            where = " in this domain" if scope else ""
            raise Conflict(
                f"Conflict occurred attempting to store {kind} - Duplicate entry: "
                f"a {kind} named {values['name']!r} already exists{where}."
            )

    def _check_grant_parts(self, conn: Any, project_id: str, user_id: str, role_id: str) -> None:
        self._get_in(conn, "project", project_id)
        self._get_in(conn, "user", user_id)
        self._get_in(conn, "role", role_id)


def _public(row: Any) -> Row:
    """A row as a dict, never with the password hash."""
    out = dict(row)
    out.pop("password_hash", None)
    return out


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest(
            "Invalid input for field 'name': a non-empty string of at most "
            "255 characters is required."
        )
    return name


def _domain_id(body: dict[str, Any], ctx: RequestContext) -> str:
    """The body's ``domain_id`` (a string), else the caller's domain."""
    value = body.get("domain_id")
    if value is not None and not isinstance(value, str):
        raise BadRequest("Invalid input for field 'domain_id': expected a string.")
    return value or ctx.domain_id


def _optional(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The known optional fields present in ``body``, checked; ``password`` becomes a hash."""
    out: dict[str, Any] = {}
    for key in fields:
        if key not in body:
            continue
        value = body[key]
        if key == "name":
            out[key] = _name(body)
        elif key == "enabled":
            if not isinstance(value, bool):
                raise BadRequest("Invalid input for field 'enabled': expected a boolean.")
            out[key] = value
        elif key == "password":
            if value is not None and not isinstance(value, str):
                raise BadRequest("Invalid input for field 'password': expected a string.")
            out["password_hash"] = hash_password(value) if value else None
        elif value is not None and not isinstance(value, str):
            raise BadRequest(f"Invalid input for field '{key}': expected a string.")
        else:
            out[key] = value if value is not None or key != "description" else ""
    return out


def _require_some_role(ctx: RequestContext, action: str) -> None:
    """Reading roles needs a role (any implies reader): not an unscoped token."""
    if not (ctx.is_admin or "reader" in ctx.roles):
        raise PolicyNotAuthorized(f"rule:{action}")
