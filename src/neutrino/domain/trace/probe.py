"""What a probe packet really did, read from nft traces, against the model's verdict (pure).

``trace --verify`` may send a real probe (``probe_packet``) into the path. This module holds
the parts that need no kernel:

* ``probe_table(place, probe, name)``: the throwaway nft table put into each namespace the
  path may cross for the probe's life. In a hypervisor's namespace (bridge family) it turns
  nft tracing on for the probe before anything else sees it (prerouting, priority -500, before
  neutrino's own chains) and drops it right before any VM's tap (forward, priority 500, after
  neutrino's egress and ingress chains gave their verdict), so no VM ever sees it. In a router's
  namespace (inet family) it traces from prerouting, notes the forward hook, and drops the probe
  when it reaches the router itself (input) or leaves by the gateway (``qg-``, postrouting after
  SNAT), so nothing outside sees it either.
* ``parse_event(place, line)``: one line of ``nft monitor`` (``trace id ID FAMILY TABLE CHAIN
  ...``) as an ``Event``.
* ``fate(events, name)``: what became of the probe: ``delivered`` (reached a tap), ``left`` (by
  a router's gateway), ``answered`` (by a router), ``dropped`` (by a rule: which table, chain,
  rule, where), ``flooded`` (one L2 hop replicated it to several hosts over VXLAN: the
  sender had no unicast entry for its MAC, whatever became of the copies) or ``lost`` (it
  vanished: the last place it was seen).
* ``finding(hops, verdict, fate)``: the model's hop the real fate names, and whether the two
  agree. A drop in neutrino's bridge table names the anti-spoofing, egress or ingress hop by
  its chain; a probe lost in a router's namespace before its forward hook names the router's
  route hop; one lost on a bridge names the L2 hop of the segment it was on (the count of routers
  it crossed), as does a flooded one. The model's hops come as the API shows them (``step``,
  ``object``, ``verdict``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "Fate", "Place", "fate", "finding", "parse_event", "probe_table"]

TRACE = re.compile(r"^trace id (\S+) (\S+) (\S+) (\S+) (.*)$")
VERDICT = re.compile(r"\(verdict (\w+)")
VERDICT_TAIL = re.compile(r"\s*\(verdict [^)]*\)\s*$")
OIF = re.compile(r'\boif "([^"]+)"')
IIF = re.compile(r'\biif "([^"]+)"')
TTL = re.compile(r"\b(?:ip ttl|ip6 hoplimit) (\d+)")
SPOOF_CHAINS = ("anti_spoof", "spoof_ip4", "spoof_ip6", "spoof_arp")
UUID = re.compile(r"\(([0-9a-f]{8}-[0-9a-f-]{27})\)")


@dataclass(frozen=True)
class Place:
    """A namespace the probe may cross: a hypervisor's (``host``), a router's (``router``)
    or a DHCP server's (``dhcp``: an endpoint, with a router's table: what reaches its input
    is answered there)."""

    netns: str
    role: str  # host | router | dhcp
    label: str  # the host's name, the router's id, or the DHCP server's network id

    @property
    def family(self) -> str:
        return "bridge" if self.role == "host" else "inet"


def probe_table(place: Place, match: str, name: str, taps: Iterable[str]) -> str:
    """The throwaway table of one namespace (see the module docstring), as ``nft -f`` text;
    ``taps`` are the VMs' taps (routers' and DHCP's are named ``tap`` too: not those)."""
    trace = f"{match} meta nftrace set 1"
    vms = ", ".join(f'"{t}"' for t in sorted(taps)) or '"-"'
    head = "type filter hook {} priority {}; policy accept;"
    if place.role == "host":
        chains = {
            "trace_in": (head.format("prerouting", -500), trace),
            "forwarded": (head.format("forward", 500), f"{match} oifname {{ {vms} }} drop"),
        }
    else:
        chains = {
            "trace_in": (head.format("prerouting", -500), trace),
            "forwarded": (head.format("forward", 500), f"{match} counter"),
            "to_router": (head.format("input", 500), f"{match} drop"),
            "leaving": (head.format("postrouting", 500), f'{match} oifname "qg-*" drop'),
        }
    body = "".join(f"  chain {c} {{ {h} {r}; }}\n" for c, (h, r) in chains.items())
    return f"table {place.family} {name} {{\n{body}}}\n"


@dataclass(frozen=True)
class Event:
    place: Place
    trace_id: str
    family: str
    table: str
    chain: str
    text: str  # "packet: ...", "rule ... (verdict V)", "verdict V", "policy V"

    @property
    def verdict(self) -> str | None:
        if self.text.startswith(("policy ", "verdict ")):
            return self.text.split()[1]
        found = VERDICT.search(self.text)
        return found.group(1) if found else None

    @property
    def rule(self) -> str:
        return VERDICT_TAIL.sub("", self.text.removeprefix("rule ")).strip()


def parse_event(place: Place, line: str) -> Event | None:
    found = TRACE.match(line.strip())
    if found is None:
        return None
    trace_id, family, table, chain, text = found.groups()
    return Event(place, trace_id, family, table, chain, text.strip())


@dataclass
class Fate:
    outcome: str  # delivered | left | answered | dropped | flooded | lost | unseen
    place: Place | None = None
    table: str = ""
    chain: str = ""
    rule: str = ""
    device: str = ""  # the tap delivered to, the device left by
    base_chain: str = ""  # for a drop: the first chain of that table the packet entered
    routers: int = 0  # router namespaces crossed before the end
    path: list[str] = field(default_factory=list)  # places seen, in order

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "path": self.path}
        if self.place is not None:
            out["where"] = f"{self.place.role} {self.place.label}"
        if self.outcome == "dropped":
            out["rule"] = f"{self.table} {self.chain}: {self.rule}"
        if self.device:
            out["device"] = self.device
        return out


def _place_name(place: Place) -> str:
    return f"{place.role} {place.label}"


def ordered(events: Sequence[Event]) -> list[Event]:
    """The events in the probe's path order. The monitors of several namespaces are read
    apart, so their lines' arrival order is not the packet's. Each namespace's pass (one trace
    id) is ordered by the TTL its first packet line shows (a router lowers it after its
    prerouting hook), then: the pass entering from a local device first, one entering from a
    VXLAN device next, a router's last (its prerouting pass has the TTL it came in with)."""
    return [e for group in sorted(_passes(events), key=_key) for e in group]


def _passes(events: Sequence[Event]) -> list[list[Event]]:
    passes: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        passes.setdefault((e.place.netns, e.trace_id), []).append(e)
    return list(passes.values())


def _key(group: list[Event]) -> tuple[int, int]:
    """(minus the TTL, rank): see ``ordered``."""
    line = next((e.text for e in group if e.text.startswith("packet:")), "")
    ttl = TTL.search(line)
    iif = IIF.search(line)
    if group[0].place.role == "router":
        rank = 2
    elif group[0].place.role == "dhcp":
        rank = 3  # an endpoint: after the bridge pass that brought the probe there
    else:
        rank = 1 if iif and iif.group(1).startswith("vxlan") else 0
    return (-int(ttl.group(1)) if ttl else 0, rank)


def _flooded(events: Sequence[Event]) -> tuple[list[Place], int] | None:
    """The hosts one L2 hop replicated the probe to over VXLAN, when more than one (the
    sender had no unicast entry for the destination MAC and used the flooding entries), and
    the routers crossed before; None when every hop was unicast."""
    groups = _passes(events)
    arrivals: dict[int, list[Place]] = {}
    for group in groups:
        ttl, rank = _key(group)
        place = group[0].place
        if rank == 1 and place not in arrivals.setdefault(ttl, []):
            arrivals[ttl].append(place)
    for ttl, places in sorted(arrivals.items()):
        if len(places) > 1:
            routers = {g[0].place for g in groups if _key(g)[1] == 2 and _key(g)[0] < ttl}
            return places, len(routers)
    return None


def fate(events: Sequence[Event], name: str) -> Fate:
    """What became of the probe (see the module docstring); ``name`` is the throwaway
    tables' name."""
    events = ordered(events)
    flood = _flooded(events)
    path: list[str] = []
    routers: list[str] = []
    oif: dict[str, str] = {}
    first_chain: dict[tuple[str, str], str] = {}
    for e in events:
        where = _place_name(e.place)
        if not path or path[-1] != where:
            path.append(where)
        if e.place.role == "router" and e.place.label not in routers:
            routers.append(e.place.label)
        if e.text.startswith("packet:"):
            found = OIF.search(e.text)
            if found:
                oif[e.trace_id] = found.group(1)
        first_chain.setdefault((e.trace_id, e.table), e.chain)
        if e.verdict != "drop" or flood is not None:
            continue
        crossed = len(routers) - (1 if e.place.role == "router" else 0)
        if e.table == name:
            outcome = {"forwarded": "delivered", "to_router": "answered", "leaving": "left"}[
                e.chain
            ]
            return Fate(
                outcome, e.place, device=oif.get(e.trace_id, ""), routers=crossed, path=path
            )
        return Fate(
            "dropped",
            e.place,
            table=f"{e.family} {e.table}",
            chain=e.chain,
            rule=e.rule,
            base_chain=first_chain[(e.trace_id, e.table)],
            routers=crossed,
            path=path,
        )
    if not events:
        return Fate("unseen")
    if flood is not None:
        to, crossed = flood
        return Fate(
            "flooded", to[0], device=", ".join(p.label for p in to), routers=crossed, path=path
        )
    last = events[-1]
    chains = {e.chain for e in events if e.place == last.place and e.table == name}
    crossed = len(routers) - (1 if last.place.role == "router" else 0)
    return Fate("lost", last.place, chain=",".join(sorted(chains)), routers=crossed, path=path)


def _index(hops: Sequence[dict[str, Any]], step: str, nth: int = 0, last: bool = False) -> int:
    found = [i for i, h in enumerate(hops) if h["step"] == step]
    if not found:
        return -1
    return found[-1] if last else found[min(nth, len(found) - 1)]


def _named_hop(hops: Sequence[dict[str, Any]], f: Fate) -> int:
    """The index of the hop the real fate names (-1: none of the model's)."""
    if f.outcome == "dropped":
        if f.table == "bridge neutrino":
            if f.chain in SPOOF_CHAINS or f.base_chain in SPOOF_CHAINS:
                return _index(hops, "anti-spoofing")
            if f.base_chain == "ingress":
                return _index(hops, "ingress", last=True)
            return _index(hops, "egress")
        return _index(hops, "router" if f.place and f.place.role == "router" else "L2", f.routers)
    if f.outcome == "flooded":
        return _index(hops, "L2", f.routers)
    if f.outcome == "lost":
        assert f.place is not None
        if f.place.role == "router":
            route = _index(hops, "route", f.routers)
            return route if route >= 0 else _index(hops, "router", f.routers)
        return _index(hops, "L2", f.routers)
    if f.outcome == "unseen":
        return _index(hops, "source")
    return -1


def _delivered_to(hops: Sequence[dict[str, Any]]) -> str | None:
    """The port id of the model's delivery hop (or of the next hop a packet leaves the
    modelled network by, e.g. a VM an extra route names), if it names one."""
    for hop in reversed(hops):
        if hop["verdict"] in ("deliver", "leave"):
            found = UUID.search(hop["object"])
            return found.group(1) if found else None
    return None


def finding(hops: Sequence[dict[str, Any]], verdict: str, f: Fate) -> dict[str, Any]:
    """``{"verdict": "agrees" | "differs", "fate": ..., "hop", "step", "object", "detail"}``:
    whether the probe's fate is the model's, and the hop where they part."""
    out: dict[str, Any] = {"fate": f.as_dict()}
    model_drop = next((i for i, h in enumerate(hops) if h["verdict"] == "drop"), None)
    named = _named_hop(hops, f)
    if f.outcome == "delivered":
        port = _delivered_to(hops)
        to_port = port is not None and f.device == f"tap{port[:11]}"
        agree = to_port or (verdict == "delivered" and port is None)
    elif f.outcome in ("left", "answered"):
        agree = verdict in ("left", "delivered")
    else:
        agree = verdict == "dropped" and model_drop is not None and named in (model_drop, -1)
    out["verdict"] = "agrees" if agree else "differs"
    if agree:
        return out
    index = named if named >= 0 else (model_drop if model_drop is not None else len(hops) - 1)
    hop = hops[index]
    out.update(hop=index + 1, step=hop["step"], object=hop["object"], detail=_detail(f, verdict))
    return out


def _detail(f: Fate, verdict: str) -> list[str]:
    where = f"{f.place.role} {f.place.label}" if f.place else "nowhere"
    said = f"the model says {verdict}"
    if f.outcome == "dropped":
        return [f"{where}: dropped by {f.table} chain {f.chain}: {f.rule}", said]
    if f.outcome == "lost":
        hooks = f" (our hooks seen there: {f.chain})" if f.chain else ""
        return [f"{where}: the probe vanished after this namespace{hooks}", said]
    if f.outcome == "flooded":
        return [
            f"the probe was replicated over VXLAN to hosts {f.device}: sent as unknown "
            "unicast, with no forwarding entry for its destination MAC",
            said,
        ]
    if f.outcome == "unseen":
        return ["the probe was seen nowhere: it never entered the source host's bridge", said]
    return [f"{where}: {f.outcome} {f.device}".rstrip(), said]


def names(places: Iterable[Place]) -> list[str]:
    return [_place_name(p) for p in places]
