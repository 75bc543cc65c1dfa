"""Request-body attributes: the declarative spec of each resource and the parser that applies it.

A resource declares ``{wire_name: Attr}``; ``parse_create``/``parse_update`` turn a request body
into a dict of converted values or raise the exact 400 Neutron would (unknown attribute,
read-only attribute, missing required attribute, invalid value). Converters are plain
functions ``value -> value`` that raise ``Invalid(reason)``; the parser adds the attribute name.

Each converter also says, as a JSON Schema, which values it accepts (``described``/
``schema_of``): the published OpenAPI document is generated from the same specs that validate
requests, so the two cannot drift. A converter nobody described accepts anything (``{}``).
"""

from __future__ import annotations

import ipaddress
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from neutrino.common.errors import BadRequest, excerpt
from neutrino.common.ids import is_uuid


class Invalid(Exception):
    """A converter's complaint; becomes ``Invalid input for <attr>. Reason: <reason>``."""


Converter = Callable[[Any], Any]
JsonSchema = dict[str, Any]
C = TypeVar("C", bound=Converter)
_SCHEMAS: weakref.WeakKeyDictionary[Converter, JsonSchema] = weakref.WeakKeyDictionary()


def described(schema: JsonSchema) -> Callable[[C], C]:
    """Record the JSON Schema of the values ``convert`` accepts (a decorator that keeps the
    converter's own signature for the type checker)."""

    def mark(convert: C) -> C:
        _SCHEMAS[convert] = schema
        return convert

    return mark


def schema_of(convert: Converter | None) -> JsonSchema:
    """The JSON Schema of a converter's accepted values; ``{}`` (anything) when undescribed."""
    if convert is None:
        return {}
    return dict(_SCHEMAS.get(convert, {}))


def nullable_objects(required: list[str], properties: JsonSchema) -> JsonSchema:
    """The JSON Schema of a list (or null) of objects with these ``properties`` and no other."""
    item = {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }
    return {"anyOf": [{"type": "array", "items": item}, {"type": "null"}]}


UNSET: Any = object()  # an admin-only attribute without a default: any value given counts


@dataclass(frozen=True)
class Attr:
    """One attribute of a body. ``admin_only``: only an admin may give it (Neutron's default
    policy, enforced by ``service.policy.check_admin_only``); on create a value equal to
    ``default`` is not checked (``shared: false`` passes), on update any value is."""

    convert: Converter | None = None
    allow_post: bool = True
    allow_put: bool = True
    required: bool = False
    admin_only: bool = False
    default: Any = UNSET


def parse_create(body: Mapping[str, Any], spec: Mapping[str, Attr]) -> dict[str, Any]:
    _reject_unknown(body, spec)
    out: dict[str, Any] = {}
    for name, attr in spec.items():
        if name in body:
            if not attr.allow_post:
                raise BadRequest(f"Attribute '{name}' not allowed in POST")
            out[name] = _convert(name, attr, body[name])
        elif attr.required:
            raise BadRequest(f"Failed to parse request. Required attribute '{name}' not specified")
    return out


def parse_update(body: Mapping[str, Any], spec: Mapping[str, Attr]) -> dict[str, Any]:
    _reject_unknown(body, spec)
    out: dict[str, Any] = {}
    for name, value in body.items():
        attr = spec[name]
        if not attr.allow_put:
            raise BadRequest(f"Cannot update read-only attribute {name}")
        out[name] = _convert(name, attr, value)
    return out


def _reject_unknown(body: Mapping[str, Any], spec: Mapping[str, Attr]) -> None:
    unknown = [k for k in body if k not in spec]
    if unknown:
        raise BadRequest("Unrecognized attribute(s) '" + excerpt(", ".join(unknown), 256) + "'")


def _convert(name: str, attr: Attr, value: Any) -> Any:
    if attr.convert is None:
        return value
    try:
        return attr.convert(value)
    except Invalid as exc:
        raise BadRequest(f"Invalid input for {name}. Reason: {exc}.") from None


# --- converters -------------------------------------------------------------------------------


_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


@described({"type": "boolean"})
def to_bool(value: Any) -> bool:
    """Neutron's ``convert_to_boolean``: a bool, 0/1, or one of the words oslo's strict
    ``bool_from_string`` knows (any case); anything else is invalid."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid(f"'{excerpt(value)}' cannot be converted to boolean")


@described({"type": "integer"})
def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid(f"'{excerpt(value)}' is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(f"'{excerpt(value)}' is not an integer") from None


def string(max_len: int | None = 255) -> Converter:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"'{excerpt(value)}' is not a valid string")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"'{excerpt(value)}' exceeds maximum length of {max_len}")
        return value

    return described(
        {"type": "string"} if max_len is None else {"type": "string", "maxLength": max_len}
    )(convert)


def nullable(convert: Converter) -> Converter:
    def wrapped(value: Any) -> Any:
        return None if value is None else convert(value)

    return described({"anyOf": [schema_of(convert), {"type": "null"}]})(wrapped)


@described({"type": "string", "format": "uuid"})
def uuid(value: Any) -> str:
    if not is_uuid(value):
        raise Invalid(f"'{excerpt(value)}' is not a valid UUID")
    return str(value)


PROJECT_ID_LEN = 64  # Keystone's own limit, and the width of every project_id column


@described({"type": "string", "maxLength": PROJECT_ID_LEN})
def project_id(value: Any) -> str:
    if not isinstance(value, str) or len(value) > PROJECT_ID_LEN:
        raise Invalid(f"'{excerpt(value)}' is not a valid project id")
    return value


def one_of(*choices: Any) -> Converter:
    def convert(value: Any) -> Any:
        if value not in choices:
            raise Invalid(f"'{excerpt(value)}' is not in {list(choices)}")
        return value

    return described({"enum": list(choices)})(convert)


_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


@described({"type": "string", "pattern": _MAC.pattern})
def mac(value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value):
        raise Invalid(f"'{excerpt(value)}' is not a valid MAC address")
    octets = value.replace("-", ":").lower()
    if octets == "00:00:00:00:00:00" or int(octets[:2], 16) & 1:
        raise Invalid(f"'{excerpt(value)}' is not a valid MAC address")
    return octets


@described({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
def ip_address(value: Any) -> str:
    try:
        addr = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise Invalid(f"'{excerpt(value)}' is not a valid IP address") from None
    if isinstance(value, str) and not _is_canonical_input(value, addr):
        raise Invalid(f"'{excerpt(value)}' is not an accepted IP address, '{addr}' is recommended")
    return str(addr)


def _is_canonical_input(text: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Neutron refuses IPv4 spellings with leading zeros ("010.0.0.1"): ambiguous octal.
    if addr.version == 4:
        return all(p == "0" or not p.startswith("0") for p in text.split("."))
    return True


@described({"type": "string", "pattern": "/"})
def cidr(value: Any) -> str:
    """A network in CIDR notation, normalized (host bits must be zero for subnets: caller)."""
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(f"'{excerpt(value)}' is not a valid IP subnet")
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise Invalid(f"'{excerpt(value)}' is not a valid IP subnet") from None


def list_of(convert: Converter) -> Converter:
    def wrapped(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid(f"'{excerpt(value)}' is not a list")
        return [convert(v) for v in value]

    return described({"type": "array", "items": schema_of(convert)})(wrapped)


MAX_TAG_LEN = 255


def tag(value: Any) -> str:
    """One tag: a non-empty string of at most 255 characters, without the ``,`` that
    separates tags in a filter nor the ``/`` that would end its URL."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_TAG_LEN
        or "," in value
        or "/" in value
    ):
        raise Invalid(f"'{excerpt(value)}' is not a valid tag")
    return value


@described(
    {
        "type": "array",
        "uniqueItems": True,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LEN},
    }
)
def tag_list(value: Any) -> list[str]:
    """The ``tags`` of a create body (tag-creation): unique tags, as Neutron's
    ``list_of_unique_strings`` wants them; stored with the resource in its transaction."""
    if not isinstance(value, list):
        raise Invalid(f"'{excerpt(value)}' is not a list")
    out = [tag(v) for v in value]
    dupes = sorted({t for t in out if out.count(t) > 1})
    if dupes:
        raise Invalid(f"Duplicate items in the list: '{excerpt(', '.join(dupes))}'")
    return out


@described({"anyOf": [{"type": "object"}, {"type": "null"}]})
def dict_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"'{excerpt(value)}' is not a dictionary")
    return value


def any_value(value: Any) -> Any:
    return value


STANDARD = {
    "name": Attr(string(255)),
    "description": Attr(string(255)),
    "project_id": Attr(project_id, allow_put=False),
    "tenant_id": Attr(project_id, allow_put=False),
}
