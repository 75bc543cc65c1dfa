"""The agent's calculation types: what calc reads (host state) and what it renders (L2 objects).

Input. calc reads ``neutrino.domain.hoststate.HostState`` (the controller → agent contract,
which also owns the kernel naming functions) plus this host's static ``AgentConfig``.

Output. ``L2State`` is the complete desired set of kernel L2 objects owned by neutrino on one
host: bridges ``brq<net[:11]>``, VXLAN devices ``vxlan-<vni>``, VLAN sub-interfaces (a VLAN
network's ``<physical>.<vid>``, a trunk sub-port's ``tap<sub-port[:11]>`` on its parent's tap),
port attachments (``tap<port[:11]>``, a flat network's physical interface, a VLAN
sub-interface) and the FDB / neighbour entries of each VXLAN device.
All specs are frozen values, so the dataplane manager can compare desired with current by
equality and touch only what differs.

This module imports nothing from the dataplane (DESIGN.md: calc never imports dataplane);
the dataplane imports these specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FLOOD_MAC = "00:00:00:00:00:00"
"""The all-zero MAC: an FDB entry with it on a VXLAN device adds a VTEP to the BUM flood list."""

BRIDGE_PREFIX = "brq"
VXLAN_PREFIX = "vxlan-"
TAP_PREFIX = "tap"
OWNED_PREFIXES: tuple[str, ...] = (BRIDGE_PREFIX, VXLAN_PREFIX, TAP_PREFIX)


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentConfig:
    """This host's static configuration: its tunnel endpoint and physical mappings."""

    local_ip: str
    underlay_dev: str
    underlay_mtu: int = 1500
    physical_interfaces: dict[str, str] = field(default_factory=dict)
    # the kernel makes VLAN sub-interfaces (8021q, probed at start): VLAN provider networks
    # and trunk sub-ports are wired only then
    vlan: bool = False


# --- output ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeSpec:
    """A tenant bridge ``brq…`` (multicast snooping off, so it never talks into the network)."""

    name: str
    mtu: int


@dataclass(frozen=True)
class VxlanSpec:
    """A unicast VXLAN device in l2population mode (nolearning + proxy) enslaved to ``bridge``."""

    name: str
    vni: int
    local_ip: str
    dev: str
    mtu: int
    bridge: str


@dataclass(frozen=True)
class VlanSpec:
    """An 802.1Q sub-interface ``name`` of device ``link`` with tag ``vlan_id``: a VLAN
    provider network's ``<physical>.<vid>`` or a trunk sub-port's ``tap<sub-port[:11]>`` on
    its parent's tap. Either is then an attachment of its network's bridge."""

    name: str
    link: str
    vlan_id: int


@dataclass(frozen=True)
class AttachmentSpec:
    """Device ``name`` enslaved to ``bridge``; ``mtu`` None means leave the MTU alone; ``mac``
    is the port's (a VM's tap), None for an uplink."""

    name: str
    bridge: str
    mtu: int | None
    mac: str | None = None


@dataclass(frozen=True, order=True)
class FdbEntry:
    """A VXLAN FDB entry: ``mac`` (or FLOOD_MAC for the flood list) reached via VTEP ``dst``."""

    device: str
    mac: str
    dst: str

    @property
    def is_flood(self) -> bool:
        return self.mac == FLOOD_MAC


@dataclass(frozen=True, order=True)
class NeighEntry:
    """A permanent neighbour entry on a VXLAN device, answered locally by its ``proxy``."""

    device: str
    ip: str
    mac: str


@dataclass(frozen=True)
class L2State:
    """Every L2 kernel object neutrino wants on one host, keyed by device name."""

    bridges: dict[str, BridgeSpec] = field(default_factory=dict)
    vxlans: dict[str, VxlanSpec] = field(default_factory=dict)
    attachments: dict[str, AttachmentSpec] = field(default_factory=dict)
    fdb: frozenset[FdbEntry] = frozenset()
    neigh: frozenset[NeighEntry] = frozenset()
    vlans: dict[str, VlanSpec] = field(default_factory=dict)
    # the physical interfaces whose VLAN sub-interfaces on a ``brq`` bridge are neutrino's
    vlan_uplinks: frozenset[str] = frozenset()
