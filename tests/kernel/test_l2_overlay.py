"""The L2 overlay for real: calc's output applied by the L2 manager through pyroute2 on two
namespace "hypervisors" joined by an underlay, with a "VM" namespace on each (DATAPLANE.md §1).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.l2 import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.model import OWNED_PREFIXES, AgentConfig, L2State
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
)
from tests.kernel.lab import NetnsLab, run, sysctl, udp_reaches

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
VNI = 1001
PORTS = {  # hv role → (port id, mac, ip)
    "hv1": ("5a0c3e7f-1111-4a1a-9b1b-00000000000a", "fa:16:3e:00:00:11", "192.0.2.11"),
    "hv2": ("9d4b2f6c-2222-4a2a-9b2b-00000000000b", "fa:16:3e:00:00:12", "192.0.2.12"),
}
VTEP = {"hv1": "198.51.100.1", "hv2": "198.51.100.2"}
BRQ = "brq" + NET[:11]


def host_state(role: str, *, local_ports: bool = True) -> HostState:
    """What the controller would send ``role``: its port, and the other host's for l2pop."""
    other = "hv2" if role == "hv1" else "hv1"
    pid, mac, ip = PORTS[role]
    rpid, rmac, rip = PORTS[other]
    port = PortState(
        id=pid,
        network_id=NET,
        mac_address=mac,
        admin_state_up=True,
        fixed_ips=(FixedIp(subnet_id="s", ip_address=ip),),
    )
    return HostState(
        host=role,
        revision=1,
        tunnel_ip=VTEP[role],
        networks=(
            NetworkState(
                id=NET, network_type="vxlan", segmentation_id=VNI, physical_network=None, mtu=1450
            ),
        ),
        ports=(port,) if local_ports else (),
        l2pop=(
            L2Pop(
                network_id=NET,
                vteps=(VTEP[other],),
                ports=(
                    RemotePort(id=rpid, mac_address=rmac, ip_addresses=(rip,), vtep=VTEP[other]),
                ),
            ),
        ),
    )


@dataclass
class Hypervisor:
    role: str
    ns: str
    kernel: NetlinkKernel
    manager: L2Manager
    config: AgentConfig


@pytest.fixture
def overlay(lab: NetnsLab) -> Iterator[dict[str, Hypervisor]]:
    hvs = lab.underlay(["hv1", "hv2"])
    out = {}
    for i, role in enumerate(("hv1", "hv2"), start=1):
        pid, mac, ip = PORTS[role]
        lab.vm(f"vm{i}", hvs[role], "tap" + pid[:11], mac, ip + "/24")
        kernel = NetlinkKernel(hvs[role])
        out[role] = Hypervisor(
            role,
            hvs[role],
            kernel,
            L2Manager(kernel),
            AgentConfig(local_ip=VTEP[role], underlay_dev="eth1"),
        )
    try:
        yield out
    finally:
        for hv in out.values():
            hv.kernel.close()


def desired(hv: Hypervisor, *, local_ports: bool = True) -> L2State:
    return compute_l2(host_state(hv.role, local_ports=local_ports), hv.config)


def test_vms_reach_each_other_across_vxlan_with_l2pop(
    overlay: dict[str, Hypervisor], lab: NetnsLab
) -> None:
    vm1, vm2 = lab.name("vm1"), lab.name("vm2")
    assert not udp_reaches(vm1, "192.0.2.11", vm2, "192.0.2.12", tries=2)  # nothing wired yet
    run("ip", "-n", vm1, "neigh", "flush", "all")  # forget the failed ARP attempt
    for role, hv in overlay.items():
        report = hv.manager.apply(desired(hv))
        assert report.wired == {"tap" + PORTS[role][0][:11]} and not report.missing

    links = overlay["hv1"].kernel.list_links(OWNED_PREFIXES)
    assert links[BRQ].kind == "bridge" and links[BRQ].up
    assert links[f"vxlan-{VNI}"].vxlan == (VNI, VTEP["hv1"], "eth1", False, True)
    assert links[f"vxlan-{VNI}"].mtu == 1450 and links[f"vxlan-{VNI}"].master == BRQ
    fdb = run("bridge", "-n", overlay["hv1"].ns, "fdb", "show", "dev", f"vxlan-{VNI}")
    assert "fa:16:3e:00:00:12 dst 198.51.100.2 self permanent" in fdb
    assert "00:00:00:00:00:00 dst 198.51.100.2 self permanent" in fdb

    assert udp_reaches(vm1, "192.0.2.11", vm2, "192.0.2.12")
    assert "fa:16:3e:00:00:12" in run("ip", "-n", vm1, "neigh", "show", "192.0.2.12")
    assert udp_reaches(vm2, "192.0.2.12", vm1, "192.0.2.11")


def test_reapply_is_a_no_op_and_repairs_drift(overlay: dict[str, Hypervisor]) -> None:
    hv = overlay["hv1"]
    want = desired(hv)
    hv.manager.apply(want)
    before = {n: ln.index for n, ln in hv.kernel.list_links(OWNED_PREFIXES).items()}

    assert hv.manager.apply(want).changes == []
    assert hv.manager.apply(want).changes == []
    assert {n: ln.index for n, ln in hv.kernel.list_links(OWNED_PREFIXES).items()} == before

    run("ip", "-n", hv.ns, "link", "del", BRQ)  # an operator deletes the bridge by hand
    changes = hv.manager.apply(want).changes
    assert any(c.startswith(f"bridge {BRQ}") for c in changes)
    after = hv.kernel.list_links(OWNED_PREFIXES)
    assert (
        after[f"vxlan-{VNI}"].master == BRQ
        and after[f"vxlan-{VNI}"].index == before[f"vxlan-{VNI}"]
    )
    tap = "tap" + PORTS["hv1"][0][:11]
    assert after[tap].master == BRQ and after[tap].index == before[tap]
    assert hv.manager.apply(want).changes == []


def test_last_port_leaving_tears_down_bridge_and_vxlan(overlay: dict[str, Hypervisor]) -> None:
    hv = overlay["hv1"]
    hv.manager.apply(desired(hv))
    hv.manager.apply(desired(hv, local_ports=False))
    links = hv.kernel.list_links(OWNED_PREFIXES)
    tap = "tap" + PORTS["hv1"][0][:11]
    assert set(links) == {tap} and links[tap].master is None


def test_ipv6_vms_resolve_each_other_through_the_nd_proxy(
    overlay: dict[str, Hypervisor], lab: NetnsLab
) -> None:
    v6 = {"hv1": "2001:db8::11", "hv2": "2001:db8::12"}
    for i, role in enumerate(("hv1", "hv2"), start=1):
        vm = lab.name(f"vm{i}")
        sysctl(vm, "net/ipv6/conf/eth0/disable_ipv6", "0")
        run("ip", "-n", vm, "addr", "add", v6[role] + "/64", "dev", "eth0", "nodad")
    for role, hv in overlay.items():
        other = "hv2" if role == "hv1" else "hv1"
        state = host_state(role)
        (pop,) = state.l2pop
        (remote_port,) = pop.ports
        remote_port = replace(remote_port, ip_addresses=(PORTS[other][2], v6[other]))
        state = replace(state, l2pop=(replace(pop, ports=(remote_port,)),))
        hv.manager.apply(compute_l2(state, hv.config))
        assert not hv.manager.apply(compute_l2(state, hv.config)).changes  # read back equal

    neigh = run("ip", "-n", overlay["hv1"].ns, "-6", "neigh", "show", "dev", f"vxlan-{VNI}")
    assert "2001:db8::12 lladdr fa:16:3e:00:00:12 PERMANENT" in neigh
    assert "fe80::f816:3eff:fe00:12 lladdr fa:16:3e:00:00:12 PERMANENT" in neigh
    # the VXLAN device carries IPv6 neighbours without an address of its own
    assert run("ip", "-n", overlay["hv1"].ns, "-6", "addr", "show", "dev", f"vxlan-{VNI}") == ""
    ping = subprocess.run(
        ["ip", "netns", "exec", lab.name("vm1"), "ping", "-6", "-c", "2", "-W", "2", v6["hv2"]],
        capture_output=True,
        text=True,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "fa:16:3e:00:00:12" in run("ip", "-n", lab.name("vm1"), "-6", "neigh", "show", v6["hv2"])


def test_a_vm_migrated_here_is_reached_on_its_local_tap_at_once(
    overlay: dict[str, Hypervisor], lab: NetnsLab
) -> None:
    """vm1 moves from hv1 to hv2 and stays silent (no announcement): hv2's bridge had learned
    its MAC on the VXLAN port while it was remote, so without the agent unlearning it, vm2's
    frames would keep going into the tunnel towards hv1 until vm1 spoke first."""
    hv1, hv2 = overlay["hv1"], overlay["hv2"]
    for hv in overlay.values():
        hv.manager.apply(desired(hv))
    vm1, vm2 = lab.name("vm1"), lab.name("vm2")
    assert udp_reaches(vm2, "192.0.2.12", vm1, "192.0.2.11")  # vm2 now has vm1 in its ARP cache
    pid, mac, ip = PORTS["hv1"]
    learned = run("bridge", "-n", hv2.ns, "fdb", "show", "dev", f"vxlan-{VNI}")
    assert f"{mac} master {BRQ}" in learned  # the bridge learned vm1 behind the tunnel

    tap = "tap" + pid[:11]
    run("ip", "-n", hv1.ns, "link", "del", tap)  # vm1 leaves hv1 (its eth0 goes with the pair)
    run(
        "ip",
        "-n",
        hv2.ns,
        "link",
        "add",
        tap,
        "mtu",
        "1450",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
    )
    run("ip", "-n", hv2.ns, "link", "set", "eth0", "netns", vm1, "address", mac)
    run("ip", "-n", vm1, "addr", "add", ip + "/24", "dev", "eth0")
    run("ip", "-n", vm1, "link", "set", "eth0", "up")
    both = host_state("hv2")
    moved = replace(both.ports[0], id=pid, mac_address=mac)
    hv2.manager.apply(compute_l2(replace(both, ports=(*both.ports, moved), l2pop=()), hv2.config))
    hv1.manager.apply(desired(hv1, local_ports=False))

    fdb = run("bridge", "-n", hv2.ns, "fdb", "show", "dev", f"vxlan-{VNI}")
    assert mac not in fdb  # neither the l2pop entry nor the learned one is left
    assert udp_reaches(vm2, "192.0.2.12", vm1, "192.0.2.11", tries=2)
