"""The probe through the agents, its pure parts (domain/trace/probe_request.py and the
controller's judging, service/trace_probe.py): what each host is asked (the next hop's MAC
the VM would use, the source tap), why no probe is possible, and how the hosts' reports are
read back into the hop the real packet names."""

from __future__ import annotations

from typing import Any

from neutrino.domain.hoststate import tap_name
from neutrino.domain.trace import Packet, trace_from_port
from neutrino.domain.trace.probe import fate, finding
from neutrino.domain.trace.probe_request import assemble, plan, shape_of
from neutrino.service.context import admin_context
from neutrino.service.trace import trace_dict
from neutrino.service.trace_probe import Probe
from tests.domain.test_trace import world


def _mac(model: Any, port_id: str) -> str:
    return str(model.ports[port_id].mac_address)


def test_the_request_names_the_mac_the_vm_would_send_to() -> None:
    model = world()
    on_link = plan(model, "a", Packet(dst="192.0.2.11", protocol="icmp"), ["hv1", "hv2"], 9)
    assert isinstance(on_link, dict)
    assert on_link["source"] == {
        "host": "hv1",
        "tap": tap_name("a"),
        "src_mac": _mac(model, "a"),
        "dst_mac": _mac(model, "b"),  # the destination itself
    }
    assert on_link["packet"]["src"] == "192.0.2.10"  # the port's own address
    assert on_link["match"] == "ip id 9 ip protocol 1"
    routed = plan(model, "a", Packet(dst="192.0.2.70", protocol="tcp", dport=22), ["hv1"], 9)
    assert isinstance(routed, dict)
    assert routed["source"]["dst_mac"] == _mac(model, "r1-web")  # the subnet's gateway
    six = plan(model, "a", Packet(dst="2001:db8:1::11", protocol="ipv6-icmp"), ["hv1"], 77)
    assert isinstance(six, dict)
    assert six["source"]["dst_mac"] == _mac(model, "b")
    assert six["match"].startswith("ip6 flowlabel 77 ")
    assert shape_of(six).version == 6 and shape_of(six).src == "2001:db8:1::10"
    spoofed = Packet(
        dst="192.0.2.11", protocol="icmp", src="192.0.2.99", src_mac="02:00:00:00:00:09"
    )
    asked = plan(model, "a", spoofed, ["hv1"], 9)
    assert isinstance(asked, dict)
    assert (asked["packet"]["src"], asked["source"]["src_mac"]) == (spoofed.src, spoofed.src_mac)


def test_a_host_route_names_its_next_hop() -> None:
    subnets = [
        {"id": "sn-web", "network_id": "net-web", "cidr": "192.0.2.0/26", "ip_version": 4,
         "gateway_ip": "192.0.2.1",
         "host_routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.11"}]},
        {"id": "sn-db", "network_id": "net-db", "cidr": "192.0.2.64/26", "ip_version": 4,
         "gateway_ip": "192.0.2.65"},
    ]  # fmt: skip
    model = world(subnets=subnets)
    found = plan(model, "a", Packet(dst="198.51.100.7", protocol="icmp"), ["hv1"], 1)
    assert isinstance(found, dict) and found["source"]["dst_mac"] == _mac(model, "b")
    other = plan(model, "a", Packet(dst="203.0.113.5", protocol="icmp"), ["hv1"], 1)
    assert isinstance(other, dict) and other["source"]["dst_mac"] == _mac(model, "r1-web")


def test_why_there_is_no_probe() -> None:
    model = world(a={"binding:host_id": "", "binding:vif_type": "unbound"})
    packet = Packet(dst="192.0.2.11", protocol="icmp")
    assert plan(model, "a", packet, ["hv1"], 1) == "the source port is not bound to a host"
    model = world()
    sctp = Packet(dst="192.0.2.11", protocol="sctp", dport=9)
    assert plan(model, "a", sctp, ["hv1"], 1) == "no probe for protocol sctp"
    assert plan(model, "a", packet, ["hv2"], 1) == "the source host hv1 has no live agent"
    assert "IPv6 address" in str(plan(model, "c", Packet(dst="2001:db8:1::11"), ["hv2"], 1))
    gone = plan(model, "a", Packet(dst="192.0.2.30", protocol="icmp"), ["hv1"], 1)
    assert gone == "no port answers for the next hop to 192.0.2.30 on the source's network"


JUMP = "rule jump anti_spoof (verdict jump anti_spoof)"
LINE = "trace id {tid} bridge {table} {chain} {text}"


def _line(tid: str, table: str, chain: str, text: str) -> str:
    return LINE.format(tid=tid, table=table, chain=chain, text=text)


def test_assembling_the_reports_and_the_reasons_it_cannot() -> None:
    accept = "policy accept"
    report = {"lines": [["host", "hv1", _line("a", "nprobe-1", "trace_in", accept)],
                        ["vm", "x", _line("b", "nprobe-1", "trace_in", accept)]]}  # fmt: skip
    events = assemble(["hv1"], {"hv1": {"differences": [], "probe": report}})
    assert isinstance(events, list) and len(events) == 1  # an unknown role is not read
    assert (events[0].place.netns, events[0].place.label) == ("hv1/host/hv1", "hv1")
    assert assemble(["hv1", "hv2"], {"hv1": {"differences": [], "probe": report}}) == (
        "host hv2 did not answer in time"
    )
    old = assemble(["hv1"], {"hv1": {"differences": []}})
    assert old == "the agent of host hv1 does not know the probe (older than the server)"
    late = {"hv1": {"differences": [], "probe": {"error": "ready 0.30 s after the time to send"}}}
    assert assemble(["hv1"], late) == "host hv1: ready 0.30 s after the time to send"


def test_the_reports_name_the_hop_where_the_real_packet_parts() -> None:
    model = world()
    trace = trace_from_port(model, "a", Packet(dst="192.0.2.11", protocol="icmp"))
    assert trace.verdict == "delivered"
    probe = Probe(trace, ["hv1", "hv2"], ["hv1", "hv2"], model, "a")
    requests = probe.requests()
    assert requests is not None and set(requests) == {"hv1", "hv2"}
    request = requests["hv1"]["probe"]
    assert request["send_at"] > 0 and requests["hv2"]["probe"] is request
    name = f"nprobe-{request['mark']:x}"
    tap_a = tap_name("a")
    spoof = {
        "hv1": {"differences": [], "probe": {"lines": [
            ["host", "hv1", _line("a", name, "trace_in", f'packet: iif "{tap_a}" ip ttl 64')],
            ["host", "hv1", _line("a", "neutrino", "egress", JUMP)],
            ["host", "hv1", _line("a", "neutrino", "spoof_ip4", "rule drop (verdict drop)")],
        ], "milliseconds": {"setup": 310.0}}},
        "hv2": {"differences": [], "probe": {"lines": [], "milliseconds": {"setup": 420.0}}},
    }  # fmt: skip
    hops = trace_dict(trace, admin_context())["hops"]
    found = probe.judge(spoof, hops, 0.0)
    assert (found["verdict"], found["step"]) == ("differs", "anti-spoofing"), found
    assert found["fate"]["where"] == "host hv1"
    assert found["sent_from"] == f"host hv1 ({tap_a}'s ingress)"
    assert found["milliseconds"]["setup"] == 420.0  # the slowest host
    tap_b = tap_name("b")
    delivered = {
        "hv1": {"differences": [], "probe": {"lines": [
            ["host", "hv1", _line("a", name, "trace_in", f'packet: iif "{tap_a}" ip ttl 64')],
        ]}},
        "hv2": {"differences": [], "probe": {"lines": [
            ["host", "hv2", _line("b", name, "trace_in", 'packet: iif "vxlan-101" ip ttl 64')],
            ["host", "hv2", _line("b", name, "forwarded",
                                  f'packet: iif "vxlan-101" oif "{tap_b}" ip ttl 64')],
            ["host", "hv2", _line("b", name, "forwarded", "rule drop (verdict drop)")],
        ]}},
    }  # fmt: skip
    assert probe.judge(delivered, hops, 0.0)["verdict"] == "agrees"
    silent = probe.judge({"hv1": delivered["hv1"], "hv2": None}, hops, 0.0)
    assert silent == {"verdict": "unavailable", "reason": "host hv2 did not answer in time"}


def test_no_probe_without_every_host_or_a_source_port() -> None:
    model = world()
    trace = trace_from_port(model, "a", Packet(dst="192.0.2.11", protocol="icmp"))
    partial = Probe(trace, ["hv1", "hv2"], ["hv1"], model, "a")
    assert partial.requests() is None
    assert partial.judge({}, [], 0.0) == {
        "verdict": "unavailable",
        "reason": "host hv2 of the path has no live agent to follow the probe",
    }
    outside = Probe(trace, ["hv1"], ["hv1"], None, None)
    assert outside.judge({}, [], 0.0)["reason"].startswith("a trace from outside")


def test_a_probe_answered_by_a_dhcp_server_agrees_with_a_delivery() -> None:
    """A DHCP namespace is an endpoint: the probe reaching its input is answered there,
    placed after the bridge pass that brought it, whatever order the monitors were read."""
    name = "nprobe-5"
    packet = 'packet: iif "tapaaaaaaaa-aa" oif "tapdddddddd-dd" ip ttl 64 ip id 5'
    report = {
        "hv1": {"differences": [], "probe": {"lines": [
            ["dhcp", "net-web", "trace id b inet nprobe-5 trace_in packet: iif \"ns-d\" ip ttl 64"],
            ["dhcp", "net-web", "trace id b inet nprobe-5 to_router rule drop (verdict drop)"],
            ["host", "hv1", _line("a", name, "trace_in", packet)],
            ["host", "hv1", _line("a", name, "forwarded", packet)],
        ]}},
    }  # fmt: skip
    events = assemble(["hv1"], report)
    assert not isinstance(events, str)
    found = fate(events, name)
    assert (found.outcome, found.path) == ("answered", ["host hv1", "dhcp net-web"]), found
    hops = [{"step": "destination", "object": "port dhcp (dddddddd)", "verdict": "deliver"}]
    assert finding(hops, "delivered", found)["verdict"] == "agrees"
