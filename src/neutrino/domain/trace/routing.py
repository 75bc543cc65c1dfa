"""Routing inside a router, for the trace: DNAT (port forwardings, then floating IPs), the
route lookup and SNAT (``agent/l3_calc.py``).

Pure functions over the model; each adds its hop to the trace.
"""

from __future__ import annotations

import ipaddress

from neutrino.domain.l3state import gateway_device, interface_device
from neutrino.domain.trace.model import NetworkModel, Port, Router, in_prefix
from neutrino.domain.trace.packet import Packet, Trace

__all__ = ["dnat", "route", "snat"]


def route(
    m: NetworkModel,
    t: Trace,
    router: Router,
    ports: list[Port],
    gw: Port | None,
    dst: str,
    host: str | None = None,
) -> tuple[Port, str | None] | None:
    """The router's longest-prefix choice for ``dst`` (connected subnets, then extra routes,
    then the default via the gateway subnet's gateway): the port out and the next hop. The
    hop relies on the kernel route it names on ``host`` (a connected one: the interface's
    address; others: the static route the L3 agent installs)."""
    best: tuple[int, int, Port, str | None, str] | None = None
    kernel_route: dict[tuple[int, str | None], str] = {}

    def offer(prefixlen: int, rank: int, port: Port, via: str | None, what: str) -> None:
        nonlocal best
        if best is None or (prefixlen, rank) > best[:2]:
            best = (prefixlen, rank, port, via, what)

    for p in ports:
        for sid, _ in p.fixed_ips:
            s = m.subnets.get(sid)
            if s is not None and s.contains(dst):
                offer(ipaddress.ip_network(s.cidr).prefixlen, 2, p, None, f"connected {s.cidr}")
                device = gateway_device(p.id) if p is gw else interface_device(p.id)
                kernel_route[id(p), None] = f"address {device}"
    for dest, hop in router.routes:
        if in_prefix(dst, dest):
            port = next(
                (
                    p
                    for p in ports
                    for sid, _ in p.fixed_ips
                    if sid in m.subnets and m.subnets[sid].contains(hop)
                ),
                None,
            )
            if port is not None:
                net = ipaddress.ip_network(dest, strict=False)
                offer(net.prefixlen, 1, port, hop, f"extra route {dest} via {hop}")
                kernel_route[id(port), hop] = f"route {net} via {hop}"
    if gw is not None:
        for sid, _ in gw.fixed_ips:
            s = m.subnets.get(sid)
            if s is not None and s.gateway_ip and s.ip_version == ipaddress.ip_address(dst).version:
                offer(0, 0, gw, s.gateway_ip, f"default via {s.gateway_ip}")
                default = "::/0" if ":" in s.gateway_ip else "0.0.0.0/0"
                kernel_route[id(gw), s.gateway_ip] = f"route {default} via {s.gateway_ip}"
    if best is None:
        t.add(
            "route",
            router,
            "drop",
            f"the router has no route to {dst}",
            f"add an interface on a subnet holding {dst}, an extra route "
            f"(openstack router set --route destination=CIDR,gateway=IP "
            f"{router.id}) or an external gateway",
        )
        return None
    _, _, port, via, what = best
    since = len(t.hops)
    t.add("route", router, "pass", f"{dst}: {what}, out by {port.label()}")
    if host is not None:
        used = kernel_route.get((id(port), via), "route")
        t.rely(since, "route", [(host, f"router {router.id} {used}")])
    return port, via


def snat(m: NetworkModel, t: Trace, router: Router, gw: Port, src: str) -> str:
    """The source address a packet leaves by the gateway with (l3_calc's postrouting: 1:1
    SNAT of a floating IP's fixed address, else the internal IPv4 subnets to the gateway
    address when ``enable_snat``)."""
    if ipaddress.ip_address(src).version != 4:
        t.add("NAT", router, "pass", "IPv6 leaves unchanged (no NAT)")
        return src
    own = next(
        (f for f in m.floating_ips if f.router_id == router.id and f.fixed_ip_address == src),
        None,
    )
    if own is not None:
        t.add(
            "NAT",
            own,
            "nat",
            f"SNAT {src} -> {own.floating_ip_address} (1:1)",
        )
        return own.floating_ip_address
    internal = [
        m.subnets[sid].cidr
        for p in m.interfaces[router.id]
        for sid, _ in p.fixed_ips
        if sid in m.subnets and m.subnets[sid].ip_version == 4
    ]
    gw_ip = next((a for a in gw.addresses if ":" not in a), None)
    if router.enable_snat and gw_ip and any(in_prefix(src, c) for c in internal):
        t.add("NAT", router, "nat", f"SNAT {src} -> {gw_ip}")
        return gw_ip
    else:
        why = "SNAT is disabled" if not router.enable_snat else "not an internal subnet"
        t.add(
            "NAT",
            router,
            "warn",
            f"leaves as {src} ({why}): the answer needs a route back",
        )
    return src


def dnat(m: NetworkModel, t: Trace, router: Router, packet: Packet) -> Packet | None:
    """The packet after DNAT of a floating IP of this router, in the NAT table's order
    (``l3_calc``): a port forwarding matching protocol and port first, else the floating IP's
    association. A floating IP with forwardings has no association (the API refuses both),
    so a packet no forwarding matches is the router's own: answered for ICMP, refused
    otherwise (None: the walk ends there)."""
    dst = packet.dst
    proto = {6: "tcp", 17: "udp"}.get(packet.number or 0, "")
    for pf in m.forwarded.get(dst, ()):
        port = pf.internal_port(proto, packet.dport)
        if pf.router_id == router.id and port is not None:
            t.add(
                "NAT",
                pf,
                "nat",
                f"DNAT {dst}:{packet.dport} -> {pf.internal_ip_address}:{port} (port forwarding)",
            )
            return packet.with_(dst=pf.internal_ip_address, dport=port)
    fip = m.fip_by_address.get(dst)
    if fip is not None and fip.router_id == router.id:
        t.add("NAT", fip, "nat", f"DNAT {dst} -> {fip.fixed_ip_address}")
        return packet.with_(dst=fip.fixed_ip_address)
    held = m.forwarded.get(dst, [])
    if packet.icmp:
        t.add(
            "router",
            router,
            "deliver",
            f"{dst} holds port forwardings only ({len(held)}), none for icmp: the "
            f"router's own address answers",
        )
        return None
    forwarded = ", ".join(
        f"{pf.protocol}/{pf.external[0]}"
        + (f"-{pf.external[1]}" if pf.external[1] != pf.external[0] else "")
        for pf in held
    )
    t.add(
        "NAT",
        router,
        "drop",
        f"no port forwarding of floating IP {dst} matches {packet.describe()} "
        f"(it forwards {forwarded}); nothing listens on the router's own address",
        f"openstack floating ip port forwarding create --protocol {proto or 'tcp'} "
        f"--external-protocol-port {packet.dport} --internal-protocol-port PORT "
        f"--internal-ip-address ADDRESS --port PORT_ID {dst}",
    )
    return None
