"""Signed, expiring, revocable tokens.

A token is ``<payload>.<signature>``: the payload is URL-safe base64 of compact JSON claims
(user, project, role names, issued/expiry time, audit id), the signature an HMAC-SHA256 over it
with the deployment's key. Any replica holding the key verifies a token without a database
round trip; revocation is checked against revocation events (see ``service.identity.revocation``).
Roles are captured at issue time, as with Keystone's own tokens; removing a role takes effect
for new tokens, and revoking the user's tokens makes it immediate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

from neutrino.common import clock
from neutrino.common.errors import NotAuthenticated


@dataclass(frozen=True)
class Claims:
    user_id: str
    user_name: str
    domain_id: str
    project_id: str
    project_name: str
    project_domain_id: str
    roles: tuple[str, ...]
    issued_at: float
    expires_at: float
    audit_id: str
    methods: tuple[str, ...] = ("password",)


class TokenAuthority:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl = ttl_seconds

    def issue(
        self, claims_without_times: dict[str, object], *, expires_at: float | None = None
    ) -> tuple[str, Claims]:
        now = clock.epoch()
        body = dict(claims_without_times)
        body["issued_at"] = now
        body["expires_at"] = expires_at if expires_at is not None else now + self.ttl
        body["audit_id"] = secrets.token_urlsafe(16)
        payload = base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=")
        sig = base64.urlsafe_b64encode(self._sign(payload)).rstrip(b"=")
        return (payload + b"." + sig).decode(), _claims(body)

    def verify(self, token: str) -> Claims:
        """Check signature and expiry (revocation is the caller's: it needs the database)."""
        try:
            payload, sig = token.encode().split(b".", 1)
            expected = base64.urlsafe_b64encode(self._sign(payload)).rstrip(b"=")
            if not hmac.compare_digest(sig, expected):
                raise ValueError("bad signature")
            body = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            claims = _claims(body)
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise NotAuthenticated("The request you have made requires authentication.") from None
        if claims.expires_at <= clock.epoch():
            raise NotAuthenticated("The request you have made requires authentication.")
        return claims

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _claims(body: dict[str, object]) -> Claims:
    return Claims(
        user_id=str(body["user_id"]),
        user_name=str(body["user_name"]),
        domain_id=str(body["domain_id"]),
        project_id=str(body["project_id"]),
        project_name=str(body["project_name"]),
        project_domain_id=str(body["project_domain_id"]),
        roles=tuple(body["roles"]),  # type: ignore[arg-type]
        issued_at=float(body["issued_at"]),  # type: ignore[arg-type]
        expires_at=float(body["expires_at"]),  # type: ignore[arg-type]
        audit_id=str(body["audit_id"]),
        methods=tuple(body.get("methods", ("password",))),  # type: ignore[arg-type]
    )
