"""What a host's security-group ruleset is (``SgRuleset``), and what changing it withdraws.

``sg_calc`` renders it (see there for the design); the nft manager loads it. A ruleset is a
layout (``sg_nft.Piece``s: the text without set and map elements) and its elements by set,
so two rulesets of one shape differ by an element delta, and the text is rendered only when
a whole load needs it. Per port, a ``PortFilter`` names the groups whose *flows* (``Flow``:
what a rule admits, one per remote address) the port admits: ports with one set of groups
share one flows object, which is what ``conntrack_deletions`` compares to find the
connections a change no longer allows. The flow helpers at the end keep a remote-set rule's
flows up to date member by member (``_moved_flows``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from neutrino.agent.sg_nft import TABLE, Piece, collapsed, protocol_number, render, split_members
from neutrino.domain.security_groups import ANY_PREFIXES
from neutrino.domain.sgstate import RuleState, SecurityGroupState

__all__ = [
    "ANY_FLOW",
    "CtDelete",
    "Flow",
    "FlowMemo",
    "PortFilter",
    "SgRuleset",
    "conntrack_deletions",
]


# --- the ruleset ----------------------------------------------------------------------------------


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
ANY = frozenset({ANY_FLOW})


@dataclass(frozen=True)
class PortFilter:
    """One port's filter: its device, zone, addresses and the groups whose flows it admits
    (None: not filtered, it admits ``ANY_FLOW``; ``SgRuleset.flows`` gives the flows)."""

    port_id: str
    device: str
    zone: int
    addresses: tuple[str, ...]
    groups: tuple[str, ...] | None


@dataclass(frozen=True)
class SgRuleset:
    """The complete desired filter of one host (see the module docstring)."""

    layout: tuple[Piece, ...] = ()  # the text without elements (``sg_nft.render``)
    bridges: tuple[str, ...] = ()  # tenant bridges that need br_netfilter
    plain_bridges: tuple[str, ...] = ()  # the host's other tenant bridges: br_netfilter off
    ports: Mapping[str, PortFilter] = field(default_factory=dict)  # every port here, by id
    shape: str = ""  # ``shape_of(layout)``: equal shapes differ only in set/map elements
    elements: Mapping[str, frozenset[str]] = field(default_factory=dict)  # "family set" ->
    combo_flows: Mapping[tuple[str, ...], frozenset[Flow]] = field(default_factory=dict)
    # (the ``ports`` of the ruleset its calculator made before, the ids whose filter is not
    # the very object held there): what ``conntrack_deletions`` walks after that ruleset
    since: tuple[Mapping[str, PortFilter], frozenset[str]] | None = None

    @cached_property
    def text(self) -> str:
        """The ``nft -f`` text (rendered once, when a whole load or a check needs it)."""
        return render(self.layout, self.elements)

    def flows(self, port: PortFilter) -> frozenset[Flow]:
        """What ``port``'s filter admits."""
        return ANY if port.groups is None else self.combo_flows[port.groups]

    def element_delta(self, old: SgRuleset) -> str | None:
        """The ``nft -f`` text turning ``old`` (applied) into this one by set and map element
        changes only, in one transaction; None when the shapes differ (reload the tables)."""
        if not self.shape or self.shape != old.shape:
            return None
        changed = [k for k, v in sorted(self.elements.items()) if not _same(old.elements.get(k), v)]
        lines = []
        for key in changed:
            family, name = key.split(" ")
            gone = sorted(old.elements.get(key, frozenset()) - self.elements[key])
            if gone:  # map elements are deleted by key
                keys = sorted({e.split(" : ")[0] for e in gone})
                lines.append(f"delete element {family} {TABLE} {name} {{ {', '.join(keys)} }}")
        for key in changed:
            family, name = key.split(" ")
            new = sorted(self.elements[key] - old.elements.get(key, frozenset()))
            if new:
                lines.append(f"add element {family} {TABLE} {name} {{ {', '.join(new)} }}")
        return "\n".join(lines) + "\n" if lines else ""

    @property
    def protected(self) -> frozenset[str]:
        """Ids of the ports whose filter is part of this ruleset."""
        return frozenset(p for p, f in self.ports.items() if f.groups is not None)


@dataclass(frozen=True, order=True)
class CtDelete:
    """Delete the conntrack entries of ``zone`` that ``flow`` admitted for ``address``."""

    zone: int
    address: str
    flow: Flow


def _same(a: object, b: object) -> bool:
    """``a == b``, at once when they are the _same object (a set's ``==`` walks it anyway)."""
    return a is b or a == b


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


def conntrack_deletions(old: SgRuleset | None, new: SgRuleset) -> list[CtDelete]:
    """The conntrack entries to delete going from ``old`` to ``new``: for every port in both,
    each flow ``old`` admitted and ``new`` does not (a rule removed, the port left a group, a
    remote-group member left, port security turned on), for each of its old addresses."""
    if old is None:
        return []
    out: set[CtDelete] = set()
    withdrawn = {  # per set of groups: ports of one set share their flows' object
        own: old.combo_flows[own] - flows
        for own, flows in new.combo_flows.items()
        if own in old.combo_flows and old.combo_flows[own] is not flows
    }
    pids: Iterable[str] = new.ports
    if new.since is not None and new.since[0] is old.ports and not any(withdrawn.values()):
        pids = new.since[1]  # the others' filters and flows are the very objects of ``old``
    for pid in pids:
        before, after = old.ports.get(pid), new.ports.get(pid)
        if after is None:
            continue
        if before is after:  # the _same filter object: only its groups' flows may differ
            if after.groups is None or not withdrawn.get(after.groups):
                continue
            lost = withdrawn[after.groups]
        elif before is None or after.groups is None:
            continue
        else:
            lost = old.flows(before) - new.flows(after)
        for flow in lost:
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


def _member_change(
    old: tuple[str, ...], new: tuple[str, ...]
) -> tuple[frozenset[str], frozenset[str]] | None:
    """(gone, added) between two member lists of host addresses; None when either holds a
    CIDR (collapsing may merge it with others: render the set again)."""
    if old is new:
        return frozenset(), frozenset()
    if "/" in "".join(old) or "/" in "".join(new):
        return None
    before, after = frozenset(old), frozenset(new)
    return before - after, after - before


def _of_version(addresses: Iterable[str], version: int) -> frozenset[str]:
    return frozenset(a for a in addresses if (":" in a) == (version == 6))


def _hosts(addresses: Iterable[str], version: int) -> frozenset[str]:
    return frozenset(a for a in _of_version(addresses, version) if "/" not in a)


MemberSets = tuple[tuple[str, ...], tuple[frozenset[str], frozenset[str]]]
"""A remote pair of sets as ``FlowMemo.member_set`` keeps it: (the member list it was made
from, (host addresses, CIDRs collapsed))."""


def _moved_flows(
    flows: frozenset[Flow], rule: RuleState, gone: frozenset[str], added: frozenset[str]
) -> frozenset[Flow]:
    """A remote-set rule's ``flows`` after members ``gone`` left and ``added`` joined."""
    version = 6 if rule.ethertype == "IPv6" else 4
    proto, lo, hi = protocol_number(rule.protocol), rule.port_range_min, rule.port_range_max

    def made(addresses: frozenset[str]) -> set[Flow]:
        return {
            Flow(rule.direction, rule.ethertype, proto, lo, hi, a)
            for a in _of_version(addresses, version)
        }

    return flows - made(gone) | made(added)


class FlowMemo:
    """Last round's flows of each group and of each set of groups, and each remote set's
    elements, kept so that a round renders only what changed (``sg_calc.SgCalc``): a member
    joining or leaving a remote group is one flow per rule naming it (``_moved_flows``) and
    one element, not the whole group's."""

    def __init__(self) -> None:
        self._flows: dict[str, tuple[Any, tuple[frozenset[Flow], ...], frozenset[Flow]]] = {}
        self._combo_flows: dict[
            tuple[str, ...], tuple[tuple[frozenset[Flow], ...], frozenset[Flow]]
        ] = {}
        self._member_sets: dict[str, MemberSets] = {}

    def next_round(self) -> dict[str, MemberSets]:
        """Start a round: last round's remote sets, to pass to ``member_set`` (a set not
        asked for in this round is forgotten)."""
        last, self._member_sets = self._member_sets, {}
        return last

    def group_flows(
        self, group: SecurityGroupState, members: Mapping[str, tuple[str, ...]]
    ) -> frozenset[Flow]:
        """The flows of ``group``'s rules, rendered again only when the group or the
        members of a set its rules name changed; a member joining or leaving is one flow
        per rule naming the set (``_moved_flows``), not the whole set's."""
        gid = group.id
        named = sorted(
            {n for r in group.rules if (n := r.remote_group_id or r.remote_address_group_id)}
        )
        inputs = (group, tuple(members.get(n, ()) for n in named))
        cached = self._flows.get(gid)
        if cached is not None and _same(cached[0], inputs):
            return cached[2]
        had = None
        if cached is not None and _same(cached[0][0], group):
            had = dict(zip(named, cached[0][1], strict=True))
        per_rule = []
        for i, rule in enumerate(group.rules):
            remote = rule.remote_group_id or rule.remote_address_group_id
            change = None
            if cached is not None and had is not None:
                if not remote:
                    per_rule.append(cached[1][i])
                    continue
                change = _member_change(had[remote], members.get(remote, ()))
            if cached is not None and change is not None:
                per_rule.append(_moved_flows(cached[1][i], rule, *change))
            else:
                per_rule.append(frozenset(_rule_flows(rule, members)))
        flows = frozenset().union(*per_rule)
        self._flows[gid] = (inputs, tuple(per_rule), flows)
        return flows

    def member_set(
        self,
        name: str,
        addresses: tuple[str, ...],
        version: int,
        last: Mapping[str, MemberSets],
    ) -> MemberSets:
        """The elements of a remote pair of sets (``sg_nft.remote_sets``: ``rg4-…`` its
        host addresses, ``rg4-…-net`` its CIDRs): last round's, the host set changed by the
        members that came and went, the CIDRs collapsed anew only when one of them moved."""
        cached = last.get(name)
        if cached is None or not _same(cached[0], addresses):
            if cached is None:
                made = split_members(addresses, version)
            else:
                before, after = frozenset(cached[0]), frozenset(addresses)
                gone, added = before - after, after - before
                hosts = cached[1][0] - _hosts(gone, version) | _hosts(added, version)
                nets = cached[1][1]
                if "/" in "".join(gone | added):
                    nets = split_members(addresses, version)[1]
                made = (hosts, nets)
            cached = (addresses, made)
        self._member_sets[name] = cached
        return cached

    def by_combo(
        self, flows: Mapping[str, frozenset[Flow]], combos: Iterable[tuple[str, ...]]
    ) -> dict[tuple[str, ...], frozenset[Flow]]:
        """Each set of groups' flows (``flows``: this round's, by group): one object per set,
        last round's while its groups' are (``conntrack_deletions`` compares by identity)."""
        self._flows = {g: self._flows[g] for g in flows}
        out = {}
        for own in combos:
            parts = tuple(flows[g] for g in own)
            cached = self._combo_flows.get(own)
            if cached is None or not all(a is b for a, b in zip(cached[0], parts, strict=True)):
                cached = (parts, parts[0] if len(parts) == 1 else frozenset().union(*parts))
            out[own] = cached
        self._combo_flows = out
        return {own: flows for own, (_, flows) in out.items()}
