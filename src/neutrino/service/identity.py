"""Identity: authentication, tokens, and the Keystone resources (domains, projects, users, roles,
role assignments) behind the ``/v3`` and ``/v2.0/tokens`` APIs.

Tokens are signed by ``TokenAuthority`` and carry the user, project and role names, so checking
one (``context_for_token``, on every API request) costs an HMAC and a few dict lookups: no
database query in the common case. Roles are captured at issue time, expanded with Keystone's
implied roles (admin -> member -> reader, manager -> member).

Revocation: deleting a user or project, disabling one, changing a password, deleting a role or
``DELETE /v3/auth/tokens`` writes an event to ``revocations`` (kind audit/user/project/role, a
value, and ``issued_before``): a token is revoked when an event names its audit id, user,
project or one of its roles and the token was issued at or before the event. Each process keeps
the unexpired events in memory (``RevocationCache``). Events made by this process apply at once;
events made by another replica are seen after at most ``REFRESH_SECONDS`` (1 s): at most once
a second, the first request checks ``(max(id), count(*))`` of the table and reloads it when that
changed (the count also catches an event whose id was assigned before a later one but committed
after it). Replicas must keep their clocks in sync: the comparison is between the token's issue
time (issuer's clock) and the event's time (revoker's clock). Events older than the token
lifetime are pruned, since every token they could match has expired.

External Keystone (``settings.external_keystone_url``): a token this deployment did not sign is
validated with ``GET /v3/auth/tokens`` against that Keystone and cached for
``min(its expiry, EXTERNAL_CACHE_SECONDS)``, so an external revocation is seen here within that
bound (keystonemiddleware's own default cache time).

Passwords are hashed with argon2id (OWASP's m=19 MiB, t=2, p=1: ~40 ms a verification here).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from neutrino.common import clock
from neutrino.common.errors import (
    BadRequest,
    Conflict,
    NeutrinoError,
    NotAuthenticated,
    ResourceNotFound,
)
from neutrino.common.settings import Settings
from neutrino.service.context import RequestContext
from neutrino.service.tokens import Claims, TokenAuthority
from neutrino.store import identity as repo
from neutrino.store.uow import Store, Tx

T = TypeVar("T")
UNAUTHORIZED = "The request you have made requires authentication."
REFRESH_SECONDS = 1.0
EXTERNAL_CACHE_SECONDS = 300.0
PROJECT_FIELDS = ("description", "enabled")
USER_FIELDS = ("password", "enabled", "default_project_id", "description", "email")
Row = dict[str, Any]
IMPLIED = {"admin": ("member",), "manager": ("member",), "member": ("reader",)}
DEFAULT_ROLES = ("admin", "member", "reader", "service")
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = HASHER.hash("neutrino-timing-equalizer")


class IdentityUnavailable(NeutrinoError):
    status = 503
    neutron_type = "ServiceUnavailable"


@dataclass(frozen=True)
class TokenInfo:
    """An issued (or validated) token and what its response body shows."""

    token: str
    claims: Claims
    user: dict[str, Any]
    project: dict[str, Any] | None
    roles: list[dict[str, str]] = field(default_factory=list)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def effective_roles(names: list[str]) -> list[str]:
    """``names`` plus the roles they imply, transitively, in a stable order."""
    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name not in out:
            out.append(name)
            todo.extend(IMPLIED.get(name, ()))
    return out


def context_of(claims: Claims) -> RequestContext:
    return RequestContext(user_id=claims.user_id, project_id=claims.project_id,
                          roles=frozenset(claims.roles), user_name=claims.user_name,
                          project_name=claims.project_name,
                          domain_id=claims.project_domain_id or claims.domain_id)


def _epoch(when: dt.datetime) -> float:
    return when.replace(tzinfo=dt.UTC).timestamp()


class RevocationCache:
    """Unexpired revocation events in memory, refreshed from the table at most every second."""

    def __init__(self, store: Store, max_token_age: float) -> None:
        self._store = store
        self._max_age = max_token_age
        self._lock = threading.Lock()
        self._head: tuple[int, int] = (-1, -1)
        self._checked = float("-inf")
        self._events: dict[tuple[str, str], float] = {}
        self._local: dict[tuple[str, str], float] = {}  # ours, kept across reloads

    def add(self, kind: str, value: str, issued_before: dt.datetime) -> None:
        """Apply an event this process has committed, without waiting for a refresh."""
        key = (kind, value[:64])
        when = _epoch(issued_before)
        with self._lock:
            self._local[key] = max(self._local.get(key, 0.0), when)
            self._events = {**self._events, key: max(self._events.get(key, 0.0), when)}

    def is_revoked(self, claims: Claims) -> bool:
        self._refresh()
        events = self._events
        keys = [("audit", claims.audit_id), ("user", claims.user_id)]
        if claims.project_id:
            keys.append(("project", claims.project_id))
        keys.extend(("role", name[:64]) for name in claims.roles)
        for key in keys:
            when = events.get(key)
            if when is not None and claims.issued_at <= when:
                return True
        return False

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._checked < REFRESH_SECONDS:
                return
            self._checked = now
            with self._store.read() as conn:
                head = repo.revocation_head(conn)
                if head == self._head:
                    return
                since = clock.now() - dt.timedelta(seconds=self._max_age)
                rows = repo.list_revocations(conn, since)
            oldest = _epoch(since)
            self._local = {k: v for k, v in self._local.items() if v >= oldest}
            events = dict(self._local)
            for row in rows:
                key = (row["kind"], row["value"])
                events[key] = max(events.get(key, 0.0), _epoch(row["issued_before"]))
            self._events = events
            self._head = head


class ExternalValidator:
    """Validates foreign tokens against another Keystone, caching each answer for a while."""

    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = http or httpx.Client(timeout=10.0)
        self._cache: dict[str, tuple[float, RequestContext]] = {}

    def context(self, token: str) -> RequestContext:
        now = clock.epoch()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            r = self.http.get(f"{self.url}/v3/auth/tokens",
                              headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(f"Identity service unreachable: {exc}") from None
        if r.status_code != 200:
            raise NotAuthenticated(UNAUTHORIZED)
        body = r.json()["token"]
        project = body.get("project") or {}
        expires = dt.datetime.strptime(body["expires_at"].split(".")[0].rstrip("Z"),
                                       "%Y-%m-%dT%H:%M:%S")
        ctx = RequestContext(
            user_id=body["user"]["id"], user_name=body["user"].get("name", ""),
            project_id=project.get("id", ""), project_name=project.get("name", ""),
            domain_id=(project.get("domain") or body["user"].get("domain") or {}).get(
                "id", "default"),
            roles=frozenset(r["name"] for r in body.get("roles", [])))
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[token] = (min(_epoch(expires), now + EXTERNAL_CACHE_SECONDS), ctx)
        return ctx


class IdentityService:
    def __init__(self, store: Store, settings: Settings, tokens: TokenAuthority) -> None:
        self._store = store
        self._settings = settings
        self._tokens = tokens
        self._pending = threading.local()
        self.revocations = RevocationCache(store, self.revocations_age)
        self.external: ExternalValidator | None = (
            ExternalValidator(settings.external_keystone_url)
            if settings.external_keystone_url else None)

    # --- every request ------------------------------------------------------------------

    def verify(self, token: str) -> Claims:
        """Signature, expiry and revocation of a token this deployment signed."""
        claims = self._tokens.verify(token)
        if self.revocations.is_revoked(claims):
            raise NotAuthenticated(UNAUTHORIZED)
        return claims

    def context_for_token(self, token: str) -> RequestContext:
        try:
            return context_of(self.verify(token))
        except NotAuthenticated:
            if self.external is None:
                raise
            return self.external.context(token)

    # --- bootstrap ----------------------------------------------------------------------

    def bootstrap(self, admin_password: str, *, admin_user: str = "admin",
                  admin_project: str = "admin") -> None:
        """Idempotent seed: domain Default, the standard roles, the admin user and project."""
        new_hash = hash_password(admin_password) if admin_password else None

        def seed(tx: Tx) -> None:
            conn = tx.conn
            if repo.get(conn, "domain", "default") is None:
                repo.insert_row(conn, "domain", {"id": "default", "name": "Default",
                                                 "description": "The default domain",
                                                 "enabled": True})
            for name in DEFAULT_ROLES:
                if repo.find_one(conn, "role", name=name) is None:
                    repo.insert_row(conn, "role", {"id": uuid.uuid4().hex, "name": name})
            project = repo.find_one(conn, "project", domain_id="default", name=admin_project)
            if project is None:
                project_id = uuid.uuid4().hex
                repo.insert_row(conn, "project", {
                    "id": project_id, "name": admin_project, "domain_id": "default",
                    "description": "Bootstrap project", "enabled": True})
            else:
                project_id = project["id"]
            user = repo.find_one(conn, "user", domain_id="default", name=admin_user)
            if user is None:
                user_id = uuid.uuid4().hex
                repo.insert_row(conn, "user", {
                    "id": user_id, "name": admin_user, "domain_id": "default",
                    "password_hash": new_hash, "enabled": True,
                    "default_project_id": project_id, "description": ""})
            else:
                user_id = user["id"]
                if admin_password and not password_matches(user["password_hash"],
                                                           admin_password):
                    repo.update_row(conn, "user", user_id, {"password_hash": new_hash})
                    self._revoke(tx, "user", user_id)
            role = repo.find_one(conn, "role", name="admin")
            assert role is not None
            repo.assign(conn, project_id, user_id, role["id"])

        self._write(seed)

    def has_admin(self, admin_user: str = "admin") -> bool:
        """Whether bootstrap has created the admin user (the CLI bootstraps only once)."""
        with self._store.read() as conn:
            return repo.find_one(conn, "user", domain_id="default", name=admin_user) is not None

    # --- authentication -----------------------------------------------------------------

    def authenticate(self, auth: Any) -> TokenInfo:
        """``POST /v3/auth/tokens``: the ``auth`` member of the request body."""
        identity = _member(auth, "identity")
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise BadRequest("Expecting to find methods in identity.")
        expires_at: float | None = None
        if "password" in methods:
            user = self._password_user(_member(_member(identity, "password"), "user"))
            used = ["password"]
        elif "token" in methods:
            parent = self.verify(str(_member(identity, "token").get("id", "")))
            with self._store.read() as conn:
                user = repo.get(conn, "user", parent.user_id)
            if user is None or not user["enabled"]:
                raise NotAuthenticated(UNAUTHORIZED)
            expires_at = parent.expires_at
            used = list(dict.fromkeys(["token", *parent.methods]))
        else:
            raise NotAuthenticated(f"Unsupported authentication method: {methods}")
        return self._issue(user, auth.get("scope"), used, expires_at)

    def authenticate_v2(self, auth: Any) -> TokenInfo:
        """``POST /v2.0/tokens``: passwordCredentials or token, tenantName/tenantId scope."""
        if not isinstance(auth, dict):
            raise BadRequest("Expecting to find auth in request body.")
        scope: dict[str, Any] | None = None
        if auth.get("tenantId"):
            scope = {"project": {"id": auth["tenantId"]}}
        elif auth.get("tenantName"):
            scope = {"project": {"name": auth["tenantName"], "domain": {"id": "default"}}}
        if "passwordCredentials" in auth:
            creds = _member(auth, "passwordCredentials")
            ref = {"password": creds.get("password", "")}
            if creds.get("userId"):
                ref["id"] = creds["userId"]
            else:
                ref.update(name=creds.get("username", ""), domain={"id": "default"})
            identity: dict[str, Any] = {"methods": ["password"], "password": {"user": ref}}
        elif "token" in auth:
            identity = {"methods": ["token"], "token": _member(auth, "token")}
        else:
            raise BadRequest("Expecting to find passwordCredentials or token in auth.")
        return self.authenticate({"identity": identity, "scope": scope})

    def validate(self, ctx: RequestContext, subject: str) -> TokenInfo:
        """``GET /v3/auth/tokens``: the subject token's body; 404 when invalid or revoked."""
        try:
            claims = self.verify(subject)
        except NotAuthenticated:
            raise ResourceNotFound("Token", "(subject)") from None
        if not ctx.is_admin and claims.user_id != ctx.user_id:
            ctx.require_admin("identity:validate_token")
        with self._store.read() as conn:
            user = repo.get(conn, "user", claims.user_id)
            project = repo.get(conn, "project", claims.project_id) if claims.project_id \
                else None
            if user is None or (claims.project_id and project is None):
                raise ResourceNotFound("Token", "(subject)")
            by_name = {r["name"]: r for r in repo.find(conn, "role")}
            return TokenInfo(subject, claims, self._user_ref(conn, user),
                             self._project_ref(conn, project) if project else None,
                             [{"id": by_name[n]["id"], "name": n}
                              for n in claims.roles if n in by_name])

    def revoke_token(self, ctx: RequestContext, subject: str) -> None:
        """``DELETE /v3/auth/tokens``."""
        try:
            claims = self.verify(subject)
        except NotAuthenticated:
            raise ResourceNotFound("Token", "(subject)") from None
        if claims.user_id != ctx.user_id:
            ctx.require_admin("identity:revoke_token")
        self._write(lambda tx: self._revoke(tx, "audit", claims.audit_id))

    def catalog(self) -> list[dict[str, Any]]:
        """The service catalog in v3 shape; ids are stable across replicas."""
        base = self._settings.base_url
        region = self._settings.region
        services = [("identity", "keystone", f"{base}/v3"), ("network", "neutron", f"{base}/")]
        return [{
            "id": _stable_id(kind), "type": kind, "name": name,
            "endpoints": [{"id": _stable_id(f"{kind}/{iface}/{region}"), "interface": iface,
                           "region": region, "region_id": region, "url": url}
                          for iface in ("public", "internal", "admin")],
        } for kind, name, url in services]

    # --- resources: domains, projects, users, roles, assignments -------------------------

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
        values = {"id": uuid.uuid4().hex, "name": _name(body), "enabled": True,
                  "description": "", "domain_id": body.get("domain_id") or ctx.domain_id,
                  **_optional(body, PROJECT_FIELDS)}
        return self._write(self._create, "project", values)

    def update_project(self, ctx: RequestContext, project_id: str, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:update_project")
        values = _optional(body, ("name", *PROJECT_FIELDS))
        return self._write(self._update, "project", project_id, values)

    def delete_project(self, ctx: RequestContext, project_id: str) -> None:
        ctx.require_admin("identity:delete_project")
        self._write(self._delete, "project", project_id)

    def list_users(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        ctx.require_admin("identity:list_users")
        return self._list("user", filters, ("name", "domain_id", "enabled"))

    def get_user(self, ctx: RequestContext, user_id: str) -> Row:
        if user_id != ctx.user_id:
            ctx.require_admin("identity:get_user")
        return self._get("user", user_id)

    def create_user(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:create_user")
        values = {"id": uuid.uuid4().hex, "name": _name(body), "enabled": True,
                  "description": "", "domain_id": body.get("domain_id") or ctx.domain_id,
                  "password_hash": None, **_optional(body, USER_FIELDS)}
        return self._write(self._create, "user", values)

    def update_user(self, ctx: RequestContext, user_id: str, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:update_user")
        values = _optional(body, ("name", *USER_FIELDS))
        return self._write(self._update, "user", user_id, values)

    def delete_user(self, ctx: RequestContext, user_id: str) -> None:
        ctx.require_admin("identity:delete_user")
        self._write(self._delete, "user", user_id)

    def list_roles(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        return self._list("role", filters, ("name",))

    def get_role(self, ctx: RequestContext, role_id: str) -> Row:
        return self._get("role", role_id)

    def create_role(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        ctx.require_admin("identity:create_role")
        return self._write(self._create, "role",
                                 {"id": uuid.uuid4().hex, "name": _name(body)})

    def delete_role(self, ctx: RequestContext, role_id: str) -> None:
        ctx.require_admin("identity:delete_role")
        self._write(self._delete, "role", role_id)

    def grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        ctx.require_admin("identity:create_grant")

        def run(tx: Tx) -> None:
            self._check_grant_parts(tx.conn, project_id, user_id, role_id)
            repo.assign(tx.conn, project_id, user_id, role_id)

        self._write(run)

    def check_grant(self, ctx: RequestContext, project_id: str, user_id: str,
                    role_id: str) -> None:
        if user_id != ctx.user_id:
            ctx.require_admin("identity:check_grant")
        with self._store.read() as conn:
            self._check_grant_parts(conn, project_id, user_id, role_id)
            if not repo.has_assignment(conn, project_id, user_id, role_id):
                raise ResourceNotFound("Role assignment", f"{project_id}/{user_id}/{role_id}")

    def ungrant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        """Removes the assignment; the user's tokens are revoked (they carry the role)."""
        ctx.require_admin("identity:revoke_grant")

        def run(tx: Tx) -> None:
            self._check_grant_parts(tx.conn, project_id, user_id, role_id)
            if not repo.has_assignment(tx.conn, project_id, user_id, role_id):
                raise ResourceNotFound("Role assignment", f"{project_id}/{user_id}/{role_id}")
            repo.unassign(tx.conn, project_id, user_id, role_id)
            self._revoke(tx, "user", user_id)

        self._write(run)

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
        if values.get("default_project_id") and \
                repo.get(conn, "project", values["default_project_id"]) is None:
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
            self._revoke(tx, kind, row_id)
        return self._get_in(conn, kind, row_id)

    def _delete(self, tx: Tx, kind: str, row_id: str) -> None:
        row = self._get_in(tx.conn, kind, row_id)
        repo.delete_assignments(tx.conn, f"{kind}_id", row_id)
        repo.delete_row(tx.conn, kind, row_id)
        self._revoke(tx, kind, row["name"] if kind == "role" else row_id)

    def _check_unique(self, conn: Any, kind: str, values: dict[str, Any]) -> None:
        scope = {"domain_id": values["domain_id"]} if "domain_id" in values else {}
        if repo.find_one(conn, kind, name=values["name"], **scope) is not None:
            where = " in this domain" if scope else ""
            raise Conflict(f"Conflict occurred attempting to store {kind} - Duplicate entry: "
                           f"a {kind} named {values['name']!r} already exists{where}.")

    def _check_grant_parts(self, conn: Any, project_id: str, user_id: str,
                           role_id: str) -> None:
        self._get_in(conn, "project", project_id)
        self._get_in(conn, "user", user_id)
        self._get_in(conn, "role", role_id)


    def _password_user(self, ref: dict[str, Any]) -> Any:
        password = ref.get("password")
        if not isinstance(password, str):
            raise BadRequest("Expecting to find password in user.")
        with self._store.read() as conn:
            if ref.get("id"):
                user = repo.get(conn, "user", str(ref["id"]))
            elif ref.get("name"):
                domain = self._domain_of(conn, ref.get("domain"))
                user = repo.find_one(conn, "user", domain_id=domain["id"],
                                     name=str(ref["name"])) if domain else None
            else:
                raise BadRequest("Expecting to find id or name in user.")
        ok = password_matches(user["password_hash"] if user else None, password)
        if user is None or not ok or not user["enabled"]:
            raise NotAuthenticated(UNAUTHORIZED)
        return user

    def _issue(self, user: Any, scope: Any, methods: list[str],
               expires_at: float | None) -> TokenInfo:
        with self._store.read() as conn:
            project = self._scope_project(conn, user, scope)
            direct = [r["name"] for r in repo.roles_on(conn, user["id"], project["id"])] \
                if project else []
            if project is not None and not direct:
                raise NotAuthenticated(UNAUTHORIZED)
            by_name = {r["name"]: r for r in repo.find(conn, "role")}
            names = [n for n in effective_roles(direct) if n in by_name]
            user_ref = self._user_ref(conn, user)
            project_ref = self._project_ref(conn, project) if project else None
        token, claims = self._tokens.issue({
            "user_id": user["id"], "user_name": user["name"], "domain_id": user["domain_id"],
            "project_id": project["id"] if project else "",
            "project_name": project["name"] if project else "",
            "project_domain_id": project["domain_id"] if project else "",
            "roles": names, "methods": methods,
        }, expires_at=expires_at)
        roles = [{"id": by_name[n]["id"], "name": n} for n in names]
        return TokenInfo(token, claims, user_ref, project_ref, roles)

    def _scope_project(self, conn: Any, user: Any, scope: Any) -> Any:
        if scope is None or scope == "unscoped" or scope == {}:
            default = user["default_project_id"]
            if default and repo.roles_on(conn, user["id"], default):
                project = repo.get(conn, "project", default)
                if project is not None and project["enabled"]:
                    return project
            return None
        if not isinstance(scope, dict) or not isinstance(scope.get("project"), dict):
            raise NotAuthenticated("Only project-scoped tokens are supported.")
        ref = scope["project"]
        if ref.get("id"):
            project = repo.get(conn, "project", str(ref["id"]))
        elif ref.get("name"):
            domain = self._domain_of(conn, ref.get("domain"))
            project = repo.find_one(conn, "project", domain_id=domain["id"],
                                    name=str(ref["name"])) if domain else None
        else:
            raise BadRequest("Expecting to find id or name in project.")
        if project is None or not project["enabled"]:
            raise NotAuthenticated(UNAUTHORIZED)
        return project

    def _domain_of(self, conn: Any, ref: Any) -> Any:
        if not isinstance(ref, dict):
            raise BadRequest("Expecting to find domain in the request.")
        if ref.get("id"):
            domain = repo.get(conn, "domain", str(ref["id"]))
        else:
            domain = repo.find_one(conn, "domain", name=str(ref.get("name", "")))
        return domain if domain is not None and domain["enabled"] else None

    def _domain_ref(self, conn: Any, domain_id: str) -> dict[str, str]:
        domain = repo.get(conn, "domain", domain_id)
        return {"id": domain_id, "name": domain["name"] if domain else domain_id}

    def _user_ref(self, conn: Any, user: Any) -> dict[str, Any]:
        return {"id": user["id"], "name": user["name"],
                "domain": self._domain_ref(conn, user["domain_id"]),
                "password_expires_at": None}

    def _project_ref(self, conn: Any, project: Any) -> dict[str, Any]:
        return {"id": project["id"], "name": project["name"],
                "description": project["description"], "enabled": project["enabled"],
                "domain": self._domain_ref(conn, project["domain_id"])}

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """``Store.write``, then the revocations it made apply here at once (after commit)."""
        events: list[tuple[str, str, dt.datetime]] = []

        def attempt(tx: Tx) -> T:
            events.clear()  # a retried attempt starts over
            self._pending.events = events
            return fn(tx, *args)

        result = self._store.write(attempt)
        for event in events:
            self.revocations.add(*event)
        return result

    def _revoke(self, tx: Tx, kind: str, value: str) -> None:
        """Record a revocation event; only inside ``_write``."""
        now = clock.now()
        repo.add_revocation(tx.conn, kind, value, now)
        repo.prune_revocations(tx.conn, now - dt.timedelta(seconds=self.revocations_age))
        self._pending.events.append((kind, value, now))

    @property
    def revocations_age(self) -> float:
        return max(self._tokens.ttl, 60) + 60


def _public(row: Any) -> Row:
    """A row as a dict, never with the password hash."""
    out = dict(row)
    out.pop("password_hash", None)
    return out


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("Invalid input for field 'name': a non-empty string of at most "
                         "255 characters is required.")
    return name


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


def _member(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, dict):
        raise BadRequest(f"Expecting to find {key} in the request.")
    return value


def _stable_id(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"neutrino:{name}").hex
