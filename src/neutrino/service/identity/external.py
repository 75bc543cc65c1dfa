"""Tokens signed by another Keystone (``settings.external_keystone_url``).

A token this deployment did not sign is validated with ``GET /v3/auth/tokens`` against that
Keystone and the answer cached for ``min(its expiry, EXTERNAL_CACHE_SECONDS)``, so an external
revocation is seen here within that bound (keystonemiddleware's own default cache time). The
cache is pruned of expired entries when it grows past 10,000 tokens. An unreachable Keystone is
``IdentityUnavailable`` (503), a refusal is ``NotAuthenticated`` (401); nothing is retried.
"""

from __future__ import annotations

import datetime as dt

import httpx

from neutrino.common import clock
from neutrino.common.errors import NeutrinoError, NotAuthenticated
from neutrino.service.context import RequestContext
from neutrino.service.identity.auth import UNAUTHORIZED

EXTERNAL_CACHE_SECONDS = 300.0


class IdentityUnavailable(NeutrinoError):
    status = 503
    neutron_type = "ServiceUnavailable"


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
            r = self.http.get(
                f"{self.url}/v3/auth/tokens",
                headers={"X-Auth-Token": token, "X-Subject-Token": token},
            )
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(f"Identity service unreachable: {exc}") from None
        if r.status_code != 200:
            raise NotAuthenticated(UNAUTHORIZED)
        body = r.json()["token"]
        project = body.get("project") or {}
        expires = dt.datetime.strptime(
            body["expires_at"].split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S"
        ).replace(tzinfo=dt.UTC)
        ctx = RequestContext(
            user_id=body["user"]["id"],
            user_name=body["user"].get("name", ""),
            project_id=project.get("id", ""),
            project_name=project.get("name", ""),
            domain_id=(project.get("domain") or body["user"].get("domain") or {}).get(
                "id", "default"
            ),
            roles=frozenset(r["name"] for r in body.get("roles", [])),
        )
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[token] = (min(expires.timestamp(), now + EXTERNAL_CACHE_SECONDS), ctx)
        return ctx
