"""The packet trace from the model: every kind of verdict, its reason and its fix.

One small world: networks ``web`` (192.0.2.0/26 and 2001:db8:1::/64, VXLAN 101) and ``db``
(192.0.2.64/26, VXLAN 102) joined by router ``r1`` on hv1, whose gateway is on the external
flat network 203.0.113.0/24 with SNAT and a floating IP for ``b``. Groups: ``default`` (egress
anywhere, ingress from its members), ``ssh`` (ingress tcp/22 from web's subnet), ``quiet``
(no rules), ``udp-stateless`` (stateless, udp/53 in and udp out)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from neutrino.domain.sgstate import RuleState
from neutrino.domain.trace import NetworkModel, Packet, from_neutron, trace_from_port
from neutrino.domain.trace.filters import link_local
from neutrino.domain.trace.walk import trace_from_external

WEB, DB, EXT = "net-web", "net-db", "net-ext"
R1 = "router-1"


def rule(rid: str, direction: str, ethertype: str = "IPv4", **kw: Any) -> dict[str, Any]:
    return {"id": rid, "direction": direction, "ethertype": ethertype, **kw}


def port(
    pid: str,
    net: str,
    ips: list[tuple[str, str]],
    host: str | None = "hv1",
    groups: tuple[str, ...] = ("sg-default",),
    **kw: Any,
) -> dict[str, Any]:
    n = sum(map(ord, pid)) % 250
    return {
        "id": pid,
        "name": pid,
        "network_id": net,
        "mac_address": f"fa:16:3e:00:00:{n:02x}",
        "fixed_ips": [{"subnet_id": s, "ip_address": a} for s, a in ips],
        "binding:host_id": host or "",
        "binding:vif_type": "bridge" if host else "unbound",
        "status": "ACTIVE",
        "security_groups": list(groups),
        "port_security_enabled": True,
        **kw,
    }


def world(**changes: Any) -> NetworkModel:
    networks = [
        {
            "id": WEB,
            "name": "web",
            "provider:network_type": "vxlan",
            "provider:segmentation_id": 101,
        },
        {"id": DB, "name": "db", "provider:network_type": "vxlan", "provider:segmentation_id": 102},
        {"id": EXT, "name": "public", "provider:network_type": "flat", "router:external": True},
    ]
    subnets = [
        {
            "id": "sn-web",
            "network_id": WEB,
            "cidr": "192.0.2.0/26",
            "ip_version": 4,
            "gateway_ip": "192.0.2.1",
        },
        {
            "id": "sn-web6",
            "network_id": WEB,
            "cidr": "2001:db8:1::/64",
            "ip_version": 6,
            "gateway_ip": "2001:db8:1::1",
        },
        {
            "id": "sn-db",
            "network_id": DB,
            "cidr": "192.0.2.64/26",
            "ip_version": 4,
            "gateway_ip": "192.0.2.65",
        },
        {
            "id": "sn-ext",
            "network_id": EXT,
            "cidr": "203.0.113.0/24",
            "ip_version": 4,
            "gateway_ip": "203.0.113.1",
        },
    ]
    ports = {
        "a": port("a", WEB, [("sn-web", "192.0.2.10"), ("sn-web6", "2001:db8:1::10")]),
        "b": port("b", WEB, [("sn-web", "192.0.2.11"), ("sn-web6", "2001:db8:1::11")], "hv2"),
        "c": port("c", DB, [("sn-db", "192.0.2.70")], "hv2", groups=("sg-ssh",)),
        "q": port("q", WEB, [("sn-web", "192.0.2.12")], "hv2", groups=("sg-quiet",)),
        "r1-web": port(
            "r1-web",
            WEB,
            [("sn-web", "192.0.2.1"), ("sn-web6", "2001:db8:1::1")],
            groups=(),
            device_owner="network:router_interface",
            device_id=R1,
        ),
        "r1-db": port(
            "r1-db",
            DB,
            [("sn-db", "192.0.2.65")],
            groups=(),
            device_owner="network:router_interface",
            device_id=R1,
        ),
        "r1-gw": port(
            "r1-gw",
            EXT,
            [("sn-ext", "203.0.113.10")],
            groups=(),
            device_owner="network:router_gateway",
            device_id=R1,
        ),
    }
    groups = [
        {
            "id": "sg-default",
            "name": "default",
            "security_group_rules": [
                rule("d-e4", "egress"),
                rule("d-e6", "egress", "IPv6"),
                rule("d-i4", "ingress", remote_group_id="sg-default"),
                rule("d-i6", "ingress", "IPv6", remote_group_id="sg-default"),
            ],
        },
        {
            "id": "sg-ssh",
            "name": "ssh",
            "security_group_rules": [
                rule("s-e4", "egress"),
                rule(
                    "s-i22",
                    "ingress",
                    protocol="tcp",
                    port_range_min=22,
                    port_range_max=22,
                    remote_ip_prefix="192.0.2.0/26",
                ),
            ],
        },
        {"id": "sg-quiet", "name": "quiet", "security_group_rules": []},
        {
            "id": "sg-udp",
            "name": "udp-stateless",
            "stateful": False,
            "security_group_rules": [
                rule("u-in", "ingress", protocol="udp", port_range_min=53, port_range_max=53),
                rule("u-out", "egress", protocol="udp"),
            ],
        },
    ]
    routers = [
        {
            "id": R1,
            "name": "r1",
            "admin_state_up": True,
            "external_gateway_info": {"network_id": EXT, "enable_snat": True},
            "routes": [],
        }
    ]
    fips = [
        {
            "id": "fip-b",
            "floating_ip_address": "203.0.113.20",
            "fixed_ip_address": "192.0.2.11",
            "port_id": "b",
            "router_id": R1,
        }
    ]
    for key, value in changes.items():
        if key in ports:
            ports[key] = {**ports[key], **value}
        elif key == "routers":
            routers = [{**routers[0], **value}]
        elif key == "add_ports":
            ports.update({p["id"]: p for p in value})
        elif key == "drop_ports":
            for pid in value:
                del ports[pid]
        elif key == "subnets":
            subnets = value
    system = {"r1-web", "r1-db", "r1-gw"}
    return from_neutron(
        networks,
        subnets,
        ports.values(),
        groups,
        routers,
        fips,
        vteps={"hv1": "198.51.100.1", "hv2": "198.51.100.2"},
        system_owned=system,
    )


def steps(trace: Any) -> list[tuple[str, str]]:
    return [(h.step, h.verdict) for h in trace.hops]


def test_same_network_allowed_by_remote_group_and_reply_by_conntrack() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.11", "icmp"))
    assert t.verdict == "delivered"
    assert steps(t) == [
        ("source", "pass"),
        ("anti-spoofing", "pass"),
        ("egress rules", "pass"),
        ("L2", "pass"),
        ("ingress rules", "pass"),
        ("deliver", "deliver"),
    ]
    assert "rule d-e4" in t.hops[2].detail
    assert "rule d-i4" in t.hops[4].detail and "default" in t.hops[4].detail
    assert "VNI 101" in t.hops[3].detail and "198.51.100.1" in t.hops[3].detail
    assert all("only by conntrack" in h.detail for h in t.reply)


def test_ingress_refused_names_group_and_fix() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.70", "tcp", dport=80))
    assert t.verdict == "dropped"
    drop = t.drop
    assert drop is not None and drop.step == "ingress rules"
    assert "no ingress rule allows tcp/80 from 192.0.2.10 in group ssh" in drop.detail
    assert drop.fix is not None and "--ingress" in drop.fix and "--dst-port 80" in drop.fix
    assert "--remote-ip 192.0.2.0/26" in drop.fix and drop.fix.endswith("sg-ssh")


def test_cross_subnet_through_router_allowed_by_port_rule() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.70", "tcp", dport=22))
    assert t.verdict == "delivered", t.hops
    kinds = [s for s, _ in steps(t)]
    assert kinds == [
        "source",
        "anti-spoofing",
        "egress rules",
        "route",
        "L2",
        "router",
        "route",
        "L2",
        "ingress rules",
        "deliver",
    ]
    assert "rule s-i22" in t.hops[8].detail
    assert "connected 192.0.2.64/26" in t.hops[6].detail


def test_egress_refused_by_group_without_egress_rules() -> None:
    t = trace_from_port(world(), "q", Packet("192.0.2.10", "icmp"))
    assert t.drop is not None and t.drop.step == "egress rules"
    assert "no egress rule allows icmp type 8 to 192.0.2.10 in group quiet" in t.drop.detail


def test_no_security_group_only_dhcp_passes() -> None:
    m = world(a={"security_groups": []})
    t = trace_from_port(m, "a", Packet("192.0.2.11", "icmp"))
    assert t.drop is not None and "no security group" in t.drop.detail
    dhcp = trace_from_port(m, "a", Packet("192.0.2.1", "udp", dport=67, sport=68))
    assert dhcp.hops[2].verdict == "pass" and "DHCP" in dhcp.hops[2].detail


def test_port_security_off_skips_filters_both_ways() -> None:
    m = world(q={"port_security_enabled": False})
    t = trace_from_port(m, "q", Packet("192.0.2.10", "icmp", src="192.0.2.99"))
    assert t.hops[1].verdict == "pass" and "not filtered" in t.hops[1].detail
    # a's default group does not admit a non-member: dropped at a's ingress
    assert t.drop is not None and t.drop.step == "ingress rules"
    back = trace_from_port(m, "a", Packet("192.0.2.12", "tcp", dport=5000))
    assert back.verdict == "delivered"
    assert "port security is disabled" in back.hops[-2].detail


def test_spoofed_source_address_and_mac() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.11", "icmp", src="192.0.2.50"))
    assert t.drop is not None and t.drop.step == "anti-spoofing"
    assert "192.0.2.50 is not an address of the port" in t.drop.detail
    assert t.drop.fix is not None and "--allowed-address ip-address=192.0.2.50" in t.drop.fix
    mac = trace_from_port(world(), "a", Packet("192.0.2.11", "icmp", src_mac="fa:16:3e:99:99:99"))
    assert mac.drop is not None and "source MAC fa:16:3e:99:99:99" in mac.drop.detail


def test_allowed_address_pair_passes_anti_spoofing_and_receives() -> None:
    pair = [{"ip_address": "192.0.2.48/29"}]
    m = world(a={"allowed_address_pairs": pair}, b={"binding:host_id": "hv1"})
    t = trace_from_port(m, "a", Packet("192.0.2.11", "icmp", src="192.0.2.50"))
    assert t.verdict == "delivered"  # 192.0.2.50 is a member address of default via the pair
    assert t.reply_verdict == "allowed"
    vip = trace_from_port(m, "b", Packet("192.0.2.50", "icmp"))
    assert vip.verdict == "delivered" and vip.hops[-1].obj.startswith("port a")


def test_allowed_address_pair_across_hosts_finds_no_neighbour_entry() -> None:
    """The VXLAN proxy answers ARP/ND from l2population's entries: fixed IPs only."""
    m = world(a={"allowed_address_pairs": [{"ip_address": "192.0.2.48/29"}]})
    vip = trace_from_port(m, "b", Packet("192.0.2.50", "icmp"))
    assert vip.drop is not None and vip.drop.step == "L2"
    assert "l2population" in vip.drop.detail
    out = trace_from_port(m, "a", Packet("192.0.2.11", "icmp", src="192.0.2.50"))
    assert out.verdict == "delivered" and out.reply_verdict == "dropped"
    assert out.reply[-1].step == "reply L2" and "192.0.2.50" in out.reply[-1].detail
    own = trace_from_port(m, "a", Packet("192.0.2.11", "icmp"))
    assert own.reply_verdict == "allowed"


def test_a_one_address_pair_is_announced_across_hosts() -> None:
    """l2population lists a one-address pair (and a gateway's floating IPs) like a fixed IP."""
    m = world(a={"allowed_address_pairs": [{"ip_address": "192.0.2.50"}]})
    vip = trace_from_port(m, "b", Packet("192.0.2.50", "icmp"))
    assert vip.verdict == "delivered" and vip.hops[-1].obj.startswith("port a")
    out = trace_from_port(m, "a", Packet("192.0.2.11", "icmp", src="192.0.2.50"))
    assert out.verdict == "delivered" and out.reply_verdict == "allowed"


def test_a_vm_may_not_answer_dhcp_or_advertise_routes() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.11", "udp", sport=67, dport=68))
    assert t.drop is not None and "may not answer DHCP" in t.drop.detail
    ra = trace_from_port(world(), "a", Packet("2001:db8:1::11", "icmp", icmp_type=134))
    assert ra.drop is not None and "router advertisements" in ra.drop.detail


def test_remote_group_membership_changes_the_verdict() -> None:
    m = world(b={"security_groups": ["sg-quiet"]})
    # b is no longer a member of default: a's ingress rule from default does not match
    t = trace_from_port(
        world(q={"security_groups": ["sg-default"]}), "q", Packet("192.0.2.10", "icmp")
    )
    assert t.verdict == "delivered"
    inbound = trace_from_port(m, "b", Packet("192.0.2.10", "udp", dport=53))
    assert inbound.drop is not None and inbound.drop.step == "egress rules"  # quiet: no egress


def test_ipv6_same_network_and_link_local_source() -> None:
    t = trace_from_port(world(), "a", Packet("2001:db8:1::11", "icmp"))
    assert t.verdict == "delivered" and "rule d-i6" in t.hops[4].detail
    assert t.packet.describe() == "ipv6-icmp type 128"
    own = link_local(world().ports["a"].mac_address)
    ok = trace_from_port(world(), "a", Packet("2001:db8:1::11", "icmp", src=own))
    assert ok.hops[1].verdict == "pass"
    other = link_local(world().ports["b"].mac_address)
    bad = trace_from_port(world(), "a", Packet("2001:db8:1::11", "icmp", src=other))
    assert bad.drop is not None and bad.drop.step == "anti-spoofing"


def test_ipv6_through_router_has_no_nat_and_no_default_route() -> None:
    t = trace_from_port(world(), "a", Packet("2001:db8:9::1", "icmp"))
    assert t.drop is not None and t.drop.step == "route"
    assert "has no route to 2001:db8:9::1" in t.drop.detail and "extra route" in (t.drop.fix or "")


def test_snat_out_to_the_external_network() -> None:
    t = trace_from_port(world(), "a", Packet("203.0.113.1", "icmp"))
    assert t.verdict == "left"
    nat = [h for h in t.hops if h.step == "NAT"]
    assert len(nat) == 1 and "SNAT 192.0.2.10 -> 203.0.113.10" in nat[0].detail
    fip = trace_from_port(world(), "b", Packet("203.0.113.1", "icmp"))
    assert any("SNAT 192.0.2.11 -> 203.0.113.20 (1:1)" in h.detail for h in fip.hops)


def test_snat_disabled_warns_about_the_way_back() -> None:
    m = world(routers={"external_gateway_info": {"network_id": EXT, "enable_snat": False}})
    t = trace_from_port(m, "a", Packet("198.51.100.7", "icmp"))
    assert t.verdict == "left"
    assert any(h.verdict == "warn" and "SNAT is disabled" in h.detail for h in t.hops)


def test_floating_ip_in_from_outside() -> None:
    t = trace_from_external(world(), EXT, "203.0.113.1", Packet("203.0.113.20", "icmp"))
    # b's default group admits only members: the outside is refused at b's ingress
    assert t.drop is not None and t.drop.step == "ingress rules"
    assert any(h.step == "NAT" and "DNAT 203.0.113.20 -> 192.0.2.11" in h.detail for h in t.hops)
    assert "from 203.0.113.1" in t.drop.detail
    m = world(b={"security_groups": ["sg-ssh"]})
    ok = trace_from_external(m, EXT, "203.0.113.1", Packet("203.0.113.20", "tcp", dport=22))
    assert ok.drop is not None  # ssh admits only web's subnet, not the outside
    m2 = world(b={"security_groups": ["sg-udp"]})
    udp = trace_from_external(m2, EXT, "203.0.113.1", Packet("203.0.113.20", "udp", dport=53))
    assert udp.verdict == "delivered"


def test_hairpin_to_own_networks_floating_ip() -> None:
    t = trace_from_port(world(), "a", Packet("203.0.113.20", "icmp"))
    assert any("hairpin: SNAT to 192.0.2.1" in h.detail for h in t.hops)
    # the answer comes from the router's address, not a member of default: b refuses
    assert t.drop is not None and t.drop.step == "ingress rules"


def test_admin_down_destination_and_source_port() -> None:
    t = trace_from_port(world(b={"admin_state_up": False}), "a", Packet("192.0.2.11", "icmp"))
    assert t.drop is not None and "admin down" in t.drop.detail
    assert t.drop.fix == "openstack port set --enable b"
    src = trace_from_port(world(a={"admin_state_up": False}), "a", Packet("192.0.2.11", "icmp"))
    assert src.hops[0].verdict == "drop" and src.hops[0].step == "source"


def test_admin_down_router_forwards_nothing_but_answers_itself() -> None:
    m = world(routers={"admin_state_up": False})
    t = trace_from_port(m, "a", Packet("192.0.2.70", "tcp", dport=22))
    assert t.drop is not None and t.drop.step == "router" and "admin down" in t.drop.detail
    own = trace_from_port(m, "a", Packet("192.0.2.1", "icmp"))
    assert own.verdict == "delivered" and own.hops[-1].step == "router"


def test_missing_route_and_missing_router_interface() -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.200", "icmp"))
    assert t.verdict == "left"  # default route: out by the gateway (SNAT), not dropped
    no_gw = world(routers={"external_gateway_info": None}, drop_ports=["r1-gw"])
    t2 = trace_from_port(no_gw, "a", Packet("198.51.100.7", "icmp"))
    assert t2.drop is not None and "has no route to 198.51.100.7" in t2.drop.detail
    subnets = [
        {
            "id": "sn-web",
            "network_id": WEB,
            "cidr": "192.0.2.0/26",
            "ip_version": 4,
            "gateway_ip": "192.0.2.2",
        },
        {
            "id": "sn-db",
            "network_id": DB,
            "cidr": "192.0.2.64/26",
            "ip_version": 4,
            "gateway_ip": "192.0.2.65",
        },
    ]
    t3 = trace_from_port(world(subnets=subnets), "a", Packet("192.0.2.70", "icmp"))
    assert t3.drop is not None and "no router is attached" in t3.drop.detail
    assert t3.drop.fix == "openstack router add subnet ROUTER sn-web"


def test_extra_route_and_host_route() -> None:
    m = world(routers={"routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.70"}]})
    t = trace_from_port(m, "a", Packet("198.51.100.5", "icmp"))
    assert t.verdict == "left" and "extra route 198.51.100.0/24 via 192.0.2.70" in t.hops[6].detail
    assert t.hops[-1].obj.startswith("port c")


def test_unbound_destination_and_unknown_address() -> None:
    t = trace_from_port(world(b={"binding:host_id": ""}), "a", Packet("192.0.2.11", "icmp"))
    assert t.drop is not None and "not bound to any host" in t.drop.detail
    t2 = trace_from_port(world(), "a", Packet("192.0.2.33", "icmp"))
    assert t2.drop is not None
    assert "no port on network web (net-web) has address 192.0.2.33" in t2.drop.detail


def test_missing_tunnel_endpoint_and_status_warning() -> None:
    m = world(b={"status": "DOWN"})
    t = trace_from_port(m, "a", Packet("192.0.2.11", "icmp"))
    assert t.verdict == "delivered"
    m2 = replace(world(), vteps={"hv1": "198.51.100.1"})
    m2.__post_init__()
    t2 = trace_from_port(m2, "a", Packet("192.0.2.11", "icmp"))
    assert t2.drop is not None and "host hv2 has no tunnel endpoint" in t2.drop.detail


def test_stateless_reply_needs_its_own_rule() -> None:
    m = world(b={"security_groups": ["sg-udp"]}, a={"security_groups": ["sg-udp"]})
    t = trace_from_port(m, "a", Packet("192.0.2.11", "udp", dport=53, sport=33000))
    assert t.verdict == "delivered"
    egress_b, ingress_a = t.reply
    assert egress_b.verdict == "pass" and "stateless" in egress_b.detail
    # a admits only udp/53 in: the answer to port 33000 is refused
    assert ingress_a.verdict == "drop" and "udp/33000" in ingress_a.detail


@pytest.mark.parametrize(
    "protocol,kw,rule_id",
    [
        ("tcp", {"dport": 22}, "s-i22"),
        ("udp", {"dport": 22}, None),
        ("icmp", {}, None),
    ],
)
def test_protocol_and_port_matching(protocol: str, kw: dict[str, Any], rule_id: str | None) -> None:
    t = trace_from_port(world(), "a", Packet("192.0.2.70", protocol, **kw))
    if rule_id:
        assert t.verdict == "delivered" and f"rule {rule_id}" in t.hops[-2].detail
    else:
        assert t.drop is not None and t.drop.step == "ingress rules"


def test_a_remote_address_group_admits_only_its_cidrs() -> None:
    base = world()
    ssh = base.groups["sg-ssh"]
    web = RuleState("ag-i4", "ingress", "IPv4", "tcp", 80, 80, remote_address_group_id="ag-1")
    groups = {**base.groups, "sg-ssh": replace(ssh, rules=(*ssh.rules, web))}
    packet = Packet("192.0.2.70", "tcp", dport=80)
    inside = replace(base, groups=groups, address_groups={"ag-1": ("192.0.2.0/28",)})
    t = trace_from_port(inside, "a", packet)
    assert t.verdict == "delivered", t.drop
    assert "rule ag-i4" in t.hops[-2].detail and "address group ag-1" in t.hops[-2].detail
    outside = replace(inside, address_groups={"ag-1": ("198.51.100.0/24", "2001:db8::/32")})
    t = trace_from_port(outside, "a", packet)
    assert t.drop is not None and t.drop.step == "ingress rules"
    assert "no ingress rule allows tcp/80 from 192.0.2.10 in group ssh" in t.drop.detail
