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
    PortState,
    bridge_name,
    tap_name,
    vlan_subinterface_name,
    vxlan_name,
)
from neutrino.domain.ipam import link_local
from neutrino.domain.segments import device_mtu

__all__ = ["compute_l2"]


def compute_l2(state: HostState, config: AgentConfig) -> L2State:
    """The complete desired L2 state of this host (see the module docstring for the rules)."""
    networks = {net.id: net for net in state.networks}
    l2pop = {pop.network_id: pop for pop in state.l2pop}
    ports_by_net: dict[str, list[PortState]] = defaultdict(list)
    for port in state.ports:
        if port.network_id in networks and port.admin_state_up:
            ports_by_net[port.network_id].append(port)

    bridges: dict[str, BridgeSpec] = {}
    vxlans: dict[str, VxlanSpec] = {}
    attachments: dict[str, AttachmentSpec] = {}
    vlans: dict[str, VlanSpec] = {}
    fdb: set[FdbEntry] = set()
    neigh: set[NeighEntry] = set()

    for net_id in sorted(ports_by_net):
        net = networks[net_id]
        mtu = device_mtu(net.mtu, net.network_type, config.underlay_mtu)
        brq = bridge_name(net.id)
        if net.network_type == "vxlan" and net.segmentation_id is not None:
            vx = VxlanSpec(
                name=vxlan_name(net.segmentation_id),
                vni=net.segmentation_id,
                local_ip=config.local_ip,
                dev=config.underlay_dev,
                mtu=mtu,
                bridge=brq,
            )
            vxlans[vx.name] = vx
            if net_id in l2pop:
                _render_l2pop(vx.name, l2pop[net_id], config.local_ip, fdb, neigh)
        elif net.network_type == "flat" and net.physical_network in config.physical_interfaces:
            uplink = config.physical_interfaces[net.physical_network]
            attachments[uplink] = AttachmentSpec(name=uplink, bridge=brq, mtu=None)
        elif (
            net.network_type == "vlan"
            and config.vlan
            and net.segmentation_id is not None
            and net.physical_network in config.physical_interfaces
        ):
            physical = config.physical_interfaces[net.physical_network]
            uplink = vlan_subinterface_name(physical, net.segmentation_id)
            vlans[uplink] = VlanSpec(uplink, physical, net.segmentation_id)
            attachments[uplink] = AttachmentSpec(name=uplink, bridge=brq, mtu=None)
        else:
            continue
        bridges[brq] = BridgeSpec(name=brq, mtu=mtu)
        for port in ports_by_net[net_id]:
            tap = tap_name(port.id)
            attachments[tap] = AttachmentSpec(tap, brq, mtu, port.mac_address.lower())

    _render_subports(state.ports, config, attachments, vlans)
    return L2State(
        bridges=bridges,
        vxlans=vxlans,
        attachments=attachments,
        fdb=frozenset(fdb),
        neigh=frozenset(neigh),
        vlans=vlans,
        vlan_uplinks=frozenset(config.physical_interfaces.values()) if config.vlan else frozenset(),
    )


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
