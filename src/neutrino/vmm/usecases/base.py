"""What every vmm use case shares: who is asking (``Caller``), the provider clients (one per
provider, rebuilt when the provider's stored fields change), lookups that answer 404 with the
resource's kind, and provider failures turned into errors of the one tree.

Rule of every use case: never hold a database transaction across a provider call (the
provider may be this very server, writing to the same SQLite file). Read, call, then write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import httpx

from neutrino.client import ClientError, HttpError, TransportError
from neutrino.common.errors import (
    NeutrinoError,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.vmm import model as m
from neutrino.vmm.provider import ProviderClient
from neutrino.vmm.storage.repo import Repo, VmmStore

T = TypeVar("T")

KIND_NAMES: dict[type, str] = {
    m.Provider: "Provider",
    m.DataCenter: "DataCenter",
    m.Cluster: "Cluster",
    m.Host: "Host",
    m.Network: "Network",
    m.Profile: "VnicProfile",
    m.Vm: "Vm",
    m.Vnic: "Vnic",
}


@dataclass(frozen=True)
class Caller:
    """Who is asking, from a verified Keystone token (the server's own)."""

    user_id: str
    project_id: str
    is_admin: bool = False
    can_write: bool = False

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise PolicyNotAuthorized(f"vmm:{action}")

    def require_write(self, action: str) -> None:
        if not (self.is_admin or self.can_write):
            raise PolicyNotAuthorized(f"vmm:{action}")


ADMIN = Caller(user_id="", project_id="", is_admin=True, can_write=True)


class ProviderFailed(NeutrinoError):
    """The provider did not answer, or answered with a server error."""

    status = 502
    neutron_type: ClassVar[str | None] = "ProviderError"


class ProviderRefused(NeutrinoError):
    """The provider refused the request (4xx): its status and message, passed on."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self._type = type_

    @property
    def type(self) -> str:
        return self._type


def provider_error(provider: m.Provider, exc: ClientError) -> NeutrinoError:
    if isinstance(exc, HttpError) and 400 <= exc.status < 500:
        status = 502 if exc.status == 401 else exc.status  # our credentials, not the caller's
        return ProviderRefused(status, exc.type, f"provider {provider.name}: {exc.message}")
    what = "unreachable" if isinstance(exc, TransportError) else "failed"
    return ProviderFailed(f"provider {provider.name} {what}: {exc}")


def need(repo: Repo, kind: type[T], rid: str) -> T:
    found = repo.get(kind, rid)
    if found is None:
        raise ResourceNotFound(KIND_NAMES[kind], rid)
    return found


class Clients:
    """One ``ProviderClient`` per provider, kept while the provider's fields stay the same.
    ``transport`` (an httpx transport) carries every provider call when set: a test confines
    them to loopback with it."""

    def __init__(self, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self.transport = transport
        self._clients: dict[str, ProviderClient] = {}
        self._lock = threading.Lock()

    def of(self, provider: m.Provider) -> ProviderClient:
        with self._lock:
            client = self._clients.get(provider.id)
            if client is not None and _same_access(client.provider, provider):
                return client
            if client is not None:
                client.close()
            http = None
            if self.transport is not None:
                http = httpx.Client(timeout=self.timeout, transport=self.transport)
            client = ProviderClient(provider, timeout=self.timeout, http=http)
            self._clients[provider.id] = client
            return client

    def forget(self, provider_id: str) -> None:
        with self._lock:
            client = self._clients.pop(provider_id, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _same_access(a: m.Provider, b: m.Provider) -> bool:
    keys = (
        "url",
        "auth_url",
        "keystone_version",
        "username",
        "password",
        "project",
        "user_domain",
        "project_domain",
    )
    return all(getattr(a, k) == getattr(b, k) for k in keys)


class UseCase:
    def __init__(self, store: VmmStore, clients: Clients) -> None:
        self.store = store
        self.clients = clients
