"""The probe of ``verify`` through the agents: what each host is asked, how the answers are read.

In a real deployment the controller reaches into no host: it asks, with the kernel checks the
agents already long-poll, every host of the path to take part in one probe (pure parts here;
the broker is ``service.kernel_checks``, a host's part ``agent.probe_responder``):

* ``plan(model, port_id, packet, hosts, mark)``: the request, or the reason no probe is
  possible. One request for all hosts: the probe's packet (the trace's 5-tuple, from the
  trace's source address or the port's own, its ``mark``), the nft ``match`` every host
  traces, and the ``source`` (host, tap, source and destination MAC) that the source host's
  agent writes into its tap's ingress. The destination MAC is the one the VM would use: the
  port owning the destination on the source's network, else the port of the next hop (a
  subnet host route's, else the subnet's gateway): the router interface. ``send_at`` (epoch
  seconds, the moment every host must be ready by) is stamped by the service.
* ``assemble(answers, name)``: the hosts' reports (trace lines of each namespace they
  watched) as the reader's ``Event``s (``domain.trace.probe``), each namespace a ``Place``
  of its own (``host/role/label``), or the reason the probe cannot be judged: a host that did
  not answer, an agent too old to know the probe (its answer has none), or a host that could
  not take part (``error``). ``probe.fate`` and ``probe.finding`` then judge the events as in
  the lab.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from neutrino.domain.hoststate import tap_name
from neutrino.domain.trace.model import NetworkModel, Port
from neutrino.domain.trace.packet import Packet
from neutrino.domain.trace.probe import Event, Place, parse_event
from neutrino.domain.trace.probe_packet import ProbePacket

__all__ = ["PROBED", "assemble", "next_hop_mac", "plan", "shape_of"]

PROBED = ("icmp", "ipv6-icmp", "tcp", "udp")


def _owner_mac(model: NetworkModel, network_id: str, address: str) -> str | None:
    port = model.owners.get((network_id, str(ipaddress.ip_address(address))))
    if port is not None:
        return port.mac_address
    for pair_ip, owner in model.pair_owners.get(network_id, []):
        if pair_ip.split("/")[0] == address:
            pair = next(p for p in owner.allowed_address_pairs if p.ip_address == pair_ip)
            return pair.mac_address or owner.mac_address
    return None


def next_hop_mac(model: NetworkModel, port: Port, src: str, dst: str) -> str | None:
    """The MAC the VM behind ``port`` sends a packet for ``dst`` to (None: none known)."""
    subnets = model.subnets_of.get(port.network_id, [])
    if any(s.contains(dst) for s in subnets):
        return _owner_mac(model, port.network_id, dst)
    own = next((s for s in subnets if s.contains(src)), None)
    if own is None:
        return None
    target = ipaddress.ip_address(dst)
    routes = [
        (ipaddress.ip_network(d, strict=False), hop)
        for d, hop in own.host_routes
        if target in ipaddress.ip_network(d, strict=False)
    ]  # a version mismatch is never "in"
    if routes:
        hop = max(routes, key=lambda r: r[0].prefixlen)[1]
    elif own.gateway_ip:
        hop = own.gateway_ip
    else:
        return None
    return _owner_mac(model, port.network_id, hop)


def plan(
    model: NetworkModel, port_id: str, packet: Packet, hosts: Sequence[str], mark: int
) -> dict[str, Any] | str:
    """The probe request for ``hosts`` (see the module docstring), or why there is none."""
    port = model.ports.get(port_id)
    if port is None or not port.host:
        return "the source port is not bound to a host"
    if packet.protocol not in PROBED:
        return f"no probe for protocol {packet.protocol}"
    version = ipaddress.ip_address(packet.dst).version
    src = packet.src or next(
        (a for a in port.addresses if ipaddress.ip_address(a).version == version), None
    )
    if src is None:
        return f"the source port has no IPv{version} address to send from"
    dst_mac = next_hop_mac(model, port, src, packet.dst)
    if dst_mac is None:
        return f"no port answers for the next hop to {packet.dst} on the source's network"
    if port.host not in hosts:
        return f"the source host {port.host} has no live agent"
    shape = ProbePacket(src, packet.dst, packet.protocol, mark, packet.dport, packet.sport,
                        packet.icmp_type, packet.icmp_code)  # fmt: skip
    return {
        "mark": mark,
        "match": shape.match(),
        "packet": {
            "src": src,
            "dst": packet.dst,
            "protocol": packet.protocol,
            "dport": packet.dport,
            "sport": packet.sport,
            "icmp_type": packet.icmp_type,
            "icmp_code": packet.icmp_code,
        },
        "source": {
            "host": port.host,
            "tap": tap_name(port.id),
            "src_mac": packet.src_mac or port.mac_address,
            "dst_mac": dst_mac,
        },
    }


def shape_of(request: Mapping[str, Any]) -> ProbePacket:
    """The probe packet a request describes (an agent's side; ``ValueError`` if malformed)."""
    p = request["packet"]
    return ProbePacket(
        src=str(ipaddress.ip_address(p["src"])),
        dst=str(ipaddress.ip_address(p["dst"])),
        protocol=str(p["protocol"]),
        mark=int(request["mark"]),
        dport=p.get("dport"),
        sport=p.get("sport"),
        icmp_type=p.get("icmp_type"),
        icmp_code=p.get("icmp_code"),
    )


def assemble(
    hosts: Sequence[str], answers: Mapping[str, Mapping[str, Any] | None]
) -> list[Event] | str:
    """Every host's trace lines as events, or why the probe cannot be judged."""
    events: list[Event] = []
    for host in hosts:
        answer = answers.get(host)
        if answer is None:
            return f"host {host} did not answer in time"
        report = answer.get("probe")
        if report is None:
            return f"the agent of host {host} does not know the probe (older than the server)"
        if report.get("error"):
            return f"host {host}: {report['error']}"
        for role, label, line in report.get("lines", []):
            if role not in ("host", "router", "dhcp"):
                continue
            event = parse_event(Place(f"{host}/{role}/{label}", role, label), line)
            if event is not None:
                events.append(event)
    return events
