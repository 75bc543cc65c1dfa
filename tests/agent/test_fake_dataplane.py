"""The fake kernel behaves like the real one for everything calc and the L2 manager use.

One contract suite, run against ``FakeKernel`` always and against ``NetlinkKernel`` in a
throwaway namespace when root (the ``netlink`` cases are marked ``kernel`` and skip cleanly
otherwise). A difference between the two is a bug in the fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from neutrino.agent.dataplane import (
    DataplaneError,
    FakeKernel,
    L2Kernel,
    LinkExists,
    LinkNotFound,
    NotSupported,
)
from neutrino.agent.model import FLOOD_MAC, OWNED_PREFIXES, FdbEntry, NeighEntry
from tests.kernel.lab import NetnsLab, run, skip_reason

VX = "vxlan-1001"
MAC = "fa:16:3e:00:00:12"


@dataclass
class Backend:
    kernel: L2Kernel
    add_device: Callable[[str], None]  # a device the agent does not create (NIC, a VM's tap)


@pytest.fixture(params=["fake", pytest.param("netlink", marks=pytest.mark.kernel)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "fake":
        fake = FakeKernel()
        yield Backend(fake, lambda name: _seed(fake, name))
        return
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from neutrino.agent.dataplane.netlink import NetlinkKernel

    lab = NetnsLab()
    try:
        ns = lab.ns("hv", ipv6=False)

        def add_device(name: str) -> None:
            run("ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", "p" + name)
            run("ip", "-n", ns, "link", "set", name, "up")

        with NetlinkKernel(ns) as kernel:
            yield Backend(kernel, add_device)
    finally:
        lab.cleanup()


def _seed(fake: FakeKernel, name: str) -> None:
    fake.add_device(name)


@pytest.fixture
def k(backend: Backend) -> L2Kernel:
    backend.add_device("eth1")
    return backend.kernel


def test_ensure_bridge_is_idempotent_and_fixes_mtu(k: L2Kernel) -> None:
    index = k.ensure_bridge("brqnet", 1450)
    assert k.ensure_bridge("brqnet", 1450) == index
    assert k.ensure_bridge("brqnet", 1400) == index
    link = k.get_link("brqnet")
    assert link is not None and (link.kind, link.mtu, link.up) == ("bridge", 1400, False)
    k.set_up("brqnet")
    assert k.get_link("brqnet").up  # type: ignore[union-attr]


def test_ensure_vxlan(k: L2Kernel) -> None:
    with pytest.raises(LinkNotFound):
        k.ensure_vxlan(VX, 1001, "198.51.100.1", "nosuchdev", 1450)
    index = k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    assert k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450) == index
    link = k.get_link(VX)
    assert link is not None and link.kind == "vxlan" and link.mtu == 1450
    assert link.vxlan == (1001, "198.51.100.1", "eth1", False, True)
    with pytest.raises(LinkExists):
        k.ensure_vxlan(VX, 1002, "198.51.100.1", "eth1", 1450)
    with pytest.raises(LinkExists):
        k.ensure_bridge(VX, 1450)


def test_attach_detach_and_delete_releases_ports(backend: Backend, k: L2Kernel) -> None:
    backend.add_device("tapport1")
    k.ensure_bridge("brqnet", 1500)
    with pytest.raises(LinkNotFound):
        k.attach("tapport1", "brqnosuch")
    k.attach("tapport1", "brqnet")
    k.attach("tapport1", "brqnet")
    assert k.get_link("tapport1").master == "brqnet"  # type: ignore[union-attr]
    k.detach("tapport1")
    assert k.get_link("tapport1").master is None  # type: ignore[union-attr]
    k.attach("tapport1", "brqnet")
    assert k.delete_link("brqnet") is True
    assert k.delete_link("brqnet") is False
    assert k.get_link("tapport1").master is None  # type: ignore[union-attr]
    assert k.get_link("brqnet") is None


def test_list_links_only_owned(backend: Backend, k: L2Kernel) -> None:
    backend.add_device("tapport1")
    k.ensure_bridge("brqnet", 1500)
    k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    k.set_mtu("tapport1", 1450)
    links = k.list_links(OWNED_PREFIXES)
    assert set(links) == {"tapport1", "brqnet", VX}
    assert links["tapport1"].mtu == 1450
    assert len({ln.index for ln in links.values()}) == 3


def test_vlan_sub_interfaces(backend: Backend, k: L2Kernel) -> None:
    backend.add_device("tapparent1")
    try:
        k.ensure_vlan("tapsub1", "tapparent1", 200)
    except NotSupported:
        assert not isinstance(k, FakeKernel)
        pytest.skip("this kernel has no 8021q (the refusal is checked below)")
    assert k.ensure_vlan("tapsub1", "tapparent1", 200) == k.get_link("tapsub1").index  # type: ignore[union-attr]
    with pytest.raises(LinkExists):
        k.ensure_vlan("tapsub1", "tapparent1", 201)
    with pytest.raises(LinkNotFound):
        k.ensure_vlan("tapsub2", "tapnosuch", 200)
    listed = k.list_links(OWNED_PREFIXES)["tapsub1"]
    assert listed.kind == "vlan" and listed.vlan == (200, "tapparent1")
    k.ensure_bridge("brqnet", 1500)
    k.attach("tapsub1", "brqnet")
    k.delete_link("tapparent1")  # its VLANs go with it
    assert k.get_link("tapsub1") is None


def test_a_kernel_without_8021q_refuses_vlans(backend: Backend, k: L2Kernel) -> None:
    backend.add_device("tapparent1")
    kernel = FakeKernel(vlan=False) if isinstance(k, FakeKernel) else k
    if kernel is not k:
        kernel.add_device("tapparent1")  # type: ignore[attr-defined]
    try:
        kernel.ensure_vlan("tapsub1", "tapparent1", 200)
    except NotSupported:
        assert kernel.get_link("tapsub1") is None
        return
    kernel.delete_link("tapsub1")
    pytest.skip("this kernel has 8021q")


def test_name_longer_than_ifnamsiz_is_refused(k: L2Kernel) -> None:
    with pytest.raises(DataplaneError):
        k.ensure_bridge("brq0123456789abc", 1500)


def test_fdb_entries(k: L2Kernel) -> None:
    k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    flood2 = FdbEntry(VX, FLOOD_MAC, "198.51.100.2")
    flood3 = FdbEntry(VX, FLOOD_MAC, "198.51.100.3")
    uni = FdbEntry(VX, MAC, "198.51.100.2")
    for entry in (flood2, flood3, flood2, uni, uni):
        k.ensure_fdb(entry)
    assert k.list_fdb(VX) == {flood2, flood3, uni}
    moved = FdbEntry(VX, MAC, "198.51.100.3")  # the port moved: replace, not add
    k.ensure_fdb(moved)
    assert k.list_fdb(VX) == {flood2, flood3, moved}
    k.remove_fdb(flood2)
    k.remove_fdb(flood2)
    k.remove_fdb(uni)  # not present: no error
    assert k.list_fdb(VX) == {flood3, moved}
    with pytest.raises(LinkNotFound):
        k.list_fdb("vxlan-9")


def test_neigh_entries(k: L2Kernel) -> None:
    k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    a = NeighEntry(VX, "192.0.2.12", MAC)
    b = NeighEntry(VX, "192.0.2.13", "fa:16:3e:00:00:13")
    for entry in (a, b, a):
        k.ensure_neigh(entry)
    assert k.list_neigh(VX) == {a, b}
    a2 = NeighEntry(VX, "192.0.2.12", "fa:16:3e:00:00:99")  # IP reused by another port
    k.ensure_neigh(a2)
    assert k.list_neigh(VX) == {a2, b}
    k.remove_neigh(b)
    k.remove_neigh(b)
    assert k.list_neigh(VX) == {a2}


def test_deleting_vxlan_drops_its_entries(k: L2Kernel) -> None:
    k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    k.ensure_fdb(FdbEntry(VX, MAC, "198.51.100.2"))
    k.ensure_neigh(NeighEntry(VX, "192.0.2.12", MAC))
    assert k.delete_link(VX)
    k.ensure_vxlan(VX, 1001, "198.51.100.1", "eth1", 1450)
    assert k.list_fdb(VX) == set() and k.list_neigh(VX) == set()


def test_forgetting_a_mac_never_learned_keeps_the_index_cache(k: L2Kernel) -> None:
    """No such FDB entry (ENOENT) is no device gone: a round that forgets a fresh MAC must
    not make the next rounds look every device up again (netlink's ``_indexes``)."""
    k.ensure_bridge("brqnet", 1450)
    k.ensure_vxlan("vxlan-1001", 1001, "198.51.100.1", "eth1", 1450)
    k.attach("vxlan-1001", "brqnet")
    k.forget_learned("vxlan-1001", "fa:16:3e:00:00:99")
    assert "vxlan-1001" in getattr(k, "_indexes", {"vxlan-1001": 0})
