"""Port forwardings in the trace: DNAT of a floating IP's external port to an internal
address and port, before the floating IP's own association (the NAT table's order), and a
packet no forwarding matches (the router's own address: ICMP answered, anything else
refused)."""

from __future__ import annotations

from dataclasses import replace

from neutrino.domain.trace import NetworkModel, Packet, trace_from_port
from neutrino.domain.trace.model import PortForwarding
from neutrino.domain.trace.walk import trace_from_external
from tests.domain.test_trace import EXT, R1, world

OUTSIDE = "203.0.113.1"
HELD = "203.0.113.30"  # a floating IP holding forwardings only


def forwarded(*extra: PortForwarding) -> NetworkModel:
    """The test world, c (192.0.2.70, group ssh: tcp/22 from 192.0.2.0/26) behind tcp/2222
    of HELD, plus ``extra``."""
    ssh = PortForwarding("pf-ssh", HELD, R1, "tcp", (2222, 2222), "192.0.2.70", (22, 22))
    return replace(world(), forwardings=(ssh, *extra))


def test_forwarding_dnats_address_and_port_then_ingress_decides() -> None:
    m = forwarded()
    t = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "tcp", dport=2222))
    nat = next(h for h in t.hops if h.step == "NAT")
    assert "DNAT 203.0.113.30:2222 -> 192.0.2.70:22 (port forwarding)" in nat.detail
    assert nat.obj.startswith("port forwarding tcp 203.0.113.30:2222 -> 192.0.2.70:22")
    # ssh admits tcp/22 (the internal port, not 2222) from web's subnet only
    assert t.drop is not None and t.drop.step == "ingress rules"
    assert "tcp/22" in t.drop.detail and OUTSIDE in t.drop.detail
    inside = trace_from_port(m, "a", Packet(HELD, "tcp", dport=2222))
    assert inside.verdict == "delivered", [(h.step, h.detail) for h in inside.hops]
    assert inside.hops[-1].detail.startswith("delivered to 192.0.2.70")


def test_port_ranges_n_to_n_and_one_to_n() -> None:
    m = forwarded(
        PortForwarding("pf-nn", HELD, R1, "tcp", (8000, 8009), "192.0.2.70", (9000, 9009)),
        PortForwarding("pf-1n", HELD, R1, "udp", (7000, 7001), "192.0.2.70", (53, 53)),
    )
    nn = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "tcp", dport=8005))
    assert any("-> 192.0.2.70:9005" in h.detail for h in nn.hops if h.step == "NAT")
    one = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "udp", dport=7001))
    assert any("-> 192.0.2.70:53" in h.detail for h in one.hops if h.step == "NAT")
    # the protocol must match too: udp/8005 has no forwarding
    udp = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "udp", dport=8005))
    assert udp.drop is not None and udp.drop.step == "NAT"


def test_no_matching_forwarding_is_refused_and_icmp_answered_by_the_router() -> None:
    m = forwarded()
    t = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "tcp", dport=2223))
    assert t.verdict == "dropped" and t.drop is not None and t.drop.step == "NAT"
    assert "no port forwarding of floating IP 203.0.113.30 matches tcp/2223" in t.drop.detail
    assert "tcp/2222" in t.drop.detail  # what it does forward
    assert t.drop.fix is not None and "port forwarding create" in t.drop.fix
    ping = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "icmp"))
    assert ping.verdict == "delivered" and ping.hops[-1].step == "router"


def test_forwarding_before_the_floating_ips_association() -> None:
    """The API keeps the two apart; the NAT table still looks at forwardings first."""
    both = PortForwarding("pf-b", "203.0.113.20", R1, "tcp", (80, 80), "192.0.2.70", (22, 22))
    m = replace(world(), forwardings=(both,))
    t = trace_from_external(m, EXT, OUTSIDE, Packet("203.0.113.20", "tcp", dport=80))
    assert any("-> 192.0.2.70:22" in h.detail for h in t.hops if h.step == "NAT")
    other = trace_from_external(m, EXT, OUTSIDE, Packet("203.0.113.20", "tcp", dport=81))
    assert any(h.detail == "DNAT 203.0.113.20 -> 192.0.2.11" for h in other.hops)


def test_a_forwarding_of_another_router_is_not_applied() -> None:
    stray = PortForwarding("pf-x", HELD, "router-2", "tcp", (2222, 2222), "192.0.2.70", (22, 22))
    m = replace(world(), forwardings=(stray,))
    t = trace_from_external(m, EXT, OUTSIDE, Packet(HELD, "tcp", dport=2222))
    # no gateway of router-2 in the model: the address is nobody's on the external network
    assert t.verdict == "left" and not any(h.step == "NAT" for h in t.hops)
