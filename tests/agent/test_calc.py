"""calc renders the desired L2 objects from host state, and the L2 manager applies them as a
minimal diff — both tested without root against the fake kernel."""

from __future__ import annotations

import pytest

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import FakeKernel, L2Manager
from neutrino.agent.model import (
    FLOOD_MAC,
    OWNED_PREFIXES,
    AgentConfig,
    AttachmentSpec,
    BridgeSpec,
    FdbEntry,
    NeighEntry,
    VxlanSpec,
)
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
)
from neutrino.domain.sgstate import AddressPair

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
NET2 = "7b2e4c1a-dddd-4eee-8fff-000000000002"
P1 = "5a0c3e7f-1111-4a1a-9b1b-00000000000a"
P2 = "9d4b2f6c-2222-4a2a-9b2b-00000000000b"
BRQ, BRQ2, TAP1, TAP2 = "brq3f1c2d9e-aa", "brq7b2e4c1a-dd", "tap5a0c3e7f-11", "tap9d4b2f6c-22"
ME, HV2, HV3 = "198.51.100.1", "198.51.100.2", "198.51.100.3"
CONFIG = AgentConfig(local_ip=ME, underlay_dev="eth1", physical_interfaces={"physnet1": "eth2"})


def vxlan_net(net_id: str = NET, vni: int = 1001, mtu: int = 1450) -> NetworkState:
    return NetworkState(
        id=net_id, network_type="vxlan", segmentation_id=vni, physical_network=None, mtu=mtu
    )


def port(port_id: str = P1, net_id: str = NET, *, up: bool = True) -> PortState:
    return PortState(
        id=port_id,
        network_id=net_id,
        mac_address="FA:16:3E:00:00:11",
        fixed_ips=(FixedIp("s", "192.0.2.11"),),
        admin_state_up=up,
    )


def remote(mac: str, ips: tuple[str, ...], vtep: str) -> RemotePort:
    return RemotePort(id=mac, mac_address=mac, ip_addresses=ips, vtep=vtep)


def state(
    networks: tuple[NetworkState, ...] = (),
    ports: tuple[PortState, ...] = (),
    l2pop: tuple[L2Pop, ...] = (),
) -> HostState:
    return HostState(
        host="hv1", revision=1, tunnel_ip=ME, networks=networks, ports=ports, l2pop=l2pop
    )


L2POP = L2Pop(
    network_id=NET,
    vteps=(HV2, HV3),
    ports=(
        remote("fa:16:3e:00:00:12", ("192.0.2.12", "2001:db8::12"), HV2),
        remote("fa:16:3e:00:00:13", ("192.0.2.13",), HV3),
        remote("fa:16:3e:00:00:14", ("192.0.2.14",), ME),  # ours: skipped
    ),
)


# --- calc ------------------------------------------------------------------------------


def test_vxlan_network_with_a_local_port() -> None:
    l2 = compute_l2(state((vxlan_net(mtu=1500),), (port(),), (L2POP,)), CONFIG)
    assert l2.bridges == {BRQ: BridgeSpec(BRQ, 1450)}  # capped to the underlay's 1500 - 50
    assert l2.vxlans == {"vxlan-1001": VxlanSpec("vxlan-1001", 1001, ME, "eth1", 1450, BRQ)}
    assert l2.attachments == {TAP1: AttachmentSpec(TAP1, BRQ, 1450, "fa:16:3e:00:00:11")}
    vx = "vxlan-1001"
    assert l2.fdb == {
        FdbEntry(vx, FLOOD_MAC, HV2),
        FdbEntry(vx, FLOOD_MAC, HV3),
        FdbEntry(vx, "fa:16:3e:00:00:12", HV2),
        FdbEntry(vx, "fa:16:3e:00:00:13", HV3),
    }
    assert l2.neigh == {
        NeighEntry(vx, "192.0.2.12", "fa:16:3e:00:00:12"),
        NeighEntry(vx, "2001:db8::12", "fa:16:3e:00:00:12"),
        NeighEntry(vx, "fe80::f816:3eff:fe00:12", "fa:16:3e:00:00:12"),
        NeighEntry(vx, "192.0.2.13", "fa:16:3e:00:00:13"),
    }


def test_announced_addresses_get_fdb_and_neighbour_entries() -> None:
    vip = AddressPair("192.0.2.100", "fa:16:3e:00:00:99")  # a VIP moved to another MAC
    fip = AddressPair("203.0.113.7", "fa:16:3e:00:00:12")
    pop = L2Pop(
        network_id=NET,
        vteps=(HV2,),
        ports=(
            RemotePort(
                id="p2",
                mac_address="fa:16:3e:00:00:12",
                ip_addresses=("192.0.2.12",),
                vtep=HV2,
                announced=(vip, fip),
            ),
        ),
    )
    l2 = compute_l2(state((vxlan_net(),), (port(),), (pop,)), CONFIG)
    vx = "vxlan-1001"
    assert l2.neigh == {
        NeighEntry(vx, "192.0.2.12", "fa:16:3e:00:00:12"),
        NeighEntry(vx, "192.0.2.100", "fa:16:3e:00:00:99"),
        NeighEntry(vx, "203.0.113.7", "fa:16:3e:00:00:12"),
    }
    assert FdbEntry(vx, "fa:16:3e:00:00:99", HV2) in l2.fdb


def test_smaller_network_mtu_is_kept() -> None:
    l2 = compute_l2(state((vxlan_net(mtu=1400),), (port(),)), CONFIG)
    assert l2.bridges[BRQ].mtu == l2.vxlans["vxlan-1001"].mtu == l2.attachments[TAP1].mtu == 1400


def test_networks_without_local_ports_render_nothing() -> None:
    assert compute_l2(state((vxlan_net(),), (), (L2POP,)), CONFIG) == compute_l2(state(), CONFIG)
    only_down = compute_l2(state((vxlan_net(),), (port(up=False),)), CONFIG)
    assert not only_down.bridges and not only_down.attachments


@pytest.mark.parametrize(
    ("net", "rendered"),
    [
        (NetworkState(NET, "flat", None, "physnet1", 1500), True),
        (NetworkState(NET, "flat", None, "physnet9", 1500), False),  # not mapped on this host
        (NetworkState(NET, "vlan", 100, "physnet1", 1500), False),  # no VLAN devices here
    ],
)
def test_flat_and_unservable_networks(net: NetworkState, rendered: bool) -> None:
    l2 = compute_l2(state((net,), (port(),)), CONFIG)
    assert not l2.vxlans and not l2.fdb
    if rendered:
        assert l2.bridges == {BRQ: BridgeSpec(BRQ, 1500)}
        assert l2.attachments == {
            "eth2": AttachmentSpec("eth2", BRQ, None),
            TAP1: AttachmentSpec(TAP1, BRQ, 1500, "fa:16:3e:00:00:11"),
        }
    else:
        assert not l2.bridges and not l2.attachments


# --- the manager against the fake ------------------------------------------------------


@pytest.fixture
def kernel() -> FakeKernel:
    fake = FakeKernel()
    for dev in ("eth1", TAP1, TAP2):
        fake.add_device(dev)
    return fake


def test_apply_builds_everything_then_reapply_writes_nothing(kernel: FakeKernel) -> None:
    desired = compute_l2(state((vxlan_net(),), (port(),), (L2POP,)), CONFIG)
    report = L2Manager(kernel).apply(desired)
    assert report.wired == {TAP1} and not report.missing
    assert kernel.links[BRQ].up and kernel.links["vxlan-1001"].master == BRQ
    assert kernel.links[TAP1].master == BRQ and kernel.links[TAP1].mtu == 1450
    assert kernel.fdb == desired.fdb and kernel.neigh == desired.neigh

    writes, indexes = kernel.writes, {n: ln.index for n, ln in kernel.links.items()}
    again = L2Manager(kernel).apply(desired)  # a restarted agent: a fresh manager
    assert again.changes == [] and kernel.writes == writes
    assert {n: ln.index for n, ln in kernel.links.items()} == indexes


def test_bridge_deleted_by_hand_is_repaired_in_place(kernel: FakeKernel) -> None:
    desired = compute_l2(state((vxlan_net(),), (port(),), (L2POP,)), CONFIG)
    manager = L2Manager(kernel)
    manager.apply(desired)
    vx_index = kernel.links["vxlan-1001"].index
    kernel.delete_link(BRQ)
    manager.apply(desired)
    assert kernel.links["vxlan-1001"].index == vx_index  # the VXLAN device was kept
    assert kernel.links["vxlan-1001"].master == BRQ and kernel.links[TAP1].master == BRQ
    assert manager.apply(desired).changes == []


def test_l2pop_changes_are_applied_as_a_diff(kernel: FakeKernel) -> None:
    manager = L2Manager(kernel)
    manager.apply(compute_l2(state((vxlan_net(),), (port(),), (L2POP,)), CONFIG))
    moved = L2Pop(
        network_id=NET,
        vteps=(HV3,),
        ports=(
            remote("fa:16:3e:00:00:12", ("192.0.2.12",), HV3),  # migrated to hv3
        ),
    )
    desired = compute_l2(state((vxlan_net(),), (port(),), (moved,)), CONFIG)
    report = manager.apply(desired)
    assert kernel.fdb == desired.fdb and kernel.neigh == desired.neigh
    assert report.changes and all(c.startswith(("add ", "remove ")) for c in report.changes)


def test_vni_change_recreates_only_the_vxlan_device(kernel: FakeKernel) -> None:
    manager = L2Manager(kernel)
    manager.apply(compute_l2(state((vxlan_net(),), (port(),)), CONFIG))
    bridge_index = kernel.links[BRQ].index
    manager.apply(compute_l2(state((vxlan_net(vni=2002),), (port(),)), CONFIG))
    assert "vxlan-1001" not in kernel.links and kernel.links["vxlan-2002"].master == BRQ
    assert kernel.links[BRQ].index == bridge_index


def test_ports_leaving_unwire_and_the_last_one_tears_down(kernel: FakeKernel) -> None:
    manager = L2Manager(kernel)
    nets = (vxlan_net(), vxlan_net(NET2, 1002))
    manager.apply(compute_l2(state(nets, (port(), port(P2))), CONFIG))
    assert kernel.links[TAP2].master == BRQ
    manager.apply(compute_l2(state(nets, (port(),)), CONFIG))
    assert kernel.links[TAP2].master is None and kernel.links[TAP1].master == BRQ
    manager.apply(compute_l2(state(nets, (port(P2, NET2),)), CONFIG))
    assert set(kernel.list_links(OWNED_PREFIXES)) == {BRQ2, "vxlan-1002", TAP1, TAP2}
    assert kernel.links[TAP1].master is None and kernel.links[TAP2].master == BRQ2
    manager.apply(compute_l2(state(nets), CONFIG))
    assert set(kernel.list_links(OWNED_PREFIXES)) == {TAP1, TAP2}


def test_flat_network_attaches_the_mapped_interface(kernel: FakeKernel) -> None:
    kernel.add_device("eth2")
    flat = NetworkState(NET, "flat", None, "physnet1", 1500)
    manager = L2Manager(kernel)
    manager.apply(compute_l2(state((flat,), (port(),)), CONFIG))
    assert kernel.links["eth2"].master == BRQ and kernel.links[TAP1].master == BRQ
    assert manager.apply(compute_l2(state((flat,), (port(),)), CONFIG)).changes == []


def test_unplugged_tap_is_reported_missing_then_wired(kernel: FakeKernel) -> None:
    desired = compute_l2(state((vxlan_net(),), (port("0123456789ab-cd"),)), CONFIG)
    manager = L2Manager(kernel)
    assert manager.apply(desired).missing == {"tap0123456789a"}
    kernel.add_device("tap0123456789a")
    report = manager.apply(desired)
    assert report.wired == {"tap0123456789a"} and not report.missing
    assert kernel.links["tap0123456789a"].master == BRQ
