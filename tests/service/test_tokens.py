"""Tokens without HTTP: the signature and expiry checks of ``TokenAuthority``, revocation
semantics, and the bounded staleness of revocations between two replicas on one database.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import pytest

from neutrino.common import clock
from neutrino.common.errors import NotAuthenticated
from neutrino.common.settings import Settings
from neutrino.service import identity as identity_module
from neutrino.service.identity import IdentityService, effective_roles, password_matches
from neutrino.service.tokens import TokenAuthority
from neutrino.store.uow import Store

CLAIMS: dict[str, object] = {
    "user_id": "u1",
    "user_name": "alice",
    "domain_id": "default",
    "project_id": "p1",
    "project_name": "demo",
    "project_domain_id": "default",
    "roles": ["member", "reader"],
}


def test_issue_then_verify_round_trips_the_claims() -> None:
    authority = TokenAuthority(b"k", 3600)
    token, claims = authority.issue(CLAIMS)
    verified = authority.verify(token)
    assert verified == claims
    assert verified.roles == ("member", "reader") and verified.project_id == "p1"
    assert 3599 <= verified.expires_at - verified.issued_at <= 3601


def test_forged_payload_with_a_valid_looking_signature_is_rejected() -> None:
    authority = TokenAuthority(b"k", 3600)
    token, _ = authority.issue(CLAIMS)
    payload, sig = token.split(".")
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()
    with pytest.raises(NotAuthenticated):
        authority.verify(f"{forged}.{sig}")


def test_token_signed_with_another_key_is_rejected() -> None:
    token, _ = TokenAuthority(b"other", 3600).issue(CLAIMS)
    with pytest.raises(NotAuthenticated):
        TokenAuthority(b"k", 3600).verify(token)


@pytest.mark.parametrize("bad", ["", "no-dot", "a.b", "!!!.???"])
def test_malformed_tokens_are_rejected(bad: str) -> None:
    with pytest.raises(NotAuthenticated):
        TokenAuthority(b"k", 3600).verify(bad)


def test_expired_token_is_rejected() -> None:
    authority = TokenAuthority(b"k", 3600)
    token, _ = authority.issue(CLAIMS, expires_at=clock.epoch() - 1)
    with pytest.raises(NotAuthenticated):
        authority.verify(token)


def test_implied_roles_and_password_hashing() -> None:
    assert effective_roles(["admin"]) == ["admin", "member", "reader"]
    assert effective_roles(["reader"]) == ["reader"]
    stored = identity_module.hash_password("secret")
    assert "secret" not in stored and stored.startswith("$argon2id$")
    assert password_matches(stored, "secret")
    assert not password_matches(stored, "Secret")
    assert not password_matches(None, "")


def _replica(store: Store, settings: Settings) -> IdentityService:
    return IdentityService(store, settings, TokenAuthority(b"shared", 3600))


def _admin_token(service: IdentityService) -> str:
    info = service.authenticate(
        {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"id": "default"}, "password": "pw"}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    )
    return info.token


def test_user_revocation_spares_tokens_issued_afterwards(store: Store, settings: Settings) -> None:
    service = _replica(store, settings)
    service.bootstrap("pw")
    old = _admin_token(service)
    service.bootstrap("pw2")  # a password reset revokes the user's earlier tokens
    with pytest.raises(NotAuthenticated):
        service.context_for_token(old)
    service.bootstrap("pw")
    assert service.context_for_token(_admin_token(service)).is_admin


def test_revocation_reaches_another_replica_within_the_refresh_bound(
    store: Store, settings: Settings
) -> None:
    a, b = _replica(store, settings), _replica(store, settings)
    a.bootstrap("pw")
    token = _admin_token(a)
    assert b.context_for_token(token).is_admin  # b has loaded the (empty) event list
    a.revoke_token(a.context_for_token(token), token)
    with pytest.raises(NotAuthenticated):
        a.context_for_token(token)  # the revoking replica: at once
    time.sleep(identity_module.REFRESH_SECONDS + 0.05)
    with pytest.raises(NotAuthenticated):
        b.context_for_token(token)  # the other one: within REFRESH_SECONDS


def test_token_checks_do_not_query_the_database(
    store: Store, settings: Settings, monkeypatch: Any
) -> None:
    service = _replica(store, settings)
    service.bootstrap("pw")
    token = _admin_token(service)
    service.context_for_token(token)
    calls: list[int] = []
    real = store.read

    def counting_read() -> Any:
        calls.append(1)
        return real()

    monkeypatch.setattr(store, "read", counting_read)
    for _ in range(200):
        service.context_for_token(token)
    assert len(calls) <= 1  # at most one refresh check, whatever the request count
