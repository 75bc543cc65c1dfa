"""Entering namespaces (``dataplane.netns``) and nft without a process
(``dataplane.nftables``), on the real kernel."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from neutrino.agent.dataplane import LinkNotFound
from neutrino.agent.dataplane import nftables as nftables_module
from neutrino.agent.dataplane.netns import inside, route
from neutrino.agent.dataplane.nftables import Nft, NftError
from tests.kernel.lab import NetnsLab, run

TABLE = "table inet neutrino_test"


def test_threads_enter_namespaces_independently(lab: NetnsLab) -> None:
    """Two threads inside two namespaces at once each see their own devices, and each comes
    back to where it was (setns is per thread; nothing is shared between them)."""
    spaces = {role: lab.ns(role) for role in ("a", "b")}
    for role, ns in spaces.items():
        run("ip", "-n", ns, "link", "add", f"only-{role}", "type", "veth", "peer", "name", "x")
    before = route(None)
    seen: dict[str, set[str]] = {}
    barrier = threading.Barrier(2)

    def look(role: str) -> None:
        with inside(spaces[role]):
            barrier.wait()  # both threads are inside their namespace now
            with route(None) as ipr:
                seen[role] = {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}
            barrier.wait()

    threads = [threading.Thread(target=look, args=(role,)) for role in spaces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert "only-a" in seen["a"] and "only-b" not in seen["a"]
    assert "only-b" in seen["b"] and "only-a" not in seen["b"]
    with before, route(None) as after:  # this thread never moved
        assert {ln["index"] for ln in before.get_links()} == {
            ln["index"] for ln in after.get_links()
        }
    with pytest.raises(LinkNotFound), inside(lab.name("missing")):
        pass


@pytest.mark.parametrize("in_process", [True, False])
def test_nft_loads_lists_and_refuses_in_either_mode(lab: NetnsLab, in_process: bool) -> None:
    ns = lab.ns("nft")
    with Nft(ns, in_process=in_process) as nft:
        assert nft.in_process is in_process
        nft.run(f"{TABLE} {{\n set s {{ type ipv4_addr; }}\n}}\n")
        assert TABLE in nft.run("list tables").splitlines()
        with pytest.raises(NftError, match="syntax error"):
            nft.run("bogus\n")
        assert TABLE in run("ip", "netns", "exec", ns, "nft", "list", "tables")  # in ns only


def test_nft_falls_back_to_a_process_without_the_library(
    lab: NetnsLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nftables_module, "_library", lambda: None)
    ns = lab.ns("nofile")
    with Nft(ns) as nft:
        assert not nft.in_process
        nft.run(f"{TABLE} {{ }}\n")
        assert TABLE in nft.run("list tables")


REUSE = """
import sys, threading
from neutrino.agent.dataplane.netlink import NetlinkKernel
kernel = NetlinkKernel(sys.argv[1])
seen = []
def use(build):
    seen.append(threading.get_ident())
    if build:
        kernel.ensure_bridge("brqreuse0000-1", 1500)
    else:
        kernel.set_up("lo")
for build in (False,) * 7 + (True,):
    thread = threading.Thread(target=use, args=(build,))
    thread.start()
    thread.join()
kernel.close()
print("reused" if seen[-1] in seen[:-1] else "fresh")
"""


def test_a_kernel_used_by_successive_threads_builds_in_its_own_namespace(
    lab: NetnsLab,
) -> None:
    """Threads that come and go (their ids reused) each get a socket in the kernel's namespace:
    nothing lands in the namespace the process runs in. Run in a process of its own inside a
    throwaway namespace standing for the host's, so a regression builds there, not here."""
    host, target = lab.ns("host", ipv6=False), lab.ns("target", ipv6=False)
    done = subprocess.run(
        ["ip", "netns", "exec", host, sys.executable, "-c", REUSE, target],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "reused"  # the case that mattered did happen
    assert "brqreuse0000-1" in run("ip", "-n", target, "link", "show")
    assert "brqreuse0000-1" not in run("ip", "-n", host, "link", "show")


def test_get_link_asks_for_one_device_and_equals_the_dump(lab: NetnsLab) -> None:
    from neutrino.agent.dataplane.netlink import NetlinkKernel

    ns = lab.ns("gl")
    run("ip", "-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
    run("ip", "-n", ns, "addr", "add", "198.51.100.7/24", "dev", "eth1")
    kernel = NetlinkKernel(ns)
    try:
        kernel.ensure_bridge("brqgltest0001", 1450)
        kernel.ensure_vxlan("vxlan-4242", 4242, "198.51.100.7", "eth1", 1450)
        kernel.attach("vxlan-4242", "brqgltest0001")
        run("ip", "-n", ns, "link", "add", "tapgl0001", "type", "veth", "peer", "name", "pgl")
        kernel.attach("tapgl0001", "brqgltest0001")
        dumped = kernel.list_links(("brq", "vxlan-", "tap"))
        fresh = NetlinkKernel(ns)  # knows no index: the master and lower names are asked too
        try:
            for name in ("brqgltest0001", "vxlan-4242", "tapgl0001"):
                assert fresh.get_link(name) == dumped[name]
                assert kernel.get_link(name) == dumped[name]
            assert dumped["tapgl0001"].master == "brqgltest0001"
            assert dumped["vxlan-4242"].vxlan is not None
            assert dumped["vxlan-4242"].vxlan[2] == "eth1"
            assert fresh.get_link("tapnosuch0001") is None
        finally:
            fresh.close()
    finally:
        kernel.close()
