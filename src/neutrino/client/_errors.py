"""The client's exception tree: Neutron's error envelope mirrored into Python classes.

Every failure of a call through ``neutrino.client`` is a ``ClientError``::

    ClientError                  anything that went wrong talking to the controller
    ├── TransportError           no HTTP answer (connect refused, reset, timeout); retryable
    ├── EndpointNotFound         the token's catalog names no usable ``network`` endpoint
    └── HttpError                an HTTP error answer; ``status``, ``type``, ``message``, ``detail``
        ├── BadRequest           400
        ├── Unauthorized         401 (after one re-authentication attempt)
        ├── Forbidden            403
        ├── NotFound             404
        ├── Conflict             409 (``type``: InUse, IpAddressGenerationFailure, ...)
        ├── PreconditionFailed   412
        └── ServerError          5xx; retryable

``type``/``message``/``detail`` come from ``{"NeutronError": {...}}`` (Keystone's
``{"error": {...}}`` and plain bodies are understood too). ``retryable`` is True only for
transient failures: callers retry those with backoff and treat the rest as final.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson


class ClientError(Exception):
    """Base of every client failure; ``retryable`` says whether trying again may help."""

    retryable = False


class TransportError(ClientError):
    """The controller could not be reached or did not answer in time; ``tls`` when the TLS
    handshake failed (an untrusted certificate, say: then retrying will not help)."""

    retryable = True

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls
        if tls:
            self.retryable = False


class EndpointNotFound(ClientError):
    """The service catalog has no endpoint of the wanted type and interface."""


class HttpError(ClientError):
    """An HTTP error answer, with Neutron's error type, message and detail."""

    def __init__(self, status: int, type_: str, message: str, detail: str = "") -> None:
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message
        self.detail = detail


class BadRequest(HttpError):
    pass


class Unauthorized(HttpError):
    pass


class Forbidden(HttpError):
    pass


class NotFound(HttpError):
    pass


class Conflict(HttpError):
    pass


class PreconditionFailed(HttpError):
    pass


class ServerError(HttpError):
    retryable = True


_BY_STATUS: dict[int, type[HttpError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
}


def error_from_response(response: httpx.Response) -> HttpError:
    """The ``HttpError`` subclass for an error ``response``, its envelope unpacked."""
    status = response.status_code
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else HttpError)
    type_, message, detail = f"HTTP{status}", response.reason_phrase or "", ""
    try:
        body: Any = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("NeutronError"), dict):
            err = body["NeutronError"]
            type_ = str(err.get("type") or type_)
            message = str(err.get("message") or message)
            detail = str(err.get("detail") or "")
        elif isinstance(body.get("error"), dict):  # Keystone
            err = body["error"]
            type_ = str(err.get("title") or type_)
            message = str(err.get("message") or message)
    elif response.text:
        message = response.text[:500]
    return cls(status, type_, message, detail)
