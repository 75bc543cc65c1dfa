"""Pure calculation: host state in, the desired nftables security-group ruleset out.

``compute_sg(state)`` renders the whole filter of one host as ``SgRuleset``: the text of one
``nft -f`` transaction that replaces neutrino's two tables (and nothing else), the bridges
that need br_netfilter, and per port the *flows* it allows (used to find the conntrack
entries to delete when an allowance disappears: ``conntrack_deletions``). No side effects;
the dataplane's ``nft`` manager applies it.

Design B of DATAPLANE.md §2 (this kernel has no nf_conntrack_bridge, so conntrack lives in
the inet family and the bridge family reads it through the packet mark):

* ``table inet neutrino``: ``prerouting`` (priority raw) puts every packet bridged by a tenant
  bridge into that network's conntrack zone (``iifname`` is the bridge there: one zone per
  network, so overlapping CIDRs never share entries) and leaves the underlay's VXLAN
  (``udp dport 4789``) untracked; ``forward`` turns ``ct state`` into the mark of bridged
  packets with one map lookup (``0x10000`` established/related, ``0x20000`` invalid, else 0).
  A VM cannot forge the mark: it is scrubbed when a packet crosses the veth into the
  hypervisor namespace.
* ``table bridge neutrino``, two base chains on ``forward``: ``egress`` (priority 100, after
  br_netfilter's inet pass) runs the sending port's egress chain, which starts with
  anti-spoofing; ``ingress`` (priority 110) runs the destination port's ingress chain.
  An ``accept`` ends only its own base chain, so a packet between two VMs of this host passes
  the sender's egress rules *and* the receiver's ingress rules.
* Anti-spoofing uses concatenated sets: ``p_mac`` (port . MAC), ``p_ip4``/``p_ip6`` (port .
  MAC . address, hashed) and ``p_net4``/``p_net6`` (the same with intervals, for allowed
  address pairs given as CIDRs), so each address is bound to its MAC; IPv6 also admits each
  MAC's EUI-64 link-local address. One ethertype verdict map sends IPv4, IPv6 and ARP to
  their own short chain (every other ethertype is dropped). ARP must carry a port's MAC and
  IPv4 address (or 0.0.0.0, a probe). A VM may not act as a DHCP server or IPv6 router.
* One chain per security group and direction (``sg-<id>-in``/``sg-<id>-out``), holding only
  that group's rules, each ending in ``accept``. A port is bound to the chain of its *set* of
  groups (``in-<h>``/``out-<h>``, shared by every port with the same set) through the verdict
  maps ``port_in`` (oifname) and ``port_out`` (iifname): est/invalid (stateful groups), the
  common allowances, a jump to each group's chain, then ``drop``. Binding a port is only set
  and map elements. A group named as ``remote_group_id`` is a pair of named sets
  ``rg4-<id>``/``rg6-<id>`` of its members' addresses; an address group named as
  ``remote_address_group_id`` the pair ``ag4-<id>``/``ag6-<id>`` of its CIDRs.

Neutron semantics kept:

* Always allowed (both chains' common part): ARP (after anti-spoofing), DHCP/DHCPv6 client
  traffic out and server replies in, ND and MLD needed by IPv6 (router solicitation, neighbour
  solicitation/advertisement out; router advertisement, neighbour solicitation/advertisement
  and MLD queries in).
* A group's egress rules are enforced: the default group allows all egress (its two egress
  rules), a group without egress rules blocks egress except the above.
* **A port with port security on and no security group** (``security_groups: []``) gets only
  the always-allowed traffic above: nothing else in or out (replies to nothing — it cannot
  open a connection, so it has none).
* Ports with port security disabled, and the ports the controller made itself
  (``system_owned``: DHCP, router and floating-IP ports; Neutron's "trusted" ports), are not
  filtered at all. A port that only *claims* a ``network:…`` device owner (anyone may type
  one on a network they own, an admin anywhere) is filtered like any other port: the claim
  is no way around anti-spoofing. An admin-down port is filtered as usual.
* A stateless group (``stateful: false``) gets no established/invalid handling: replies need
  rules of their own. A port whose groups are all stateless skips conntrack: its packets, both
  ways, are ``notrack`` in the bridge table's ``raw`` chain (``sg_nft.RAW_CHAINS``) unless the
  other end is a stateful port here; a bridge without stateful ports gets no br_netfilter at
  all (``plain_bridges``). (The API refuses mixing both kinds on a port; a mix stays tracked.)
* Protocol ``0`` (``ip``/``hopopt``) or none means any protocol; the whole port range means
  no range; for ICMP the range is type (min) and code (max).

Zones: ``zone_of`` hashes the network id into 1..65000 (probing on a collision, networks in
id order), so a network keeps its zone across agent restarts and other networks coming and
going (a collision shifts a zone only while both networks are on the host).

Output is deterministic: everything is rendered sorted, so an unchanged state gives the
same text and the manager skips the apply.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from neutrino.agent.sg_nft import (
    FIXED_CHAINS,
    RAW_CHAINS,
    TABLE,
    chain,
    collapsed,
    combo_chain,
    inet_table,
    nft_map,
    nft_set,
    protocol_number,
    raw_maps,
    rule_text,
    shape_of,
    untracked,
)
from neutrino.domain.hoststate import HostState, PortState, bridge_name, tap_name
from neutrino.domain.ipam import link_local
from neutrino.domain.security_groups import ANY_PREFIXES
from neutrino.domain.sgstate import RuleState, SecurityGroupState

__all__ = [
    "ANY_FLOW",
    "CtDelete",
    "Flow",
    "PortFilter",
    "SgRuleset",
    "compute_sg",
    "conntrack_deletions",
    "protocol_number",
    "shape_of",
    "zone_of",
]

MAX_ZONE = 65000


# --- output ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Flow:
    """Traffic a port's filter admits (flattened from one rule; a remote group gives one flow
    per member address). ``direction`` "any" is ``ANY_FLOW``: an unfiltered port."""

    direction: str  # ingress | egress | any
    ethertype: str  # IPv4 | IPv6 | any
    protocol: int | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote: str | None = None  # CIDR of the other side, None = anywhere


ANY_FLOW = Flow("any", "any")


@dataclass(frozen=True)
class PortFilter:
    """One port's filter: its device, zone, addresses and the flows it admits."""

    port_id: str
    device: str
    zone: int
    addresses: tuple[str, ...]
    flows: frozenset[Flow]


@dataclass(frozen=True)
class SgRuleset:
    """The complete desired filter of one host (see the module docstring)."""

    text: str
    bridges: tuple[str, ...] = ()  # tenant bridges that need br_netfilter
    plain_bridges: tuple[str, ...] = ()  # the host's other tenant bridges: br_netfilter off
    ports: Mapping[str, PortFilter] = field(default_factory=dict)  # every port here, by id
    shape: str = ""  # ``shape_of(text)``: equal shapes differ only in set/map elements
    elements: Mapping[str, frozenset[str]] = field(default_factory=dict)  # "family set" ->

    def element_delta(self, old: SgRuleset) -> str | None:
        """The ``nft -f`` text turning ``old`` (applied) into this one by set and map element
        changes only, in one transaction; None when the shapes differ (reload the tables)."""
        if not self.shape or self.shape != old.shape:
            return None
        lines = []
        for key in sorted(self.elements):
            family, name = key.split(" ")
            have, want = old.elements.get(key, frozenset()), self.elements[key]
            gone = sorted(have - want)
            if gone:  # map elements are deleted by key
                keys = sorted({e.split(" : ")[0] for e in gone})
                lines.append(f"delete element {family} {TABLE} {name} {{ {', '.join(keys)} }}")
        for key in sorted(self.elements):
            family, name = key.split(" ")
            have, want = old.elements.get(key, frozenset()), self.elements[key]
            new = sorted(want - have)
            if new:
                lines.append(f"add element {family} {TABLE} {name} {{ {', '.join(new)} }}")
        return "\n".join(lines) + "\n" if lines else ""

    @property
    def protected(self) -> frozenset[str]:
        """Ids of the ports whose filter is part of this ruleset."""
        return frozenset(p for p, f in self.ports.items() if ANY_FLOW not in f.flows)


@dataclass(frozen=True, order=True)
class CtDelete:
    """Delete the conntrack entries of ``zone`` that ``flow`` admitted for ``address``."""

    zone: int
    address: str
    flow: Flow


# --- helpers ---------------------------------------------------------------------------------


def zone_of(network_ids: Iterable[str]) -> dict[str, int]:
    """network id -> conntrack zone (see the module docstring)."""
    zones: dict[str, int] = {}
    used: set[int] = set()
    for nid in sorted(set(network_ids)):
        zone = zlib.crc32(nid.encode()) % MAX_ZONE + 1
        while zone in used:
            zone = zone % MAX_ZONE + 1
        used.add(zone)
        zones[nid] = zone
    return zones


def _combo(groups: tuple[str, ...]) -> str:
    if not groups:
        return "none"
    return hashlib.sha1(",".join(sorted(groups)).encode()).hexdigest()[:12]


def _filtered(port: PortState) -> bool:
    return port.port_security_enabled and not port.system_owned


# --- flows (what conntrack cleanup compares) --------------------------------------------------


def _rule_flows(rule: RuleState, members: Mapping[str, tuple[str, ...]]) -> list[Flow]:
    """``members``: the addresses of remote groups and of address groups, by id (both ids
    are UUIDs: they never collide)."""
    proto = protocol_number(rule.protocol)
    lo, hi = rule.port_range_min, rule.port_range_max
    remote_set = rule.remote_group_id or rule.remote_address_group_id
    if remote_set:
        version = 6 if rule.ethertype == "IPv6" else 4
        remotes: list[str | None] = list(collapsed(members.get(remote_set, ()), version))
    elif rule.remote_ip_prefix and rule.remote_ip_prefix not in ANY_PREFIXES:
        remotes = [rule.remote_ip_prefix]
    else:
        remotes = [None]
    return [Flow(rule.direction, rule.ethertype, proto, lo, hi, r) for r in remotes]


def _group_flows(
    groups: Mapping[str, SecurityGroupState], members: Mapping[str, tuple[str, ...]]
) -> dict[str, frozenset[Flow]]:
    return {
        gid: frozenset(f for rule in group.rules for f in _rule_flows(rule, members))
        for gid, group in groups.items()
    }


def conntrack_deletions(old: SgRuleset | None, new: SgRuleset) -> list[CtDelete]:
    """The conntrack entries to delete going from ``old`` to ``new``: for every port in both,
    each flow ``old`` admitted and ``new`` does not (a rule removed, the port left a group, a
    remote-group member left, port security turned on), for each of its old addresses."""
    if old is None:
        return []
    out: set[CtDelete] = set()
    for pid, after in new.ports.items():
        before = old.ports.get(pid)
        if before is None or ANY_FLOW in after.flows:
            continue
        for flow in before.flows - after.flows:
            for address in before.addresses:
                out.add(CtDelete(before.zone, address, flow))
    return sorted(out, key=_ct_key)


def _ct_key(d: CtDelete) -> tuple[int, str, str, str, int, int, int, str]:
    f = d.flow
    return (
        d.zone,
        d.address,
        f.direction,
        f.ethertype,
        f.protocol or -1,
        f.port_min or -1,
        f.port_max or -1,
        f.remote or "",
    )


# --- rendering -------------------------------------------------------------------------------


def compute_sg(state: HostState) -> SgRuleset:
    """The complete desired security-group ruleset of this host (see the module docstring)."""
    groups = {g.id: g for g in state.security_groups}
    members = {r.id: r.addresses for r in state.remote_groups}
    cidrs = {a.id: a.addresses for a in state.address_groups}
    networks = {n.id for n in state.networks} | {p.network_id for p in state.ports}
    zones = zone_of(networks)

    protected = sorted((p for p in state.ports if _filtered(p)), key=lambda p: p.id)
    p_mac: set[str] = set()
    p_ip4: set[str] = set()
    p_ip6: set[str] = set()
    p_net4: set[str] = set()  # allowed-address-pair CIDRs (an interval set; hosts are hashed)
    p_net6: set[str] = set()
    port_in: set[str] = set()
    port_out: set[str] = set()
    raw: list[tuple[str, tuple[str, ...], bool]] = []  # (device, MACs, untracked)
    combos: dict[str, tuple[str, ...]] = {}
    for port in protected:
        tap = f'"{tap_name(port.id)}"'
        by_mac: dict[str, list[str]] = defaultdict(list)
        mac = port.mac_address.lower()
        by_mac[mac] += [f.ip_address for f in port.fixed_ips]
        for pair in port.allowed_address_pairs:
            by_mac[pair.mac_address.lower()].append(pair.ip_address)
        for m, addresses in by_mac.items():
            p_mac.add(f"{tap} . {m}")
            for a in collapsed(addresses, 4):
                (p_net4 if "/" in a else p_ip4).add(f"{tap} . {m} . {a}")
            for a in collapsed([*addresses, link_local(m)], 6):
                (p_net6 if "/" in a else p_ip6).add(f"{tap} . {m} . {a}")
        own = tuple(sorted(g for g in dict.fromkeys(port.security_groups) if g in groups))
        combo = _combo(own)
        combos[combo] = own
        port_in.add(f"{tap} : jump in-{combo}")
        port_out.add(f"{tap} : jump out-{combo}")
        raw.append((tap, tuple(by_mac), untracked(groups[g] for g in own)))

    used = sorted({g for own in combos.values() for g in own})
    remote_ids = sorted(
        {r.remote_group_id for gid in used for r in groups[gid].rules if r.remote_group_id}
    )
    sets: dict[str, frozenset[str]] = {}
    parts = [
        inet_table({bridge_name(n): z for n, z in zones.items()}, sets),
        f"table bridge {TABLE}\ndelete table bridge {TABLE}\ntable bridge {TABLE} {{\n",
        nft_set("p_mac", "ifname . ether_addr", p_mac, sets),
        nft_set("p_ip4", "ifname . ether_addr . ipv4_addr", p_ip4, sets),
        nft_set("p_ip6", "ifname . ether_addr . ipv6_addr", p_ip6, sets),
        nft_set("p_net4", "ifname . ether_addr . ipv4_addr", p_net4, sets, interval=True),
        nft_set("p_net6", "ifname . ether_addr . ipv6_addr", p_net6, sets, interval=True),
    ]
    for gid in remote_ids:
        member_addresses = members.get(gid, ())
        parts.append(
            nft_set(f"rg4-{gid}", "ipv4_addr", collapsed(member_addresses, 4), sets, interval=True)
        )
        parts.append(
            nft_set(f"rg6-{gid}", "ipv6_addr", collapsed(member_addresses, 6), sets, interval=True)
        )
    address_ids = sorted(
        {
            r.remote_address_group_id
            for gid in used
            for r in groups[gid].rules
            if r.remote_address_group_id
        }
    )
    for aid in address_ids:
        for version in (4, 6):
            parts.append(
                nft_set(
                    f"ag{version}-{aid}",
                    f"ipv{version}_addr",
                    collapsed(cidrs.get(aid, ()), version),
                    sets,
                    interval=True,
                )
            )
    parts += [
        nft_map("port_in", port_in, sets),
        nft_map("port_out", port_out, sets),
        raw_maps(raw, sets),
        RAW_CHAINS,
        FIXED_CHAINS,
    ]
    for gid in used:
        rules = sorted(groups[gid].rules, key=lambda r: r.id)
        for direction, suffix in (("ingress", "in"), ("egress", "out")):
            parts.append(
                chain(
                    f"sg-{gid}-{suffix}", [rule_text(r) for r in rules if r.direction == direction]
                )
            )
    for combo, own in sorted(combos.items()):
        listed = [groups[g] for g in own]
        parts.append(combo_chain(f"in-{combo}", "ingress_common", listed, "in"))
        parts.append(combo_chain(f"out-{combo}", "egress_common", listed, "out"))
    parts.append("}\n")

    group_flows = _group_flows(groups, {**cidrs, **members})
    combo_flows: dict[tuple[str, ...], frozenset[Flow]] = {}
    filters = {}
    for port in state.ports:
        if _filtered(port):
            own = tuple(sorted(g for g in set(port.security_groups) if g in groups))
            if own not in combo_flows:
                combo_flows[own] = frozenset().union(*(group_flows[g] for g in own))
            flows = combo_flows[own]
        else:
            flows = frozenset({ANY_FLOW})
        own_addresses = {f.ip_address for f in port.fixed_ips}
        own_addresses |= {a.ip_address for a in port.allowed_address_pairs}
        filters[port.id] = PortFilter(
            port_id=port.id,
            device=tap_name(port.id),
            zone=zones[port.network_id],
            addresses=tuple(sorted(own_addresses)),
            flows=flows,
        )
    tracked = {p.network_id for p, (_, _, skip) in zip(protected, raw, strict=True) if not skip}
    bridges = tuple(sorted(bridge_name(n) for n in tracked))
    plain = tuple(sorted(bridge_name(n) for n in networks - tracked))
    text = "".join(parts)
    return SgRuleset(
        text=text,
        bridges=bridges,
        plain_bridges=plain,
        ports=filters,
        shape=shape_of(text),
        elements=sets,
    )
