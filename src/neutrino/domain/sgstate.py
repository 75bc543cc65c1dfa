"""Security in host state: what a host's agent needs to filter its ports (controller -> agent).

``HostState`` carries, besides its ports' own security attributes (``PortState``:
``port_security_enabled``, ``security_groups``, ``allowed_address_pairs``):

* ``security_groups``: the definition of every group a port bound to the host uses — its
  ``stateful`` flag and its rules (``RuleState``, canonical as the API stored them: protocol as
  a name or a decimal number, ``remote_ip_prefix`` normalized to its network);
* ``remote_groups``: for every group named as ``remote_group_id`` by one of those rules, the
  addresses of its members — the fixed IPs and allowed-address-pair IPs/CIDRs of every port in
  the group, on any host;
* ``address_groups``: for every address group named as ``remote_address_group_id`` by one of
  those rules, its CIDRs (``AddressGroupState``).

Invariants: frozen values, tuples sorted (groups and rules by id, addresses by string), so the
same database contents always give equal states and the same ``HostState.digest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AddressGroupState", "AddressPair", "RemoteGroup", "RuleState", "SecurityGroupState"]


@dataclass(frozen=True)
class AddressPair:
    """An allowed address pair of a port: an IP or CIDR, with the MAC it may come from."""

    ip_address: str
    mac_address: str


@dataclass(frozen=True)
class RuleState:
    """One security-group rule (Neutron's attributes, canonical form)."""

    id: str
    direction: str  # ingress | egress
    ethertype: str  # IPv4 | IPv6
    protocol: str | None = None  # None = any; a name ("tcp") or a number ("47")
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None


@dataclass(frozen=True)
class SecurityGroupState:
    id: str
    stateful: bool = True
    rules: tuple[RuleState, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SecurityGroupState:
        return cls(
            id=d["id"],
            stateful=d.get("stateful", True),
            rules=tuple(RuleState(**r) for r in d.get("rules", ())),
        )


@dataclass(frozen=True)
class RemoteGroup:
    """The member addresses (IPs and pair CIDRs, v4 and v6) of a group used as remote."""

    id: str
    addresses: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RemoteGroup:
        return cls(id=d["id"], addresses=tuple(d.get("addresses", ())))


@dataclass(frozen=True)
class AddressGroupState:
    """The CIDRs (v4 and v6, normalised) of an address group a rule names as its remote."""

    id: str
    addresses: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AddressGroupState:
        return cls(id=d["id"], addresses=tuple(d.get("addresses", ())))
