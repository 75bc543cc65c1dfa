"""Stateless security groups in a real kernel (the world of ``test_security_groups``: hv1 with
vm1 .11, vm2 .12 and vm5 .15 unfiltered; hv2 with vm3 .20 and vm4 .14 unfiltered; one VXLAN
network), checked with real traffic and ``conntrack -L`` in the hypervisor namespaces.

* A group allowing only egress: stateful, the reply to vm1's datagram comes back (conntrack);
  stateless, the datagram still reaches its peer but the reply is dropped, until an ingress
  rule admits it.
* A stateless allow-all group on vm1 and vm3: traffic flows both ways across VXLAN and neither
  hypervisor holds a conntrack entry for it — hv1 (vm2 stays stateful there: br_netfilter on)
  because the bridge table's raw chain untracks it, hv2 (no stateful port left) because its
  bridge runs no br_netfilter at all — while vm2's own traffic is still tracked (the control),
  and vm2 keeps its stateful semantics talking to vm1.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.kernel.lab import NetnsLab, run
from tests.kernel.test_security_groups import (
    ALLOW_EGRESS,
    DEFAULT,
    DEFAULT_RULES,
    VMS,
    WEB,
    RuleState,
    World,
    _socket,
    tcp_ok,
    tcp_server,
)

OPEN = (
    *ALLOW_EGRESS,
    RuleState("r-a4", "ingress", "IPv4"),
    RuleState("r-a6", "ingress", "IPv6"),
)
BRIDGE = "brq3f1c2d9e-aa"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    lab = NetnsLab()
    made = None
    try:
        made = World(lab)
        yield made
    finally:
        if made is not None:
            made.close()
        lab.cleanup()


def udp_exchange(
    world: World, src: str, dst: str, port: int, v6: bool = False
) -> tuple[bool, bool]:
    """(did ``src``'s datagram reach ``dst``, did ``dst``'s reply come back), a few tries."""
    a, b = VMS[src], VMS[dst]
    family = socket.AF_INET6 if v6 else socket.AF_INET
    server = _socket(world.ns[dst], family, socket.SOCK_DGRAM)
    client = _socket(world.ns[src], family, socket.SOCK_DGRAM)
    server_ip, client_ip = (b.ip6, a.ip6) if v6 else (b.ip, a.ip)
    arrived = replied = False
    try:
        server.bind((server_ip, port))
        client.bind((client_ip, port + 1))
        server.settimeout(0.5)
        client.settimeout(0.5)
        for _ in range(6):  # the first datagrams may wait on neighbour resolution
            client.sendto(b"ping", (server_ip, port))
            try:
                _, peer = server.recvfrom(64)
            except TimeoutError:
                continue
            arrived = True
            server.sendto(b"pong", peer)
            try:
                replied = client.recvfrom(64)[0] == b"pong"
            except TimeoutError:
                replied = False
            if replied:
                break
    finally:
        server.close()
        client.close()
    return arrived, replied


def conntrack(hv_ns: str, a: str, b: str) -> list[str]:
    """``conntrack -L`` lines (IPv4, every zone) of flows between ``a`` and ``b``."""
    listed = run("ip", "netns", "exec", hv_ns, "conntrack", "-L")
    pairs = (f"src={a} dst={b} ", f"src={b} dst={a} ")
    return [line for line in listed.splitlines() if any(p in line for p in pairs)]


def nf_call(hv_ns: str) -> bool:
    flags = run("ip", "-d", "-n", hv_ns, "link", "show", BRIDGE)
    return "nf_call_iptables 1" in flags


def test_a_stateless_group_without_ingress_rules_drops_replies(world: World) -> None:
    vms = {**VMS, "vm1": replace(VMS["vm1"], groups=(WEB,))}
    groups = {DEFAULT: DEFAULT_RULES, WEB: ALLOW_EGRESS}
    world.apply(vms, groups)  # stateful: the reply is an established flow
    assert udp_exchange(world, "vm1", "vm4", 41000) == (True, True)
    with tcp_server(world.ns["vm4"], "192.0.2.14", 8080):
        assert tcp_ok(world.ns["vm1"], "192.0.2.14", 8080)

    world.apply(vms, groups, stateless=frozenset({WEB}))
    assert udp_exchange(world, "vm1", "vm4", 41010) == (True, False)  # out yes, reply no
    with tcp_server(world.ns["vm4"], "192.0.2.14", 8080):
        assert not tcp_ok(world.ns["vm1"], "192.0.2.14", 8080)  # the SYN-ACK is dropped
    assert not world.ping("vm1", "192.0.2.14")

    # an ingress rule for the replies (what a stateless group needs) lets them in
    replies = RuleState("r-u", "ingress", "IPv4", "udp", remote_ip_prefix="192.0.2.14/32")
    world.apply(vms, {**groups, WEB: (*ALLOW_EGRESS, replies)}, stateless=frozenset({WEB}))
    assert udp_exchange(world, "vm1", "vm4", 41020) == (True, True)
    assert not world.ping("vm1", "192.0.2.14")  # ICMP replies still have no rule


def test_stateless_allow_all_flows_both_ways_with_no_conntrack_entry(world: World) -> None:
    vms = {
        **VMS,
        "vm1": replace(VMS["vm1"], groups=(WEB,)),
        "vm3": replace(VMS["vm3"], groups=(WEB,)),
    }
    world.apply(vms, {DEFAULT: DEFAULT_RULES, WEB: OPEN}, stateless=frozenset({WEB}))
    hv1, hv2 = world.hvs["hv1"], world.hvs["hv2"]
    assert nf_call(hv1)  # vm2 (stateful) is on hv1's bridge
    assert not nf_call(hv2)  # vm3 stateless, vm4 unfiltered: nothing needs conntrack
    for hv in (hv1, hv2):
        run("ip", "netns", "exec", hv, "conntrack", "-F")

    assert world.ping("vm1", "192.0.2.20", count=3)
    assert world.ping("vm3", "192.0.2.11", count=3)
    assert udp_exchange(world, "vm3", "vm1", 41030) == (True, True)
    with tcp_server(world.ns["vm1"], "192.0.2.11", 8080):
        assert tcp_ok(world.ns["vm3"], "192.0.2.11", 8080)
    with tcp_server(world.ns["vm3"], "192.0.2.20", 8080):
        assert tcp_ok(world.ns["vm1"], "192.0.2.20", 8080)
    assert conntrack(hv1, "192.0.2.11", "192.0.2.20") == []
    assert conntrack(hv2, "192.0.2.11", "192.0.2.20") == []

    # the control: vm2's traffic on the same bridge of hv1 is tracked (the check can fail)
    assert world.ping("vm2", "192.0.2.14", count=2)
    assert conntrack(hv1, "192.0.2.12", "192.0.2.14")

    # vm2 keeps its stateful semantics next to a stateless port: its ping to vm1 gets its
    # replies (tracked, although vm1 is stateless); vm1, not a member of vm2's group, is
    # refused by vm2 (stateful default group: ingress only from its members)
    assert world.ping("vm2", "192.0.2.11", count=2)
    assert conntrack(hv1, "192.0.2.12", "192.0.2.11")
    assert not world.ping("vm1", "192.0.2.12")

    # back to stateful everywhere: hv2's bridge runs br_netfilter again
    world.apply(VMS, {DEFAULT: DEFAULT_RULES})
    assert nf_call(hv2)
    assert world.ping("vm3", "192.0.2.11", count=2)


def test_stateless_neighbour_discovery_needs_no_rule(world: World) -> None:
    """Neutron's promise for stateless groups: ARP, DHCP, router and neighbour discovery work
    whatever the rules. vm1 and vm2 in a stateless group admitting UDP only (both ways, both
    families), neighbour caches flushed: UDP over IPv4 (ARP) and IPv6 (neighbour discovery,
    ICMPv6) flows, while an ICMP or ICMPv6 echo, which no rule admits, is dropped."""
    udp = tuple(
        RuleState(f"r-{d}{v}", d, f"IPv{v}", "udp") for d in ("ingress", "egress") for v in (4, 6)
    )
    vms = {
        **VMS,
        "vm1": replace(VMS["vm1"], groups=(WEB,)),
        "vm2": replace(VMS["vm2"], groups=(WEB,)),
    }
    world.apply(vms, {DEFAULT: DEFAULT_RULES, WEB: udp}, stateless=frozenset({WEB}))
    for vm in ("vm1", "vm2"):
        run("ip", "-n", world.ns[vm], "neigh", "flush", "all")
    assert udp_exchange(world, "vm1", "vm2", 41040) == (True, True)
    assert udp_exchange(world, "vm1", "vm2", 41050, v6=True) == (True, True)
    assert not world.ping("vm1", "192.0.2.12")
    assert not world.ping("vm1", "2001:db8:a::12")
