"""VLAN provider networks and trunk sub-ports: what calc renders (pure), and what the L2
manager makes of it on the fake kernel (the kernels this project is tested on cannot tag,
so the real wiring runs in tests/kernel/test_vlan_probe.py only where they can)."""

from __future__ import annotations

from dataclasses import replace

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import FakeKernel, L2Manager
from neutrino.agent.model import AgentConfig, AttachmentSpec, VlanSpec
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    NetworkState,
    PortState,
    tap_name,
    vlan_subinterface_name,
)

VLAN_NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
VX_NET = "7b2e4c1a-dddd-4eee-8fff-000000000002"
VX_NET2 = "8c3f5d2b-eeee-4fff-8aaa-000000000003"
PARENT = "5a0c3e7f-1111-4a1a-9b1b-00000000000a"
SUB1 = "9d4b2f6c-2222-4a2a-9b2b-00000000000b"
SUB2 = "1e5c3a7d-3333-4a3a-9b3b-00000000000c"
BRQ_VLAN, BRQ_VX, BRQ_VX2 = "brq3f1c2d9e-aa", "brq7b2e4c1a-dd", "brq8c3f5d2b-ee"
CONFIG = AgentConfig(
    local_ip="198.51.100.1",
    underlay_dev="eth1",
    physical_interfaces={"physnet1": "eth2"},
    vlan=True,
)
NO_VLAN = replace(CONFIG, vlan=False)


def vlan_net(vid: int = 101, physnet: str = "physnet1") -> NetworkState:
    return NetworkState(VLAN_NET, "vlan", vid, physnet, 1500)


def vx_net(net_id: str = VX_NET, vni: int = 1001) -> NetworkState:
    return NetworkState(net_id, "vxlan", vni, None, 1450)


def port(
    port_id: str, net_id: str, *, parent: str | None = None, vid: int | None = None
) -> PortState:
    return PortState(
        id=port_id,
        network_id=net_id,
        mac_address="FA:16:3E:00:00:11",
        fixed_ips=(FixedIp("s", "192.0.2.11"),),
        admin_state_up=True,
        trunk_parent=parent,
        vlan_id=vid,
    )


def host(*items: NetworkState | PortState) -> HostState:
    nets = tuple(i for i in items if isinstance(i, NetworkState))
    ports = tuple(i for i in items if isinstance(i, PortState))
    return HostState(host="hv1", revision=1, networks=nets, ports=ports)


def trunk_host(sub2_up: bool = True) -> HostState:
    """A parent on a VXLAN network with two sub-ports on two other networks."""
    sub2 = port(SUB2, VLAN_NET, parent=PARENT, vid=300)
    return host(
        vx_net(),
        vx_net(VX_NET2, 1002),
        vlan_net(),
        port(PARENT, VX_NET),
        port(SUB1, VX_NET2, parent=PARENT, vid=200),
        sub2 if sub2_up else replace(sub2, admin_state_up=False),
    )


# --- calc (pure) ----------------------------------------------------------------------------


def test_vlan_network_bridges_the_mapped_interfaces_sub_interface() -> None:
    l2 = compute_l2(host(vlan_net(), port(PARENT, VLAN_NET)), CONFIG)
    assert l2.bridges.keys() == {BRQ_VLAN} and not l2.vxlans
    assert l2.vlans == {"eth2.101": VlanSpec("eth2.101", "eth2", 101)}
    assert l2.attachments["eth2.101"] == AttachmentSpec("eth2.101", BRQ_VLAN, None)
    assert l2.attachments[tap_name(PARENT)].bridge == BRQ_VLAN
    assert l2.vlan_uplinks == {"eth2"}


def test_vlan_network_renders_nothing_without_8021q_or_a_mapping() -> None:
    for config, net in ((NO_VLAN, vlan_net()), (CONFIG, vlan_net(physnet="physnet9"))):
        l2 = compute_l2(host(net, port(PARENT, VLAN_NET)), config)
        assert not l2.bridges and not l2.vlans and not l2.attachments


def test_sub_interface_name_fits_ifnamsiz() -> None:
    assert vlan_subinterface_name("eth2", 101) == "eth2.101"
    long = vlan_subinterface_name("enp0s31f6abcdef", 4094)
    assert long == "enp0s31f6a.4094" and len(long) == 15


def test_sub_ports_ride_their_parents_tap_on_their_own_bridges() -> None:
    l2 = compute_l2(trunk_host(), CONFIG)
    tap_p, tap_1, tap_2 = tap_name(PARENT), tap_name(SUB1), tap_name(SUB2)
    assert l2.vlans[tap_1] == VlanSpec(tap_1, tap_p, 200)
    assert l2.vlans[tap_2] == VlanSpec(tap_2, tap_p, 300)
    assert l2.attachments[tap_p].bridge == BRQ_VX
    assert l2.attachments[tap_1].bridge == BRQ_VX2 and l2.attachments[tap_1].mtu == 1450
    assert l2.attachments[tap_2].bridge == BRQ_VLAN  # a sub-port on a VLAN provider network
    assert l2.bridges.keys() == {BRQ_VX, BRQ_VX2, BRQ_VLAN}


def test_a_sub_port_is_not_wired_without_its_parent_or_8021q() -> None:
    l2 = compute_l2(trunk_host(sub2_up=False), CONFIG)  # admin-down sub-port: not attached
    assert tap_name(SUB2) not in l2.vlans and tap_name(SUB2) not in l2.attachments
    orphan = host(vx_net(VX_NET2, 1002), port(SUB1, VX_NET2, parent=PARENT, vid=200))
    l2 = compute_l2(orphan, CONFIG)  # the parent is not bound here (yet)
    assert not l2.vlans and tap_name(SUB1) not in l2.attachments
    l2 = compute_l2(trunk_host(), NO_VLAN)
    assert not l2.vlans and set(l2.attachments) == {tap_name(PARENT)}


# --- the manager on the fake kernel ---------------------------------------------------------


def kernel_with(*devices: str, vlan: bool = True) -> FakeKernel:
    fake = FakeKernel(vlan=vlan)
    for name in devices:
        fake.add_device(name)
    return fake


def test_manager_wires_a_vlan_network_and_a_reapply_writes_nothing() -> None:
    fake = kernel_with("eth1", "eth2", tap_name(PARENT))
    manager, desired = L2Manager(fake), compute_l2(host(vlan_net(), port(PARENT, VLAN_NET)), CONFIG)
    manager.apply(desired)
    uplink = fake.links["eth2.101"]
    assert uplink.kind == "vlan" and uplink.vlan == (101, "eth2")
    assert uplink.master == BRQ_VLAN and uplink.up
    assert fake.links[tap_name(PARENT)].master == BRQ_VLAN
    writes = fake.writes
    assert manager.apply(desired).changes == [] and fake.writes == writes


def test_manager_wires_a_trunk_and_reports_sub_ports_wired() -> None:
    tap_p, tap_1, tap_2 = tap_name(PARENT), tap_name(SUB1), tap_name(SUB2)
    fake = kernel_with("eth1", "eth2", tap_p)
    report = L2Manager(fake).apply(compute_l2(trunk_host(), CONFIG))
    assert fake.links[tap_1].vlan == (200, tap_p) and fake.links[tap_1].master == BRQ_VX2
    assert fake.links[tap_2].vlan == (300, tap_p) and fake.links[tap_2].master == BRQ_VLAN
    assert fake.links[tap_p].master == BRQ_VX
    assert {tap_p, tap_1, tap_2, "eth2.101"} <= report.wired
    assert fake.links["eth2.101"].master == BRQ_VLAN  # the VLAN network's own uplink


def test_sub_ports_wait_for_their_parents_tap() -> None:
    fake = kernel_with("eth1", "eth2")
    manager, desired = L2Manager(fake), compute_l2(trunk_host(), CONFIG)
    report = manager.apply(desired)
    assert {tap_name(PARENT), tap_name(SUB1), tap_name(SUB2)} <= report.missing
    assert tap_name(SUB1) not in fake.links
    fake.add_device(tap_name(PARENT))  # the VM is plugged: wire() brings its sub-ports along
    report = manager.wire(desired, {tap_name(PARENT)})
    assert {tap_name(PARENT), tap_name(SUB1), tap_name(SUB2)} <= report.wired
    assert fake.links[tap_name(SUB1)].master == BRQ_VX2


def test_removed_sub_ports_and_networks_are_deleted_but_not_foreign_vlans() -> None:
    fake = kernel_with("eth1", "eth2", tap_name(PARENT))
    fake.ensure_vlan("eth2.999", "eth2", 999)  # an operator's own, on no brq bridge
    manager = L2Manager(fake)
    manager.apply(compute_l2(trunk_host(), CONFIG))
    only_parent = host(vx_net(), port(PARENT, VX_NET))
    manager.apply(compute_l2(only_parent, CONFIG))
    assert tap_name(SUB1) not in fake.links and tap_name(SUB2) not in fake.links
    assert "eth2.101" not in fake.links and BRQ_VLAN not in fake.links
    assert "eth2.999" in fake.links and tap_name(PARENT) in fake.links  # a VM's tap stays


def test_a_drifted_vlan_is_recreated_with_its_tag() -> None:
    fake = kernel_with("eth1", "eth2", tap_name(PARENT))
    fake.ensure_vlan(tap_name(SUB1), tap_name(PARENT), 7)  # wrong tag left behind
    L2Manager(fake).apply(compute_l2(trunk_host(), CONFIG))
    assert fake.links[tap_name(SUB1)].vlan == (200, tap_name(PARENT))


def test_unplugging_the_parent_takes_its_sub_ports_with_it() -> None:
    fake = kernel_with("eth1", "eth2", tap_name(PARENT))
    manager, desired = L2Manager(fake), compute_l2(trunk_host(), CONFIG)
    manager.apply(desired)
    fake.delete_link(tap_name(PARENT))  # the VM goes: the kernel deletes its VLANs too
    assert tap_name(SUB1) not in fake.links
    report = manager.apply(desired)
    assert tap_name(SUB1) in report.missing and tap_name(SUB1) not in report.wired
