"""Subnet request attributes: the spec parsed by ``neutrino.domain.attributes`` and the checks
of a create or update that need no database, with Neutron's converters, order and messages.

Format errors are caught while parsing (``Invalid input for <attr>. Reason: ...``, or
``InvalidInput`` raised directly where Neutron's converter does, as for a bad cidr);
``validate_subnet`` then applies Neutron's ``_validate_subnet`` rules (versions of cidr,
gateway, DNS servers and routes; DHCP-incompatible prefixes; IPv6 modes).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from neutrino.common.errors import InvalidInput, NamedBadRequest
from neutrino.domain import ipam as ip
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    ip_address,
    nullable,
    nullable_objects,
    schema_of,
    tag_list,
    to_bool,
    to_int,
    uuid,
)
from neutrino.domain.service_types import service_types

PD_POOL_ID = "prefix_delegation"
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20


@described({"type": ["string", "null"]})
def _cidr(value: Any) -> str | None:
    """``convert_cidr_to_canonical_format``: any spelling ``ipaddress`` reads as an interface
    (host bits kept; ``10.0.0.0`` means /32), else InvalidInput like sample 38."""
    if value is None:
        return None
    try:
        iface = ipaddress.ip_interface(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{value} is not in a CIDR format") from None
    return f"{iface.ip}/{iface.network.prefixlen}"


@described({"enum": [4, 6]})
def _ip_version(value: Any) -> int:
    version = to_int(value)
    if version not in (4, 6):
        raise Invalid(f"{version} is not in valid_values")
    return version


@described({"enum": [*ip.IPV6_MODES, None]})
def _ipv6_mode(value: Any) -> str | None:
    if value is not None and value not in ip.IPV6_MODES:
        raise Invalid(f"{value} is not in valid_values")
    return value  # type: ignore[no-any-return]


@described(
    {"anyOf": [{"type": "string", "format": "uuid"}, {"const": PD_POOL_ID}, {"type": "null"}]}
)
def _subnetpool_id(value: Any) -> str | None:
    return value if value is None or value == PD_POOL_ID else uuid(value)


@described({"type": "integer", "minimum": 0})
def _non_negative(value: Any) -> int:
    number = to_int(value)
    if number < 0:
        raise Invalid(f"'{value}' should be non-negative")
    return number


def _dict_with(keys: list[str], value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"Invalid input. '{value}' must be a dictionary with keys: {keys}")
    if set(value) != set(keys):
        raise Invalid(
            f"Validation of dictionary's keys failed. Expected keys: {set(keys)} "
            f"Provided keys: {set(value)}"
        )
    return value


@described(
    nullable_objects(
        ["start", "end"], {"start": schema_of(ip_address), "end": schema_of(ip_address)}
    )
)
def _pools(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"Invalid data format for IP pool: '{value}'")
    return [{k: ip_address(v) for k, v in _dict_with(["start", "end"], p).items()} for p in value]


@described({"anyOf": [{"type": "array", "items": schema_of(ip_address)}, {"type": "null"}]})
def _nameservers(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"Invalid data format for nameserver: '{value}'")
    out: list[str] = []
    for host in value:
        try:
            address = ip_address(host)
        except Invalid as exc:
            raise Invalid(f"'{host}' is not a valid nameserver. {exc}") from None
        if address in out:
            raise Invalid(f"Duplicate nameserver '{host}'")
        out.append(address)
    return out


def _route_cidr(value: Any) -> str:
    try:
        net = ipaddress.ip_network(value) if isinstance(value, str) and "/" in value else None
    except ValueError:
        net = None
    if net is None:
        raise Invalid(f"'{value}' is not a valid CIDR")
    if net.is_loopback:
        raise Invalid(f"'{value}' is not a routable CIDR")
    return str(net)


@described(
    nullable_objects(
        ["destination", "nexthop"],
        {"destination": {"type": "string"}, "nexthop": schema_of(ip_address)},
    )
)
def _host_routes(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"Invalid data format for hostroute: '{value}'")
    out: list[dict[str, str]] = []
    for route in value:
        route = _dict_with(["destination", "nexthop"], route)
        clean = {
            "destination": _route_cidr(route["destination"]),
            "nexthop": ip_address(route["nexthop"]),
        }
        if clean in out:
            raise Invalid(f"Duplicate hostroute '{route}'")
        out.append(clean)
    return out


SPEC: dict[str, Attr] = {
    **STANDARD,
    "network_id": Attr(uuid, allow_put=False, required=True),
    "ip_version": Attr(_ip_version, allow_put=False, required=True),
    "cidr": Attr(_cidr, allow_put=False),
    "prefixlen": Attr(_non_negative, allow_put=False),
    "subnetpool_id": Attr(_subnetpool_id, allow_put=False),
    "use_default_subnetpool": Attr(to_bool, allow_put=False),
    "gateway_ip": Attr(nullable(ip_address)),
    "allocation_pools": Attr(_pools),
    "dns_nameservers": Attr(_nameservers),
    "host_routes": Attr(_host_routes),
    "enable_dhcp": Attr(to_bool),
    "ipv6_ra_mode": Attr(_ipv6_mode, allow_put=False),
    "ipv6_address_mode": Attr(_ipv6_mode, allow_put=False),
    "tags": Attr(tag_list, allow_put=False),
    "segment_id": Attr(nullable(uuid), admin_only=True),
    "service_types": Attr(service_types),  # subnet-service-types (``domain.service_types``)
}


def _version_of(name: str, value: str, version: int) -> None:
    try:
        actual: int = ipaddress.ip_network(value, strict=False).version
    except ValueError:
        actual = 0
    if actual != version:
        raise InvalidInput(f"{name} '{value}' does not match the ip_version '{version}'")


def validate_subnet(
    attrs: Mapping[str, Any],
    net: ip.Network,
    version: int,
    current: Mapping[str, Any] | None = None,
) -> None:
    """Neutron's ``_validate_subnet``: the checks of a create (``current`` None) or an update
    that need no database, in Neutron's order."""
    _version_of("cidr", str(net), version)
    if version == 6 and int(net.network_address) == 0:
        raise InvalidInput("IPv6 subnet '::' is not supported")
    dhcp = attrs.get("enable_dhcp", current is None)
    if dhcp and not (current and current["enable_dhcp"]):
        _check_dhcp_prefix(net)
    gateway = attrs.get("gateway_ip")
    if gateway:
        _version_of("gateway_ip", gateway, version)
        if ip.gateway_invalid(net, ip.to_int(gateway)):
            raise InvalidInput("Gateway is not valid on subnet")
    subject = current["id"] if current else "new subnet"
    servers = attrs.get("dns_nameservers") or []
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise NamedBadRequest(
            "DNSNameServersExhausted",
            f"Unable to complete operation for "
            f"{subject}. The number of DNS nameservers exceeds the limit "
            f"{MAX_DNS_NAMESERVERS}.",
        )
    for server in servers:
        _version_of("dns_nameserver", server, version)
    routes = attrs.get("host_routes") or []
    if len(routes) > MAX_HOST_ROUTES:
        raise NamedBadRequest(
            "HostRoutesExhausted",
            f"Unable to complete operation for "
            f"{subject}. The number of host routes exceeds the limit "
            f"{MAX_HOST_ROUTES}.",
        )
    for route in routes:
        _version_of("nexthop", route["nexthop"], version)
        _version_of("destination", route["destination"], version)
    ra, mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if version == 4:
        for name, value in (("ipv6_ra_mode", ra), ("ipv6_address_mode", mode)):
            if value is not None:
                raise InvalidInput(f"{name} is not valid when ip_version is 4")
    elif current is not None:
        if attrs.get("enable_dhcp") is False and (
            current["ipv6_ra_mode"] or current["ipv6_address_mode"]
        ):
            raise InvalidInput("Cannot disable enable_dhcp with ipv6 attributes set")
    elif ra or mode:
        _check_ipv6_modes(net, ra, mode, bool(dhcp))


def _check_dhcp_prefix(net: ip.Network) -> None:
    if net.prefixlen > (30 if net.version == 4 else 126):
        raise InvalidInput(
            "Subnet has a prefix length that is incompatible with DHCP service enabled"
        )
    if net.is_multicast:
        raise InvalidInput("Multicast IP subnet is not supported if enable_dhcp is True")
    if net.is_loopback:
        raise InvalidInput("Loopback IP subnet is not supported if enable_dhcp is True")
    if net.version == 4 and int(net.network_address) == 0:
        raise InvalidInput("First IP '0.0.0.0' of network is not supported if enable_dhcp is True.")


def _check_ipv6_modes(net: ip.Network, ra: str | None, mode: str | None, dhcp: bool) -> None:
    if not dhcp:
        raise InvalidInput(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
        )
    if ra and mode and ra != mode:
        raise InvalidInput(
            f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to "
            f"'{mode}' is not valid. If both attributes are set, they must be "
            f"the same value"
        )
    if ip.is_auto_address(ra, mode) and net.prefixlen != 64:
        raise InvalidInput(
            f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the "
            f"EUI-64 address format, which requires the prefix to be /64"
        )
