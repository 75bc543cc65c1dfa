"""Pure L3 calculation: ``HostState`` -> the desired ``qrouter-`` namespace of each router.

For every router in ``HostState.routers`` with at least one port, ``desired_routers`` renders
a ``RouterConfig`` (DATAPLANE.md §4). An admin-down router keeps its namespace and plugged ports
(their wire is there, so they are reported ACTIVE) but forwards nothing: forwarding off, no NAT,
no routes of ours, no floating IPs. An admin-up router gets:

* the namespace ``qrouter-<id>`` (plus the lab's ``namespace_suffix``), IPv4/IPv6 forwarding on;
* one veth per router port: ``tap<port[:11]>`` in the host namespace (the L2 manager enslaves it
  to the network's bridge, as for any bound port) <-> ``qr-<port[:11]>`` (interface) or
  ``qg-<port[:11]>`` (gateway) in the router namespace, with the port's MAC, the network's MTU
  (capped by the underlay for VXLAN, as the L2 calc does) and its addresses; the gateway
  device also carries each floating IP (associated, or holding port forwardings) as a /32;
* routes (proto static): the default route via the gateway subnet's gateway IP (IPv4 and
  IPv6 when present), then the extra routes;
* the NAT ruleset ``table ip neutrino-l3`` as one nft text (IPv4 only; only with an IPv4
  gateway address): maps ``fip_dnat`` (floating -> fixed) and ``fip_snat`` (fixed ->
  floating) holding the floating IPs, and ``pf_tcp``/``pf_udp`` (floating . external port ->
  internal . internal port) holding the port forwardings, one element per external port (a
  range is unrolled: port i -> port i, or every port -> the one internal port); DNAT of the
  forwardings then of the floating IPs in prerouting and output, 1:1 SNAT then
  SNAT of the internal IPv4 subnets to the gateway IP when ``enable_snat`` in postrouting, and
  the hairpin rule per interface (``iifname qr-X oifname qr-X ct status dnat snat to <qr IP>``,
  so a VM reaching a floating IP of its own network gets the answer back through the router).
  The text's first statement is a ``comment`` with the digest of its rules (the text without
  the map elements): the manager replaces the table only when the kernel's digest differs,
  and otherwise changes just the map elements (a floating IP (dis)association is two element
  writes in one transaction, a port forwarding one per external port).

An HA router (``RouterState.ha``) renders the same namespace, devices and NAT table on every
host of the router, plus its HA port (``ha-<port[:11]>`` with its 169.254.192.0/18 address);
its interface and gateway addresses, floating IPs and routes go to keepalived instead
(``RouterConfig.ha``, ``agent.ha_calc``): those devices' addresses are marked ``vip`` and
left to keepalived, and ``routes`` is empty (keepalived installs them on the master). IPv6
addresses are keepalived's too, with each device's link-local address (``HaInstance.ipv6``);
the namespace then keeps IPv6 on without automatic link-local addresses and IPv6
forwarding is keepalived's notify script's (on for the master only), so a backup sends
nothing from the router's MACs (which would teach the external bridge the router at the
wrong host). An IPv4-only HA router's namespace has IPv6 off altogether.

No I/O; deterministic and sorted, so equal states render equal configs.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, replace

from neutrino.agent.ha_calc import HaInstance
from neutrino.agent.model import AgentConfig
from neutrino.domain.hoststate import HostState, NetworkState, tap_name
from neutrino.domain.ipam import link_local
from neutrino.domain.l3state import (
    RouterPortState,
    RouterState,
    gateway_device,
    ha_device,
    interface_device,
    router_namespace,
)
from neutrino.domain.port_forwarding import PROTOCOLS, Forwarding, unroll
from neutrino.domain.segments import device_mtu

__all__ = [
    "NAT_TABLE",
    "RouteSpec",
    "RouterConfig",
    "RouterPortConfig",
    "desired_routers",
    "render_nat",
]

NAT_TABLE = "neutrino-l3"
DEFAULT_MTU = 1500


@dataclass(frozen=True)
class RouterPortConfig:
    """A veth: ``host_device`` (host namespace) <-> ``device`` (router namespace)."""

    port_id: str
    device: str
    host_device: str
    mac_address: str
    mtu: int
    addresses: tuple[str, ...]  # "192.0.2.1/24" on ``device``
    gateway: bool = False
    vip: bool = False  # the addresses are keepalived's (an HA router): never synced here


@dataclass(frozen=True, order=True)
class RouteSpec:
    destination: str  # "0.0.0.0/0", "198.51.100.0/24"
    nexthop: str


@dataclass(frozen=True)
class RouterConfig:
    router_id: str
    namespace: str
    ports: tuple[RouterPortConfig, ...]
    routes: tuple[RouteSpec, ...]
    nat: str | None  # the whole NAT table as nft text, None = no table
    nat_digest: str | None
    floating_ips: tuple[tuple[str, str], ...] = ()  # (floating, fixed), sorted
    # port forwardings, one element per external port, sorted; their floating addresses
    forwardings: tuple[Forwarding, ...] = ()
    forwarded_ips: tuple[str, ...] = ()
    gateway_device: str | None = None
    # admin_state_up false: ports plugged (their wire is there) but nothing forwarded,
    # no NAT, no routes of ours
    forwarding: bool = True
    ha: HaInstance | None = None  # an HA router: keepalived's part (agent.ha_calc)


def desired_routers(
    state: HostState, config: AgentConfig | None = None, namespace_suffix: str = ""
) -> dict[str, RouterConfig]:
    """router id -> its ``RouterConfig`` for every router this host hosts."""
    networks = {n.id: n for n in state.networks}
    out: dict[str, RouterConfig] = {}
    for router in state.routers:
        if not (router.interfaces or router.gateway):
            continue
        out[router.id] = router_config(router, networks, config, namespace_suffix)
    return out


def _mtu(net: NetworkState | None, config: AgentConfig | None) -> int:
    if net is None:
        return DEFAULT_MTU
    return device_mtu(net.mtu, net.network_type, config.underlay_mtu if config else None)


def _port(
    port: RouterPortState, device: str, mtu: int, gateway: bool, extra: tuple[str, ...] = ()
) -> RouterPortConfig:
    addresses = tuple(f"{a.ip_address}/{a.prefixlen}" for a in port.addresses) + extra
    return RouterPortConfig(
        port_id=port.id,
        device=device,
        host_device=tap_name(port.id),
        mac_address=port.mac_address.lower(),
        mtu=mtu,
        addresses=tuple(sorted(addresses)),
        gateway=gateway,
    )


def router_config(
    router: RouterState,
    networks: dict[str, NetworkState],
    config: AgentConfig | None = None,
    namespace_suffix: str = "",
) -> RouterConfig:
    fips = tuple(
        sorted(
            (f.floating_ip_address, f.fixed_ip_address)
            for f in router.floating_ips
            if ":" not in f.floating_ip_address
        )
    )
    forwardings = tuple(
        sorted(
            fwd
            for pf in router.port_forwardings
            if ":" not in pf.floating_ip_address and pf.protocol in PROTOCOLS
            for fwd in unroll(
                pf.floating_ip_address,
                pf.protocol,
                (pf.external_port_start, pf.external_port_end),
                pf.internal_ip_address,
                (pf.internal_port_start, pf.internal_port_end),
            )
        )
    )
    ports = [
        _port(p, interface_device(p.id), _mtu(networks.get(p.network_id), config), False)
        for p in router.interfaces
    ]
    routes: set[RouteSpec] = set()
    gw_dev = None
    gw_ip4 = None
    if router.gateway is not None:
        gw = router.gateway
        gw_dev = gateway_device(gw.id)
        gw_ip4 = next((a.ip_address for a in gw.addresses if a.version == 4), None)
        on_gw = sorted({fip for fip, _ in fips} | {f.floating_ip_address for f in forwardings})
        extra = tuple(f"{fip}/32" for fip in on_gw) if gw_ip4 else ()
        ports.append(_port(gw, gw_dev, _mtu(networks.get(gw.network_id), config), True, extra))
        for version, default in ((4, "0.0.0.0/0"), (6, "::/0")):
            hop = next(
                (a.gateway_ip for a in gw.addresses if a.version == version and a.gateway_ip), None
            )
            if hop:
                routes.add(RouteSpec(default, hop))
    for r in router.routes:
        routes.add(RouteSpec(str(ipaddress.ip_network(r.destination, strict=False)), r.nexthop))
    nat = digest = None
    if not router.admin_state_up:
        routes, fips, forwardings = set(), (), ()
    ha = None
    if router.ha is not None:
        ports, ha = _ha_ports(router, ports, routes, networks, config)
        routes = set()
    if gw_dev is not None and gw_ip4 is not None and router.admin_state_up:
        rules = render_nat(router, gw_dev, gw_ip4, ())
        digest = hashlib.sha256(rules.encode()).hexdigest()[:16]
        nat = render_nat(router, gw_dev, gw_ip4, fips, forwardings).replace("@DIGEST@", digest, 1)
    else:
        forwardings = ()
    return RouterConfig(
        router_id=router.id,
        namespace=router_namespace(router.id) + namespace_suffix,
        ports=tuple(sorted(ports, key=lambda p: p.device)),
        routes=tuple(sorted(routes)),
        nat=nat,
        nat_digest=digest,
        floating_ips=fips if gw_ip4 else (),
        forwardings=forwardings,
        forwarded_ips=tuple(sorted({f.floating_ip_address for f in forwardings})),
        gateway_device=gw_dev,
        forwarding=router.admin_state_up,
        ha=ha,
    )


def _ha_ports(
    router: RouterState,
    ports: list[RouterPortConfig],
    routes: set[RouteSpec],
    networks: dict[str, NetworkState],
    config: AgentConfig | None,
) -> tuple[list[RouterPortConfig], HaInstance]:
    """An HA router's devices (addresses handed to keepalived) plus its HA port, and the
    keepalived instance (the floating IPs are among the gateway's addresses already); a
    router with an IPv6 address also hands over each device's link-local address."""
    assert router.ha is not None
    ha = router.ha
    vips: list[tuple[str, str]] = []
    out = []
    for port in ports:
        v4 = tuple(a for a in port.addresses if ":" not in a)
        v6 = tuple(a for a in port.addresses if ":" in a)
        vips += [(a, port.device) for a in v4 + v6]
        out.append(replace(port, addresses=(), vip=True))
    ipv6 = any(":" in a for a, _ in vips)
    link_locals = tuple(
        (f"{link_local(p.mac_address)}/64", p.device) for p in sorted(ports, key=lambda p: p.device)
    )
    device = ha_device(ha.port.id)
    own = next(a for a in ha.port.addresses if a.version == 4)
    out.append(_port(ha.port, device, _mtu(networks.get(ha.port.network_id), config), False))
    gw = next((p.device for p in ports if p.gateway), "")
    route_list = tuple(
        (r.destination, r.nexthop, gw if r.destination in ("0.0.0.0/0", "::/0") else "")
        for r in sorted(routes)
        if ipv6 or ":" not in r.destination
    )
    instance = HaInstance(
        router_id=router.id,
        vr_id=ha.vr_id,
        ha_device=device,
        ha_address=own.ip_address,
        peers=ha.peers,
        vips=tuple(vips),
        routes=route_list if router.admin_state_up else (),
        link_locals=link_locals if ipv6 else (),
    )
    return sorted(out, key=lambda p: p.device), instance


def forwarding_map(protocol: str) -> str:
    return f"pf_{protocol}"


def forwarding_element(f: Forwarding) -> str:
    """``floating . external port : internal . internal port``, as nft lists it."""
    return (
        f"{f.floating_ip_address} . {f.external_port} : {f.internal_ip_address} . {f.internal_port}"
    )


def render_nat(
    router: RouterState,
    gw_dev: str,
    gw_ip: str,
    fips: tuple[tuple[str, str], ...],
    forwardings: tuple[Forwarding, ...] = (),
) -> str:
    """The router's whole NAT table (see the module docstring); ``@DIGEST@`` stands for the
    digest of the rules (this text without elements), filled in by the caller."""
    internal = sorted({a.cidr for p in router.interfaces for a in p.addresses if a.version == 4})
    dnat = ", ".join(f"{f} : {x}" for f, x in fips)
    snat = ", ".join(f"{x} : {f}" for f, x in fips)
    lines = [
        f"table ip {NAT_TABLE} {{",
        '    comment "@DIGEST@"',
        "    map fip_dnat { type ipv4_addr : ipv4_addr;"
        + (f" elements = {{ {dnat} }}" if fips else "")
        + " }",
        "    map fip_snat { type ipv4_addr : ipv4_addr;"
        + (f" elements = {{ {snat} }}" if fips else "")
        + " }",
    ]
    for proto in PROTOCOLS:
        elements = ", ".join(forwarding_element(f) for f in forwardings if f.protocol == proto)
        lines.append(
            f"    map {forwarding_map(proto)} {{ type ipv4_addr . inet_service : "
            f"ipv4_addr . inet_service;"
            + (f" elements = {{ {elements} }}" if elements else "")
            + " }"
        )
    to_inside = [
        f"        dnat to ip daddr . {proto} dport map @{forwarding_map(proto)}"
        for proto in PROTOCOLS
    ] + ["        dnat to ip daddr map @fip_dnat"]
    lines += [
        "    chain prerouting { type nat hook prerouting priority dstnat; policy accept;",
        *to_inside,
        "    }",
        "    chain output { type nat hook output priority -100; policy accept;",
        *to_inside,
        "    }",
        "    chain postrouting { type nat hook postrouting priority srcnat; policy accept;",
        f'        oifname "{gw_dev}" snat to ip saddr map @fip_snat',
    ]
    if router.enable_snat and internal:
        lines.append(
            f'        oifname "{gw_dev}" ip saddr {{ {", ".join(internal)} }} snat to {gw_ip}'
        )
    for port in router.interfaces:
        qr = interface_device(port.id)
        ip4 = next((a.ip_address for a in port.addresses if a.version == 4), None)
        if ip4:
            lines.append(f'        iifname "{qr}" oifname "{qr}" ct status dnat snat to {ip4}')
    lines += ["    }", "}"]
    return "\n".join(lines) + "\n"
