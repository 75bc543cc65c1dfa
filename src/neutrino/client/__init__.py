"""``neutrino.client``: the typed httpx SDK for the controller (used by the agent, CLI, vmm).

    session = Session(Credentials.from_env())      # Keystone v3 password, network endpoint
    api = Controller(session)                      # from the token's catalog
    net = api.create_network(name="blue")
    api.watch_host_state("hv1", since=rev)         # the agent's long-poll

Errors (all ``ClientError``; ``retryable`` on the transient ones)::

    ClientError
    ├── TransportError          no answer (connect, reset, timeout)     retryable
    ├── EndpointNotFound        no network endpoint in the catalog
    └── HttpError               status, type, message, detail from {"NeutronError": ...}
        ├── BadRequest 400   ├── Unauthorized 401   ├── Forbidden 403
        ├── NotFound 404     ├── Conflict 409       ├── PreconditionFailed 412
        └── ServerError 5xx                                              retryable

The modules are private; this package's ``__all__`` is the public surface (pinned by a test).
"""

from neutrino.client._controller import Controller, HostStateWatch
from neutrino.client._errors import (
    BadRequest,
    ClientError,
    Conflict,
    EndpointNotFound,
    Forbidden,
    HttpError,
    NotFound,
    PreconditionFailed,
    ServerError,
    TransportError,
    Unauthorized,
)
from neutrino.client._session import Credentials, Session, Token

__all__ = [
    "BadRequest",
    "ClientError",
    "Conflict",
    "Controller",
    "Credentials",
    "EndpointNotFound",
    "Forbidden",
    "HostStateWatch",
    "HttpError",
    "NotFound",
    "PreconditionFailed",
    "ServerError",
    "Session",
    "Token",
    "TransportError",
    "Unauthorized",
]
