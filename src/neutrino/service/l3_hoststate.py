"""The routers part of a host's state: ``HostState.routers`` for the routers scheduled there.

``hosted_routers`` reads, in the caller's read transaction, every router scheduled to the
host (``router_l3_bindings``) with its ports bound there, their fixed IPs and subnets, its
extra routes, its associated floating IPs and the port forwardings of the floating IPs it
serves — one query per table for all the routers
together (no N+1). See ``neutrino.domain.l3state`` for the shape.

``ROUTER_TYPES`` are the change-log resource types that may alter a router's state without
naming a network the host has (router attributes, extra routes, floating IPs, port
forwardings); the host-sync watch recomputes an L3 host's state on them (``concerns_l3``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from neutrino.domain.l3state import (
    ExtraRoute,
    FloatingIpState,
    HaState,
    PortForwardingState,
    RouterAddress,
    RouterPortState,
    RouterState,
)
from neutrino.domain.qosstate import BandwidthLimit
from neutrino.store import hostsync as host_repo
from neutrino.store import l3 as repo
from neutrino.store import port_forwardings as pf_repo
from neutrino.store import qos as qos_repo

GATEWAY = "network:router_gateway"
HA_INTERFACE = repo.HA_INTERFACE
ROUTER_TYPES = frozenset({"router", "floatingip", "floating_ip", "port_forwarding"})


def concerns_l3(conn: Any, host: str, changes: Iterable[tuple[str, str | None]]) -> bool:
    """Whether a router-level change may concern ``host`` (it runs an L3 agent)."""
    return any(rtype in ROUTER_TYPES for rtype, _ in changes) and repo.is_l3_host(conn, host)


def hosted_routers(conn: Any, host: str) -> tuple[RouterState, ...]:
    rows = repo.hosted_routers(conn, host)
    if not rows:
        return ()
    ids = [r[0] for r in rows]
    port_rows = repo.hosted_ports(conn, ids, host)
    ips = host_repo.fixed_ips(conn, [p[1] for p in port_rows])
    subnets = repo.subnet_rows(conn, sorted({s for v in ips.values() for s, _ in v}))
    routes = repo.extra_routes(conn, ids)
    fips = repo.floating_ips(conn, ids)
    limits = qos_repo.floatingip_limits(conn, [f[0] for v in fips.values() for f in v])
    ha_ids = [r[0] for r in rows if r[4]]
    peers = _ha_peers(conn, ha_ids) if ha_ids else {}
    forwardings = pf_repo.on_routers(conn, ids)
    interfaces: dict[str, list[RouterPortState]] = {}
    gateways: dict[str, RouterPortState] = {}
    ha_ports: dict[str, RouterPortState] = {}
    for router_id, port_id, port_type, network_id, mac in port_rows:
        addresses = []
        for subnet_id, address in ips.get(port_id, ()):
            if subnet_id not in subnets:
                continue
            cidr, gateway_ip = subnets[subnet_id]
            addresses.append(
                RouterAddress(
                    ip_address=address,
                    prefixlen=ipaddress.ip_network(cidr, strict=False).prefixlen,
                    subnet_id=subnet_id,
                    cidr=cidr,
                    gateway_ip=gateway_ip,
                )
            )
        port = RouterPortState(
            id=port_id,
            network_id=network_id,
            mac_address=mac,
            addresses=tuple(sorted(addresses, key=lambda a: a.ip_address)),
        )
        if port_type == GATEWAY:
            gateways[router_id] = port
        elif port_type == HA_INTERFACE:
            ha_ports[router_id] = port
        else:
            interfaces.setdefault(router_id, []).append(port)
    out = []
    for router_id, up, snat, _gw, ha, vr_id in rows:
        ha_state = _ha(router_id, vr_id, ha_ports.get(router_id), peers) if ha else None
        if ha and ha_state is None:
            continue  # an HA router without its HA port here yet: not built (no VRRP)
        out.append(
            RouterState(
                id=router_id,
                admin_state_up=bool(up),
                enable_snat=bool(snat),
                interfaces=tuple(interfaces.get(router_id, ())),
                gateway=gateways.get(router_id),
                routes=tuple(ExtraRoute(d, n) for d, n in routes.get(router_id, ())),
                floating_ips=tuple(
                    FloatingIpState(
                        id=f,
                        floating_ip_address=a,
                        fixed_ip_address=x,
                        fixed_port_id=p,
                        bandwidth_limits=tuple(BandwidthLimit(*b) for b in limits.get(f, ())),
                    )
                    for f, a, x, p in fips.get(router_id, ())
                ),
                ha=ha_state,
                port_forwardings=tuple(_forwarding(f) for f in forwardings.get(router_id, ())),
            )
        )
    return tuple(out)


def _ha(
    router_id: str,
    vr_id: int | None,
    port: RouterPortState | None,
    peers: dict[str, list[str]],
) -> HaState | None:
    """None until the host's HA port is bound here (the router waits for it: without it
    there is no VRRP, and two masters would answer)."""
    if port is None or not port.addresses or vr_id is None:
        return None
    own = {a.ip_address for a in port.addresses}
    return HaState(
        vr_id=int(vr_id),
        port=port,
        peers=tuple(sorted(a for a in peers.get(router_id, ()) if a not in own)),
    )


def _ha_peers(conn: Any, router_ids: list[str]) -> dict[str, list[str]]:
    """router id -> the IPv4 addresses of all its HA ports."""
    rows = repo.ha_port_hosts(conn, router_ids)
    ips = host_repo.fixed_ips(conn, [r[1] for r in rows])
    out: dict[str, list[str]] = {}
    for router_id, port_id, _host in rows:
        out.setdefault(router_id, []).extend(a for _, a in ips.get(port_id, ()) if ":" not in a)
    return out


def _forwarding(row: tuple[Any, ...]) -> PortForwardingState:
    pid, fip_id, address, proto, ext_lo, ext_hi, internal, int_lo, int_hi = row
    return PortForwardingState(
        id=str(pid),
        floatingip_id=str(fip_id),
        floating_ip_address=str(address),
        protocol=str(proto),
        external_port_start=int(ext_lo),
        external_port_end=int(ext_hi),
        internal_ip_address=str(internal),
        internal_port_start=int(int_lo),
        internal_port_end=int(int_hi),
    )
