"""``Session``: one authenticated HTTP connection to a neutrino (or any Neutron) controller.

What it owns: an ``httpx.Client``, the current Keystone token (v3, or v2.0 for old providers)
and the ``network`` endpoint read from that token's catalog (or given: ``Credentials.endpoint``,
as a manager that was told the Networking URL uses it). Invariants:

* every request carries a token that was valid when sent: the session authenticates lazily on
  first use, and again when the token is within ``refresh_margin`` seconds of ``expires_at``;
* a 401 answer triggers exactly one re-authentication and one replay of the request (tokens
  can be revoked, or the controller's key rotated); a second 401 is raised as ``Unauthorized``;
* httpx transport failures become ``TransportError`` and error answers become the
  ``HttpError`` subclasses of ``_errors`` — no httpx exception escapes.

The session does not retry anything else: callers (the agent's watcher and loop) decide,
using ``ClientError.retryable``. It is safe to share between threads (a lock guards the
token; httpx's client is thread-safe).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from neutrino.client._errors import (
    EndpointNotFound,
    TransportError,
    error_from_response,
)

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    """Keystone password credentials, project-scoped: v3 (default) or v2.0 (``tenantName``;
    the domains are then unused). ``endpoint`` set: use it instead of the catalog's."""

    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    interface: str = "public"
    region: str | None = None
    keystone_version: str = "v3"  # or "v2.0"
    endpoint: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Credentials:
        """From the usual ``OS_*`` variables; KeyError names the first missing one."""
        e = dict(os.environ if env is None else env)
        missing = [k for k in ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD") if not e.get(k)]
        if missing:
            raise KeyError(missing[0])
        return cls(
            auth_url=e["OS_AUTH_URL"],
            username=e["OS_USERNAME"],
            password=e["OS_PASSWORD"],
            project_name=e.get("OS_PROJECT_NAME") or e.get("OS_TENANT_NAME") or "admin",
            user_domain_name=e.get("OS_USER_DOMAIN_NAME") or "Default",
            project_domain_name=e.get("OS_PROJECT_DOMAIN_NAME") or "Default",
            interface=e.get("OS_INTERFACE") or "public",
            region=e.get("OS_REGION_NAME") or None,
        )

    def auth_body(self) -> dict[str, Any]:
        if self.keystone_version == "v2.0":
            return {
                "auth": {
                    "passwordCredentials": {"username": self.username, "password": self.password},
                    "tenantName": self.project_name,
                }
            }
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "domain": {"name": self.user_domain_name},
                            "password": self.password,
                        }
                    },
                },
                "scope": {
                    "project": {
                        "name": self.project_name,
                        "domain": {"name": self.project_domain_name},
                    }
                },
            }
        }


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # epoch seconds
    endpoint: str  # the network endpoint, no trailing slash
    project_id: str
    user_id: str


class Session:
    """Authenticated requests to the network endpoint (see the module docstring)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        refresh_margin: float = 60.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.credentials = credentials
        self.refresh_margin = refresh_margin
        self._http = http or httpx.Client(timeout=timeout)
        self._token: Token | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- auth --------------------------------------------------------------------------------

    def token(self) -> Token:
        """A token valid for at least ``refresh_margin`` more seconds (authenticates if not)."""
        with self._lock:
            token = self._token
            if token is None or token.expires_at - time.time() < self.refresh_margin:
                token = self._token = self._authenticate()
            return token

    def invalidate(self, stale: Token) -> None:
        with self._lock:
            if self._token is stale:
                self._token = None

    def _authenticate(self) -> Token:
        if self.credentials.keystone_version == "v2.0":
            return self._authenticate_v2()
        url = self.credentials.auth_url.rstrip("/")
        if not url.endswith("/v3"):
            url += "/v3"
        response = self._send("POST", f"{url}/auth/tokens", json=self.credentials.auth_body())
        if response.status_code != 201:
            raise error_from_response(response)
        body = orjson.loads(response.content)["token"]
        return Token(
            value=response.headers["X-Subject-Token"],
            expires_at=_epoch(body["expires_at"]),
            endpoint=self._endpoint(body.get("catalog") or []),
            project_id=body.get("project", {}).get("id", ""),
            user_id=body.get("user", {}).get("id", ""),
        )

    def _authenticate_v2(self) -> Token:
        url = self.credentials.auth_url.rstrip("/")
        if not url.endswith("/v2.0"):
            url += "/v2.0"
        response = self._send("POST", f"{url}/tokens", json=self.credentials.auth_body())
        if response.status_code != 200:
            raise error_from_response(response)
        access = orjson.loads(response.content)["access"]
        token = access["token"]
        catalog = [
            {
                "type": s.get("type"),
                "endpoints": [
                    {"interface": interface, "url": ep[key], "region_id": ep.get("region")}
                    for ep in s.get("endpoints", [])
                    for interface, key in (
                        ("public", "publicURL"),
                        ("internal", "internalURL"),
                        ("admin", "adminURL"),
                    )
                    if ep.get(key)
                ],
            }
            for s in access.get("serviceCatalog") or []
        ]
        return Token(
            value=token["id"],
            expires_at=_epoch(token["expires"]),
            endpoint=self._endpoint(catalog),
            project_id=(token.get("tenant") or {}).get("id", ""),
            user_id=(access.get("user") or {}).get("id", ""),
        )

    def _endpoint(self, catalog: list[dict[str, Any]]) -> str:
        if self.credentials.endpoint:
            return self.credentials.endpoint.rstrip("/")
        want, region = self.credentials.interface, self.credentials.region
        for service in catalog:
            if service.get("type") != "network":
                continue
            for ep in service.get("endpoints", []):
                if ep.get("interface") == want and region in (
                    None,
                    ep.get("region_id"),
                    ep.get("region"),
                ):
                    return str(ep["url"]).rstrip("/")
        raise EndpointNotFound(
            f"no {want} network endpoint"
            + (f" in region {region}" if region else "")
            + " in the catalog"
        )

    # --- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call ``path`` (relative to the network endpoint); the decoded JSON body (None for
        an empty one). Error answers raise ``HttpError``; see the module docstring for 401."""
        for attempt in (1, 2):
            token = self.token()
            response = self._send(
                method,
                token.endpoint + path,
                json=json,
                params=params,
                headers={"X-Auth-Token": token.value},
                timeout=timeout,
            )
            if response.status_code == 401 and attempt == 1:
                self.invalidate(token)
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return orjson.loads(response.content) if response.content else None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: str, *, timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            return self._http.request(method, url, **kwargs, **extra)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {url}: {exc!r}", tls=_is_tls(exc)) from exc


def _is_tls(exc: BaseException) -> bool:
    """Whether a transport failure was the TLS handshake (certificate, protocol)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(exc) or "CERTIFICATE" in str(exc)


def _epoch(iso: str) -> float:
    """Keystone's ``expires_at`` (ISO 8601, UTC when no offset is given) as epoch seconds."""
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


__all__ = ["Credentials", "Session", "Token"]
