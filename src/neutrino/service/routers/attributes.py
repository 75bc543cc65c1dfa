"""The router's request attributes: what a body may say, and who may say it.

Owns the wire-side validation of ``POST``/``PUT /routers`` (``SPEC``) and of the
``add_extraroutes``/``remove_extraroutes`` bodies (``ROUTES_SPEC``): the shape of
``external_gateway_info``, and of ``routes`` (each destination a canonical CIDR, each next hop
an IP address, no route twice), and which keys an ``add/remove_router_interface`` body names
(:func:`interface_keys`). These checks look only at the body, never at the store; whether a
next hop is reachable is the business of :mod:`.routes`.

Policy kept here too, since it is decided from the body alone: setting ``enable_snat`` or
``external_fixed_ips`` of the gateway is admin-only (Neutron's default rules), and so is
``ha`` (``service.policy.check_admin_only``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.ids import is_uuid
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    ip_address,
    list_of,
    nullable,
    schema_of,
    tag_list,
    to_bool,
)
from neutrino.service import availability_zones as az
from neutrino.service.routers.errors import bad

Route = tuple[str, str]


@described(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "network_id": {"type": "string", "format": "uuid"},
            "enable_snat": {"type": "boolean"},
            "external_fixed_ips": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "subnet_id": {"type": "string", "format": "uuid"},
                        "ip_address": schema_of(ip_address),
                    },
                },
            },
        },
    }
)
def _gateway_info(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"'{value}' is not a dictionary")
    if not value:
        return {}  # Neutron: an empty dict clears the gateway, as null does
    unknown = set(value) - {"network_id", "enable_snat", "external_fixed_ips"}
    if unknown:
        raise Invalid(f"Unexpected keys supplied: {', '.join(sorted(unknown))}")
    if "network_id" not in value or not is_uuid(value["network_id"]):
        raise Invalid(f"'{value.get('network_id')}' is not a valid UUID")
    out: dict[str, Any] = {"network_id": value["network_id"]}
    if "enable_snat" in value:
        out["enable_snat"] = to_bool(value["enable_snat"])
    if "external_fixed_ips" in value:
        ips = value["external_fixed_ips"]
        if not isinstance(ips, list) or not all(
            isinstance(i, dict) and i and set(i) <= {"subnet_id", "ip_address"} for i in ips
        ):
            raise Invalid(f"Invalid data format for fixed IP: '{ips}'")
        out["external_fixed_ips"] = [dict(i) for i in ips]
    return out


@described(
    {
        "type": "object",
        "required": ["destination", "nexthop"],
        "additionalProperties": False,
        "properties": {"destination": {"type": "string"}, "nexthop": schema_of(ip_address)},
    }
)
def _route(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != {"destination", "nexthop"}:
        raise Invalid(f"Invalid data format for hostroute: '{value}'")
    dest, hop = value["destination"], value["nexthop"]
    try:
        net = ipaddress.ip_network(dest, strict=False)
    except (TypeError, ValueError):
        raise Invalid(f"'{dest}' is not a valid IP subnet") from None
    if str(net) != dest:
        raise Invalid(f"'{dest}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    try:
        addr = ipaddress.ip_address(hop)
    except (TypeError, ValueError):
        raise Invalid(f"'{hop}' is not a valid IP address") from None
    return {"destination": str(net), "nexthop": str(addr)}


@described({"anyOf": [{"type": "array", "items": schema_of(_route)}, {"type": "null"}]})
def _routes(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []  # Neutron converts a null ``routes`` to an empty list: clears them
    items: list[dict[str, str]] = list_of(_route)(value)
    seen: set[Route] = set()
    for r in items:
        key = (r["destination"], r["nexthop"])
        if key in seen:
            raise Invalid(f"Duplicate hostroute '{r}'")
        seen.add(key)
    return items


@described({"type": ["string", "null"]})
def _flavor_id(value: Any) -> str | None:
    """``l3-flavors``: Neutron validates nothing here; the flavor's lookup answers 404 for
    what names no flavor (``null`` included). Only a string (or null) can name one."""
    if value is not None and not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid string")
    return value


SPEC: dict[str, Attr] = {
    **STANDARD,
    "admin_state_up": Attr(to_bool),
    "external_gateway_info": Attr(nullable(_gateway_info)),
    "routes": Attr(_routes, allow_post=False),
    # l3-ha: admin-only, as Neutron's policy; unset on create takes the server's ``l3_ha``
    "ha": Attr(to_bool, admin_only=True),
    "tags": Attr(tag_list, allow_put=False),
    "availability_zone_hints": Attr(az.hints, allow_put=False),
    "flavor_id": Attr(_flavor_id, allow_put=False),
}
ROUTES_SPEC: dict[str, Attr] = {"routes": Attr(_routes, required=True)}


def interface_keys(body: Any, *, removal: bool) -> tuple[bool, bool]:
    """Neutron's ``_validate_interface_info``: whether the body names a port, a subnet."""
    if not isinstance(body, dict):
        body = {}
    by_port, by_subnet = "port_id" in body, "subnet_id" in body
    if not (by_port or by_subnet):
        raise bad("Either subnet_id or port_id must be specified")
    for key in ("port_id", "subnet_id"):
        if key in body and not is_uuid(body[key]):
            raise bad(f"'{body[key]}' is not a valid UUID")
    if not removal and by_port and by_subnet:
        raise bad("Cannot specify both subnet-id and port-id")
    return by_port, by_subnet
