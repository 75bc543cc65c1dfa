"""IPAM arithmetic: pure functions over integer addresses and inclusive intervals.

An address is an ``int``; a range is an inclusive ``(first, last)`` interval; a subnet is an
``ipaddress`` network. Nothing here does I/O: the store hands in sorted used addresses, this
module answers which addresses are free, picks one, builds default pools, validates requested
pools and computes EUI-64 addresses, with Neutron's rules and messages:

- usable range: IPv4 /30 and larger exclude the network and broadcast addresses, /31 and /32
  use every address; IPv6 excludes only the subnet-router anycast address (``prefix::``);
- default gateway: the first host for IPv4, ``prefix::`` for IPv6; default pools are the usable
  range minus the gateway (a single-address subnet keeps its one address);
- requested pools must be well formed, inside the usable range and disjoint (and must not
  contain the gateway, see ``check_gateway_outside``).

Sorting key: ``key(address, version)`` is fixed-width hex, so string order equals numeric order
within one IP version; the store indexes it to read used addresses of a range in order.

Picking: ``pick`` takes a random address among the first ``window`` free ones. Concurrent
allocators therefore rarely collide, and when they do the database's unique key rejects the
loser, whose transaction is retried (see ``neutrino.service.ipam``).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from neutrino.common.errors import BadRequest, NamedBadRequest, NamedConflict

Interval = tuple[int, int]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ROUTER_INTERFACE_OWNERS = frozenset(
    {
        "network:router_interface",
        "network:ha_router_replicated_interface",
        "network:router_interface_distributed",
    }
)
ROUTER_INTERFACE_OWNERS_SNAT = ROUTER_INTERFACE_OWNERS | {"network:router_centralized_snat"}
ROUTER_PORT_OWNERS = ROUTER_INTERFACE_OWNERS | {"network:router_gateway"}
IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")
AUTO_ADDRESS_MODES = frozenset({"slaac", "dhcpv6-stateless"})
KEY_WIDTH = {4: 8, 6: 32}


# --- addresses -------------------------------------------------------------------------------


def network(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def to_int(address: str) -> int:
    return int(ipaddress.ip_address(address))


def parse(address: str) -> tuple[int, int]:
    """(value, version) of an address."""
    value = ipaddress.ip_address(address)
    return int(value), value.version


def to_text(value: int, version: int) -> str:
    if version == 4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))


def is_eui64(address: str) -> bool:
    """Does the address look EUI-64 derived (``ff:fe`` in the middle of its interface id)?"""
    value = ipaddress.ip_address(address)
    return value.version == 6 and (int(value) >> 24) & 0xFFFF == 0xFFFE


def key(value: int, version: int) -> str:
    """Fixed-width hex: lexicographic order equals numeric order within one IP version."""
    return format(value, f"0{KEY_WIDTH[version]}x")


def key_of(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return key(int(ip), ip.version)


def from_key(text: str) -> int:
    return int(text, 16)


def format_range(interval: Interval, version: int) -> str:
    """Neutron (netaddr ``IPRange``) spelling of a range: ``first-last``."""
    return f"{to_text(interval[0], version)}-{to_text(interval[1], version)}"


def is_auto_address(ra_mode: str | None, address_mode: str | None) -> bool:
    """SLAAC and DHCPv6-stateless subnets give every port an EUI-64 address."""
    return ra_mode in AUTO_ADDRESS_MODES or address_mode in AUTO_ADDRESS_MODES


def eui64(net: Network, mac: str) -> int:
    """The EUI-64 address of ``mac`` in the prefix of ``net`` (RFC 4291 appendix A)."""
    octets = bytes(int(part, 16) for part in mac.replace("-", ":").split(":"))
    if len(octets) != 6:
        raise ValueError(f"'{mac}' is not a MAC address")
    interface_id = bytes([octets[0] ^ 0x02, *octets[1:3], 0xFF, 0xFE, *octets[3:]])
    return int(net.network_address) + int.from_bytes(interface_id, "big")


LINK_LOCAL = ipaddress.IPv6Network("fe80::/64")


def link_local(mac: str) -> str:
    """The EUI-64 link-local address of ``mac``: fa:16:3e:00:00:11 -> fe80::f816:3eff:fe00:11."""
    return str(ipaddress.IPv6Address(eui64(LINK_LOCAL, mac)))


# --- subnet layout ---------------------------------------------------------------------------


def default_gateway(net: Network) -> int:
    """Neutron's default: the first host for IPv4 (even when outside a /32), ``prefix::``
    for IPv6."""
    base = int(net.network_address)
    return base + 1 if net.version == 4 else base


def usable_range(net: Network) -> Interval:
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        return (first + 1, last - 1) if net.prefixlen <= 30 else (first, last)
    return (first + 1, last)


def default_pools(net: Network, gateway: int | None) -> list[Interval]:
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:
        return [(first, last)]
    return remove(*usable_range(net), gateway)


def remove(lo: int, hi: int, point: int | None) -> list[Interval]:
    """``[lo, hi]`` without ``point``, as up to two intervals."""
    if point is None or not lo <= point <= hi:
        return [(lo, hi)] if lo <= hi else []
    return [iv for iv in ((lo, point - 1), (point + 1, hi)) if iv[0] <= iv[1]]


def gateway_invalid(net: Network, gateway: int) -> bool:
    """An IPv4 gateway cannot be the network or broadcast address (outside the cidr is fine)."""
    return net.version == 4 and gateway in (int(net.network_address), int(net.broadcast_address))


def valid_for_subnet(net: Network, address: int, device_owner: str = "") -> bool:
    """May ``address`` be a fixed IP on the subnet? Not the IPv4 network/broadcast address;
    IPv6 ``prefix::`` only for router ports (or an owner-less request, as Neutron allows)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if not first <= address <= last:
        return False
    if net.version == 6:
        return address != first or device_owner in ROUTER_PORT_OWNERS or device_owner == ""
    if net.prefixlen > 30:
        return True
    return address not in (first, last)


def parse_pools(net: Network, raw: Sequence[Mapping[str, Any]]) -> list[Interval]:
    """Requested ``[{"start", "end"}]`` pools as sorted intervals, or the error Neutron gives:
    InvalidAllocationPool (400), OutOfBoundsAllocationPool (400), OverlappingAllocationPools
    (409)."""
    cidr = str(net)
    pools: list[Interval] = []
    for pool in raw:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != end.version or int(start) > int(end):
            raise _invalid_pool(str(dict(pool)))
        interval = (int(start), int(end))
        if start.version != net.version:
            raise _invalid_pool(format_range(interval, start.version))
        lo, hi = usable_range(net)
        if interval[0] < lo or interval[1] > hi:
            raise NamedBadRequest(
                "OutOfBoundsAllocationPool",
                f"The allocation pool {format_range(interval, net.version)} "
                f"spans beyond the subnet cidr {cidr}.",
            )
        pools.append(interval)
    for i, left in enumerate(pools):
        for right in pools[i + 1 :]:
            if left[0] <= right[1] and right[0] <= left[1]:
                raise NamedConflict(
                    "OverlappingAllocationPools",
                    f"Found overlapping allocation pools: {format_range(left, net.version)} "
                    f"{format_range(right, net.version)} for subnet {cidr}.",
                )
    return sorted(pools)


def _invalid_pool(text: str) -> BadRequest:
    return NamedBadRequest("InvalidAllocationPool", f"The allocation pool {text} is not valid.")


def check_gateway_outside(gateway: int | None, pools: Iterable[Interval], version: int) -> None:
    if gateway is None:
        return
    for pool in pools:
        if pool[0] <= gateway <= pool[1]:
            raise NamedConflict(
                "GatewayConflictWithAllocationPools",
                f"Gateway ip {to_text(gateway, version)} conflicts with "
                f"allocation pool {format_range(pool, version)}.",
            )


def overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)


# --- free addresses and the pick -------------------------------------------------------------


def gaps(lo: int, hi: int, used: Iterable[int]) -> Iterator[Interval]:
    """Free intervals of ``[lo, hi]`` given ascending used addresses (others are ignored)."""
    cursor = lo
    for address in used:
        if address < cursor:
            continue
        if address > hi:
            break
        if address > cursor:
            yield (cursor, address - 1)
        cursor = address + 1
    if cursor <= hi:
        yield (cursor, hi)


def take(intervals: Iterable[Interval], count: int) -> list[Interval]:
    """The first ``count`` addresses of ``intervals``, as intervals."""
    out: list[Interval] = []
    for first, last in intervals:
        if count <= 0:
            break
        last = min(last, first + count - 1)
        out.append((first, last))
        count -= last - first + 1
    return out


def size(intervals: Iterable[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def free_intervals(pools: Iterable[Interval], used: Iterable[int], limit: int) -> list[Interval]:
    """The first ``limit`` free addresses of ``pools`` (in pool order) given used ones."""
    used_sorted = sorted(set(used))
    out: list[Interval] = []
    for lo, hi in pools:
        out.extend(take(gaps(lo, hi, used_sorted), limit - size(out)))
        if size(out) >= limit:
            break
    return out


def pick(free: Sequence[Interval], window: int, rng: random.Random | None = None) -> int | None:
    """A random address among the first ``window`` addresses of ``free``; None if empty."""
    candidates = take(free, max(window, 1))
    total = size(candidates)
    if total == 0:
        return None
    offset = (rng or random).randrange(total)
    for first, last in candidates:
        span = last - first + 1
        if offset < span:
            return first + offset
        offset -= span
    raise AssertionError("unreachable")
