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
  and map elements. A group named as ``remote_group_id`` is, per IP version, a hashed set
  ``rg4-<id>`` of its members' host addresses and an interval set ``rg4-<id>-net`` of their
  CIDRs (``sg_nft.remote_sets``: a big plain interval set would make every element change
  cost libnftables a read of all its elements); an address group named as
  ``remote_address_group_id`` the same pair ``ag4-<id>``/``ag4-<id>-net`` of its CIDRs.

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

Memoised (``SgCalc``): the agent keeps one calculator, which keeps each port's share of the
ruleset (its set and map elements, its filter) and each group's flows from the last round.
``HostState.patched`` leaves untouched items as the very same objects, so a round renders only
the ports and groups that differ (by identity, else by equality) and adjusts per-element
counts; the text is rendered only when asked for (a full load). A host of 5,000 ports with
one port bound costs one port's rendering, not 5,000. ``compute_sg`` is a fresh calculator's
first round: the from-scratch result a memoised one must equal (``tests/agent``).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from neutrino.agent.sg_nft import (
    FIXED_CHAINS,
    RAW_CHAINS,
    TABLE,
    Piece,
    chain,
    collapsed,
    combo_chain,
    inet_table,
    nft_map,
    nft_set,
    protocol_number,
    remote_sets,
    rule_lines,
    shape_of,
    untracked,
)
from neutrino.agent.sg_ruleset import (
    ANY_FLOW,
    CtDelete,
    Flow,
    FlowMemo,
    PortFilter,
    SgRuleset,
    conntrack_deletions,
)
from neutrino.domain.hoststate import HostState, PortState, bridge_name, tap_name
from neutrino.domain.ipam import link_local
from neutrino.domain.sgstate import SecurityGroupState

__all__ = [
    "ANY_FLOW",
    "CtDelete",
    "Flow",
    "PortFilter",
    "SgCalc",
    "SgRuleset",
    "compute_sg",
    "conntrack_deletions",
    "protocol_number",
    "zone_of",
]

MAX_ZONE = 65000
PORT_SETS = ("p_mac", "p_ip4", "p_ip6", "p_net4", "p_net6", "port_in", "port_out", "raw_src")


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


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PortShare:
    """What one port adds to a host's ruleset, and what it was rendered from."""

    port: PortState
    filter: PortFilter
    elements: tuple[tuple[str, str], ...] = ()  # (set key, element)
    macs: tuple[str, ...] = ()  # its MACs in ``raw_dst``
    tracked: bool = False  # filtered, and conntrack sees its packets


class SgCalc:
    """``compute_sg`` with memory: each round renders only what differs from the last one
    (see the module docstring). One per agent; not thread-safe."""

    def __init__(self) -> None:
        self._ports: tuple[PortState, ...] | None = None
        self._shares: dict[str, _PortShare] = {}
        self._groups: dict[str, SecurityGroupState] = {}
        self._zones: dict[str, int] = {}
        self._counts: dict[str, Counter[str]] = {k: Counter() for k in PORT_SETS}
        self._macs: dict[str, list[int]] = {}  # MAC -> its ports: [untracked, tracked]
        self._raw_dst: dict[str, str] = {}  # MAC -> its ``raw_dst`` element
        self._nets: Counter[str] = Counter()  # ports per network
        self._tracked: Counter[str] = Counter()  # tracked filtered ports per network
        self._combos: Counter[tuple[str, ...]] = Counter()  # filtered ports per set of groups
        self._sets: dict[str, frozenset[str]] = {}
        # group -> (inputs, each rule's flows, flows)
        self._memo = FlowMemo()  # groups' flows and remote sets' elements
        self._filters: dict[str, PortFilter] = {}
        self._dirty_macs: set[str] = set()
        self._dirty: set[str] = set()  # the port sets to make again
        self._last: Mapping[str, PortFilter] | None = None  # last ruleset's ``ports``

    def compute(self, state: HostState) -> SgRuleset:
        """The complete desired ruleset of ``state`` (equal to ``compute_sg(state)``)."""
        groups = {g.id: g for g in state.security_groups}
        members = {r.id: r.addresses for r in state.address_groups}
        members.update((r.id, r.addresses) for r in state.remote_groups)
        context = {g: (x.stateful,) for g, x in groups.items()}
        stale = context != {g: (x.stateful,) for g, x in self._groups.items()}
        self._groups = groups
        changed = self._changed_ports(state, everything=stale)
        for port in changed.values():  # networks first: a new one may move zones
            self._nets[port.network_id] += 1
        zones = zone_of([*(n.id for n in state.networks), *self._nets])
        moved = {n for n, z in zones.items() if self._zones.get(n) != z}
        self._zones = zones
        if moved:
            for port in state.ports:
                if port.id not in changed and port.network_id in moved:
                    self._unshare(port.id, keep_network=True)
                    changed[port.id] = port
        for port in changed.values():
            self._share(port)
        self._update_sets()
        ruleset = self._ruleset(state, groups, members, frozenset(changed))
        self._last = ruleset.ports
        return ruleset

    def _changed_ports(self, state: HostState, *, everything: bool) -> dict[str, PortState]:
        """The ports to render again (their old shares taken out), by id; only those the
        state's patch touched are compared, when it was patched from ours."""
        ports: dict[str, PortState] = state.indexed("ports")
        touched = None if everything else state.touched("ports", self._ports)
        changed: dict[str, PortState] = {}
        for pid in set(ports) | self._shares.keys() if touched is None else touched:
            port, share = ports.get(pid), self._shares.get(pid)
            kept = share is not None and (share.port is port or share.port == port)
            if kept and not everything:
                continue
            if share is not None:
                self._unshare(pid)
            if port is not None:
                changed[pid] = port
        self._ports = state.ports
        return changed

    def _unshare(self, pid: str, *, keep_network: bool = False) -> None:
        share = self._shares.pop(pid)
        del self._filters[pid]
        for key, element in share.elements:
            self._counts[key][element] -= 1
            if not self._counts[key][element]:
                del self._counts[key][element]
            self._dirty.add(key)
        for mac in share.macs:
            self._macs[mac][share.tracked] -= 1
            self._dirty_macs.add(mac)
        if not keep_network:
            self._nets[share.port.network_id] -= 1
            if not self._nets[share.port.network_id]:
                del self._nets[share.port.network_id]
        if share.tracked:
            self._tracked[share.port.network_id] -= 1
        if share.filter.groups is not None:
            self._combos[share.filter.groups] -= 1

    def _share(self, port: PortState) -> None:
        """Render ``port`` and add its share (the sets it touches are marked dirty)."""
        own_addresses = {f.ip_address for f in port.fixed_ips}
        own_addresses |= {a.ip_address for a in port.allowed_address_pairs}
        zone, device = self._zones[port.network_id], tap_name(port.id)
        if not _filtered(port):
            share = _PortShare(
                port, PortFilter(port.id, device, zone, tuple(sorted(own_addresses)), None)
            )
            self._shares[port.id] = share
            self._filters[port.id] = share.filter
            return
        own = tuple(sorted(g for g in dict.fromkeys(port.security_groups) if g in self._groups))
        tap = f'"{device}"'
        by_mac: dict[str, list[str]] = {port.mac_address.lower(): []}
        by_mac[port.mac_address.lower()] += [f.ip_address for f in port.fixed_ips]
        for pair in port.allowed_address_pairs:
            by_mac.setdefault(pair.mac_address.lower(), []).append(pair.ip_address)
        elements: list[tuple[str, str]] = []
        for m, addresses in by_mac.items():
            elements.append(("p_mac", f"{tap} . {m}"))
            for a in collapsed(addresses, 4):
                elements.append(("p_net4" if "/" in a else "p_ip4", f"{tap} . {m} . {a}"))
            for a in collapsed([*addresses, link_local(m)], 6):
                elements.append(("p_net6" if "/" in a else "p_ip6", f"{tap} . {m} . {a}"))
        combo = _combo(own)
        skip = untracked(self._groups[g] for g in own)
        elements += [
            ("port_in", f"{tap} : jump in-{combo}"),
            ("port_out", f"{tap} : jump out-{combo}"),
            ("raw_src", f"{tap} : {'goto from_stateless' if skip else 'accept'}"),
        ]
        filter_ = PortFilter(port.id, device, zone, tuple(sorted(own_addresses)), own)
        share = _PortShare(port, filter_, tuple(elements), tuple(by_mac), not skip)
        self._shares[port.id] = share
        self._filters[port.id] = filter_
        for key, element in share.elements:
            self._counts[key][element] += 1
            self._dirty.add(key)
        for mac in share.macs:
            self._macs.setdefault(mac, [0, 0])[share.tracked] += 1
            self._dirty_macs.add(mac)
        self._tracked[port.network_id] += share.tracked
        self._combos[own] += 1

    def _update_sets(self) -> None:
        for key in self._dirty:
            self._sets[f"bridge {key}"] = frozenset(self._counts[key])
        for mac in self._dirty_macs:
            untracked_, tracked = self._macs[mac]
            if tracked:  # a MAC two ports claim goes to the stateful one (``RAW_CHAINS``)
                self._raw_dst[mac] = f"{mac} : accept"
            elif untracked_:
                self._raw_dst[mac] = f"{mac} : goto untrack"
            else:
                del self._macs[mac]
                self._raw_dst.pop(mac, None)
        if self._dirty_macs or "bridge raw_dst" not in self._sets:
            self._sets["bridge raw_dst"] = frozenset(self._raw_dst.values())
        self._dirty_macs, self._dirty = set(), set()
        for key in PORT_SETS:
            self._sets.setdefault(f"bridge {key}", frozenset())

    def _ruleset(
        self,
        state: HostState,
        groups: Mapping[str, SecurityGroupState],
        members: Mapping[str, tuple[str, ...]],
        changed: frozenset[str],
    ) -> SgRuleset:
        combos = {_combo(own): own for own in +self._combos}
        used = sorted({g for own in combos.values() for g in own})
        sets = dict(self._sets)
        member_sets = self._memo.next_round()
        sets["inet br_zone"] = frozenset(
            f'"{bridge_name(n)}" : {z}' for n, z in self._zones.items()
        )
        layout: list[Piece] = [
            *inet_table(),
            f"table bridge {TABLE}\ndelete table bridge {TABLE}\ntable bridge {TABLE} {{\n",
            nft_set("p_mac", "ifname . ether_addr"),
            nft_set("p_ip4", "ifname . ether_addr . ipv4_addr"),
            nft_set("p_ip6", "ifname . ether_addr . ipv6_addr"),
            nft_set("p_net4", "ifname . ether_addr . ipv4_addr", interval=True),
            nft_set("p_net6", "ifname . ether_addr . ipv6_addr", interval=True),
        ]
        rules = [r for gid in used for r in groups[gid].rules]
        for prefix, ids in (
            ("rg", sorted({r.remote_group_id for r in rules if r.remote_group_id})),
            ("ag", sorted({r.remote_address_group_id for r in rules if r.remote_address_group_id})),
        ):
            for sid in ids:
                for version in (4, 6):
                    name = f"{prefix}{version}-{sid}"
                    layout += remote_sets(name, version)
                    _, (hosts, nets) = self._memo.member_set(
                        name, members.get(sid, ()), version, member_sets
                    )
                    sets[f"bridge {name}"], sets[f"bridge {name}-net"] = hosts, nets
        layout += [
            nft_map("port_in"),
            nft_map("port_out"),
            nft_map("raw_src"),
            nft_map("raw_dst", key="ether_addr"),
            RAW_CHAINS,
            FIXED_CHAINS,
        ]
        for gid in used:
            ordered = sorted(groups[gid].rules, key=lambda r: r.id)
            for direction, suffix in (("ingress", "in"), ("egress", "out")):
                lines = [x for r in ordered if r.direction == direction for x in rule_lines(r)]
                layout.append(chain(f"sg-{gid}-{suffix}", lines))
        for combo, own in sorted(combos.items()):
            listed = [groups[g] for g in own]
            layout.append(combo_chain(f"in-{combo}", "ingress_common", listed, "in"))
            layout.append(combo_chain(f"out-{combo}", "egress_common", listed, "out"))
        layout.append("}\n")
        flows = {g: self._memo.group_flows(groups[g], members) for g in used}
        combo_flows = self._memo.by_combo(flows, combos.values())
        networks = set(self._zones)
        tracked = set(+self._tracked)
        return SgRuleset(
            layout=tuple(layout),
            bridges=tuple(sorted(bridge_name(n) for n in tracked)),
            plain_bridges=tuple(sorted(bridge_name(n) for n in networks - tracked)),
            ports=dict(self._filters),
            shape=shape_of(layout),
            elements=sets,
            combo_flows=combo_flows,
            since=None if self._last is None else (self._last, changed),
        )


def compute_sg(state: HostState) -> SgRuleset:
    """The complete desired security-group ruleset of this host, from scratch (see the
    module docstring)."""
    return SgCalc().compute(state)
