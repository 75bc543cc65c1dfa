"""Segment ranges from configuration and the choice of a free segment id (pure).

Network segment ranges (extension ``network-segment-range``): the ids a tenant network may
draw, per network type (and physical network for VLAN). The configured ranges are the
*default* ones, shared by every project; an admin adds shared ranges or ranges of one
project. A project draws first from its own ranges, then from the shared ones minus every
other project's own ranges (``tenant_intervals``), as Neutron's type drivers do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VXLAN_OVERHEAD = 50  # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)
"""Bytes VXLAN over IPv4 adds: the one place both the controller and the agents read it."""
MAX_VXLAN_VNI = 2**24 - 1
MAX_VLAN = 4094
RANGE_TYPES = ("vlan", "vxlan", "gre", "geneve")  # what Neutron's API accepts for a range
RANGED_TYPES = ("vlan", "vxlan")  # what neutrino has type drivers (and so ranges) for
MAX_ID = {"vlan": MAX_VLAN, "vxlan": MAX_VXLAN_VNI}
Interval = tuple[int, int]


@dataclass(frozen=True)
class SegmentConfig:
    vni_ranges: tuple[tuple[int, int], ...]
    vlan_ranges: dict[str, tuple[tuple[int, int], ...]]
    flat_networks: frozenset[str]  # "*" = any physnet
    tenant_network_type: str
    underlay_mtu: int

    @classmethod
    def parse(cls, vni: str, vlan: str, flat: str, tenant_type: str, mtu: int) -> SegmentConfig:
        vlans: dict[str, list[tuple[int, int]]] = {}
        for item in filter(None, (s.strip() for s in vlan.split(","))):
            parts = item.split(":")
            rng = vlans.setdefault(parts[0], [])
            if len(parts) == 3:
                rng.append((int(parts[1]), int(parts[2])))
        return cls(
            vni_ranges=tuple(_ranges(vni)),
            vlan_ranges={k: tuple(v) for k, v in vlans.items()},
            flat_networks=frozenset(s.strip() for s in flat.split(",") if s.strip()),
            tenant_network_type=tenant_type,
            underlay_mtu=mtu,
        )

    def mtu_for(self, network_type: str | None) -> int:
        if network_type == "vxlan":
            return self.underlay_mtu - VXLAN_OVERHEAD
        return self.underlay_mtu

    def flat_allowed(self, physnet: str) -> bool:
        return "*" in self.flat_networks or physnet in self.flat_networks

    def default_ranges(self) -> list[tuple[str, str, int, int]]:
        """(network_type, physical_network or '', minimum, maximum) of every configured range:
        the ``default`` network segment ranges."""
        out = [("vxlan", "", lo, hi) for lo, hi in self.vni_ranges]
        for physnet, ranges in self.vlan_ranges.items():
            out += [("vlan", physnet, lo, hi) for lo, hi in ranges]
        return out


@dataclass(frozen=True)
class SegmentRange:
    """One network segment range as allocation sees it (``project_id`` '' when shared)."""

    minimum: int
    maximum: int
    shared: bool
    project_id: str


def tenant_intervals(
    ranges: Iterable[SegmentRange], project: str
) -> tuple[list[Interval], list[Interval]]:
    """The project's own intervals, and the shared ones it may draw from after them: shared
    ranges minus the ranges other projects own (Neutron's ``get_segments_shared``)."""
    own = sorted((r.minimum, r.maximum) for r in ranges if not r.shared and r.project_id == project)
    shared = sorted((r.minimum, r.maximum) for r in ranges if r.shared)
    others = [(r.minimum, r.maximum) for r in ranges if not r.shared and r.project_id != project]
    return own, subtract(shared, others)


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """``intervals`` (inclusive, possibly overlapping) without the ids in ``holes``."""
    out: list[Interval] = []
    cut = sorted(holes)
    for lo, hi in sorted(intervals):
        pieces = [(lo, hi)]
        for h_lo, h_hi in cut:
            nxt = []
            for p_lo, p_hi in pieces:
                if h_hi < p_lo or h_lo > p_hi:
                    nxt.append((p_lo, p_hi))
                    continue
                if p_lo < h_lo:
                    nxt.append((p_lo, h_lo - 1))
                if h_hi < p_hi:
                    nxt.append((h_hi + 1, p_hi))
            pieces = nxt
        out += pieces
    return out


def range_error(network_type: str, minimum: int, maximum: int) -> str | None:
    """Why (minimum, maximum) is not a valid range of ``network_type`` ids, or None."""
    top = MAX_ID.get(network_type, 2**32 - 1)
    name = "VLAN tag" if network_type == "vlan" else f"{network_type} identifier"
    for value in (minimum, maximum):
        if not 1 <= value <= top:
            return f"{value} is not a valid {name}"
    if maximum < minimum:
        if network_type == "vlan":
            return "End of VLAN range is less than start of VLAN range"
        return "End of tunnel range is less than start of tunnel range"
    return None


def _ranges(spec: str) -> list[tuple[int, int]]:
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        lo, _, hi = item.partition(":")
        out.append((int(lo), int(hi or lo)))
    return out


def first_free(ranges: Iterable[tuple[int, int]], used: set[int]) -> int | None:
    """Lowest id inside the ranges that is not used."""
    for lo, hi in ranges:
        for candidate in range(lo, hi + 1):
            if candidate not in used:
                return candidate
    return None


def in_ranges(ranges: Iterable[tuple[int, int]], value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def device_mtu(network_mtu: int, network_type: str | None, underlay_mtu: int | None) -> int:
    """The MTU a host gives a network's devices, and so tells its VMs (DHCP option 26, RA).

    The network's own MTU, capped for VXLAN by what this host's underlay can carry: the
    controller checked ``network_mtu`` against *its* underlay setting, a host's may be smaller.
    Bridge, taps, router ports and the DHCP server all use this one rule, so a VM is never
    told a larger MTU than its bridge has. ``underlay_mtu`` None: no cap known."""
    if network_type != "vxlan" or underlay_mtu is None:
        return network_mtu
    return min(network_mtu, underlay_mtu - VXLAN_OVERHEAD)
