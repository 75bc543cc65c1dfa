"""The probe's pure parts: the crafted packet, the throwaway table, and reading its traces."""

from __future__ import annotations

import ipaddress
import random
import struct

import pytest

from neutrino.domain.trace.probe import Place, fate, finding, parse_event, probe_table
from neutrino.domain.trace.probe_packet import MAGIC, ProbePacket, checksum, new_mark

HV1, NET1, HV2 = (
    Place("p-hv1", "host", "hv1"),
    Place("p-net1", "host", "net1"),
    Place("p-hv2", "host", "hv2"),
)
ROUTER = Place("qrouter-r", "router", "r1")
NAME = "nprobe-1f"
JUMP = "rule iifname vmap @port_out (verdict jump {})"
VM2 = "port vm2 (22222222-2222-2222-2222-222222222222)"


def _pseudo6(src: str, dst: str, nexthdr: int, body: bytes) -> bytes:
    a, b = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    return a + b + struct.pack("!IxxxB", len(body), nexthdr) + body


def test_ipv4_icmp_probe_is_well_formed_and_marked() -> None:
    packet = ProbePacket("192.0.2.10", "192.0.2.140", "icmp", mark=0x1234).ip()
    head, body = packet[:20], packet[20:]
    assert checksum(head) == 0  # a valid header checksum sums to zero
    assert checksum(body) == 0
    version_ihl, _, length, ident, frag, ttl, proto = struct.unpack("!BBHHHBB", head[:10])
    assert (version_ihl, length, ident, frag, ttl, proto) == (
        0x45,
        len(packet),
        0x1234,
        0x4000,
        64,
        1,
    )
    assert body[:2] == b"\x08\x00" and body.endswith(MAGIC)  # echo request, code 0


@pytest.mark.parametrize("protocol, number", [("udp", 17), ("tcp", 6), ("icmp", 58)])
def test_ipv6_probe_checksums_cover_the_pseudo_header(protocol: str, number: int) -> None:
    shape = ProbePacket("2001:db8::1", "2001:db8::2", protocol, mark=0xABCDE, dport=22)
    packet = shape.ip()
    first, plen, nexthdr, hops = struct.unpack("!IHBB", packet[:8])
    body = packet[40:]
    assert (first >> 28, first & 0xFFFFF, plen, nexthdr, hops) == (
        6,
        0xABCDE,
        len(body),
        number,
        64,
    )
    assert checksum(_pseudo6("2001:db8::1", "2001:db8::2", number, body)) == 0
    assert shape.match() == f"ip6 flowlabel {0xABCDE} ip6 nexthdr {number}"
    if protocol == "tcp":
        assert struct.unpack("!H", body[2:4])[0] == 22 and body[13] == 0x02  # a SYN to 22


def test_frame_and_marks() -> None:
    frame = ProbePacket("192.0.2.10", "192.0.2.11", "udp", 5, dport=53).frame(
        "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
    )
    assert frame[:14] == bytes.fromhex("fa163e000002fa163e0000010800")
    marks = {new_mark(4) for _ in range(200)}
    assert all(0 < m < 1 << 16 for m in marks) and len(marks) > 150
    assert all(0 < new_mark(6) < 1 << 20 for _ in range(200))


def test_probe_table_drops_only_before_the_vms_taps() -> None:
    host = probe_table(HV1, "ip id 5 ip protocol 1", NAME, ["tapb", "tapa"])
    assert host.startswith(f"table bridge {NAME} {{")
    assert (
        "hook prerouting priority -500" in host
        and "ip id 5 ip protocol 1 meta nftrace set 1" in host
    )
    assert 'oifname { "tapa", "tapb" } drop' in host
    router = probe_table(ROUTER, "ip id 5 ip protocol 1", NAME, [])
    assert router.startswith(f"table inet {NAME} {{") and 'oifname "qg-*" drop' in router
    assert "hook input priority 500" in router


def _pass(place: Place, tid: str, ttl: int, iif: str, lines: list[str], oif: str = "") -> list[str]:
    out = f' oif "{oif}"' if oif else ""
    packet = f'packet: iif "{iif}"{out} ip saddr 192.0.2.10 ip ttl {ttl} ip id 31'
    return [f"trace id {tid} {place.family} {t} {packet if t == 'P' else t}" for t in lines]


def _events(spec: list[tuple[Place, list[str]]]) -> list:  # type: ignore[type-arg]
    """The events of ``spec``, the places' monitors read in a random interleaving: each
    monitor's own lines keep their order, the order between monitors means nothing."""
    queues = [[parse_event(place, line) for line in lines] for place, lines in spec]
    assert all(None not in q for q in queues)
    order = [i for i, q in enumerate(queues) for _ in q]
    random.Random(4).shuffle(order)
    return [queues[i].pop(0) for i in order]


def _line(place: Place, tid: str, table: str, chain: str, text: str) -> str:
    return f"trace id {tid} {place.family} {table} {chain} {text}"


def _delivered() -> list[tuple[Place, list[str]]]:
    def packet(tid: str, ttl: int, iif: str, oif: str = "") -> str:
        out = f' oif "{oif}"' if oif else ""
        return f'packet: iif "{iif}"{out} ip saddr 192.0.2.10 ip ttl {ttl} ip id 31'

    return [
        (HV1, [_line(HV1, "a", NAME, "trace_in", packet("a", 64, "tap1")),
               _line(HV1, "a", "neutrino", "egress", JUMP.format("x")),
               _line(HV1, "a", NAME, "trace_in", "policy accept")]),
        (NET1, [_line(NET1, "b", NAME, "trace_in", packet("b", 64, "vxlan-5"))]),
        (ROUTER, [_line(ROUTER, "c", NAME, "trace_in", packet("c", 64, "qr-1")),
                  _line(ROUTER, "c", NAME, "forwarded", packet("c", 63, "qr-1", "qr-2"))]),
        (NET1, [_line(NET1, "d", NAME, "trace_in", packet("d", 63, "tapr2"))]),
        (HV2, [_line(HV2, "e", NAME, "trace_in", packet("e", 63, "vxlan-6")),
               _line(HV2, "e", NAME, "forwarded", packet("e", 63, "vxlan-6", "tap22222222-22")),
               _line(HV2, "e", NAME, "forwarded", "unknown rule handle 4 (verdict drop)")]),
    ]  # fmt: skip


HOPS = [
    {"step": "source", "object": "port vm1 (1111)", "verdict": "pass"},
    {"step": "anti-spoofing", "object": "port vm1", "verdict": "pass"},
    {"step": "egress", "object": "group default", "verdict": "pass"},
    {"step": "L2", "object": "network blue", "verdict": "pass"},
    {"step": "router", "object": "router r1", "verdict": "pass"},
    {"step": "route", "object": "router r1", "verdict": "pass"},
    {"step": "L2", "object": "network green", "verdict": "pass"},
    {"step": "ingress", "object": "group default", "verdict": "pass"},
    {"step": "destination", "object": VM2, "verdict": "deliver"},
]  # fmt: skip


def test_a_delivered_probe_in_path_order_agrees() -> None:
    found = fate(_events(_delivered()), NAME)
    assert (found.outcome, found.device) == ("delivered", "tap22222222-22")
    assert found.path == ["host hv1", "host net1", "router r1", "host net1", "host hv2"]
    assert finding(HOPS, "delivered", found)["verdict"] == "agrees"
    # delivered to another tap than the model's: differs, at the model's own end
    other = [
        (p, [line.replace("tap22222222-22", "tap33333333-33") for line in ls])
        for p, ls in _delivered()
    ]
    assert finding(HOPS, "delivered", fate(_events(other), NAME))["verdict"] == "differs"


def test_a_drop_by_the_anti_spoofing_chain_names_that_hop() -> None:
    spec = [
        (
            HV1,
            [
                _line(HV1, "a", NAME, "trace_in", 'packet: iif "tap1" ip ttl 64'),
                _line(HV1, "a", "neutrino", "egress", JUMP.format("anti_spoof")),
                _line(HV1, "a", "neutrino", "spoof_ip4", "rule drop (verdict drop)"),
            ],
        )
    ]
    found = fate(_events(spec), NAME)
    assert (found.outcome, found.chain, found.rule) == ("dropped", "spoof_ip4", "drop")
    answer = finding(HOPS, "delivered", found)
    assert (answer["verdict"], answer["hop"], answer["step"]) == ("differs", 2, "anti-spoofing")
    assert answer["fate"]["rule"] == "bridge neutrino spoof_ip4: drop"
    dropped_hops = [*HOPS[:2], {**HOPS[2], "verdict": "drop"}]
    # the model drops at egress; a real drop by the anti-spoofing chain is another hop
    assert finding(dropped_hops, "dropped", found)["verdict"] == "differs"


def test_lost_in_a_router_names_the_route_hop_and_a_flood_the_l2_hop() -> None:
    lost = _delivered()[:3]
    lost[2] = (ROUTER, lost[2][1][:1])  # prerouting only: no route
    answer = finding(HOPS, "delivered", fate(_events(lost), NAME))
    assert (answer["step"], answer["hop"], answer["fate"]["outcome"]) == ("route", 6, "lost")
    flood = _delivered()
    flood.append(
        (HV1, [_line(HV1, "f", NAME, "trace_in", 'packet: iif "vxlan-6" ip ttl 63 ip id 31')])
    )
    answer = finding(HOPS, "delivered", fate(_events(flood), NAME))
    assert (answer["step"], answer["object"]) == ("L2", "network green"), answer
    assert answer["fate"]["outcome"] == "flooded" and "hv1" in answer["fate"]["device"]
    assert fate([], NAME).outcome == "unseen"
