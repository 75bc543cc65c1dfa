"""The leak check of tests/conftest.py (``tests.rootns.RootWatch``) sees our devices and nft
tables, and only ours: pointed at a throwaway namespace instead of the run's own one."""

from __future__ import annotations

import subprocess

from neutrino.agent.dataplane.netns import inside
from tests.kernel.lab import NetnsLab, run
from tests.rootns import RootWatch


def test_sees_our_devices_and_tables_and_nothing_else(lab: NetnsLab) -> None:
    ns = lab.ns("watched", ipv6=False)
    with inside(ns):
        watch = RootWatch.open()
    assert watch is not None
    try:
        assert watch.ours() == frozenset()
        run("ip", "-n", ns, "link", "add", "brqaaaaaaaa-11", "type", "bridge")
        run("ip", "-n", ns, "link", "add", "vxlan-7", "type", "vxlan", "id", "7", "dstport", "4789")
        run("ip", "-n", ns, "link", "add", "tapbbbbbbbb-22", "type", "veth", "peer", "name", "eth9")
        run("ip", "-n", ns, "link", "add", "br-other", "type", "bridge")  # not ours
        subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "-f", "-"],
            input="table bridge neutrino {}\ntable inet neutrino {}\ntable inet other {}\n",
            text=True,
            check=True,
        )
        assert watch.ours() == {
            "link brqaaaaaaaa-11",
            "link vxlan-7",
            "link tapbbbbbbbb-22",
            "nft table bridge neutrino",
            "nft table inet neutrino",
        }
        run("ip", "-n", ns, "link", "del", "brqaaaaaaaa-11")
        run("ip", "netns", "exec", ns, "nft", "delete", "table", "bridge", "neutrino")
        assert "link brqaaaaaaaa-11" not in watch.ours()
        assert "nft table bridge neutrino" not in watch.ours()
    finally:
        watch.close()
