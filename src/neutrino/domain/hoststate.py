"""Host state: the versioned, host-scoped desired state — the contract controller -> agent.

A ``HostState`` says, for one host at one change-log revision, everything its agents must
build: the networks present on the host (segment, MTU, subnets), the host's bound ports (MAC,
fixed IPs, the kernel device and bridge names), and l2population data per network (the tunnel
endpoints of the *other* hosts with ports on that network and each remote port's MAC/IPs).

Invariants:
- Pure data: frozen dataclasses, tuples sorted by id, so two states built from the same
  database contents are equal and serialize to the same JSON (``digest`` relies on it).
- ``revision`` is the change-log revision the state was read at; it is not part of ``digest``
  (two revisions with the same content have the same digest).
- Kernel names follow Neutron's: ``tap<port[:11]>``, ``brq<net[:11]>``, ``vxlan-<vni>``,
  ``<physical interface>.<vid>`` for a VLAN provider network's uplink, ``qdhcp-<net>`` and
  ``ns-<port[:11]>`` for DHCP. A trunk's sub-port is a port like any other (its own
  ``tap<sub-port[:11]>``, a VLAN sub-interface of its parent's tap) and says which parent and
  tag in ``trunk_parent``/``vlan_id``.
- ``dhcp`` lists the networks this host serves DHCP for: those whose ``network:dhcp`` port is
  bound here (so the network and that port are also in ``networks``/``ports``), each with the
  DHCP entries of every other port on the network.
- ``routers`` lists the routers scheduled to this host (``neutrino.domain.l3state``); their
  ports bound here are also in ``ports`` (the L2 agent wires their taps).
- QoS (``neutrino.domain.qosstate``): each port's bandwidth limits and DSCP mark, resolved
  from its effective policy by the controller.
- Security (``neutrino.domain.sgstate``): each port's ``port_security_enabled``, groups and
  allowed address pairs; ``security_groups`` defines every group those ports use and
  ``remote_groups`` lists the member addresses of every group their rules name as remote.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from operator import attrgetter
from typing import Any

import orjson

from neutrino.domain import statedelta
from neutrino.domain.dns import DEFAULT_DOMAIN, host_label
from neutrino.domain.l3state import RouterState
from neutrino.domain.qosstate import BandwidthLimit
from neutrino.domain.sgstate import (
    AddressGroupState,
    AddressPair,
    RemoteGroup,
    SecurityGroupState,
    remote_from_wire,
    remote_patched,
    remote_to_wire,
)

SEGMENT_TYPES = ("flat", "vlan", "vxlan")
VIF_BRIDGE = "bridge"
"""``binding:vif_type`` of a port bound to a host's Linux bridge: what makes it the host's."""


def tap_name(port_id: str) -> str:
    return f"tap{port_id[:11]}"


def bridge_name(network_id: str) -> str:
    return f"brq{network_id[:11]}"


def vxlan_name(vni: int) -> str:
    return f"vxlan-{vni}"


def vlan_subinterface_name(interface: str, vlan_id: int) -> str:
    """``<interface>.<vid>``, a physical interface's VLAN sub-interface (a VLAN provider
    network's uplink); the interface name is cut so the whole fits IFNAMSIZ (15 bytes)."""
    suffix = f".{vlan_id}"
    return interface[: 15 - len(suffix)] + suffix


def dhcp_namespace(network_id: str) -> str:
    return f"qdhcp-{network_id}"


def dhcp_device_name(port_id: str) -> str:
    return f"ns-{port_id[:11]}"


def dhcp_hostname(ip_address: str) -> str:
    """Neutron's DHCP host name for an address: ``host-192-0-2-11``, ``host-2001-db8--11``."""
    return host_label(ip_address)


_LEAVES = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _wire(value: Any) -> Any:
    """``dataclasses.asdict`` with tuples as lists (the wire form is plain JSON data), in one
    pass: ``asdict`` deep-copies every leaf and was most of a host-state answer's
    rendering (an item of 100 ports: 115 µs, now about a quarter; the leaves here are
    immutable, so they are shared)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    names = _FIELDS.get(kind)
    if names is None and is_dataclass(value):
        names = _FIELDS.setdefault(kind, tuple(f.name for f in fields(value)))
    if names is not None:
        return {name: _wire(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class HostRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True)
class SubnetState:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubnetState:
        return cls(
            **{
                **d,
                "dns_nameservers": tuple(d.get("dns_nameservers", ())),
                "host_routes": tuple(HostRoute(**r) for r in d.get("host_routes", ())),
            }
        )


@dataclass(frozen=True)
class NetworkState:
    id: str
    network_type: str  # flat | vlan | vxlan
    segmentation_id: int | None
    physical_network: str | None
    mtu: int
    subnets: tuple[SubnetState, ...] = ()

    @property
    def bridge_name(self) -> str:
        return bridge_name(self.id)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkState:
        d = {k: v for k, v in d.items() if k != "bridge_name"}
        return cls(**{**d, "subnets": tuple(SubnetState.from_dict(s) for s in d["subnets"])})


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class PortState:
    """A port bound to this host (binding succeeded)."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    admin_state_up: bool
    device_owner: str = ""
    # made by the controller itself (DHCP, router, floating-IP port): never filtered; a port
    # that only claims a ``network:*`` owner is not
    system_owned: bool = False
    # security (domain/sgstate.py); off by default so a state without these fields (an older
    # controller) never makes the agent filter a port it knows nothing about
    port_security_enabled: bool = False
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    # QoS (domain/qosstate.py): the limits of the port's effective policy, by direction
    bandwidth_limits: tuple[BandwidthLimit, ...] = ()
    # and the DSCP mark of what the VM sends (None: its packets keep theirs)
    dscp_mark: int | None = None
    # a trunk's sub-port: the parent port (bound to this host too) and the 802.1Q tag that
    # carries this port's frames on the parent's wire; None for every other port
    trunk_parent: str | None = None
    vlan_id: int | None = None

    @property
    def device_name(self) -> str:
        return tap_name(self.id)

    @property
    def bridge_name(self) -> str:
        return bridge_name(self.network_id)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PortState:
        d = {k: v for k, v in d.items() if k not in ("device_name", "bridge_name")}
        return cls(
            **{
                **d,
                "fixed_ips": tuple(FixedIp(**f) for f in d["fixed_ips"]),
                "security_groups": tuple(d.get("security_groups", ())),
                "allowed_address_pairs": tuple(
                    AddressPair(**a) for a in d.get("allowed_address_pairs", ())
                ),
                "bandwidth_limits": tuple(
                    BandwidthLimit(**b) for b in d.get("bandwidth_limits", ())
                ),
            }
        )


@dataclass(frozen=True)
class RemotePort:
    """A port on another host, reachable through that host's tunnel endpoint.

    ``announced``: more addresses that answer at this port, each with its MAC: its
    allowed address pairs that name one address (a VIP a VM takes over), and for a router's
    gateway port the floating IPs its router holds. The VXLAN device answers ARP and neighbour
    solicitations itself (``proxy``) and drops those it has no entry for, so an address
    missing here cannot be reached from another host. A pair naming a whole CIDR cannot be
    listed: its addresses are not known."""

    id: str
    mac_address: str
    ip_addresses: tuple[str, ...]
    vtep: str
    announced: tuple[AddressPair, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RemotePort:
        return cls(
            **{
                **d,
                "ip_addresses": tuple(d["ip_addresses"]),
                "announced": tuple(AddressPair(**a) for a in d.get("announced", ())),
            }
        )


@dataclass(frozen=True)
class L2Pop:
    """l2population for one network: remote VTEPs (flood list) and remote ports (FDB/ARP)."""

    network_id: str
    vteps: tuple[str, ...] = ()
    ports: tuple[RemotePort, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> L2Pop:
        return cls(
            network_id=d["network_id"],
            vteps=tuple(d["vteps"]),
            ports=tuple(RemotePort.from_dict(p) for p in d["ports"]),
        )


@dataclass(frozen=True)
class DhcpOpt:
    """A port's ``extra_dhcp_opts`` item (dnsmasq option name or number, value, IP version)."""

    opt_name: str
    opt_value: str
    ip_version: int = 4


@dataclass(frozen=True)
class DhcpEntry:
    """One port a DHCP server answers for: its MAC, fixed IPs and extra options, and its
    ``dns_name`` ("" when it has none or names are not in use: then ``host-<address>``)."""

    port_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...] = ()
    extra_dhcp_opts: tuple[DhcpOpt, ...] = ()
    dns_name: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DhcpEntry:
        return cls(
            port_id=d["port_id"],
            mac_address=d["mac_address"],
            fixed_ips=tuple(FixedIp(**f) for f in d["fixed_ips"]),
            extra_dhcp_opts=tuple(DhcpOpt(**o) for o in d["extra_dhcp_opts"]),
            dns_name=d.get("dns_name", ""),
        )


@dataclass(frozen=True)
class DhcpNetwork:
    """A network this host serves DHCP for: its DHCP port (bound here), the entries, and
    the controller's DNS domain (``domain.dns``) its names are in."""

    network_id: str
    port: PortState
    entries: tuple[DhcpEntry, ...] = ()
    dns_domain: str = DEFAULT_DOMAIN

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DhcpNetwork:
        port = PortState.from_dict(d["port"])
        return cls(
            network_id=d["network_id"],
            port=port,
            entries=tuple(DhcpEntry.from_dict(e) for e in d["entries"]),
            dns_domain=d.get("dns_domain", DEFAULT_DOMAIN),
        )


@dataclass(frozen=True)
class HostState:
    host: str
    revision: int
    tunnel_ip: str | None = None
    networks: tuple[NetworkState, ...] = ()
    ports: tuple[PortState, ...] = ()
    l2pop: tuple[L2Pop, ...] = field(default=())
    dhcp: tuple[DhcpNetwork, ...] = ()
    security_groups: tuple[SecurityGroupState, ...] = ()
    remote_groups: tuple[RemoteGroup, ...] = ()
    address_groups: tuple[AddressGroupState, ...] = ()  # named by the rules (``sgstate``)
    routers: tuple[RouterState, ...] = ()  # routers scheduled here (domain.l3state)

    @property
    def network_ids(self) -> frozenset[str]:
        return frozenset(n.id for n in self.networks)

    def to_dict(self) -> dict[str, Any]:
        """Wire form; derived names (device/bridge) are included for the agent's convenience."""
        out: dict[str, Any] = _wire(self)
        for net, net_d in zip(self.networks, out["networks"], strict=True):
            net_d["bridge_name"] = net.bridge_name
        for port, port_d in zip(self.ports, out["ports"], strict=True):
            port_d["device_name"] = port.device_name
            port_d["bridge_name"] = port.bridge_name
        for served, served_d in zip(self.dhcp, out["dhcp"], strict=True):
            served_d["port"]["device_name"] = served.port.device_name
            served_d["port"]["bridge_name"] = served.port.bridge_name
        out.update(remote_to_wire(self.remote_groups))
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostState:
        return cls(
            host=d["host"],
            revision=d["revision"],
            tunnel_ip=d.get("tunnel_ip"),
            networks=tuple(NetworkState.from_dict(n) for n in d["networks"]),
            ports=tuple(PortState.from_dict(p) for p in d["ports"]),
            l2pop=tuple(L2Pop.from_dict(x) for x in d["l2pop"]),
            dhcp=tuple(DhcpNetwork.from_dict(x) for x in d.get("dhcp", ())),
            security_groups=tuple(
                SecurityGroupState.from_dict(x) for x in d.get("security_groups", ())
            ),
            remote_groups=remote_from_wire(d),
            address_groups=tuple(
                AddressGroupState.from_dict(x) for x in d.get("address_groups", ())
            ),
            routers=tuple(RouterState.from_dict(x) for x in d.get("routers", ())),
        )

    def patched(self, delta: dict[str, Any]) -> HostState:
        """This state with a ``statedelta`` applied: the items it names are parsed, the
        others kept as they are (the agent's copy of a 5,000-port host is not rebuilt for
        one port). ``HostState.from_dict(patch(self.to_dict(), delta))`` by another road."""
        changes: dict[str, Any] = {}
        index: dict[str, Any] = {}
        touched: dict[str, tuple[tuple[Any, ...], set[str]]] = {}  # name -> (parent's, keys)
        remote = remote_patched(self._remote_wire(), self.remote_groups, delta)
        if remote is not None:
            index["_remote"], changes["remote_groups"] = remote
        for name, value in delta["set"].items():
            kind = _SECTIONS.get(name)
            if kind is not None:
                changes[name] = tuple(kind.from_dict(v) for v in value)
            elif name in ("host", "revision", "tunnel_ip"):
                changes[name] = value
        for name in set(delta["upsert"]) | set(delta["remove"]):
            kind = _SECTIONS.get(name)
            if kind is None:
                continue  # a section this agent does not know (a newer controller)
            spec = delta["upsert"].get(name) or delta["remove"][name]
            key = spec["key"]
            keys: set[str] = set()
            parent = changes.get(name, getattr(self, name))  # sorted by ``key``
            if name in changes:  # set whole by this delta as well: consumers compare it all
                items = {getattr(i, key): i for i in changes[name]}
            else:  # the parent's index copied (no walk over its items), the keys patched kept
                items = dict(self.indexed(name, key))
                touched[name] = (getattr(self, name), keys)
            for gone in delta["remove"].get(name, {}).get("keys", ()):
                items.pop(gone, None)
                keys.add(gone)
            for item in delta["upsert"].get(name, {}).get("items", ()):
                items[item[key]] = kind.from_dict(item)
                keys.add(item[key])
            patched = statedelta.merged(parent, attrgetter(key), {k: items.get(k) for k in keys})
            changes[name] = tuple(patched)
            index[f"_by_{name}"] = items
        state = replace(self, **changes)
        state.__dict__.update(index, _touched=touched)
        return state

    def _remote_wire(self) -> dict[str, Any]:
        """``remote_groups`` and ``remote_members`` as on the wire (kept for ``patched``)."""
        wire: dict[str, Any] | None = self.__dict__.get("_remote")
        if wire is None:
            wire = self.__dict__["_remote"] = remote_to_wire(self.remote_groups)
        return wire

    def indexed(self, name: str, key: str = "id") -> dict[str, Any]:
        """Section ``name``'s items by ``key`` (built once per state; ``patched`` hands its
        own on). Read only."""
        index: dict[str, Any] | None = self.__dict__.get(f"_by_{name}")
        if index is None:
            index = {getattr(i, key): i for i in getattr(self, name)}
            self.__dict__[f"_by_{name}"] = index
        return index

    def touched(self, name: str, since: tuple[Any, ...] | None) -> set[str] | None:
        """The keys of section ``name`` whose items may differ from those of ``since`` (an
        earlier state's section): empty when it is the same tuple, the keys of the patch
        that made this state from it, else None (unknown: compare every item)."""
        if getattr(self, name) is since:
            return set()
        base, keys = self.__dict__.get("_touched", {}).get(name, (None, None))
        return set(keys) if base is since and since is not None else None

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> HostState:
        return cls.from_dict(orjson.loads(data))

    def digest(self, body: dict[str, Any] | None = None) -> str:
        """Content hash, revision excluded: equal digests mean nothing to do for the agent.
        Computed once per state (the state is frozen; a wake compares it several times);
        ``body`` is this state's ``to_dict()`` when the caller made it already."""
        cached: str | None = self.__dict__.get("_digest")
        if cached is None:
            cached = body_digest(self.to_dict() if body is None else body)
            object.__setattr__(self, "_digest", cached)
        return cached


def body_digest(body: dict[str, Any]) -> str:
    """``HostState.digest`` of a state's wire form, without building the state
    (``statedelta.digest``: kept up to date item by item with ``advance_digest``)."""
    return statedelta.digest(body)


_SECTIONS: dict[str, Any] = {
    "networks": NetworkState,
    "ports": PortState,
    "l2pop": L2Pop,
    "dhcp": DhcpNetwork,
    "security_groups": SecurityGroupState,
    "address_groups": AddressGroupState,
    "routers": RouterState,
}
