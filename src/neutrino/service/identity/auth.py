"""Authentication: checking tokens on every request and issuing them (``/v3/auth/tokens``,
``/v2.0/tokens``).

Tokens are signed by ``TokenAuthority`` and carry the user, project and role names, so checking
one (``Authenticator.verify``, on every API request) costs an HMAC, a few dict lookups and the
revocation check of ``RevocationCache``: no database query in the common case. Roles are
captured at issue time, expanded with Keystone's implied roles (admin -> member -> reader,
manager -> member); a project-scoped token needs at least one direct role on the project.

Two methods are accepted: ``password`` (user by id, or by name within a domain) and ``token``
(re-scoping an existing token, which keeps that token's expiry). Only project-scoped and
unscoped tokens exist; an unscoped request is scoped to the user's default project when the user
holds a role on it. The v2 body is mapped onto the v3 flow. An unknown user, a wrong password,
a disabled user or project, or no role on the project all give the same ``NotAuthenticated``
message, so a refusal does not tell which part was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrino.common.errors import BadRequest, NotAuthenticated, ResourceNotFound
from neutrino.service.context import RequestContext
from neutrino.service.identity.passwords import password_matches
from neutrino.service.identity.revocation import RevocationLog
from neutrino.service.tokens import Claims, TokenAuthority
from neutrino.store import identity as repo
from neutrino.store.uow import Store

UNAUTHORIZED = "The request you have made requires authentication."
IMPLIED = {"admin": ("member",), "manager": ("member",), "member": ("reader",)}


@dataclass(frozen=True)
class TokenInfo:
    """An issued (or validated) token and what its response body shows."""

    token: str
    claims: Claims
    user: dict[str, Any]
    project: dict[str, Any] | None
    roles: list[dict[str, str]] = field(default_factory=list)


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
    return RequestContext(
        user_id=claims.user_id,
        project_id=claims.project_id,
        roles=frozenset(claims.roles),
        user_name=claims.user_name,
        project_name=claims.project_name,
        domain_id=claims.project_domain_id or claims.domain_id,
    )


class Authenticator:
    """Verifies, issues, validates and revokes the tokens this deployment signs."""

    def __init__(self, store: Store, tokens: TokenAuthority, log: RevocationLog) -> None:
        self._store = store
        self._tokens = tokens
        self._log = log

    def verify(self, token: str) -> Claims:
        """Signature, expiry and revocation of a token this deployment signed."""
        claims = self._tokens.verify(token)
        if self._log.cache.is_revoked(claims):
            raise NotAuthenticated(UNAUTHORIZED)
        return claims

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
            project = repo.get(conn, "project", claims.project_id) if claims.project_id else None
            if user is None or (claims.project_id and project is None):
                raise ResourceNotFound("Token", "(subject)")
            by_name = {r["name"]: r for r in repo.find(conn, "role")}
            return TokenInfo(
                subject,
                claims,
                self._user_ref(conn, user),
                self._project_ref(conn, project) if project else None,
                [{"id": by_name[n]["id"], "name": n} for n in claims.roles if n in by_name],
            )

    def revoke_token(self, ctx: RequestContext, subject: str) -> None:
        """``DELETE /v3/auth/tokens``."""
        try:
            claims = self.verify(subject)
        except NotAuthenticated:
            raise ResourceNotFound("Token", "(subject)") from None
        if claims.user_id != ctx.user_id:
            ctx.require_admin("identity:revoke_token")
        self._log.write(lambda tx: self._log.revoke(tx, "audit", claims.audit_id))

    # --- internals ----------------------------------------------------------------------

    def _password_user(self, ref: dict[str, Any]) -> Any:
        password = ref.get("password")
        if not isinstance(password, str):
            raise BadRequest("Expecting to find password in user.")
        with self._store.read() as conn:
            if ref.get("id"):
                user = repo.get(conn, "user", str(ref["id"]))
            elif ref.get("name"):
                domain = self._domain_of(conn, ref.get("domain"))
                user = (
                    repo.find_one(conn, "user", domain_id=domain["id"], name=str(ref["name"]))
                    if domain
                    else None
                )
            else:
                raise BadRequest("Expecting to find id or name in user.")
        ok = password_matches(user["password_hash"] if user else None, password)
        if user is None or not ok or not user["enabled"]:
            raise NotAuthenticated(UNAUTHORIZED)
        return user

    def _issue(
        self, user: Any, scope: Any, methods: list[str], expires_at: float | None
    ) -> TokenInfo:
        with self._store.read() as conn:
            project = self._scope_project(conn, user, scope)
            direct = (
                [r["name"] for r in repo.roles_on(conn, user["id"], project["id"])]
                if project
                else []
            )
            if project is not None and not direct:
                raise NotAuthenticated(UNAUTHORIZED)
            by_name = {r["name"]: r for r in repo.find(conn, "role")}
            names = [n for n in effective_roles(direct) if n in by_name]
            user_ref = self._user_ref(conn, user)
            project_ref = self._project_ref(conn, project) if project else None
        token, claims = self._tokens.issue(
            {
                "user_id": user["id"],
                "user_name": user["name"],
                "domain_id": user["domain_id"],
                "project_id": project["id"] if project else "",
                "project_name": project["name"] if project else "",
                "project_domain_id": project["domain_id"] if project else "",
                "roles": names,
                "methods": methods,
            },
            expires_at=expires_at,
        )
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
            project = (
                repo.find_one(conn, "project", domain_id=domain["id"], name=str(ref["name"]))
                if domain
                else None
            )
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
        return {
            "id": user["id"],
            "name": user["name"],
            "domain": self._domain_ref(conn, user["domain_id"]),
            "password_expires_at": None,
        }

    def _project_ref(self, conn: Any, project: Any) -> dict[str, Any]:
        return {
            "id": project["id"],
            "name": project["name"],
            "description": project["description"],
            "enabled": project["enabled"],
            "domain": self._domain_ref(conn, project["domain_id"]),
        }


def _member(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, dict):
        raise BadRequest(f"Expecting to find {key} in the request.")
    return value
