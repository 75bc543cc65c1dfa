"""The router data plane for real (DATAPLANE.md §4): a hand-built host state applied by the L2
manager and the L3 manager on a namespace "network node" with two tenant networks (VXLAN
bridges), a flat external network whose uplink leads to an "ext" namespace (203.0.113.1,
the outside world), and "VM" namespaces: routing across subnets, SNAT to the gateway IP,
floating IP DNAT/SNAT, hairpin, conntrack flush on disassociation, minimal diff, cleanup."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pyroute2 import netns as pr_netns

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.l2 import L2Manager
from neutrino.agent.dataplane.l3 import L3Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.l3_calc import desired_routers
from neutrino.agent.model import AgentConfig
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    NetworkState,
    PortState,
    SubnetState,
    tap_name,
)
from neutrino.domain.l3state import (
    ExtraRoute,
    FloatingIpState,
    RouterAddress,
    RouterPortState,
    RouterState,
)
from tests.kernel.lab import NetnsLab, run, udp_socket

NET_A, NET_B, EXT = (
    f"{c * 8}-aaaa-4bbb-8ccc-00000000000{i}" for i, c in ((1, "a"), (2, "b"), (3, "e"))
)
ROUTER = "8e7d6c5b-1111-4222-8333-000000000001"
QR_A, QR_B, QG = (
    "c0ffee00-aaaa-4aaa-8aaa-00000000000a",
    "c0ffee00-bbbb-4bbb-8bbb-00000000000b",
    "beef0000-eeee-4eee-8eee-00000000000e",
)
VM1, VM2, VM3 = (
    "11111111-0001-4000-8000-000000000001",
    "22222222-0002-4000-8000-000000000002",
    "33333333-0003-4000-8000-000000000003",
)
GW_IP, FIP = "203.0.113.10", "203.0.113.20"
SUBNETS = {
    NET_A: ("sa", "192.0.2.0/25", "192.0.2.1"),
    NET_B: ("sb", "192.0.2.128/25", "192.0.2.129"),
    EXT: ("se", "203.0.113.0/24", "203.0.113.1"),
}
CONFIG = AgentConfig(
    local_ip="198.51.100.1", underlay_dev="eth1", physical_interfaces={"public": "eth2"}
)


def _port(pid: str, net: str, mac: str, ip: str, owner: str = "compute:nova") -> PortState:
    return PortState(
        id=pid,
        network_id=net,
        mac_address=mac,
        admin_state_up=True,
        fixed_ips=(FixedIp(SUBNETS[net][0], ip),),
        device_owner=owner,
    )


def _rport(pid: str, net: str, mac: str, ip: str) -> RouterPortState:
    sid, cidr, gw = SUBNETS[net]
    return RouterPortState(
        id=pid,
        network_id=net,
        mac_address=mac,
        addresses=(RouterAddress(ip, int(cidr.split("/")[1]), sid, cidr, gw),),
    )


def _network(net: str, kind: str, seg: int | None) -> NetworkState:
    sid, cidr, gw = SUBNETS[net]
    return NetworkState(
        id=net,
        network_type=kind,
        segmentation_id=seg,
        physical_network="public" if kind == "flat" else None,
        mtu=1500 if kind == "flat" else 1450,
        subnets=(SubnetState(sid, cidr, 4, gw, False),),
    )


def host_state(
    *,
    interfaces: tuple[str, ...] = (QR_A, QR_B),
    gateway: bool = True,
    fips: bool = False,
    snat: bool = True,
    routes: tuple[ExtraRoute, ...] = (),
    router: bool = True,
    fip_to: tuple[str, str] = ("192.0.2.11", VM1),
) -> HostState:
    rports = {
        QR_A: _rport(QR_A, NET_A, "fa:16:3e:00:01:0a", "192.0.2.1"),
        QR_B: _rport(QR_B, NET_B, "fa:16:3e:00:01:0b", "192.0.2.129"),
    }
    gw = _rport(QG, EXT, "fa:16:3e:00:02:0e", GW_IP)
    ports = [
        _port(VM1, NET_A, "fa:16:3e:00:00:01", "192.0.2.11"),
        _port(VM3, NET_A, "fa:16:3e:00:00:03", "192.0.2.12"),
        _port(VM2, NET_B, "fa:16:3e:00:00:02", "192.0.2.139"),
    ]
    if router:
        ports += [
            _port(
                p,
                rports[p].network_id,
                rports[p].mac_address,
                rports[p].addresses[0].ip_address,
                "network:router_interface",
            )
            for p in interfaces
        ]
        if gateway:
            ports.append(_port(QG, EXT, gw.mac_address, GW_IP, "network:router_gateway"))
    routers = (
        (
            RouterState(
                id=ROUTER,
                enable_snat=snat,
                interfaces=tuple(rports[p] for p in interfaces),
                gateway=gw if gateway else None,
                routes=routes,
                floating_ips=(FloatingIpState("f1", FIP, *fip_to),) if fips else (),
            ),
        )
        if router
        else ()
    )
    return HostState(
        host="net1",
        revision=1,
        tunnel_ip="198.51.100.1",
        networks=(
            _network(NET_A, "vxlan", 1001),
            _network(NET_B, "vxlan", 1002),
            _network(EXT, "flat", None),
        ),
        ports=tuple(sorted(ports, key=lambda p: p.id)),
        routers=routers,
    )


class Node:
    """The network node: L2 manager + L3 manager over one hypervisor namespace."""

    def __init__(self, hv: str, suffix: str) -> None:
        self.kernel = NetlinkKernel(hv)
        self.l2 = L2Manager(self.kernel)
        self.l3 = L3Manager(netns=hv, namespace_suffix=suffix)
        self.suffix = suffix

    def apply(self, state: HostState) -> list[str]:
        """One agent round: L2, L3, L2 again when router taps are new; the changes made."""
        desired = compute_l2(state, CONFIG)
        changes = list(self.l2.apply(desired).changes)
        report = self.l3.apply(desired_routers(state, CONFIG, self.suffix))
        assert not report.failed, report.failed
        changes += report.changes
        if report.new_taps:
            changes += self.l2.apply(desired).changes
        return changes

    def close(self) -> None:
        self.kernel.close()
        self.l3.close()


@pytest.fixture
def node(lab: NetnsLab) -> Iterator[tuple[Node, dict[str, str]]]:
    hv = lab.underlay(["hv1"])["hv1"]
    ext = lab.ns("ext", ipv6=False)
    run(
        "ip",
        "link",
        "add",
        "eth2",
        "netns",
        hv,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        ext,
    )
    run("ip", "-n", ext, "addr", "add", "203.0.113.1/24", "dev", "eth0")
    run("ip", "-n", ext, "link", "set", "eth0", "up")
    run("ip", "-n", hv, "link", "set", "eth2", "up")
    vms = {"ext": ext}
    for role, pid, mac, cidr, gw in (
        ("vm1", VM1, "fa:16:3e:00:00:01", "192.0.2.11/25", "192.0.2.1"),
        ("vm3", VM3, "fa:16:3e:00:00:03", "192.0.2.12/25", "192.0.2.1"),
        ("vm2", VM2, "fa:16:3e:00:00:02", "192.0.2.139/25", "192.0.2.129"),
    ):
        vms[role] = lab.vm(role, hv, tap_name(pid), mac, cidr)
        run("ip", "-n", vms[role], "route", "add", "default", "via", gw)
    suffix = f"-{lab.suffix}"
    n = Node(hv, suffix)
    try:
        yield n, vms
    finally:
        n.close()
        subprocess.run(["ip", "netns", "del", f"qrouter-{ROUTER}{suffix}"], capture_output=True)


def ping(ns: str, ip: str) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip], capture_output=True
    )
    return done.returncode == 0


def seen_from(
    src_ns: str,
    src_ip: str,
    dst_ns: str,
    bind_ip: str,
    to_ip: str,
    port: int = 40100,
    tries: int = 3,
) -> str | None:
    """Send UDP from ``src_ns`` to ``to_ip``; the source address the receiver in ``dst_ns``
    (bound to ``bind_ip``) sees, or None if nothing arrives."""
    server = udp_socket(dst_ns, bind_ip, port)
    client = udp_socket(src_ns, src_ip, port + 1)
    try:
        for attempt in range(tries):
            client.sendto(f"probe-{attempt}".encode(), (to_ip, port))
            try:
                _, peer = server.recvfrom(64)
                return str(peer[0])
            except TimeoutError:
                continue
        return None
    finally:
        server.close()
        client.close()


def test_router_routes_nats_and_cleans_up(node: tuple[Node, dict[str, str]]) -> None:
    n, vm = node
    qrouter = f"qrouter-{ROUTER}{n.suffix}"
    n.apply(host_state())
    assert qrouter in pr_netns.listnetns()
    assert n.l3.owned() == {ROUTER}

    # VM -> router -> other subnet
    assert ping(vm["vm1"], "192.0.2.139")
    assert (
        seen_from(vm["vm1"], "192.0.2.11", vm["vm2"], "192.0.2.139", "192.0.2.139") == "192.0.2.11"
    )
    # SNAT: the outside sees the gateway IP; the fixed IP is not reachable from outside
    assert ping(vm["vm2"], "203.0.113.1")
    assert seen_from(vm["vm2"], "192.0.2.139", vm["ext"], "203.0.113.1", "203.0.113.1") == GW_IP
    assert not ping(vm["ext"], FIP)

    # converged: a second round changes nothing
    assert n.apply(host_state()) == []

    # admin down: the ports stay plugged, nothing is routed; back up, it routes again
    up = host_state()
    n.apply(replace(up, routers=(replace(up.routers[0], admin_state_up=False),)))
    assert n.l3.owned() == {ROUTER}
    assert not ping(vm["vm1"], "192.0.2.139") and not ping(vm["vm2"], "203.0.113.1")
    n.apply(up)
    assert ping(vm["vm1"], "192.0.2.139") and ping(vm["vm2"], "203.0.113.1")

    # floating IP: DNAT in, 1:1 SNAT out, hairpin from the same network
    assert any(FIP in c for c in n.apply(host_state(fips=True)))
    assert ping(vm["ext"], FIP)
    assert seen_from(vm["ext"], "203.0.113.1", vm["vm1"], "192.0.2.11", FIP, 40200) == "203.0.113.1"
    assert seen_from(vm["vm1"], "192.0.2.11", vm["ext"], "203.0.113.1", "203.0.113.1", 40300) == FIP
    assert (
        seen_from(vm["vm2"], "192.0.2.139", vm["ext"], "203.0.113.1", "203.0.113.1", 40400) == GW_IP
    )
    assert seen_from(vm["vm3"], "192.0.2.12", vm["vm1"], "192.0.2.11", FIP, 40500) == "192.0.2.1"
    assert n.apply(host_state(fips=True)) == []

    # re-associated to another fixed address: the same flow (its conntrack entry flushed)
    # now reaches vm3; then back to vm1
    n.apply(host_state(fips=True, fip_to=("192.0.2.12", VM3)))
    assert seen_from(vm["ext"], "203.0.113.1", vm["vm3"], "192.0.2.12", FIP, 40200) == "203.0.113.1"
    n.apply(host_state(fips=True))
    assert seen_from(vm["ext"], "203.0.113.1", vm["vm1"], "192.0.2.11", FIP, 40200) == "203.0.113.1"

    # disassociation: the same flow (conntrack entry) dies at once, SNAT is back
    n.apply(host_state())
    assert seen_from(vm["ext"], "203.0.113.1", vm["vm1"], "192.0.2.11", FIP, 40200) is None
    assert not ping(vm["ext"], FIP)
    assert (
        seen_from(vm["vm1"], "192.0.2.11", vm["ext"], "203.0.113.1", "203.0.113.1", 40300) == GW_IP
    )

    # enable_snat off: the outside sees the fixed IP (routed, not translated)
    n.apply(host_state(snat=False))
    assert (
        seen_from(vm["vm2"], "192.0.2.139", vm["ext"], "203.0.113.1", "203.0.113.1", 40600)
        == "192.0.2.139"
    )

    # extra route installed and removed
    n.apply(host_state(routes=(ExtraRoute("198.18.0.0/15", "192.0.2.140"),)))
    assert "198.18.0.0/15 via 192.0.2.140" in run("ip", "-n", qrouter, "route")
    n.apply(host_state())
    assert "198.18.0.0/15" not in run("ip", "-n", qrouter, "route")

    # removing an interface and the gateway cleans the namespace state
    n.apply(host_state(interfaces=(QR_A,), gateway=False))
    links = run("ip", "-n", qrouter, "-o", "link")
    assert f"qr-{QR_A[:11]}" in links and f"qr-{QR_B[:11]}" not in links
    assert f"qg-{QG[:11]}" not in links
    assert "default" not in run("ip", "-n", qrouter, "route")
    assert "neutrino-l3" not in run("ip", "netns", "exec", qrouter, "nft", "list", "tables")
    assert not ping(vm["vm1"], "192.0.2.139")

    # deleting the router removes its namespace and taps
    n.apply(host_state(router=False))
    assert qrouter not in pr_netns.listnetns()
    assert n.l3.owned() == set()
    assert tap_name(QR_A) not in run("ip", "-n", n.kernel.netns or "", "link")


def test_restart_adopts_a_converged_router(node: tuple[Node, dict[str, str]]) -> None:
    n, vm = node
    n.apply(host_state(fips=True))
    assert ping(vm["ext"], FIP)
    fresh = L3Manager(netns=n.kernel.netns, namespace_suffix=n.suffix)
    try:
        report = fresh.apply(desired_routers(host_state(fips=True), CONFIG, n.suffix))
        assert report.applied == [ROUTER] and report.changes == [] and not report.new_taps
    finally:
        fresh.close()
    # a device deleted by hand is repaired
    run("ip", "-n", f"qrouter-{ROUTER}{n.suffix}", "link", "del", f"qr-{QR_B[:11]}")
    changes = n.apply(host_state(fips=True))
    assert any("veth" in c for c in changes)
    assert ping(vm["vm1"], "192.0.2.139")


def test_calc_idles_admin_down_and_skips_portless_routers() -> None:
    state = host_state()
    down = replace(state, routers=(replace(state.routers[0], admin_state_up=False),))
    (idle,) = desired_routers(down).values()  # plugged, forwarding nothing
    assert not idle.forwarding and idle.nat is None and idle.floating_ips == ()
    bare = replace(state, routers=(RouterState(id=str(uuid.uuid4())),))
    assert desired_routers(bare) == {}
    cfg = desired_routers(host_state(fips=True), CONFIG)[ROUTER]
    assert cfg.nat is not None and f"{FIP} : 192.0.2.11" in cfg.nat
    assert f"snat to {GW_IP}" in cfg.nat and "192.0.2.0/25, 192.0.2.128/25" in cfg.nat
    assert [p.mtu for p in cfg.ports] == [1500, 1450, 1450]  # qg- flat, qr- vxlan capped
    assert socket.inet_aton(FIP)  # documentation range only
