"""Prefix arithmetic for subnet pools: pure functions over CIDRs and inclusive intervals.

A pool owns a set of prefixes; the subnets carved from it hold some of that space. Both sides
become sorted, merged integer intervals (``span``), so "what is free" is one interval
subtraction and "is this inside, does that overlap" are interval questions, whatever the
number of prefixes. Free space goes back to CIDRs (``blocks``) only when an allocation needs
them, as Neutron's ``IPSet`` does:

- ``compact``: the fewest CIDRs covering exactly the union of the given ones (overlapping and
  adjacent prefixes merged: 10.0.0.0/25 + 10.0.0.128/25 -> 10.0.0.0/24), in address order;
- ``allocate_any``: best fit — of the free blocks, the smallest one that can hold the
  requested prefix length (ties: the lowest address), and the first subnet of it, so large
  free blocks stay whole for large requests;
- ``allocate_specific``: a requested CIDR is granted only if it lies inside free space;
- ``quota_units``: a pool's ``default_quota`` counts IPv4 addresses and IPv6 /64s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from neutrino.domain.ipam import Interval, Network

QUOTA_UNIT = {4: 32, 6: 64}  # a quota unit is one IPv4 address, or one IPv6 /64
BITS = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}


def network(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def interval(net: Network) -> Interval:
    return int(net.network_address), int(net.broadcast_address)


def stored_interval(cidr: str) -> Interval:
    """The interval of a canonical CIDR as the store keeps them (network address, no host
    bits): parsing only the address is several times cheaper than a full network, and
    allocation reads every subnet a pool has handed out."""
    address, _, length = cidr.partition("/")
    first = int(ipaddress.ip_address(address))
    return first, first + (1 << ((128 if ":" in address else 32) - int(length))) - 1


def span(nets: Iterable[Network]) -> list[Interval]:
    """The union of ``nets`` as sorted, disjoint, non-adjacent intervals."""
    return merge(interval(n) for n in nets)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for first, last in sorted(intervals):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def subtract(have: Sequence[Interval], taken: Sequence[Interval]) -> list[Interval]:
    """``have`` minus ``taken`` (both as ``span`` returns them)."""
    out: list[Interval] = []
    j = 0
    for first, last in have:
        cursor = first
        while j < len(taken) and taken[j][1] < cursor:
            j += 1
        k = j
        while k < len(taken) and taken[k][0] <= last:
            if taken[k][0] > cursor:
                out.append((cursor, taken[k][0] - 1))
            cursor = max(cursor, taken[k][1] + 1)
            k += 1
        if cursor <= last:
            out.append((cursor, last))
    return out


def blocks(intervals: Iterable[Interval], version: int) -> list[Network]:
    """The CIDRs exactly covering ``intervals``, in address order."""
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out: list[Network] = []
    for first, last in intervals:
        out.extend(ipaddress.summarize_address_range(make(first), make(last)))
    return out


def compact(nets: Iterable[Network]) -> list[Network]:
    listed = list(nets)
    if not listed:
        return []
    return blocks(span(listed), listed[0].version)


def contains(outer: Sequence[Interval], inner: Sequence[Interval]) -> bool:
    """Whether every interval of ``inner`` lies inside ``outer`` (both as ``span`` returns)."""
    return not subtract(inner, outer)


def overlap(a: Sequence[Interval], b: Sequence[Interval]) -> bool:
    """Whether the two unions share an address."""
    return subtract(a, b) != list(a)


def free(prefixes: Iterable[str], allocated: Iterable[str]) -> list[Interval]:
    """A pool's free space from its stored prefixes and the cidrs it has handed out."""
    return subtract(merge(map(stored_interval, prefixes)), merge(map(stored_interval, allocated)))


def allocate_any(free_space: Sequence[Interval], prefixlen: int, version: int) -> Network | None:
    """Best fit: the first subnet of the smallest free block that holds a /``prefixlen``."""
    best: Network | None = None
    for block in blocks(free_space, version):
        if block.prefixlen <= prefixlen and (best is None or block.prefixlen > best.prefixlen):
            best = block
            if best.prefixlen == prefixlen:
                break
    if best is None:
        return None
    return ipaddress.ip_network(f"{best.network_address}/{prefixlen}")


def allocate_specific(free_space: Sequence[Interval], net: Network) -> bool:
    return contains(free_space, [interval(net)])


def quota_units(prefixlen: int, version: int) -> float:
    """How much of a ``default_quota`` a /``prefixlen`` takes (a float: an IPv6 prefix longer
    than /64 takes a fraction of a unit, as in Neutron)."""
    return 2.0 ** (QUOTA_UNIT[version] - prefixlen)
