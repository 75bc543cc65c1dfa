"""A provider as the manager sees it: a Networking API (any Neutron-compatible endpoint,
neutrino included) reached only over HTTP through ``neutrino.client``.

``ProviderClient`` owns one ``Session`` (Keystone v3 or v2.0, the Networking URL the person
gave, not the catalog's) and adds what a manager needs on top of plain calls:

* ``check()`` — oVirt's "test connection": a token, then ``GET /v2.0/``; the answer names
  what is wrong (``unreachable``, ``tls_error``, ``bad_credentials``, ``not_keystone``,
  ``not_networking``) instead of a stack trace;
* ``ports_of_devices`` / ``create_ports`` — the vNICs' ports in one filtered list, and a bulk
  create (one round trip for a VM's ports);
* ``wait_active(port_id)`` — waits for the port's ACTIVE event on neutrino's event API
  (``/agent/v1/ports/{id}/events``); on a provider without that API (its 404 is not a
  ``PortNotFound``) it remembers so and polls the port's status until the deadline.

Nothing here retries: a ``ClientError`` reaches the use case, which decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from neutrino.client import (
    ClientError,
    Controller,
    Credentials,
    EndpointNotFound,
    HttpError,
    NotFound,
    Session,
    TransportError,
    Unauthorized,
)
from neutrino.vmm.model import Provider

OK = "ok"
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class ConnectionCheck:
    kind: str  # ok | unreachable | tls_error | bad_credentials | not_keystone | not_networking
    message: str

    @property
    def ok(self) -> bool:
        return self.kind == OK


@dataclass(frozen=True)
class PortWait:
    status: str  # the port's status when the wait ended
    active: bool
    waited: float  # seconds
    via_events: bool  # False: the provider has no event API, its status was polled


def networking_base(url: str) -> str:
    """The Networking URL without a trailing ``/v2.0`` (the client adds it to each path)."""
    url = url.rstrip("/")
    return url[: -len("/v2.0")] if url.endswith("/v2.0") else url


def credentials_of(provider: Provider) -> Credentials:
    return Credentials(
        auth_url=provider.auth_url,
        username=provider.username,
        password=provider.password,
        project_name=provider.project,
        user_domain_name=provider.user_domain,
        project_domain_name=provider.project_domain,
        keystone_version=provider.keystone_version,
        endpoint=networking_base(provider.url),
    )


class ProviderClient:
    def __init__(
        self, provider: Provider, *, timeout: float = 30.0, http: httpx.Client | None = None
    ) -> None:
        self.provider = provider
        self.session = Session(credentials_of(provider), timeout=timeout, http=http)
        self.api = Controller(self.session)
        self._has_events: bool | None = None  # unknown until the first wait

    def close(self) -> None:
        self.session.close()

    # --- test connection ---------------------------------------------------------------------

    def check(self) -> ConnectionCheck:
        p = self.provider
        try:
            self.session.token()
        except TransportError as exc:
            return _transport("Keystone", p.auth_url, exc)
        except Unauthorized:
            return ConnectionCheck(
                "bad_credentials",
                f"Keystone at {p.auth_url} refused user '{p.username}' "
                f"on project '{p.project}' (wrong password or name?)",
            )
        except HttpError as exc:
            if exc.status == 404 and p.keystone_version == "v2.0":
                # Keystone itself dropped v2.0 (in its Queens release); only old ones have it
                return ConnectionCheck(
                    "not_keystone",
                    f"{p.auth_url} has no Keystone v2.0 identity API (HTTP 404): "
                    "current Keystones serve v3 only, choose v3",
                )
            return ConnectionCheck(
                "not_keystone",
                f"{p.auth_url} did not answer as a Keystone "
                f"{p.keystone_version} identity API ({_short(exc)})",
            )
        except (EndpointNotFound, KeyError, ValueError, TypeError) as exc:
            return ConnectionCheck(
                "not_keystone",
                f"{p.auth_url} did not answer as a Keystone "
                f"{p.keystone_version} identity API ({_short(exc)})",
            )
        try:
            root = self.api.api_root()
        except TransportError as exc:
            return _transport("the Networking API", p.url, exc)
        except (HttpError, ValueError) as exc:
            return ConnectionCheck(
                "not_networking",
                f"GET {networking_base(p.url)}/v2.0/ is not a Networking API ({_short(exc)})",
            )
        collections = {
            r.get("collection") for r in root.get("resources") or [] if isinstance(r, dict)
        }
        if not {"networks", "ports"} <= collections:
            return ConnectionCheck(
                "not_networking",
                f"GET {networking_base(p.url)}/v2.0/ does not list networks "
                "and ports: not a Networking API",
            )
        return ConnectionCheck(
            OK, f"token from {p.auth_url} and a Networking API at {networking_base(p.url)}"
        )

    # --- ports ---------------------------------------------------------------------------

    def wait_active(self, port_id: str, timeout: float = 30.0) -> PortWait:
        start = time.monotonic()
        if self._has_events is not False:
            try:
                event = self.api.wait_port(port_id, "ACTIVE", timeout)
                self._has_events = True
                status = str(event.get("status", ""))
                return PortWait(status, status == "ACTIVE", time.monotonic() - start, True)
            except NotFound as exc:
                if exc.type == "PortNotFound":
                    raise
                self._has_events = False  # no event API here: poll from now on
        deadline = start + timeout
        while True:
            status = str(self.api.get_port(port_id).get("status", ""))
            if status == "ACTIVE" or time.monotonic() >= deadline:
                return PortWait(status, status == "ACTIVE", time.monotonic() - start, False)
            time.sleep(POLL_INTERVAL)

    def ports_of_devices(self, device_ids: list[str]) -> list[dict[str, Any]]:
        """The provider's ports whose ``device_id`` is one of these vNIC ids, in one filtered
        list (a repeated filter matches any of its values), where oVirt lists every port."""
        return self.api.list_ports(device_id=list(device_ids)) if device_ids else []

    def create_ports(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create several ports in one bulk ``POST /v2.0/ports`` (all or none); the ports in
        the order of ``bodies``."""
        if len(bodies) == 1:
            return [self.api.create_port(**bodies[0])]
        answer = self.api.session.request("POST", "/v2.0/ports", json={"ports": bodies})
        return list(answer["ports"])


def _transport(what: str, url: str, exc: TransportError) -> ConnectionCheck:
    if exc.tls:
        return ConnectionCheck("tls_error", f"TLS with {what} at {url} failed: {_short(exc)}")
    return ConnectionCheck("unreachable", f"{what} at {url} is unreachable: {_short(exc)}")


def _short(exc: BaseException) -> str:
    if isinstance(exc, HttpError):
        kind = "" if exc.type == f"HTTP{exc.status}" else f" {exc.type}"
        return f"HTTP {exc.status}{kind}"
    text = str(exc.__cause__ or exc) if isinstance(exc, ClientError) else str(exc)
    return (text or type(exc).__name__)[:200]
