"""Subnet-pool and address-scope request attributes, and the reading of a pool's settings
with Neutron's defaults, checks, order and messages (its ``SubnetPoolReader``).

``read_pool`` takes the pool as it would be after the request (a create's attributes, or the
stored pool with an update applied) and returns the values to store: the ip_version inferred
from the prefixes (one family only), the prefixes compacted, and the prefix-length bounds
(``min`` defaults to /8 for IPv4 and /64 for IPv6, ``max`` to the address width, ``default``
to ``min``) checked against each other and the family. No database here.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.errors import InvalidInput, NamedBadRequest, NamedNotFound, excerpt
from neutrino.domain import prefixes as px
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    list_of,
    nullable,
    string,
    tag_list,
    to_bool,
    to_int,
    uuid,
)


@described({"type": "string", "pattern": "/"})
def prefix(value: Any) -> str:
    """Neutron's ``type:subnet``: a CIDR (host bits allowed: the network they name is kept);
    a bare address is refused with the CIDR it would mean."""
    try:
        net = ipaddress.ip_network(value, strict=False) if isinstance(value, str) else None
    except ValueError:
        net = None
    if net is None:
        raise Invalid(f"'{excerpt(value)}' is not a valid IP subnet")
    if "/" not in value:
        raise Invalid(f"'{excerpt(value)}' isn't a recommended CIDR, use '{net}' instead")
    return str(net)


_prefix_list = list_of(prefix)


@described({"type": "array", "items": {"type": "string", "pattern": "/"}})
def prefix_list(value: Any) -> list[str]:
    out: list[str] = _prefix_list(value)
    dupes = sorted({p for p in out if out.count(p) > 1})
    if dupes:
        raise Invalid(f"Duplicate items in the list: '{', '.join(dupes)}'")
    return out


@described({"type": "integer", "minimum": 0})
def non_negative(value: Any) -> int:
    number = to_int(value)
    if number < 0:
        raise Invalid(f"'{value}' should be non-negative")
    return number


@described({"type": "string", "minLength": 1, "maxLength": 255})
def not_empty_name(value: Any) -> str:
    text: str = string(255)(value)
    if not text.strip():
        raise Invalid(f"'{value}' Blank strings are not permitted")
    return text


@described({"enum": [4, 6]})
def ip_version(value: Any) -> int:
    version = to_int(value)
    if version not in (4, 6):
        raise Invalid(f"{version} is not in valid_values")
    return version


INT_MAX = 2**31 - 1  # the columns' width (Neutron's too)


@described({"type": "integer", "minimum": 0, "maximum": INT_MAX})
def quota(value: Any) -> int:
    number = non_negative(value)
    if number > INT_MAX:
        raise Invalid(f"'{value}' is too large - must be no larger than '{INT_MAX}'")
    return number


POOL_SPEC: dict[str, Attr] = {
    **STANDARD,
    "name": Attr(not_empty_name, required=True),
    "prefixes": Attr(prefix_list, required=True),
    "default_quota": Attr(quota),
    "default_prefixlen": Attr(non_negative),
    "min_prefixlen": Attr(non_negative),
    "max_prefixlen": Attr(non_negative),
    "is_default": Attr(to_bool, admin_only=True, default=False),
    "shared": Attr(to_bool, allow_put=False, admin_only=True, default=False),
    "address_scope_id": Attr(nullable(uuid)),
    "tags": Attr(tag_list, allow_put=False),
}
SCOPE_SPEC: dict[str, Attr] = {
    "name": Attr(string(255)),
    "project_id": STANDARD["project_id"],
    "tenant_id": STANDARD["tenant_id"],
    "shared": Attr(to_bool, admin_only=True, default=False),
    "ip_version": Attr(ip_version, allow_put=False, required=True),
}
BOUNDS = ("min_prefixlen", "max_prefixlen", "default_prefixlen")


def pool_not_found(pool_id: str) -> NamedNotFound:
    return NamedNotFound("SubnetPoolNotFound", f"Subnet pool {pool_id} could not be found.")


def scope_not_found(scope_id: str) -> NamedNotFound:
    return NamedNotFound("AddressScopeNotFound", f"Address scope {scope_id} could not be found.")


def _bounds_error(kind: str, value: int, base: str, base_value: int) -> NamedBadRequest:
    return NamedBadRequest(
        "IllegalSubnetPoolPrefixBounds",
        f"Illegal prefix bounds: {kind}={value}, {base}={base_value}.",
    )


def read_pool(attrs: dict[str, Any]) -> dict[str, Any]:
    """The pool's stored values from its attributes (see the module docstring); raises
    Neutron's 400s in Neutron's order."""
    given = attrs["prefixes"]
    if not given:
        raise NamedBadRequest("EmptySubnetPoolPrefixList", "Empty subnet pool prefix list.")
    nets = [px.network(p) for p in given]
    version = nets[0].version
    if any(n.version != version for n in nets):
        raise NamedBadRequest(
            "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."
        )
    low = attrs.get("min_prefixlen")
    low = px.DEFAULT_MIN_PREFIXLEN[version] if low is None else low
    high = attrs.get("max_prefixlen")
    high = px.BITS[version] if high is None else high
    default = attrs.get("default_prefixlen")
    default = low if default is None else default
    if low > high:
        raise _bounds_error("min_prefixlen", low, "max_prefixlen", high)
    if high > px.BITS[version]:
        raise _bounds_error("max_prefixlen", high, "ip_version_max", px.BITS[version])
    if default < low:
        raise _bounds_error("default_prefixlen", default, "min_prefixlen", low)
    if default > high:
        raise _bounds_error("default_prefixlen", default, "max_prefixlen", high)
    return {
        "ip_version": version,
        "prefixes": [str(n) for n in px.compact(nets)],
        "min_prefixlen": low,
        "max_prefixlen": high,
        "default_prefixlen": default,
    }


def check_prefixes_grow(old: list[str], new: list[str]) -> None:
    """An update's prefixes must keep every existing one (removal is ``remove_prefixes``)."""
    old_span = px.span(px.network(p) for p in old)
    new_nets = [px.network(p) for p in new]
    if {n.version for n in new_nets} - {px.network(old[0]).version} or not px.contains(
        px.span(new_nets), old_span
    ):
        raise NamedBadRequest(
            "IllegalSubnetPoolPrefixUpdate",
            "Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.",
        )


def action_prefixes(body: Any) -> list[str]:
    """The body of ``add_prefixes``/``remove_prefixes``: ``{"prefixes": [cidr, ...]}``."""
    wanted = body.get("prefixes") if isinstance(body, dict) else None
    if not wanted or not isinstance(wanted, list):
        raise InvalidInput("Request body contains invalid data")
    try:
        return [prefix(p) for p in wanted]
    except Invalid as exc:
        raise InvalidInput(str(exc)) from None
