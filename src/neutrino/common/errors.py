"""The one error tree of neutrino.

Every error a request can meet is a ``NeutrinoError``: it knows its HTTP status and the Neutron
``type`` that goes into the ``{"NeutronError": {...}}`` envelope, so the API has a single handler
and no layer below it ever thinks about HTTP. The class name *is* the Neutron type unless a class
sets ``neutron_type`` (Neutron reports generic webob failures as ``HTTPBadRequest`` and friends).

    NeutrinoError
    ├── BadRequest (400)            InvalidInput, HTTPBadRequest-typed body errors, ...
    ├── NotAuthenticated (401)
    ├── Forbidden (403)             PolicyNotAuthorized
    ├── NotFound (404)              NetworkNotFound, SubnetNotFound, PortNotFound, ...
    ├── MethodNotAllowed (405)
    ├── Conflict (409)              InUse, IpAddressGenerationFailure, MacAddressInUse, ...
    ├── PreconditionFailed (412)    RevisionNumberConstraintFailed
    ├── RequestTooLarge (413)       a body over the configured limit
    ├── RequestURITooLong (414)
    └── ServiceUnavailable (503)

Messages quote what the client sent through ``excerpt``: a short prefix, never the whole value
(a 20 MB description must not come back as a 20 MB error).
"""

from __future__ import annotations

from typing import ClassVar

EXCERPT_CHARS = 64


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``str(value)``, cut to ``limit`` characters (then ``...``): how messages quote input."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


class NeutrinoError(Exception):
    status = 500
    neutron_type: ClassVar[str | None] = None

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    @property
    def type(self) -> str:
        return self.neutron_type or type(self).__name__


class BadRequest(NeutrinoError):
    status = 400
    neutron_type: ClassVar[str | None] = "HTTPBadRequest"


class InvalidInput(BadRequest):
    neutron_type: ClassVar[str | None] = "InvalidInput"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid input for operation: {reason}.")


class NotAuthenticated(NeutrinoError):
    status = 401


class Forbidden(NeutrinoError):
    status = 403
    neutron_type: ClassVar[str | None] = "HTTPForbidden"


class PolicyNotAuthorized(Forbidden):
    neutron_type: ClassVar[str | None] = "PolicyNotAuthorized"

    def __init__(self, action: str) -> None:
        super().__init__(f"({action}) is disallowed by policy")


class NotFound(NeutrinoError):
    status = 404
    neutron_type: ClassVar[str | None] = "HTTPNotFound"


class ResourceNotFound(NotFound):
    """``<Kind> <id> could not be found.`` with type ``<Kind>NotFound``."""

    neutron_type: ClassVar[str | None] = None

    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind} {excerpt(resource_id)} could not be found.")
        self.kind = kind

    @property
    def type(self) -> str:
        return f"{self.kind.replace(' ', '')}NotFound"


class MethodNotAllowed(NeutrinoError):
    status = 405
    neutron_type: ClassVar[str | None] = "HTTPMethodNotAllowed"


class Conflict(NeutrinoError):
    status = 409
    neutron_type: ClassVar[str | None] = "HTTPConflict"


class _NamedType:
    """For errors whose Neutron type is chosen per raise (``NetworkInUse``,
    ``MacAddressInUse``...) rather than per class."""

    def __init__(self, neutron_type: str, message: str) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self._type = neutron_type

    @property
    def type(self) -> str:
        return self._type


class NamedBadRequest(_NamedType, BadRequest):
    """A 400 with an explicit Neutron type."""


class NamedNotFound(_NamedType, NotFound):
    """A 404 with an explicit Neutron type."""


class NamedConflict(_NamedType, Conflict):
    """A 409 with an explicit Neutron type."""


class NamedForbidden(_NamedType, Forbidden):
    """A 403 with an explicit Neutron type."""


class PreconditionFailed(NeutrinoError):
    status = 412
    neutron_type: ClassVar[str | None] = "RevisionNumberConstraintFailed"


class RequestTooLarge(NeutrinoError):
    status = 413
    neutron_type: ClassVar[str | None] = "HTTPRequestEntityTooLarge"


class RequestURITooLong(NeutrinoError):
    status = 414
    neutron_type: ClassVar[str | None] = "HTTPRequestURITooLong"


class ServiceUnavailable(NeutrinoError):
    status = 503
    neutron_type: ClassVar[str | None] = "HTTPServiceUnavailable"


class NamedServiceUnavailable(_NamedType, ServiceUnavailable):
    """A 503 with an explicit Neutron type (``FlavorDisabled``, ``ServiceProfileDisabled``)."""


class RetryableConflict(NeutrinoError):
    """A write lost a race (unique key, serialization failure); the unit of work retries it."""

    status = 409
    neutron_type: ClassVar[str | None] = "HTTPConflict"
