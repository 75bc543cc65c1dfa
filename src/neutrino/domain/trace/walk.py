"""The packet trace: walk one packet through the intended network, hop by hop (pure).

``trace_from_port`` starts at a VM's port, ``trace_from_external`` at an address outside the
model arriving on an external network. The walk mirrors what the agents build:

1. the source port: bound to a host, admin up (an admin-down port's tap is not on the bridge:
   ``agent/calc.py``), status ACTIVE (else a warning: the agent has not reported it wired);
2. its filter (``filters``): anti-spoofing, then egress rules;
3. on the network: an on-link destination goes to the port owning the address (fixed IP, then
   allowed address pair; a floating IP belongs to its router's gateway); anything else to the
   next hop of the source subnet — a host route, else the subnet's gateway — which must be a
   router interface. Between hosts the packet crosses the segment (VXLAN: the two hosts'
   tunnel endpoints, which must be known: l2population has no flooding to unknown hosts);
4. a router (``agent/l3_calc.py``): addressed to one of its own addresses it is delivered
   there; an admin-down router forwards nothing; DNAT (IPv4) of its floating IPs' port
   forwardings (protocol and port), then of its floating IPs; the longest
   prefix of its connected subnets, extra routes and the default route via the gateway
   subnet's gateway; leaving by the gateway, 1:1 SNAT of a floating IP's fixed address, else
   SNAT of the internal IPv4 subnets to the gateway address when ``enable_snat``; a DNAT'd
   packet leaving by the interface it came in is SNAT'd to that interface (hairpin);
5. the destination port: admin state, status, ingress rules, delivery.

Each step adds a ``Hop``; the first drop ends the walk. The router's route lookup and SNAT live
in ``routing``, the ports' wire checks and the reply in ``ends``, the filters in ``filters``.
After a delivery, ``Trace.reply`` says how the answer passes the two filters: by conntrack
for stateful groups ("allowed only because of conntrack"), by a rule of its own for stateless
ones.
"""

from __future__ import annotations

import ipaddress

from neutrino.domain.trace import ends, filters, kernel, routing
from neutrino.domain.trace.model import Network, NetworkModel, Port, Router, in_prefix
from neutrino.domain.trace.packet import Packet, Trace

__all__ = ["trace_from_external", "trace_from_port"]

MAX_ROUTERS = 8


def _net_label(net: Network | None, network_id: str) -> str:
    if net is None:
        return f"network {network_id}"
    return f"network {net.name} ({net.id})" if net.name else f"network {net.id}"


def trace_from_port(model: NetworkModel, port_id: str, packet: Packet) -> Trace:
    t = Trace(packet)
    port = model.ports[port_id]
    src = packet.src or next(
        (a for a in port.addresses if ipaddress.ip_address(a).version == packet.version), None
    )
    if src is None:
        t.add(
            "source",
            port,
            "drop",
            f"the port has no IPv{packet.version} address",
            f"add an IPv{packet.version} subnet to {_net_label(None, port.network_id)}",
        )
        return t
    if not ends.reachable(t, port, "source"):
        return t
    t.rely(0, "source", kernel.refs_delivery(port))
    spoof = filters.anti_spoof(port, packet, src)
    t.add("anti-spoofing", spoof.obj, "pass" if spoof.allowed else "drop", spoof.detail, spoof.fix)
    t.rely(0, "anti-spoofing", kernel.refs_spoof(port))
    if not spoof.allowed:
        return t
    egress = filters.check(port, "egress", packet, src, model)
    t.add(
        "egress rules", egress.obj, "pass" if egress.allowed else "drop", egress.detail, egress.fix
    )
    t.rely(0, "egress rules", kernel.refs_egress(port, model))
    if egress.allowed:
        Walk(model, t, src, port).run(port.network_id, port.host)
    return t


def trace_from_external(model: NetworkModel, network_id: str, src: str, packet: Packet) -> Trace:
    t = Trace(packet)
    net = model.networks.get(network_id)
    t.add(
        "source",
        net or _net_label(net, network_id),
        "pass",
        f"{src} outside the model, arriving on the external network",
    )
    Walk(model, t, src, None).run(network_id, None)
    return t


class Walk:
    def __init__(self, model: NetworkModel, t: Trace, src: str, origin: Port | None) -> None:
        self.m, self.t, self.src, self.origin = model, t, src, origin
        self.origin_src = src
        self.packet = t.packet
        self.dnat_from: str | None = None  # the floating IP the packet was sent to
        self.in_port: Port | None = None
        self.resolved = ""  # the address the last L2 hop was resolved for (ARP/ND)
        self.first: tuple[str, Port] | None = None  # (network, port) the origin handed it to

    def run(self, network_id: str, host: str | None) -> None:
        via: str | None = None
        for _ in range(MAX_ROUTERS + 1):
            target = self._next(network_id, via)
            if target is None or not self._l2(network_id, host, target):
                return
            if self.first is None:
                self.first = (network_id, target)
            if (
                target.device_id in self.m.routers
                and not target.filtered
                and (
                    target.id in {p.id for p in self.m.interfaces[target.device_id]}
                    or self.m.gateways.get(target.device_id) is target
                )
            ):
                out = self._router(self.m.routers[target.device_id], target)
                if out is None:
                    return
                network_id, host, via = out
                continue
            if via is not None:
                self.t.add(
                    "next hop",
                    target,
                    "leave",
                    f"handed to the next hop {via}; beyond it the VM decides",
                )
            else:
                self._deliver(target)
            return
        self.t.add(
            "router",
            "routers",
            "drop",
            f"more than {MAX_ROUTERS} routers: a loop",
            "check the routers' extra routes",
        )

    # --- L2 -----------------------------------------------------------------------------

    def _next(self, network_id: str, via: str | None) -> Port | None:
        """The port the packet is handed to on this network (or None: the walk ended)."""
        m, dst = self.m, self.packet.dst
        net = m.networks.get(network_id)
        label = _net_label(net, network_id)
        where = net or label
        address = via or dst
        if via is None and m.subnet_for(network_id, dst) is None and not _link_local(dst):
            address = self._gateway(network_id) or ""
            if not address:
                return None
        self.resolved = address
        owner = m.owner(network_id, address)
        holder = m.router_of_floating(address)
        if holder is not None:  # the address lives on the router's gateway, not its own port
            gw = m.gateways.get(holder)
            if gw is not None and gw.network_id == network_id:
                owner = gw
        if owner is None:
            if net is not None and net.external:
                self.t.add(
                    "L2",
                    where,
                    "leave",
                    f"{address} is on external {label}, outside "
                    f"the model (the upstream gateway or the world beyond)",
                )
            else:
                self.t.add(
                    "L2",
                    where,
                    "drop",
                    f"no port on {label} has address {address}",
                    "check the destination address, or create a port with it",
                )
            return None
        return owner

    def _gateway(self, network_id: str) -> str | None:
        """The next hop for an off-link destination: a host route, else the gateway."""
        m, dst = self.m, self.packet.dst
        subnet = m.subnet_for(network_id, self.src) or next(
            (s for s in m.subnets_of.get(network_id, ()) if s.ip_version == self.packet.version),
            None,
        )
        label = _net_label(m.networks.get(network_id), network_id)
        where = m.networks.get(network_id) or label
        if subnet is None:
            self.t.add(
                "route",
                where,
                "drop",
                f"{dst} is not on {label}, which has no "
                f"IPv{self.packet.version} subnet to route from",
                "add a subnet",
            )
            return None
        routes = sorted(
            (
                (ipaddress.ip_network(d, strict=False).prefixlen, hop)
                for d, hop in subnet.host_routes
                if in_prefix(dst, d)
            ),
            reverse=True,
        )
        if routes:
            hop = routes[0][1]
            self.t.add(
                "route",
                subnet,
                "pass",
                f"{dst} via host route to next hop {hop}",
            )
            return hop
        if not subnet.gateway_ip:
            self.t.add(
                "route",
                subnet,
                "drop",
                f"{dst} is off-link and subnet {subnet.cidr} has no gateway",
                f"set a gateway: openstack subnet set --gateway IP {subnet.id}, and "
                f"add a router interface on it",
            )
            return None
        if m.owner(network_id, subnet.gateway_ip) is None:
            self.t.add(
                "route",
                subnet,
                "drop",
                f"{dst} is off-link and the gateway {subnet.gateway_ip} of subnet "
                f"{subnet.cidr} is no port: no router is attached",
                f"openstack router add subnet ROUTER {subnet.id}",
            )
            return None
        self.t.add(
            "route",
            subnet,
            "pass",
            f"{dst} is off-link: to the gateway {subnet.gateway_ip}",
        )
        return subnet.gateway_ip

    def _neighbour(self, target: Port, address: str, where: Network | str) -> bool:
        """Across hosts on VXLAN, ARP/ND is answered by the VXLAN device's proxy from
        l2population's neighbour entries (``NetworkModel.announced``): an address of a
        wider allowed-address-pair CIDR on another host gets no answer."""
        if not address or _link_local(address) or self.m.announced(target, address):
            return True
        self.t.add(
            "L2",
            where,
            "drop",
            f"{address} belongs to {target.label()} on host {target.host} through an allowed "
            f"address pair CIDR: across hosts, ARP/ND is answered only from "
            f"l2population's neighbour entries (fixed IPs and one-address pairs), so "
            f"nothing answers",
            f"add {address} itself as an allowed address pair of the port (openstack port set "
            f"--allowed-address ip-address={address} {target.id}), or keep both ends on one "
            f"host",
        )
        return False

    def _l2(self, network_id: str, host: str | None, target: Port) -> bool:
        net = self.m.networks.get(network_id)
        label = _net_label(net, network_id)
        where = net or label
        if target.host is None or not target.admin_state_up:
            return ends.reachable(self.t, target, "L2")
        segment = f"{net.network_type} {net.segmentation_id or ''}".strip() if net else "?"
        if host is None:
            detail = f"from outside on {segment} to host {target.host}"
        elif host == target.host:
            detail = f"{segment}, same host {host}"
        elif net is not None and net.network_type == "vxlan":
            here, there = self.m.vteps.get(host), self.m.vteps.get(target.host)
            for h, vtep in ((host, here), (target.host, there)):
                if not vtep:
                    self.t.add(
                        "L2",
                        where,
                        "drop",
                        f"host {h} has no tunnel endpoint (no "
                        f"live L2 agent reported one): no FDB entry leads there",
                        f"start the agent on {h} with a tunnel IP",
                    )
                    return False
            if not self._neighbour(target, self.resolved, where):
                return False
            detail = f"VXLAN VNI {net.segmentation_id}: {host} ({here}) -> {target.host} ({there})"
        else:
            detail = f"{segment}: {host} -> {target.host} over the physical network"
        since = len(self.t.hops)
        self.t.add("L2", where, "pass", detail)
        self.t.rely(since, "L2", kernel.refs_l2(net, host, target, self.resolved))
        return True

    # --- L3 -----------------------------------------------------------------------------

    def _router(self, router: Router, in_port: Port) -> tuple[str, str | None, str | None] | None:
        m, t = self.m, self.t
        ports = [*m.interfaces[router.id]]
        gw = m.gateways.get(router.id)
        if gw is not None:
            ports.append(gw)
        dst = self.packet.dst
        if any(dst == a for p in ports for a in p.addresses):
            t.add(
                "router",
                router,
                "deliver",
                f"{dst} is the router's own address (answered on host {in_port.host})",
            )
            return None
        if not router.admin_state_up:
            t.add(
                "router",
                router,
                "drop",
                "the router is admin down: its ports are plugged but it forwards nothing",
                f"openstack router set --enable {router.id}",
            )
            return None
        since = len(t.hops)
        t.add("router", router, "pass", f"in by {in_port.label()} on {in_port.host}")
        here = ("netns", "forwarding", "device", "address")
        t.rely(since, "router", kernel.refs_router(router, in_port.host, here))
        if self.packet.version == 4 and m.router_of_floating(dst) == router.id:
            translated = routing.dnat(m, t, router, self.packet)
            if translated is None:
                return None
            self.dnat_from, self.packet = dst, translated
            dst = translated.dst
        out = routing.route(self.m, t, router, ports, gw, dst, in_port.host)
        if out is None:
            return None
        out_port, via = out
        if gw is not None and out_port is gw:
            self.src = routing.snat(self.m, t, router, gw, self.src)
        elif self.dnat_from and out_port is in_port:
            own = next((a for a in in_port.addresses if ":" not in a), None)
            if own:
                self.src = own
                t.add(
                    "NAT",
                    router,
                    "nat",
                    f"hairpin: SNAT to {own} (the answer must come back through the router)",
                )
        t.rely(since, "NAT", kernel.refs_router(router, in_port.host, ["nat"]))
        return out_port.network_id, out_port.host, via

    # --- delivery ------------------------------------------------------------------------

    def _deliver(self, port: Port) -> None:
        result = filters.check(port, "ingress", self.packet, self.src, self.m)
        since = len(self.t.hops)
        self.t.add(
            "ingress rules",
            result.obj,
            "pass" if result.allowed else "drop",
            result.detail,
            result.fix,
        )
        self.t.rely(since, "ingress rules", kernel.refs_ingress(port, self.m))
        if not result.allowed:
            return
        self.t.add(
            "deliver",
            port,
            "deliver",
            f"delivered to {self.packet.dst} on host {port.host}",
        )
        self.t.rely(since, "deliver", kernel.refs_delivery(port))
        ends.reply(self, port)


def _link_local(address: str) -> bool:
    return ipaddress.ip_address(address).is_link_local
