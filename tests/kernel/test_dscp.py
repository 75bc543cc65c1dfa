"""DSCP marking for real: ``DscpManager`` on a namespace "hypervisor" marks what its VM sends
(IPv4 and IPv6, ECN bits kept) as it crosses VXLAN to a VM on another hypervisor; the outer
VXLAN header carries DSCP 0 unless the device inherits the inner TOS; removing the marks
restores the VM's own DSCP. Packets are read off the wire with an ``AF_PACKET`` socket (no
tcpdump here)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest
from pyroute2 import netns as pr_netns

from neutrino.agent.dataplane.dscp import TABLE, DscpManager
from tests.kernel.lab import NetnsLab, run, sysctl, udp_reaches
from tests.kernel.test_l2_overlay import PORTS, VNI, Hypervisor, desired
from tests.kernel.test_l2_overlay import overlay as overlay  # the two-hypervisor fixture

PORT = 40123
V6 = {"vm1": "2001:db8::11", "vm2": "2001:db8::12"}
TAP1 = "tap" + PORTS["hv1"][0][:11]
ECT0 = 0x02  # the sender's ECN bits: the mark must keep them


def packet_socket(ns: str, ifname: str) -> socket.socket:
    pr_netns.pushns(ns)
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    finally:
        pr_netns.popns()
    sock.bind((ifname, 0))
    sock.settimeout(0.1)
    return sock


def ip_fields(frame: bytes) -> tuple[int, int, int, bytes] | None:
    """(IP version, DSCP, ECN, the IP packet) of an Ethernet frame, None if not IP."""
    ethertype, packet = struct.unpack("!H", frame[12:14])[0], frame[14:]
    if ethertype == 0x0800:
        return 4, packet[1] >> 2, packet[1] & 3, packet
    if ethertype == 0x86DD:
        tclass = ((packet[0] & 0x0F) << 4) | (packet[1] >> 4)
        return 6, tclass >> 2, tclass & 3, packet
    return None


def udp_dport(version: int, packet: bytes) -> int | None:
    if version == 4 and packet[9] == 17:
        start = (packet[0] & 0x0F) * 4
        return int(struct.unpack("!H", packet[start + 2 : start + 4])[0])
    if version == 6 and packet[6] == 17:
        return int(struct.unpack("!H", packet[42:44])[0])
    return None


def send(ns: str, version: int, v4: str = "192.0.2.12", v6: str = V6["vm2"]) -> None:
    """Three datagrams from the VM in ``ns`` to its peer (``v4`` or ``v6``), with ECN bits
    ECT(0)."""
    pr_netns.pushns(ns)
    try:
        family = socket.AF_INET if version == 4 else socket.AF_INET6
        sock = socket.socket(family, socket.SOCK_DGRAM)
    finally:
        pr_netns.popns()
    with sock:
        if version == 4:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, ECT0)
            target = (v4, PORT)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, ECT0)
            target = (v6, PORT)
        for _ in range(3):
            sock.sendto(b"dscp-probe", target)


def seen(sniffer: socket.socket, version: int, outer: bool = False) -> tuple[int, int]:
    """(DSCP, ECN) of the first probe of ``version`` read: the VM's packet itself, or with
    ``outer`` the VXLAN packet carrying it (its IPv4 header; the probe inside it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            frame = sniffer.recv(4096)
        except TimeoutError:
            continue
        fields = ip_fields(frame)
        if fields is None:
            continue
        if outer:
            if fields[0] != 4 or udp_dport(4, fields[3]) != 4789:
                continue
            start = (fields[3][0] & 0x0F) * 4 + 8 + 8  # IP, UDP and VXLAN headers
            inner = ip_fields(fields[3][start:])
            if inner and inner[0] == version and udp_dport(version, inner[3]) == PORT:
                return fields[1], fields[2]
        elif fields[0] == version and udp_dport(version, fields[3]) == PORT:
            return fields[1], fields[2]
    raise AssertionError(f"no IPv{version} probe seen")


def probe(hvs: dict[str, Hypervisor], lab: NetnsLab, version: int) -> dict[str, tuple[int, int]]:
    """Send probes from vm1; what vm2 receives (``inner``) and what crosses the underlay
    into hv2 (``outer``)."""
    inner = packet_socket(lab.name("vm2"), "eth0")
    outer = packet_socket(hvs["hv2"].ns, "eth1")
    with inner, outer:
        send(lab.name("vm1"), version)
        return {"inner": seen(inner, version), "outer": seen(outer, version, outer=True)}


@pytest.fixture
def wired(overlay: dict[str, Hypervisor], lab: NetnsLab) -> Iterator[dict[str, Hypervisor]]:
    for hv in overlay.values():
        hv.manager.apply(desired(hv))
    for i, vm in enumerate(("vm1", "vm2"), start=1):
        ns = lab.name(vm)
        sysctl(ns, "net/ipv6/conf/eth0/disable_ipv6", "0")
        run("ip", "-n", ns, "addr", "add", f"{V6[vm]}/64", "dev", "eth0", "nodad")
        peer = V6["vm2" if i == 1 else "vm1"]
        mac = PORTS["hv2" if i == 1 else "hv1"][1]
        # l2pop answers ARP only: the IPv6 neighbour is set as the agent's proxy would
        run("ip", "-n", ns, "neigh", "replace", peer, "lladdr", mac, "dev", "eth0")
    assert udp_reaches(lab.name("vm1"), "192.0.2.11", lab.name("vm2"), "192.0.2.12")
    yield overlay


def test_the_vms_packets_carry_the_mark_until_it_is_removed(
    wired: dict[str, Hypervisor], lab: NetnsLab
) -> None:
    marks = DscpManager(netns=wired["hv1"].ns)
    try:
        for version in (4, 6):  # unmarked: the VM's own DSCP (0) and ECN
            assert probe(wired, lab, version)["inner"] == (0, ECT0)

        assert marks.apply({TAP1: 46}) == [f"DSCP 46 on {TAP1}"]
        assert marks.apply({TAP1: 46}) == []  # unchanged: nothing written
        for version in (4, 6):
            got = probe(wired, lab, version)
            assert got["inner"] == (46, ECT0)  # marked, ECN kept (and the v4 checksum fixed:
            # the kernel of vm2 dropped nothing, the probe was read after its checks)
            assert got["outer"] == (0, ECT0)  # VXLAN's outer header: DSCP 0, ECN copied

        # a VXLAN device that inherits the inner TOS (Neutron's dscp_inherit) carries it out
        vxlan = f"vxlan-{VNI}"
        run("ip", "-n", wired["hv1"].ns, "link", "set", vxlan, "type", "vxlan", "tos", "inherit")
        assert probe(wired, lab, 4)["outer"] == (46, ECT0)
        run("ip", "-n", wired["hv1"].ns, "link", "set", vxlan, "type", "vxlan", "tos", "0")

        assert marks.apply({TAP1: 10}) == [f"DSCP 10 on {TAP1}"]
        assert probe(wired, lab, 6)["inner"] == (10, ECT0)

        assert marks.apply({}) == ["DSCP marks removed"]
        assert f"table bridge {TABLE}" not in run(
            "ip", "netns", "exec", wired["hv1"].ns, "nft", "list", "tables"
        )
        for version in (4, 6):
            assert probe(wired, lab, version)["inner"] == (0, ECT0)
    finally:
        marks.remove()
        marks.close()


def test_a_resync_rewrites_a_table_changed_behind_the_agents_back(
    wired: dict[str, Hypervisor], lab: NetnsLab
) -> None:
    marks = DscpManager(netns=wired["hv1"].ns)
    try:
        marks.apply({TAP1: 34})
        run("ip", "netns", "exec", wired["hv1"].ns, "nft", "delete", "table", "bridge", TABLE)
        assert probe(wired, lab, 4)["inner"] == (0, ECT0)
        assert marks.apply({TAP1: 34}) == []  # a normal round trusts what it wrote
        assert marks.apply({TAP1: 34}, force=True) == [f"DSCP 34 on {TAP1}"]
        assert probe(wired, lab, 4)["inner"] == (34, ECT0)
        assert marks.remove() and not marks.remove()
    finally:
        marks.remove()
        marks.close()
