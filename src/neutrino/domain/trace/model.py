"""The intended network as one read-only model, for the packet trace (pure, no I/O).

A ``NetworkModel`` holds what a trace needs to know about the whole deployment: ports (MAC,
addresses, port security, allowed address pairs, groups, admin state, status, binding host,
whether the controller made them itself), networks with their segment, subnets with gateway
and host routes, security groups with their rules, routers (admin state, SNAT, gateway network,
extra routes), floating IPs and each host's tunnel endpoint. ``trace.build.from_neutron``
builds it from the Neutron wire dicts the services already render, so the trace reads exactly
what the API shows.

Indexes (address -> owner per network, group members, router ports) are built once in
``__post_init__``: a trace is then a handful of dict lookups and rule scans, whatever the size
of the model. Group members are the fixed IPs and allowed-address-pair IPs/CIDRs of every port
in the group, as host state gives them to the agents (``domain/sgstate.py``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from neutrino.domain.ipam import ROUTER_INTERFACE_OWNERS
from neutrino.domain.sgstate import AddressPair, RuleState

__all__ = [
    "FloatingIp",
    "Group",
    "Network",
    "NetworkModel",
    "Port",
    "PortForwarding",
    "Router",
    "Subnet",
    "in_prefix",
]

ROUTER_GATEWAY = "network:router_gateway"
BOUND = "bridge"  # binding:vif_type of a port whose binding succeeded


def in_prefix(address: str, prefix: str) -> bool:
    """Whether ``address`` is inside ``prefix`` (an address or CIDR; other family: no)."""
    ip = ipaddress.ip_address(address)
    net = ipaddress.ip_network(prefix, strict=False)
    return ip.version == net.version and ip in net


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    name: str = ""
    owner: str = ""  # the network's project ("" when shared or external)

    def label(self) -> str:
        return f"subnet {self.cidr} ({self.id})"

    def contains(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        net = ipaddress.ip_network(self.cidr)
        return ip.version == net.version and ip in net


@dataclass(frozen=True)
class Network:
    id: str
    name: str = ""
    network_type: str = "vxlan"
    segmentation_id: int | None = None
    external: bool = False
    admin_state_up: bool = True
    project_id: str = ""
    shared: bool = False

    @property
    def owner(self) -> str:
        """The project whose object this is, "" when every project may see it."""
        return "" if self.shared or self.external else self.project_id

    def label(self) -> str:
        return f"network {self.name} ({self.id})" if self.name else f"network {self.id}"


@dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[tuple[str, str], ...] = ()  # (subnet_id, ip_address)
    name: str = ""
    project_id: str = ""
    admin_state_up: bool = True
    status: str = "ACTIVE"
    host: str | None = None  # bound host (binding succeeded), None = not bound
    device_owner: str = ""
    device_id: str = ""
    port_security_enabled: bool = True
    system_owned: bool = False
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(ip for _, ip in self.fixed_ips)

    @property
    def filtered(self) -> bool:
        """Whether the agent filters it (sg_calc: port security on and not system-owned)."""
        return self.port_security_enabled and not self.system_owned

    @property
    def owner(self) -> str:
        return self.project_id

    def label(self) -> str:
        return f"port {self.name} ({self.id})" if self.name else f"port {self.id}"


@dataclass(frozen=True)
class Group:
    id: str
    name: str = ""
    stateful: bool = True
    rules: tuple[RuleState, ...] = ()
    project_id: str = ""

    @property
    def owner(self) -> str:
        return self.project_id

    def label(self) -> str:
        return f"group {self.name} ({self.id})" if self.name else f"group {self.id}"


@dataclass(frozen=True)
class FloatingIp:
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str
    router_id: str
    project_id: str = ""

    @property
    def owner(self) -> str:
        return self.project_id

    def label(self) -> str:
        return f"floating IP {self.floating_ip_address} ({self.id})"


@dataclass(frozen=True)
class PortForwarding:
    """A floating IP's forwarding of ``protocol`` external ports to an internal address; the
    ranges are (start, end), N-N (port i -> port i) or 1-N (all -> one), as ``l3_calc``
    unrolls them."""

    id: str
    floating_ip_address: str
    router_id: str
    protocol: str
    external: tuple[int, int]
    internal_ip_address: str
    internal: tuple[int, int]
    project_id: str = ""

    @property
    def owner(self) -> str:
        return self.project_id

    def internal_port(self, protocol: str, port: int | None) -> int | None:
        """The internal port ``protocol``/``port`` is sent on to, None if not forwarded."""
        if protocol != self.protocol or port is None:
            return None
        if not self.external[0] <= port <= self.external[1]:
            return None
        single = self.internal[0] == self.internal[1]
        return self.internal[0] if single else self.internal[0] + port - self.external[0]

    def label(self) -> str:
        outside, inside = (
            f"{a}:{b}" if a != b else str(a) for a, b in (self.external, self.internal)
        )
        return (
            f"port forwarding {self.protocol} {self.floating_ip_address}:{outside} -> "
            f"{self.internal_ip_address}:{inside} ({self.id})"
        )


@dataclass(frozen=True)
class Router:
    id: str
    name: str = ""
    admin_state_up: bool = True
    enable_snat: bool = True
    external_network_id: str | None = None
    routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    project_id: str = ""

    @property
    def owner(self) -> str:
        return self.project_id

    def label(self) -> str:
        return f"router {self.name} ({self.id})" if self.name else f"router {self.id}"


@dataclass
class NetworkModel:
    networks: Mapping[str, Network]
    subnets: Mapping[str, Subnet]
    ports: Mapping[str, Port]
    groups: Mapping[str, Group] = field(default_factory=dict)
    routers: Mapping[str, Router] = field(default_factory=dict)
    floating_ips: tuple[FloatingIp, ...] = ()
    forwardings: tuple[PortForwarding, ...] = ()
    vteps: Mapping[str, str] = field(default_factory=dict)  # host -> tunnel IP
    address_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> CIDRs

    def __post_init__(self) -> None:
        self.subnets_of: dict[str, list[Subnet]] = defaultdict(list)
        for s in self.subnets.values():
            self.subnets_of[s.network_id].append(s)
        self.owners: dict[tuple[str, str], Port] = {}  # (network, fixed IP) -> port
        self.pair_owners: dict[str, list[tuple[str, Port]]] = defaultdict(list)
        self.members: dict[str, list[str]] = defaultdict(list)
        self.interfaces: dict[str, list[Port]] = defaultdict(list)  # router -> qr ports
        self.gateways: dict[str, Port] = {}  # router -> its gateway port
        for port in self.ports.values():
            for ip in port.addresses:
                self.owners[(port.network_id, str(ipaddress.ip_address(ip)))] = port
            for pair in port.allowed_address_pairs:
                self.pair_owners[port.network_id].append((pair.ip_address, port))
            for gid in set(port.security_groups):
                self.members[gid] += [
                    *port.addresses,
                    *(p.ip_address for p in port.allowed_address_pairs),
                ]
            if port.device_owner in ROUTER_INTERFACE_OWNERS and port.device_id:
                self.interfaces[port.device_id].append(port)
            elif port.device_owner == ROUTER_GATEWAY and port.device_id:
                self.gateways[port.device_id] = port
        self.fip_by_address = {f.floating_ip_address: f for f in self.floating_ips}
        # floating address -> its forwardings (one router holds them all: the service's rule)
        self.forwarded: dict[str, list[PortForwarding]] = defaultdict(list)
        for pf in self.forwardings:
            self.forwarded[pf.floating_ip_address].append(pf)

    def router_of_floating(self, address: str) -> str | None:
        """The router whose gateway holds floating ``address`` (associated, or holding port
        forwardings: both are /32s on the gateway device), None if none does."""
        fip = self.fip_by_address.get(address)
        if fip is not None:
            return fip.router_id
        held = self.forwarded.get(address)
        return held[0].router_id if held else None

    def owner(self, network_id: str, address: str) -> Port | None:
        """The port that receives ``address`` on the network: a fixed IP, else an allowed
        address pair (a VIP) of a port there."""
        found = self.owners.get((network_id, str(ipaddress.ip_address(address))))
        if found is not None:
            return found
        ip = ipaddress.ip_address(address)
        for pair, port in self.pair_owners.get(network_id, ()):
            if ip in ipaddress.ip_network(pair, strict=False):
                return port
        return None

    def announced(self, port: Port, address: str) -> bool:
        """Whether l2population lists ``address`` for ``port`` (its VTEP answers ARP/ND for
        it on other hosts, agent/calc.py): a fixed IP, a one-address allowed address pair,
        or for a router's gateway port a floating IP of that router. A pair naming a wider
        CIDR is not listed: its addresses are not known."""
        ip = ipaddress.ip_address(address)
        if any(ipaddress.ip_address(a) == ip for a in port.addresses):
            return True
        for pair in port.allowed_address_pairs:
            net = ipaddress.ip_network(pair.ip_address, strict=False)
            if net.num_addresses == 1 and net.network_address == ip:
                return True
        fip = self.fip_by_address.get(str(ip))
        return (
            port.device_owner == ROUTER_GATEWAY
            and fip is not None
            and bool(fip.router_id)
            and fip.router_id == port.device_id
        )

    def subnet_for(self, network_id: str, address: str) -> Subnet | None:
        return next((s for s in self.subnets_of.get(network_id, ()) if s.contains(address)), None)
