"""The agent's VLAN probe against the real kernel, in a throwaway namespace: it answers for
both ways of tagging, names what the kernel refused, and leaves no link behind. The VLAN
wiring itself needs a kernel with 8021q; where this one has none, the wiring tests skip with
the probe's own reason (the same wiring runs against the fake kernel in
tests/agent/test_vlan_calc.py)."""

from __future__ import annotations

import pytest

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.l2 import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.dataplane.vlan_probe import probe
from neutrino.agent.model import AgentConfig
from neutrino.domain.hoststate import FixedIp, HostState, NetworkState, PortState, tap_name
from tests.kernel.lab import NetnsLab, run

VLAN_NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
SUB_NET = "7b2e4c1a-dddd-4eee-8fff-000000000002"
PARENT_NET = "8c3f5d2b-eeee-4fff-8aaa-000000000003"
PARENT, SUB, OTHER = (
    "5a0c3e7f-1111-4a1a-9b1b-00000000000a",
    "9d4b2f6c-2222-4a2a-9b2b-00000000000b",
    "1e5c3a7d-3333-4a3a-9b3b-00000000000c",
)


def test_probe_answers_and_cleans_up(lab: NetnsLab) -> None:
    ns = lab.ns("vlanprobe")
    before = run("ip", "-n", ns, "-o", "link", "show")
    found = probe(ns)
    assert run("ip", "-n", ns, "-o", "link", "show") == before  # nothing left behind
    if found.usable:
        assert found.reason == ""
    else:
        assert "8021q" in found.reason and "vlan_filtering" in found.reason


def tagging(lab: NetnsLab, role: str) -> str:
    ns = lab.ns(role, ipv6=False)
    found = probe(ns)
    if not found.sub_interfaces:
        pytest.skip(f"this kernel cannot make VLAN sub-interfaces: {found.reason or '8021q'}")
    return ns


def port(port_id: str, net_id: str, ip: str, **trunk: object) -> PortState:
    fixed = (FixedIp("s", ip),)
    return PortState(port_id, net_id, "fa:16:3e:00:00:11", fixed, True, **trunk)  # type: ignore[arg-type]


def pings(ns: str, ip: str) -> bool:
    try:
        run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", ip)
    except RuntimeError:
        return False
    return True


def test_vlan_provider_network_between_two_hosts(lab: NetnsLab) -> None:
    """Two hosts whose ``eth2`` share one wire: VM 1 on host 1 reaches VM 2 on host 2 over
    the VLAN network, tagged 101 on the wire."""
    hv1, hv2 = tagging(lab, "vhv1"), lab.ns("vhv2", ipv6=False)
    run(
        "ip", "-n", hv1, "link", "add", "eth2", "type", "veth", "peer", "name", "eth2", "netns", hv2
    )
    for ns, vm, ip, pid in ((hv1, "vvm1", "192.0.2.1", PARENT), (hv2, "vvm2", "192.0.2.2", OTHER)):
        run("ip", "-n", ns, "link", "set", "eth2", "up")
        lab.vm(vm, ns, tap_name(pid), f"fa:16:3e:00:01:0{ip[-1]}", ip + "/24", mtu=1500)
        state = HostState(
            host=ns,
            revision=1,
            networks=(NetworkState(VLAN_NET, "vlan", 101, "physnet1", 1500),),
            ports=(port(pid, VLAN_NET, ip),),
        )
        config = AgentConfig(
            "198.51.100.1", "eth1", physical_interfaces={"physnet1": "eth2"}, vlan=True
        )
        with NetlinkKernel(ns) as kernel:
            L2Manager(kernel).apply(compute_l2(state, config))
            assert kernel.get_link("eth2.101").vlan == (101, "eth2")  # type: ignore[union-attr]
    assert pings(lab.name("vvm1"), "192.0.2.2")


def test_trunk_sub_port_traffic_is_tagged_on_the_parent(lab: NetnsLab) -> None:
    """A VM with a trunk: untagged on its parent's network, tag 200 on the sub-port's; a
    second VM on the sub-port's network is reached from the VM's VLAN 200 interface only."""
    hv = tagging(lab, "thv")
    vm = lab.vm("tvm", hv, tap_name(PARENT), "fa:16:3e:00:02:01", "203.0.113.1/24", mtu=1500)
    run(
        "ip",
        "-n",
        vm,
        "link",
        "add",
        "link",
        "eth0",
        "name",
        "eth0.200",
        "type",
        "vlan",
        "id",
        "200",
    )
    run("ip", "-n", vm, "addr", "add", "192.0.2.1/24", "dev", "eth0.200")
    run("ip", "-n", vm, "link", "set", "eth0.200", "up")
    lab.vm("tvm2", hv, tap_name(OTHER), "fa:16:3e:00:02:02", "192.0.2.2/24", mtu=1500)
    state = HostState(
        host="thv",
        revision=1,
        networks=(
            NetworkState(PARENT_NET, "vxlan", 1001, None, 1500),
            NetworkState(SUB_NET, "vxlan", 1002, None, 1500),
        ),
        ports=(
            port(PARENT, PARENT_NET, "203.0.113.1"),
            port(SUB, SUB_NET, "192.0.2.1", trunk_parent=PARENT, vlan_id=200),
            port(OTHER, SUB_NET, "192.0.2.2"),
        ),
    )
    run("ip", "-n", hv, "link", "add", "eth1", "type", "dummy")
    config = AgentConfig("198.51.100.1", "eth1", vlan=True)
    with NetlinkKernel(hv) as kernel:
        report = L2Manager(kernel).apply(compute_l2(state, config))
        assert tap_name(SUB) in report.wired
        assert kernel.get_link(tap_name(SUB)).vlan == (200, tap_name(PARENT))  # type: ignore[union-attr]
    assert pings(vm, "192.0.2.2")
