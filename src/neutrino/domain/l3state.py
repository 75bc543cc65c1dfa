"""Router host state: what an L3 agent must build for each router scheduled to its host.

A ``RouterState`` is part of ``HostState.routers`` (the controller -> agent contract): the
router's interfaces (``network:router_interface`` ports) and gateway
(``network:router_gateway`` port), each with its MAC, network and addresses (IP, prefix length,
the subnet's CIDR and gateway IP — for the gateway port that gateway IP is the upstream
router, the default route's next hop), ``enable_snat``, the extra routes, the associated
floating IPs (floating address <-> fixed address) and the port forwardings of the floating
IPs it serves (floating address, protocol, external ports -> internal address and ports).

Invariants: pure frozen data, tuples sorted (ports and addresses by id/address, routes,
floating IPs by floating address, forwardings by address, protocol and port), so equal
database contents give equal states and digests.
Only ports bound on the host with a successful binding are listed: a port whose binding
failed is not wired there, so the router does not use it.

An HA router (``RouterState.ha`` set) is listed on every host that hosts it, with every
interface and gateway port whatever host they are bound to, plus the host's own HA port
(``ha-<port[:11]>``, on the project's HA network) and the VRRP router id: the agent runs
keepalived, which gives the port addresses to the master only (``neutrino.agent.ha_calc``).

Kernel names follow Neutron's: ``qrouter-<router id>``, ``qr-<port[:11]>`` (interfaces) and
``qg-<port[:11]>`` (gateway) inside it, ``tap<port[:11]>`` for the host end on the bridge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.domain.qosstate import BandwidthLimit


def router_namespace(router_id: str) -> str:
    return f"qrouter-{router_id}"


def interface_device(port_id: str) -> str:
    return f"qr-{port_id[:11]}"


def gateway_device(port_id: str) -> str:
    return f"qg-{port_id[:11]}"


def ha_device(port_id: str) -> str:
    return f"ha-{port_id[:11]}"


@dataclass(frozen=True)
class RouterAddress:
    """One fixed IP of a router port, with its subnet."""

    ip_address: str
    prefixlen: int
    subnet_id: str
    cidr: str
    gateway_ip: str | None = None

    @property
    def version(self) -> int:
        return 6 if ":" in self.ip_address else 4


@dataclass(frozen=True)
class RouterPortState:
    """A router port bound on this host: an interface or the gateway."""

    id: str
    network_id: str
    mac_address: str
    addresses: tuple[RouterAddress, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RouterPortState:
        return cls(
            id=d["id"],
            network_id=d["network_id"],
            mac_address=d["mac_address"],
            addresses=tuple(RouterAddress(**a) for a in d["addresses"]),
        )


@dataclass(frozen=True)
class ExtraRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True)
class FloatingIpState:
    """An associated floating IP: traffic to ``floating_ip_address`` goes to
    ``fixed_ip_address`` (DNAT) and the fixed address leaves as the floating one (SNAT)."""

    id: str
    floating_ip_address: str
    fixed_ip_address: str
    fixed_port_id: str
    # QoS (domain/qosstate.py): the limits of the floating IP's own policy (qos-fip)
    bandwidth_limits: tuple[BandwidthLimit, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FloatingIpState:
        limits = tuple(BandwidthLimit(**b) for b in d.get("bandwidth_limits", ()))
        return cls(**{**d, "bandwidth_limits": limits})


@dataclass(frozen=True)
class HaState:
    """What an HA router needs beyond a legacy one: its VRRP router id and this host's HA
    port (its address is the VRRP source; the other hosts' are its peers)."""

    vr_id: int
    port: RouterPortState
    peers: tuple[str, ...] = ()  # the other hosts' HA addresses, sorted

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HaState:
        return cls(
            vr_id=d["vr_id"],
            port=RouterPortState.from_dict(d["port"]),
            peers=tuple(d.get("peers", ())),
        )


@dataclass(frozen=True)
class PortForwardingState:
    """A port forwarding of a floating IP this router serves: ``protocol`` traffic to
    ``floating_ip_address`` on the external ports goes to ``internal_ip_address`` on the
    internal ports (a range maps port i to port i, or all to one internal port)."""

    id: str
    floatingip_id: str
    floating_ip_address: str
    protocol: str
    external_port_start: int
    external_port_end: int
    internal_ip_address: str
    internal_port_start: int
    internal_port_end: int


@dataclass(frozen=True)
class RouterState:
    id: str
    admin_state_up: bool = True
    enable_snat: bool = True
    interfaces: tuple[RouterPortState, ...] = ()
    gateway: RouterPortState | None = None
    routes: tuple[ExtraRoute, ...] = ()
    floating_ips: tuple[FloatingIpState, ...] = ()
    ha: HaState | None = None
    port_forwardings: tuple[PortForwardingState, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RouterState:
        gateway = d.get("gateway")
        ha = d.get("ha")
        return cls(
            id=d["id"],
            admin_state_up=d.get("admin_state_up", True),
            enable_snat=d.get("enable_snat", True),
            interfaces=tuple(RouterPortState.from_dict(p) for p in d["interfaces"]),
            gateway=None if gateway is None else RouterPortState.from_dict(gateway),
            routes=tuple(ExtraRoute(**r) for r in d.get("routes", ())),
            floating_ips=tuple(FloatingIpState.from_dict(f) for f in d.get("floating_ips", ())),
            ha=None if ha is None else HaState.from_dict(ha),
            port_forwardings=tuple(PortForwardingState(**p) for p in d.get("port_forwardings", ())),
        )
