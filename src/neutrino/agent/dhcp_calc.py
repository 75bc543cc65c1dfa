"""Pure DHCP calculation: ``HostState`` -> the desired dnsmasq setup of each served network.

For every network in ``HostState.dhcp`` whose network is present (its DHCP port is bound on
this host), ``desired_dhcp`` renders a ``DhcpConfig``: the ``qdhcp-<net>`` namespace, the
``ns-<port[:11]>`` interface (MAC, addresses with their prefix lengths, MTU) veth'd to
``tap<port[:11]>`` on ``brq<net[:11]>``, and dnsmasq's inputs split by how they are applied:

* ``args``  — dnsmasq's command line (ranges per DHCP-enabled subnet, RA, MTU option 26,
  per-port tags): a change means a restart;
* ``domain`` — dnsmasq's ``--domain`` (the controller's ``dns_domain`` without its trailing
  dot; none when it is empty): DHCP option 15, and the domain of the names it serves;
* ``hosts`` — dhcp-hostsfile lines ``mac,<fqdn>,<ip>`` WITHOUT ``set:`` tags
  (dnsmasq 2.90 segfaults on SIGHUP with tagged hostsfile lines, DATAPLANE.md §3);
  per-port tags come from ``--dhcp-mac=set:port-<id>,<mac>`` on the command line instead;
* ``addn_hosts`` and ``opts`` — DNS names ``<ip> <fqdn> <hostname>`` (so dnsmasq answers
  for every port of the network, leased or not) and per-subnet/per-port DHCP options
  (router, DNS servers, classless static routes 121, extra_dhcp_opts).

Names are the ports' ``dns_assignment`` as the API shows it (``domain.dns.DnsConfig``): the
port's ``dns_name`` when it has one and names are in use, else ``host-<ip-with-dashes>``, in
the controller's domain; written without the trailing dot.
  ``hosts``, ``addn_hosts`` and ``opts`` change with a SIGHUP.

IPv6 per subnet mode: ``slaac`` -> RA only (``ra-only``, addresses by SLAAC, no host lines);
``dhcpv6-stateless`` -> ``ra-stateless`` (RA + options, no host lines); ``dhcpv6-stateful``
or no mode -> a ``static`` range with host lines ``[addr]``; RA is enabled when any IPv6
subnet has an ``ipv6_ra_mode``. No I/O here; everything is deterministic and sorted.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from neutrino.domain.dns import DnsConfig
from neutrino.domain.hoststate import (
    DhcpNetwork,
    HostState,
    NetworkState,
    SubnetState,
    bridge_name,
    dhcp_device_name,
    dhcp_namespace,
    tap_name,
)
from neutrino.domain.segments import device_mtu

LEASE = "86400s"
STATELESS = "dhcpv6-stateless"
SLAAC = "slaac"


@dataclass(frozen=True)
class DhcpConfig:
    """Everything the DHCP data plane builds for one served network."""

    network_id: str
    namespace: str
    interface: str
    host_device: str
    bridge: str
    mac_address: str
    addresses: tuple[str, ...]  # "192.0.2.2/24" on ``interface``
    mtu: int
    domain: str  # dnsmasq's --domain, "" for none
    args: tuple[str, ...]
    hosts: tuple[str, ...]
    addn_hosts: tuple[str, ...]
    opts: tuple[str, ...]


def desired_dhcp(
    state: HostState,
    namespace_suffix: str = "",
    underlay_mtu: int | None = None,
) -> dict[str, DhcpConfig]:
    """network id -> its ``DhcpConfig`` for every network the host serves DHCP for.

    ``underlay_mtu`` (this host's) caps the MTU told to VMs as it caps the bridge's
    (``device_mtu``), so a VM never sends frames its bridge cannot carry.
    ``namespace_suffix`` (e.g. ``-hv1``) keeps the ``qdhcp-`` namespaces of several
    simulated hosts on one machine apart (the lab); real hosts leave it empty."""
    networks = {n.id: n for n in state.networks}
    out: dict[str, DhcpConfig] = {}
    for served in state.dhcp:
        net = networks.get(served.network_id)
        if net is None or not any(s.enable_dhcp for s in net.subnets):
            continue
        cfg = network_config(net, served, underlay_mtu)
        if namespace_suffix:
            cfg = replace(cfg, namespace=cfg.namespace + namespace_suffix)
        out[served.network_id] = cfg
    return out


def _mode(subnet: SubnetState) -> str:
    """dnsmasq range mode of a DHCP-enabled subnet."""
    if subnet.ip_version == 4:
        return "static"
    if subnet.ipv6_address_mode == SLAAC:
        return "ra-only"
    if subnet.ipv6_address_mode == STATELESS:
        return "ra-stateless"
    return "static"


def _subnet_tag(subnet_id: str) -> str:
    return f"subnet-{subnet_id}"


def _port_tag(port_id: str) -> str:
    return f"port-{port_id}"


def _range_arg(subnet: SubnetState) -> str:
    net = ipaddress.ip_network(subnet.cidr, strict=False)
    size = str(net.netmask) if net.version == 4 else str(net.prefixlen)
    return (
        f"--dhcp-range=set:{_subnet_tag(subnet.id)},{net.network_address},"
        f"{_mode(subnet)},{size},{LEASE}"
    )


def _format_option(version: int, tag: str, name: str, *values: str) -> str:
    """An optsfile line as Neutron writes it: numbers stay bare, names get ``option[6]:``."""
    opt = name if name.isdigit() else f"{'option' if version == 4 else 'option6'}:{name}"
    return ",".join((f"tag:{tag}", opt, *values))


def _subnet_opts(subnet: SubnetState, dhcp_ips: dict[str, str]) -> list[str]:
    tag = _subnet_tag(subnet.id)
    lines: list[str] = []
    if subnet.ip_version == 4:
        if subnet.gateway_ip:
            lines.append(_format_option(4, tag, "router", subnet.gateway_ip))
        dns = list(subnet.dns_nameservers) or (
            [dhcp_ips[subnet.id]] if subnet.id in dhcp_ips else []
        )
        if dns:
            lines.append(_format_option(4, tag, "dns-server", *dns))
        if subnet.host_routes:
            routes = [f"{r.destination},{r.nexthop}" for r in subnet.host_routes]
            if subnet.gateway_ip and not any(
                r.destination == "0.0.0.0/0" for r in subnet.host_routes
            ):
                routes.append(f"0.0.0.0/0,{subnet.gateway_ip}")  # RFC 3442: 121 hides 3
            lines.append(_format_option(4, tag, "classless-static-route", *routes))
    elif subnet.ipv6_address_mode != SLAAC:
        dns = [f"[{a}]" for a in subnet.dns_nameservers] or (
            [f"[{dhcp_ips[subnet.id]}]"] if subnet.id in dhcp_ips else []
        )
        if dns:
            lines.append(_format_option(6, tag, "dns-server", *dns))
    return lines


def network_config(
    net: NetworkState, served: DhcpNetwork, underlay_mtu: int | None = None
) -> DhcpConfig:
    """The ``DhcpConfig`` of one network (see the module docstring)."""
    mtu = device_mtu(net.mtu, net.network_type, underlay_mtu)
    subnets = {s.id: s for s in net.subnets}
    dhcp_subnets = [s for s in net.subnets if s.enable_dhcp]
    port = served.port
    addresses, dhcp_ips = [], {}
    for f in port.fixed_ips:
        subnet = subnets.get(f.subnet_id)
        if subnet is None:
            continue
        prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
        addresses.append(f"{f.ip_address}/{prefix}")
        dhcp_ips[f.subnet_id] = f.ip_address

    args = [_range_arg(s) for s in dhcp_subnets]
    if any(s.ip_version == 6 and s.ipv6_ra_mode for s in dhcp_subnets):
        args.insert(0, "--enable-ra")
    if any(s.ip_version == 4 for s in dhcp_subnets):
        args.append(f"--dhcp-option-force=option:mtu,{mtu}")

    dns = DnsConfig(served.dns_domain)
    hosts: list[str] = []
    addn: list[str] = []
    opts = [line for s in dhcp_subnets for line in _subnet_opts(s, dhcp_ips)]
    for entry in served.entries:
        for f in entry.fixed_ips:
            subnet = subnets.get(f.subnet_id)
            if subnet is None or not subnet.enable_dhcp:
                continue
            names = dns.names_of(f.ip_address, entry.dns_name)
            hostname, fqdn = names["hostname"].rstrip("."), names["fqdn"].rstrip(".")
            addn.append(f"{f.ip_address} {fqdn} {hostname}")
            if _mode(subnet) == "static":
                addr = f.ip_address if subnet.ip_version == 4 else f"[{f.ip_address}]"
                hosts.append(f"{entry.mac_address},{fqdn},{addr}")
        if entry.extra_dhcp_opts:
            tag = _port_tag(entry.port_id)
            args.append(f"--dhcp-mac=set:{tag},{entry.mac_address}")
            opts.extend(
                _format_option(o.ip_version, tag, o.opt_name, o.opt_value)
                for o in entry.extra_dhcp_opts
            )
    return DhcpConfig(
        network_id=net.id,
        namespace=dhcp_namespace(net.id),
        interface=dhcp_device_name(port.id),
        host_device=tap_name(port.id),
        bridge=bridge_name(net.id),
        mac_address=port.mac_address,
        addresses=tuple(addresses),
        mtu=mtu,
        domain=served.dns_domain.rstrip("."),
        args=tuple(args),
        hosts=tuple(hosts),
        addn_hosts=tuple(addn),
        opts=tuple(opts),
    )
