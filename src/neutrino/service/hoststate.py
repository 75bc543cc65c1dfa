"""A host's desired state (``HostState``) computed from the store in one read transaction.

``compute`` reads everything one host needs — its bound ports with their groups and address
pairs, their networks and subnets, the remote ports of those networks (l2population), the
DHCP entries of the networks it serves, the routers it hosts — with a fixed number of
queries whatever the host's size (no N+1), and labels it with the change-log revision the
caller read at. ``hostsync`` decides when to call it.

Each section is built by a function over the keys it is asked for (``port_states``,
``network_states``, ``l2pop_states``, ``group_states``, ``remote_group_states``,
``address_group_states``,
``dhcp_networks``): ``compute`` asks for all of a host's keys, ``service.hostdelta`` only
for the keys a change touched, so both build an item the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from neutrino.domain.dns import DnsConfig
from neutrino.domain.hoststate import (
    DhcpEntry,
    DhcpNetwork,
    DhcpOpt,
    FixedIp,
    HostRoute,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
    SubnetState,
)
from neutrino.domain.qosstate import BandwidthLimit
from neutrino.domain.sgstate import (
    AddressGroupState,
    AddressPair,
    RemoteGroup,
    RuleState,
    SecurityGroupState,
)
from neutrino.service import l3_hoststate
from neutrino.service.binding import parse_configurations, tunnel_ip_of
from neutrino.store import address_groups as address_group_repo
from neutrino.store import hostsync as repo
from neutrino.store import qos as qos_repo

DHCP_OWNER = "network:dhcp"
GATEWAY_OWNER = "network:router_gateway"


def compute(conn: Any, host: str, revision: int, dns: DnsConfig = DnsConfig()) -> HostState:
    """The desired state of ``host`` as the database says now, labelled ``revision``
    (``dns``: the controller's domain, which its DHCP servers answer names in)."""
    port_rows = repo.bound_ports(conn, host)
    ports = port_states(conn, port_rows)
    networks = network_states(conn, sorted({p.network_id for p in ports}))
    tunnelled = [n.id for n in networks if n.network_type == "vxlan"]
    groups = group_states(conn, sorted({g for p in ports for g in p.security_groups}))
    return HostState(
        host=host,
        revision=revision,
        tunnel_ip=tunnels_of(conn, [host]).get(host),
        networks=networks,
        ports=ports,
        l2pop=l2pop_states(conn, tunnelled, host),
        dhcp=dhcp_networks(conn, ports, dns),
        security_groups=groups,
        remote_groups=remote_group_states(conn, remote_group_ids(groups)),
        address_groups=address_group_states(conn, address_group_ids(groups)),
        routers=l3_hoststate.hosted_routers(conn, host),
    )


def tunnels_of(conn: Any, hosts: Iterable[str]) -> dict[str, str | None]:
    """host -> the tunnel endpoint its L2 agent reports."""
    configs = repo.l2_configurations(conn, hosts)
    return {h: tunnel_ip_of(parse_configurations(cfg)) for h, cfg in configs.items()}


def port_states(conn: Any, rows: Sequence[tuple[Any, ...]]) -> tuple[PortState, ...]:
    """The ``PortState`` of each row of ``repo.bound_ports`` (its first seven columns)."""
    ids = [r[0] for r in rows]
    ips = repo.fixed_ips(conn, ids)
    groups_of = repo.port_groups(conn, ids)
    pairs_of = repo.address_pairs(conn, ids)
    tags = repo.subport_tags(conn, ids)
    marks = qos_repo.port_dscp_marks(conn, ids)
    limits_of: dict[str, list[BandwidthLimit]] = {}
    for pid, direction, kbps, burst in repo.bandwidth_limits(conn, ids):
        limits_of.setdefault(pid, []).append(BandwidthLimit(direction, kbps, burst))
    return tuple(
        PortState(
            id=pid,
            network_id=nid,
            mac_address=mac,
            fixed_ips=tuple(FixedIp(s, a) for s, a in ips.get(pid, ())),
            admin_state_up=bool(up),
            device_owner=owner,
            port_security_enabled=bool(secure),
            system_owned=bool(system),
            security_groups=tuple(groups_of.get(pid, ())),
            allowed_address_pairs=tuple(
                AddressPair(ip, pair_mac or mac) for ip, pair_mac in pairs_of.get(pid, ())
            ),
            bandwidth_limits=tuple(limits_of.get(pid, ())),
            dscp_mark=marks.get(pid),
            trunk_parent=tags[pid][0] if pid in tags else None,
            vlan_id=tags[pid][1] if pid in tags else None,
        )
        for pid, nid, mac, up, owner, secure, system, *_ in rows
    )


def network_states(conn: Any, net_ids: Sequence[str]) -> tuple[NetworkState, ...]:
    """The networks (segment, MTU, subnets with their DNS servers and routes), by id."""
    sub_rows = repo.subnets(conn, net_ids)
    dns, routes = repo.dns_and_routes(conn, [s[0] for s in sub_rows])
    subnets_of: dict[str, list[SubnetState]] = {}
    for sid, net_id, cidr, version, gateway, dhcp, ra_mode, addr_mode in sub_rows:
        subnets_of.setdefault(net_id, []).append(
            SubnetState(
                id=sid,
                cidr=cidr,
                ip_version=version,
                gateway_ip=gateway,
                enable_dhcp=bool(dhcp),
                dns_nameservers=tuple(dns.get(sid, ())),
                host_routes=tuple(HostRoute(d, n) for d, n in routes.get(sid, ())),
                ipv6_ra_mode=ra_mode,
                ipv6_address_mode=addr_mode,
            )
        )
    return tuple(
        NetworkState(
            id=nid,
            network_type=ntype or "local",
            segmentation_id=seg,
            physical_network=physnet,
            mtu=mtu,
            subnets=tuple(subnets_of.get(nid, ())),
        )
        for nid, ntype, seg, physnet, mtu in repo.networks(conn, net_ids)
    )


def l2pop_states(
    conn: Any, net_ids: Sequence[str], host: str, port_ids: Sequence[str] | None = None
) -> tuple[L2Pop, ...]:
    """l2population of the (VXLAN) networks ``net_ids``: the ports bound on other hosts with
    a tunnel endpoint; a network without any has no item. With ``port_ids``, only those
    ports are read (``hostdelta`` patches the items it holds with them)."""
    remote_rows = repo.remote_ports(conn, net_ids, host, port_ids)
    ids = [r[0] for r in remote_rows]
    ips, pairs = repo.fixed_ips(conn, ids), repo.address_pairs(conn, ids)
    gateways = [r[5] for r in remote_rows if r[4] == GATEWAY_OWNER]
    fips = repo.router_floating_ips(conn, gateways)
    tunnels = tunnels_of(conn, {r[3] for r in remote_rows})
    remotes: dict[str, list[RemotePort]] = {}
    for pid, nid, mac, other, owner, device in remote_rows:
        vtep = tunnels.get(other)
        if vtep:
            announced = [
                AddressPair(ip_address=_host_address(a), mac_address=(m or mac).lower())
                for a, m in pairs.get(pid, ())
                if _host_address(a)
            ]
            if owner == GATEWAY_OWNER:
                announced += [AddressPair(a, mac.lower()) for a in fips.get((device, nid), ())]
            remotes.setdefault(nid, []).append(
                RemotePort(
                    id=pid,
                    mac_address=mac,
                    ip_addresses=tuple(a for _, a in ips.get(pid, ())),
                    vtep=vtep,
                    announced=tuple(announced),
                )
            )
    return tuple(
        L2Pop(
            network_id=nid,
            vteps=tuple(sorted({p.vtep for p in remotes[nid]})),
            # sorted here, not by the database's collation: ``hostdelta`` patches these
            ports=tuple(sorted(remotes[nid], key=lambda p: p.id)),
        )
        for nid in sorted(remotes)
    )


def _host_address(pair: str) -> str:
    """The one address an allowed address pair names ("192.0.2.9", "192.0.2.9/32"), or ""
    for a wider CIDR."""
    network = ipaddress.ip_network(pair, strict=False)
    return str(network.network_address) if network.num_addresses == 1 else ""


def group_states(conn: Any, ids: Sequence[str]) -> tuple[SecurityGroupState, ...]:
    """The definitions (rules) of the groups ``ids`` (two queries, whatever their number)."""
    rules: dict[str, list[RuleState]] = {}
    for (
        gid,
        rid,
        direction,
        ethertype,
        proto,
        pmin,
        pmax,
        prefix,
        remote,
        remote_addresses,
    ) in repo.security_group_rules(conn, ids):
        rules.setdefault(gid, []).append(
            RuleState(
                id=rid,
                direction=direction,
                ethertype=ethertype,
                protocol=proto,
                port_range_min=pmin,
                port_range_max=pmax,
                remote_ip_prefix=prefix,
                remote_group_id=remote,
                remote_address_group_id=remote_addresses,
            )
        )
    return tuple(
        SecurityGroupState(id=gid, stateful=bool(stateful), rules=tuple(rules.get(gid, ())))
        for gid, stateful in repo.security_groups(conn, ids)
    )


def remote_group_ids(groups: Iterable[SecurityGroupState]) -> list[str]:
    """The groups the rules of ``groups`` name as remote, sorted."""
    return sorted({r.remote_group_id for g in groups for r in g.rules if r.remote_group_id})


def remote_group_states(conn: Any, ids: Sequence[str]) -> tuple[RemoteGroup, ...]:
    """The member addresses (fixed IPs and address pairs, any host) of the groups ``ids``."""
    members = repo.group_member_addresses(conn, ids)
    return tuple(RemoteGroup(gid, tuple(sorted(members.get(gid, ())))) for gid in ids)


def address_group_ids(groups: Iterable[SecurityGroupState]) -> list[str]:
    """The address groups the rules of ``groups`` name as remote, sorted."""
    return sorted(
        {r.remote_address_group_id for g in groups for r in g.rules if r.remote_address_group_id}
    )


def address_group_states(conn: Any, ids: Sequence[str]) -> tuple[AddressGroupState, ...]:
    """The CIDRs of the address groups ``ids`` (one query)."""
    found = address_group_repo.addresses_of(conn, ids)
    return tuple(AddressGroupState(gid, tuple(found.get(gid, ()))) for gid in ids)


def dhcp_networks(
    conn: Any, ports: Iterable[PortState], dns: DnsConfig = DnsConfig()
) -> tuple[DhcpNetwork, ...]:
    """The networks the host serves DHCP for (its bound ``network:dhcp`` ports among
    ``ports``), each with the controller's DNS domain and an entry (MAC, fixed IPs, extra
    DHCP options, DNS name when names are in use: ``domain.dns``) for every other port on
    the network."""
    served = {p.network_id: p for p in ports if p.device_owner == DHCP_OWNER}
    if not served:
        return ()
    rows = [r for r in repo.network_ports(conn, sorted(served)) if r[3] != DHCP_OWNER]
    ids = [r[0] for r in rows]
    ips = repo.fixed_ips(conn, ids)
    opts = repo.dhcp_opts(conn, ids)
    entries: dict[str, list[DhcpEntry]] = {}
    for pid, nid, mac, _owner, dns_name in rows:
        entries.setdefault(nid, []).append(
            DhcpEntry(
                port_id=pid,
                mac_address=mac,
                fixed_ips=tuple(FixedIp(s, a) for s, a in ips.get(pid, ())),
                extra_dhcp_opts=tuple(DhcpOpt(n, v, ver) for n, v, ver in opts.get(pid, ())),
                dns_name=dns_name if dns.names_enabled else "",
            )
        )
    return tuple(
        DhcpNetwork(
            network_id=nid,
            port=served[nid],
            entries=tuple(entries.get(nid, ())),
            dns_domain=dns.domain,
        )
        for nid in sorted(served)
    )
