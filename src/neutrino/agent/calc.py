"""Pure calculation: host state in, desired L2 kernel objects out.

``compute_l2`` renders the whole desired L2 state of one host from the controller's
``HostState`` (``neutrino.domain.hoststate``: networks here, ports bound here, l2population
data) and this host's ``AgentConfig``. It has no side effects and never imports the dataplane;
the dataplane's L2 manager diffs its result against the kernel.

Rules (DESIGN.md "Data plane", DATAPLANE.md §1):

* A network gets kernel objects only while at least one admin-up port of it is bound here;
  otherwise it renders nothing, so the manager tears its bridge and VXLAN down. An admin-down
  port is not attached (the manager releases its tap from the bridge).
* Per network: bridge ``brq<net[:11]>`` with the network's MTU. A ``vxlan`` network adds
  ``vxlan-<vni>`` (local = this host's tunnel IP, on the underlay device) with an MTU capped at
  the underlay MTU minus the VXLAN overhead (1450 on 1500). A ``flat`` network attaches the
  physical interface mapped to its physnet (its MTU left alone); a ``vlan`` network attaches
  that interface's 802.1Q sub-interface ``<physical>.<vid>`` (made by the agent; Neutron's
  linuxbridge ``physical_interface_mappings`` model). Networks this host cannot serve (an
  unmapped physnet; ``vlan`` on a kernel without 8021q, ``AgentConfig.vlan`` false) render
  nothing.
* Per local port: ``tap<port[:11]>`` attached to its bridge with the network's MTU.
* A trunk's sub-port (``trunk_parent``/``vlan_id`` set) is not a VM's tap: its
  ``tap<sub-port[:11]>`` is a VLAN sub-interface of the parent's tap with the sub-port's tag,
  made by the agent and attached to the sub-port network's bridge (Neutron linuxbridge's
  trunk driver). It is rendered only while the parent is wired here and the kernel can tag;
  the controller never binds a sub-port to a host that cannot.
* Per VXLAN network present here: one all-zero flood entry per remote VTEP (DHCP and other
  broadcasts), and per remote port a unicast FDB entry to its VTEP plus a neighbour entry per
  IP address (the VXLAN ``proxy`` answers ARP and IPv6 neighbour solicitations from them),
  and the same for each address it announces (a one-address allowed address pair, with the
  pair's MAC; a router gateway's floating IPs);
  a remote port with an IPv6 address also gets its EUI-64 link-local address (VMs resolve
  each other's and routers' link-local addresses). Our own VTEP is always skipped. The VXLAN
  device carries IPv6 neighbours because the kernel side creates it with ``addrgenmode none``
  and IPv6 on (no address of its own, so it never talks into the network).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from neutrino.agent.model import (
    FLOOD_MAC,
    AgentConfig,
    AttachmentSpec,
    BridgeSpec,
    FdbEntry,
    L2State,
    NeighEntry,
    VlanSpec,
    VxlanSpec,
)
from neutrino.domain.hoststate import (
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    bridge_name,
    tap_name,
    vlan_subinterface_name,
    vxlan_name,
)
from neutrino.domain.ipam import link_local
from neutrino.domain.segments import device_mtu

__all__ = ["L2Calc", "compute_l2"]


def compute_l2(state: HostState, config: AgentConfig) -> L2State:
    """The complete desired L2 state of this host, from scratch (see the module docstring
    for the rules)."""
    return L2Calc(config).compute(state)


@dataclass
class _Net:
    """One network's share of the L2 state, and what it was rendered from."""

    network: NetworkState
    pop: L2Pop | None
    brq: str | None = None  # None: this host cannot serve it (it renders nothing)
    mtu: int = 0
    bridges: dict[str, BridgeSpec] = field(default_factory=dict)
    vxlans: dict[str, VxlanSpec] = field(default_factory=dict)
    vlans: dict[str, VlanSpec] = field(default_factory=dict)
    uplinks: dict[str, AttachmentSpec] = field(default_factory=dict)
    fdb: frozenset[FdbEntry] = frozenset()
    neigh: frozenset[NeighEntry] = frozenset()
    taps: dict[str, AttachmentSpec] = field(default_factory=dict)  # its ports' taps


class L2Calc:
    """``compute_l2`` with memory: a round renders only the networks, l2pop entries and
    ports that differ from the last round's (``HostState.patched`` keeps untouched items as
    the same objects: compared by identity, else by equality). One per agent."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self._ports: tuple[PortState, ...] | None = None
        self._seen: dict[str, PortState] = {}
        self._up: dict[str, dict[str, PortState]] = defaultdict(dict)  # admin-up, by network
        self._subports: dict[str, PortState] = {}
        self._nets: dict[str, _Net] = {}

    def compute(self, state: HostState) -> L2State:
        """The complete desired L2 state of ``state`` (equal to ``compute_l2``)."""
        dirty = self._changed_ports(state)
        pops = {pop.network_id: pop for pop in state.l2pop}
        nets: dict[str, _Net] = {}
        for network in state.networks:
            if not self._up.get(network.id):
                continue
            net, pop = self._nets.get(network.id), pops.get(network.id)
            if net is None or not _same(net.network, network):
                net = self._render_net(network, pop)
                dirty[network.id] = set(self._up[network.id])
            elif not _same(net.pop, pop):
                net.pop = pop
                self._render_pop(net)
            for pid in dirty.get(network.id, ()):
                self._render_tap(net, pid)
            nets[network.id] = net
        self._nets = nets
        attachments: dict[str, AttachmentSpec] = {}
        vlans: dict[str, VlanSpec] = {}
        for net in nets.values():
            attachments.update(net.uplinks)
            attachments.update(net.taps)
            vlans.update(net.vlans)
        subports = tuple(sorted(self._subports.values(), key=lambda p: p.id))
        _render_subports(subports, self.config, attachments, vlans)
        config = self.config
        return L2State(
            bridges={k: v for net in nets.values() for k, v in net.bridges.items()},
            vxlans={k: v for net in nets.values() for k, v in net.vxlans.items()},
            attachments=attachments,
            fdb=frozenset().union(*(net.fdb for net in nets.values())),
            neigh=frozenset().union(*(net.neigh for net in nets.values())),
            vlans=vlans,
            vlan_uplinks=frozenset(config.physical_interfaces.values())
            if config.vlan
            else frozenset(),
        )

    def _changed_ports(self, state: HostState) -> dict[str, set[str]]:
        """Networks -> ids of their admin-up ports to render again (the index updated); only
        the ports the state's patch touched are compared, when it was patched from ours."""
        dirty: dict[str, set[str]] = defaultdict(set)
        ports: dict[str, PortState] = state.indexed("ports")
        touched = state.touched("ports", self._ports)
        for pid in set(ports) | self._seen.keys() if touched is None else touched:
            port, had = ports.get(pid), self._seen.get(pid)
            if had is port or (had is not None and had == port):
                continue
            if had is not None:
                self._forget(self._seen.pop(pid), dirty)
            if port is None:
                continue
            self._seen[pid] = port
            if port.admin_state_up:
                self._up[port.network_id][pid] = port
                dirty[port.network_id].add(pid)
            if port.trunk_parent is not None and port.vlan_id is not None:
                self._subports[pid] = port
        self._ports = state.ports
        return dirty

    def _forget(self, port: PortState, dirty: dict[str, set[str]]) -> None:
        if self._up[port.network_id].pop(port.id, None) is not None:
            dirty[port.network_id].add(port.id)
        self._subports.pop(port.id, None)

    def _render_net(self, network: NetworkState, pop: L2Pop | None) -> _Net:
        config, net = self.config, _Net(network, pop)
        mtu = device_mtu(network.mtu, network.network_type, config.underlay_mtu)
        brq = bridge_name(network.id)
        physical = config.physical_interfaces.get(network.physical_network or "")
        if network.network_type == "vxlan" and network.segmentation_id is not None:
            vx = VxlanSpec(
                name=vxlan_name(network.segmentation_id),
                vni=network.segmentation_id,
                local_ip=config.local_ip,
                dev=config.underlay_dev,
                mtu=mtu,
                bridge=brq,
            )
            net.vxlans[vx.name] = vx
        elif network.network_type == "flat" and physical is not None:
            net.uplinks[physical] = AttachmentSpec(name=physical, bridge=brq, mtu=None)
        elif (
            network.network_type == "vlan"
            and config.vlan
            and network.segmentation_id is not None
            and physical is not None
        ):
            uplink = vlan_subinterface_name(physical, network.segmentation_id)
            net.vlans[uplink] = VlanSpec(uplink, physical, network.segmentation_id)
            net.uplinks[uplink] = AttachmentSpec(name=uplink, bridge=brq, mtu=None)
        else:
            return net
        net.brq, net.mtu = brq, mtu
        net.bridges[brq] = BridgeSpec(name=brq, mtu=mtu)
        self._render_pop(net)
        return net

    def _render_pop(self, net: _Net) -> None:
        fdb: set[FdbEntry] = set()
        neigh: set[NeighEntry] = set()
        for vx in net.vxlans.values():
            if net.pop is not None:
                _render_l2pop(vx.name, net.pop, self.config.local_ip, fdb, neigh)
        net.fdb, net.neigh = frozenset(fdb), frozenset(neigh)

    def _render_tap(self, net: _Net, pid: str) -> None:
        port = self._up[net.network.id].get(pid)
        tap = tap_name(pid)
        if port is None or net.brq is None:
            net.taps.pop(tap, None)
        else:
            net.taps[tap] = AttachmentSpec(tap, net.brq, net.mtu, port.mac_address.lower())


def _same(a: object, b: object) -> bool:
    return a is b or a == b


def _render_subports(
    ports: tuple[PortState, ...],
    config: AgentConfig,
    attachments: dict[str, AttachmentSpec],
    vlans: dict[str, VlanSpec],
) -> None:
    """Make each trunk sub-port's tap a VLAN sub-interface of its parent's tap, or drop its
    attachment when that cannot be (no 8021q, or the parent is not wired here)."""
    for port in ports:
        if port.trunk_parent is None or port.vlan_id is None:
            continue
        tap, parent = tap_name(port.id), tap_name(port.trunk_parent)
        if config.vlan and tap in attachments and parent in attachments:
            vlans[tap] = VlanSpec(tap, parent, port.vlan_id)
        else:
            attachments.pop(tap, None)


def _render_l2pop(
    device: str, pop: L2Pop, local_ip: str, fdb: set[FdbEntry], neigh: set[NeighEntry]
) -> None:
    """Add the flood, unicast FDB and neighbour entries of one VXLAN network's remote ports."""
    vteps = set(pop.vteps) | {port.vtep for port in pop.ports}
    for vtep in vteps - {local_ip}:
        fdb.add(FdbEntry(device=device, mac=FLOOD_MAC, dst=vtep))
    for port in pop.ports:
        if port.vtep == local_ip:
            continue
        mac = port.mac_address.lower()
        fdb.add(FdbEntry(device=device, mac=mac, dst=port.vtep))
        for ip in port.ip_addresses:
            neigh.add(NeighEntry(device=device, ip=ip, mac=mac))
        for pair in port.announced:  # a VIP, a floating IP: answered like a fixed IP
            fdb.add(FdbEntry(device=device, mac=pair.mac_address, dst=port.vtep))
            neigh.add(NeighEntry(device=device, ip=pair.ip_address, mac=pair.mac_address))
        if any(":" in ip for ip in port.ip_addresses):
            neigh.add(NeighEntry(device=device, ip=link_local(mac), mac=mac))
