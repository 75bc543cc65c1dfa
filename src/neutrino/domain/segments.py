"""Segment ranges from configuration and the choice of a free segment id (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VXLAN_OVERHEAD = 50  # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)
"""Bytes VXLAN over IPv4 adds: the one place both the controller and the agents read it."""
MAX_VXLAN_VNI = 2**24 - 1
MAX_VLAN = 4094


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
