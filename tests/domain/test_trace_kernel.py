"""Which kernel objects each hop relies on (domain/trace/kernel.py), and the first hop a list
of drift lines betrays: on the small world of ``test_trace``."""

from __future__ import annotations

from neutrino.domain.hoststate import bridge_name, tap_name
from neutrino.domain.trace import Packet, trace_from_port
from neutrino.domain.trace.kernel import first_difference, hosts_of
from tests.domain.test_trace import DB, R1, WEB, world

MAC_C = world().ports["c"].mac_address


def routed() -> list:  # type: ignore[type-arg]
    t = trace_from_port(world(), "a", Packet("192.0.2.70", "tcp", dport=22))
    assert t.verdict == "delivered"
    return t.hops


def test_hops_name_their_hosts_and_objects() -> None:
    hops = routed()
    assert hosts_of(hops) == ["hv1", "hv2"]
    by_step = {h.step: h.refs for h in hops if h.refs}
    tap_a, tap_c = tap_name("a"), tap_name("c")
    assert ("hv1", tap_a) in by_step["source"]
    assert ("hv1", f"nft bridge p_ip4 {tap_a}") in by_step["anti-spoofing"]
    assert ("hv1", f"nft bridge port_out {tap_a}") in by_step["egress rules"]
    assert ("hv2", f"nft bridge port_in {tap_c}") in by_step["ingress rules"]
    assert ("hv2", f"nft inet br_zone {bridge_name(DB)}") in by_step["ingress rules"]
    assert ("hv2", tap_c) in by_step["deliver"]
    # the router is on hv1; db's hop crosses to hv2 on VXLAN 102
    last_l2 = [h for h in hops if h.step == "L2"][-1]
    assert ("hv1", f"fdb vxlan-102 {MAC_C}") in last_l2.refs
    assert ("hv1", "neigh vxlan-102 192.0.2.70") in last_l2.refs
    routes = [h for h in hops if h.step == "route"]
    assert ("hv1", f"router {R1} address qr-r1-db") in routes[-1].refs


def test_the_first_hop_relying_on_a_difference() -> None:
    hops = routed()
    unrelated = ["missing fdb vxlan-1020 fa:16:3e:00:00:99 dst 198.51.100.9"]
    assert first_difference(hops, {"hv1": unrelated, "hv2": []}) is None
    fdb = f"missing fdb vxlan-102 {MAC_C} dst 198.51.100.2"
    deleted_rule_set = f"missing nft bridge port_in {tap_name('c')} : jump in-abc"
    found = first_difference(hops, {"hv1": [fdb], "hv2": [deleted_rule_set]})
    assert found is not None
    index, lines = found
    assert hops[index].step == "L2" and lines == [f"hv1: {fdb}"]
    # the same line on the wrong host is not this path's difference
    assert first_difference(hops, {"hv2": [fdb]}) is None
    found = first_difference(hops, {"hv2": [deleted_rule_set]})
    assert found is not None and hops[found[0]].step == "ingress rules"
    mtu = f"mtu {bridge_name(WEB)}: want 1450, have 1400"
    found = first_difference(hops, {"hv1": [mtu]})
    assert found is not None and hops[found[0]].step == "L2"


def test_an_extra_route_hop_relies_on_its_static_route() -> None:
    model = world(routers={"routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.70"}]})
    t = trace_from_port(model, "a", Packet("198.51.100.7", "icmp"))
    route = [h for h in t.hops if h.step == "route"][-1]
    assert ("hv1", f"router {R1} route 198.51.100.0/24 via 192.0.2.70") in route.refs
    missing = f"missing router {R1} route 198.51.100.0/24 via 192.0.2.70"
    found = first_difference(t.hops, {"hv1": [missing], "hv2": []})
    assert found is not None and t.hops[found[0]] is route
