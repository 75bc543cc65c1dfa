"""Security in host state: what a host's agent needs to filter its ports (controller -> agent).

``HostState`` carries, besides its ports' own security attributes (``PortState``:
``port_security_enabled``, ``security_groups``, ``allowed_address_pairs``):

* ``security_groups``: the definition of every group a port bound to the host uses — its
  ``stateful`` flag and its rules (``RuleState``, canonical as the API stored them: protocol as
  a name or a decimal number, ``remote_ip_prefix`` normalized to its network);
* ``remote_groups``: for every group named as ``remote_group_id`` by one of those rules, the
  addresses of its members — the fixed IPs and allowed-address-pair IPs/CIDRs of every port in
  the group, on any host. On the wire a group is its id alone and each membership an item of
  its own in ``remote_members`` (key ``"<group id> <address>"``, ``member_key``): a port
  joining a group of 5,000 members is one item in a delta, not the group's whole list;
* ``address_groups``: for every address group named as ``remote_address_group_id`` by one of
  those rules, its CIDRs (``AddressGroupState``).

Invariants: frozen values, tuples sorted (groups and rules by id, addresses by string), so the
same database contents always give equal states and the same ``HostState.digest``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from neutrino.domain import statedelta

__all__ = [
    "AddressGroupState",
    "AddressPair",
    "RemoteGroup",
    "RuleState",
    "SecurityGroupState",
    "member_key",
    "members_of",
    "remote_from_wire",
    "remote_patched",
    "remote_to_wire",
]


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


def member_key(group_id: str, address: str) -> str:
    """A membership's wire key. Group ids hold no space and sort as the keys do, so the keys
    sort by (group, address) and a group's members are one run of ``remote_members``."""
    return f"{group_id} {address}"


def remote_to_wire(groups: tuple[RemoteGroup, ...]) -> dict[str, list[dict[str, str]]]:
    """``remote_groups`` and ``remote_members`` in their wire form (see the module docstring)."""
    return {
        "remote_groups": [{"id": g.id} for g in groups],
        "remote_members": [{"id": member_key(g.id, a)} for g in groups for a in g.addresses],
    }


def remote_from_wire(
    wire: dict[str, Any], known: tuple[RemoteGroup, ...] = (), touched: set[str] | None = None
) -> tuple[RemoteGroup, ...]:
    """The groups of a wire form (``remote_to_wire``). With ``touched``, the groups of
    ``known`` not in it are kept as they are (a delta named none of their members). A group
    item with its ``addresses`` (a controller from before ``remote_members``) is taken as is."""
    members: list[dict[str, str]] = wire.get("remote_members", [])
    kept = {g.id: g for g in known if touched is not None and g.id not in touched}
    out = []
    for item in wire.get("remote_groups", ()):
        gid = item["id"]
        if gid in kept or "addresses" in item:
            out.append(kept.get(gid) or RemoteGroup(gid, tuple(item["addresses"])))
            continue
        out.append(
            RemoteGroup(gid, tuple(i["id"][len(gid) + 1 :] for i in members_of(members, gid)))
        )
    return tuple(out)


REMOTE_FIELDS = ("remote_groups", "remote_members")


def remote_patched(
    wire: dict[str, Any], known: tuple[RemoteGroup, ...], delta: dict[str, Any]
) -> tuple[dict[str, Any], tuple[RemoteGroup, ...]] | None:
    """``wire`` (``remote_to_wire`` of ``known``) with the remote part of a ``statedelta``
    applied, and its groups: only those whose members the delta names are rebuilt. None when
    the delta names no remote field."""
    part = {p: {n: v for n, v in delta[p].items() if n in REMOTE_FIELDS} for p in delta}
    if not any(part.values()):
        return None
    patched = statedelta.patch(wire, part)
    if part["set"]:
        return patched, remote_from_wire(patched)
    upserted = part["upsert"].get("remote_members", {}).get("items", ())
    keys = [i["id"] for i in upserted] + part["remove"].get("remote_members", {}).get("keys", [])
    groups = part["upsert"].get("remote_groups", {}).get("items", ())
    touched = {k.split(" ", 1)[0] for k in keys} | {g["id"] for g in groups}
    return patched, remote_from_wire(patched, known, touched)


def members_of(members: list[dict[str, str]], group_id: str) -> list[dict[str, str]]:
    """The items of ``remote_members`` (sorted) that are ``group_id``'s: one run, bisected."""
    lo = bisect.bisect_left(members, f"{group_id} ", key=lambda i: i["id"])
    hi = bisect.bisect_left(members, f"{group_id}!", lo, key=lambda i: i["id"])  # "!" > " "
    return members[lo:hi]


@dataclass(frozen=True)
class AddressGroupState:
    """The CIDRs (v4 and v6, normalised) of an address group a rule names as its remote."""

    id: str
    addresses: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AddressGroupState:
        return cls(id=d["id"], addresses=tuple(d.get("addresses", ())))
