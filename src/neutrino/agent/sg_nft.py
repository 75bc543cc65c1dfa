"""The nft text of the security-group tables (design B; see ``sg_calc`` for the design).

``sg_calc`` decides what a host's filter holds; this module writes it as ``nft -f`` text:
the rule lines of a security-group rule (``rule_lines``), addresses as set elements
(``collapsed``), named sets and verdict maps as pieces of a layout whose elements are kept
apart for element deltas (``nft_set``/``nft_map``; ``render`` joins them), the ``inet`` table
that zones and marks conntrack (``inet_table``), the fixed base chains (``FIXED_CHAINS``), the
bridge family's raw chains that keep stateless ports out of conntrack (``RAW_CHAINS``) and one
chain per group and per set of groups (``chain``/``combo_chain``). ``shape_of`` is the
ruleset without its elements: equal shapes differ only in set and map elements.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from neutrino.domain.security_groups import ANY_PREFIXES, PROTOCOLS
from neutrino.domain.security_groups import PORT_PROTOCOL_NUMBERS as PORT_PROTOCOLS
from neutrino.domain.sgstate import RuleState, SecurityGroupState

TABLE = "neutrino"
CT_EST = 0x10000
CT_INV = 0x20000
VXLAN_PORT = 4789


def protocol_number(protocol: str | None) -> int | None:
    """A rule's protocol as a number; None for any (None, "any", 0)."""
    if protocol is None or protocol == "any":
        return None
    return (PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)) or None


def rule_lines(rule: RuleState) -> list[str]:
    """A rule's nft lines: one, or two for a remote set (``@rg4-…`` holds its host
    addresses, ``@rg4-…-net`` its CIDRs: see ``remote_sets``)."""
    v6 = rule.ethertype == "IPv6"
    fam = "ip6" if v6 else "ip"
    side = "saddr" if rule.direction == "ingress" else "daddr"
    match = [""]
    if rule.remote_group_id:
        name = f"rg{6 if v6 else 4}-{rule.remote_group_id}"
        match = [f" {fam} {side} @{name}", f" {fam} {side} @{name}-net"]
    elif rule.remote_address_group_id:
        name = f"ag{6 if v6 else 4}-{rule.remote_address_group_id}"
        match = [f" {fam} {side} @{name}", f" {fam} {side} @{name}-net"]
    elif rule.remote_ip_prefix and rule.remote_ip_prefix not in ANY_PREFIXES:
        match = [f" {fam} {side} {rule.remote_ip_prefix}"]
    parts = []
    proto = protocol_number(rule.protocol)
    if proto is not None:
        parts.append(f"meta l4proto {proto}")
        lo, hi = rule.port_range_min, rule.port_range_max
        if proto in PORT_PROTOCOLS and (lo is not None or hi is not None):
            lo, hi = lo or 1, hi or 65535
            parts.append(f"th dport {lo}" if lo == hi else f"th dport {lo}-{hi}")
        elif proto in (1, 58) and lo is not None:
            kind = "icmpv6" if proto == 58 else "icmp"
            parts.append(f"{kind} type {lo}")
            if hi is not None:
                parts.append(f"{kind} code {hi}")
    rest = "".join(f" {p}" for p in parts)
    return [f"ether type {fam}{m}{rest} accept" for m in match]


def remote_sets(name: str, version: int) -> list[Piece]:
    """A remote group's or address group's pair of sets: ``name`` (hashed) holds the host
    addresses, ``name-net`` (intervals) the CIDRs, collapsed. Host addresses stay out of
    the interval set because libnftables reads the elements of every non-concatenated
    interval set in the namespace before it runs any element command (nft 1.0.6): a
    5,000-member interval set made each port binding's element delta cost ~30 ms."""
    kind = f"ipv{version}_addr"
    return [nft_set(name, kind), nft_set(f"{name}-net", kind, interval=True)]


def split_members(addresses: Iterable[str], version: int) -> tuple[frozenset[str], frozenset[str]]:
    """The IPv``version`` members as (host addresses, CIDRs collapsed): the elements of
    ``remote_sets``' two sets."""
    picked = [a for a in addresses if (":" in a) == (version == 6)]
    hosts = frozenset(a for a in picked if "/" not in a)
    return hosts, frozenset(collapsed([a for a in picked if "/" in a], version))


def collapsed(addresses: Iterable[str], version: int) -> list[str]:
    """The IPv``version`` addresses as collapsed networks (an interval set refuses overlapping
    elements), host addresses bare."""
    picked = {a for a in addresses if (":" in a) == (version == 6)}
    if not any("/" in a for a in picked):  # distinct host addresses cannot overlap
        return sorted(picked)
    nets: list[Any] = [ipaddress.ip_network(a, strict=False) for a in addresses]
    out = []
    for net in ipaddress.collapse_addresses([n for n in nets if n.version == version]):
        full = net.prefixlen == net.max_prefixlen
        out.append(str(net.network_address) if full else str(net))
    return out


Piece = str | tuple[str, str, str]
"""A part of a ruleset's layout: literal text, or a named set or map as (head, element key,
tail): its elements (recorded apart, by key) go between head and tail."""


def _elements(items: Iterable[str]) -> str:
    listed = sorted(set(items))
    if not listed:
        return ""
    return "\n        elements = { " + ",\n                     ".join(listed) + " }"


def nft_set(name: str, kind: str, interval: bool = False) -> Piece:
    """A bridge-table set, its elements under the key ``bridge <name>``."""
    flags = " flags interval;" if interval else ""
    return (f"    set {name} {{ type {kind};{flags}", f"bridge {name}", " }\n")


def nft_map(name: str, key: str = "ifname") -> Piece:
    """A bridge-table verdict map keyed by ``key``; elements as ``nft_set``'s."""
    return (f"    map {name} {{ type {key} : verdict;", f"bridge {name}", " }\n")


def render(layout: Iterable[Piece], elements: Mapping[str, Iterable[str]]) -> str:
    """The ``nft -f`` text of a layout with its elements (sorted: the same state gives the
    same text)."""
    return "".join(
        p if isinstance(p, str) else p[0] + _elements(elements[p[1]]) + p[2] for p in layout
    )


def shape_of(layout: Iterable[Piece]) -> str:
    """Digest of a ruleset without its set and map elements: two rulesets of the same shape
    differ only in elements, which ``nft`` can change without reloading the tables."""
    text = "".join(p if isinstance(p, str) else p[0] + p[2] for p in layout)
    return hashlib.sha256(text.encode()).hexdigest()


def inet_table() -> list[Piece]:
    """The ``inet`` table; its ``br_zone`` elements (``"<bridge>" : <zone>``) under the key
    ``inet br_zone``."""
    head = f"""table inet {TABLE}
delete table inet {TABLE}
table inet {TABLE} {{
"""
    tail = f"""    chain raw {{
        type filter hook prerouting priority raw; policy accept;
        udp dport {VXLAN_PORT} iifname != "brq*" notrack
        ct state != untracked ct zone set iifname map @br_zone
    }}
    chain raw_out {{
        type filter hook output priority raw; policy accept;
        udp dport {VXLAN_PORT} notrack
    }}
    chain ct_mark {{
        type filter hook forward priority filter; policy accept;
        iifname "brq*" meta mark set ct state map {{ established : {CT_EST:#x}, related : \
{CT_EST:#x}, invalid : {CT_INV:#x}, new : 0, untracked : 0 }}
    }}
}}
"""
    return [head, ("    map br_zone { typeof iifname : ct zone;", "inet br_zone", " }\n"), tail]


# Stateless ports skip conntrack (bridge family, before br_netfilter's inet pass at priority
# 0): ``raw_src`` maps a filtered port's device to ``accept`` (stateful: tracked) or to
# ``from_stateless``; ``raw_dst`` maps each filtered port's MACs to ``accept`` or ``untrack``.
# A packet is untracked when it comes from or goes to a stateless port and neither end is a
# stateful port of this host, so a stateful port keeps its replies whoever it talks to. The
# inet ``raw`` chain leaves untracked packets alone (a zone would track them again).
RAW_CHAINS = """    chain raw {
        type filter hook prerouting priority -300; policy accept;
        iifname vmap @raw_src
        ether daddr vmap @raw_dst
    }
    chain from_stateless {
        ether daddr vmap @raw_dst
        notrack
    }
    chain untrack {
        notrack
    }
"""

# Every rule costs each packet on the fast path (docs/performance.md, stateless groups), so
# the common case is decided first. Anti-spoofing: an IP packet whose port . MAC . address is
# bound passes on one set lookup, which proves its MAC too (every MAC of those sets is in
# ``p_mac``); the MAC check and the unbound-source exceptions (DHCP discover, DAD) come only
# after a miss. The rules that refuse a VM acting as a DHCP server or router come first, since
# a bound source must not exempt them. The common chains test the protocol first: TCP is
# decided by two rules per chain instead of four.
FIXED_CHAINS = """    chain egress {
        type filter hook forward priority 100; policy accept;
        iifname vmap @port_out
    }
    chain ingress {
        type filter hook forward priority 110; policy accept;
        oifname vmap @port_in
    }
    chain anti_spoof {
        ether type vmap { ip : goto spoof_ip4, ip6 : goto spoof_ip6, arp : goto spoof_arp }
        drop
    }
    chain spoof_ip4 {
        udp sport 67 udp dport 68 drop
        iifname . ether saddr . ip saddr @p_ip4 return
        iifname . ether saddr . ip saddr @p_net4 return
        iifname . ether saddr != @p_mac drop
        ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return
        drop
    }
    chain spoof_ip6 {
        icmpv6 type { nd-router-advert, nd-redirect } drop
        udp sport 547 udp dport 546 drop
        iifname . ether saddr . ip6 saddr @p_ip6 return
        iifname . ether saddr . ip6 saddr @p_net6 return
        iifname . ether saddr != @p_mac drop
        ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld2-listener-report } return
        drop
    }
    chain spoof_arp {
        iifname . ether saddr != @p_mac drop
        iifname . arp saddr ether != @p_mac drop
        arp saddr ip 0.0.0.0 return
        iifname . arp saddr ether . arp saddr ip @p_ip4 return
        iifname . arp saddr ether . arp saddr ip @p_net4 return
        drop
    }
    chain ingress_common {
        ether type arp accept
        meta l4proto { udp, ipv6-icmp } goto ingress_l4
    }
    chain ingress_l4 {
        ether type ip udp sport 67 udp dport 68 accept
        ether type ip6 udp sport 547 udp dport 546 accept
        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert,
                      mld-listener-query } accept
    }
    chain egress_common {
        ether type arp accept
        meta l4proto { udp, ipv6-icmp } goto egress_l4
    }
    chain egress_l4 {
        ether type ip udp sport 68 udp dport 67 accept
        ether type ip6 udp sport 546 udp dport 547 accept
        icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert,
                      mld-listener-report, mld2-listener-report } accept
    }
"""


def chain(name: str, lines: Iterable[str]) -> str:
    body = "".join(f"        {line}\n" for line in lines)
    return f"    chain {name} {{\n{body}    }}\n"


def untracked(groups: Iterable[SecurityGroupState]) -> bool:
    """Whether a port in ``groups`` skips conntrack: only when it has groups and every one of
    them is stateless (no groups, or a mix the API refuses anyway, keeps it tracked)."""
    listed = list(groups)
    return bool(listed) and not any(g.stateful for g in listed)


def combo_chain(name: str, common: str, groups: list[SecurityGroupState], suffix: str) -> str:
    lines = ["jump anti_spoof"] if suffix == "out" else []
    if all(g.stateful for g in groups):  # a port without groups counts as stateful
        lines += [
            f"meta mark & {CT_INV:#x} == {CT_INV:#x} drop",
            f"meta mark & {CT_EST:#x} == {CT_EST:#x} accept",
        ]
    lines.append(f"jump {common}")
    lines += [f"jump sg-{g.id}-{suffix}" for g in groups]
    lines.append("drop")
    return chain(name, lines)
