"""The memoised calculators (``SgCalc``, ``L2Calc``) equal a from-scratch compute.

An agent keeps one calculator of each kind and feeds it the states its watcher builds with
``HostState.patched`` (untouched items stay the same objects, so the memo compares by
identity) and, after a gap, a snapshot (equal items, other objects: compared by equality).
Randomized sequences of changes — ports bound, unbound, moved, re-addressed, given other
groups, pairs or port security; groups gaining and losing rules or turning stateless; remote
groups and address groups (CIDRs too) gaining and losing members; networks coming, going and
changing MTU; l2pop entries — are delivered both ways, and after every step the memoised
result must equal ``compute_sg``/``compute_l2`` of the same state: the text, shape, elements,
bridges and each port's filter and flows, the conntrack entries the step withdraws, and the
whole ``L2State``.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from neutrino.agent.calc import L2Calc, compute_l2
from neutrino.agent.model import AgentConfig
from neutrino.agent.sg_calc import SgCalc, SgRuleset, compute_sg, conntrack_deletions, zone_of
from neutrino.domain import statedelta
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
)
from neutrino.domain.sgstate import (
    AddressGroupState,
    AddressPair,
    RemoteGroup,
    RuleState,
    SecurityGroupState,
)

CONFIG = AgentConfig(local_ip="198.51.100.1", underlay_dev="eth1")


def _colliding_pair() -> list[str]:
    """Two network ids hashed to one conntrack zone: the one that sorts later moves to the
    next zone while both are on the host (``zone_of``), so every port of it changes zone."""
    seen: dict[int, str] = {}
    for i in range(100_000):
        nid = f"55555555-aaaa-4bbb-8ccc-{i:012d}"
        zone = zone_of([nid])[nid]
        if zone in seen:
            return [seen[zone], nid]
        seen[zone] = nid
    raise AssertionError("no collision")


NETS = [f"22222222-aaaa-4bbb-8ccc-00000000000{n}" for n in range(1, 3)] + _colliding_pair()
GROUPS = [f"33333333-aaaa-4bbb-8ccc-00000000000{n}" for n in range(1, 4)]
ADDRESS_GROUP = "44444444-aaaa-4bbb-8ccc-000000000001"
VTEPS = ("198.51.100.1", "198.51.100.2", "198.51.100.3")


class World:
    """A randomized host state, changed one item at a time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.revision = 0
        self.networks = {
            n: NetworkState(n, "vxlan", 1000 + i, None, 1450) for i, n in enumerate(NETS[:2])
        }
        self.ports: dict[str, PortState] = {}
        self.groups = {g: SecurityGroupState(g, True, self._rules(g)) for g in GROUPS}
        self.members: dict[str, tuple[str, ...]] = {g: () for g in GROUPS}
        self.cidrs: tuple[str, ...] = ("203.0.113.0/25",)
        self.remote: dict[str, RemotePort] = {}

    def _rules(self, gid: str) -> tuple[RuleState, ...]:
        rng, rules = self.rng, []
        for i in range(rng.randrange(1, 5)):
            kind = rng.choice(["any", "tcp", "icmp", "remote", "remote6", "address", "cidr"])
            rid = f"{gid[:8]}-rule-{i}-{rng.randrange(10**6)}"
            direction = rng.choice(["ingress", "egress"])
            if kind == "tcp":
                lo = rng.randrange(1, 1000)
                rules.append(RuleState(rid, direction, "IPv4", "tcp", lo, lo + rng.randrange(3)))
            elif kind == "icmp":
                rules.append(RuleState(rid, direction, "IPv4", "icmp", 8, 0))
            elif kind in ("remote", "remote6"):
                remote = rng.choice(GROUPS)
                ethertype = "IPv6" if kind == "remote6" else "IPv4"
                rules.append(RuleState(rid, direction, ethertype, remote_group_id=remote))
            elif kind == "address":
                rules.append(
                    RuleState(rid, direction, "IPv4", remote_address_group_id=ADDRESS_GROUP)
                )
            elif kind == "cidr":
                rules.append(RuleState(rid, direction, "IPv4", remote_ip_prefix="192.0.2.0/26"))
            else:
                rules.append(RuleState(rid, direction, rng.choice(["IPv4", "IPv6"])))
        return tuple(sorted(rules, key=lambda r: r.id))

    def _mac(self) -> str:
        return "fa:16:3e:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(3))

    def _ips(self) -> tuple[FixedIp, ...]:
        v4 = FixedIp("s4", f"192.0.2.{self.rng.randrange(2, 250)}")
        v6 = FixedIp("s6", f"2001:db8::{self.rng.randrange(2, 4000):x}")
        return (v4, v6) if self.rng.random() < 0.4 else (v4,)

    def _port(self, pid: str) -> PortState:
        rng = self.rng
        pairs = ()
        if rng.random() < 0.3:
            pairs = (AddressPair(rng.choice(["198.51.100.77", "198.51.100.64/28"]), self._mac()),)
        return PortState(
            pid,
            rng.choice(sorted(self.networks)),
            self._mac(),
            self._ips(),
            rng.random() < 0.9,
            system_owned=rng.random() < 0.1,
            port_security_enabled=rng.random() < 0.85,
            security_groups=tuple(rng.sample(GROUPS, rng.randrange(3))),
            allowed_address_pairs=pairs,
        )

    def step(self) -> None:
        rng = self.rng
        what = rng.choice(
            ["bind"] * 4 + ["unbind", "port", "port", "group", "members", "cidrs", "net", "pop"]
        )
        if what == "bind" or (what in ("unbind", "port") and not self.ports):
            pid = f"{rng.randrange(16**8):08x}-0000-4000-8000-{rng.randrange(10**6):012d}"
            self.ports[pid] = self._port(pid)
        elif what == "unbind":
            del self.ports[rng.choice(sorted(self.ports))]
        elif what == "port":
            pid = rng.choice(sorted(self.ports))
            fresh = self._port(pid)
            old = self.ports[pid]
            field = rng.choice(
                [
                    "network_id",
                    "mac_address",
                    "fixed_ips",
                    "admin_state_up",
                    "port_security_enabled",
                    "security_groups",
                    "allowed_address_pairs",
                ]
            )
            self.ports[pid] = replace(old, **{field: getattr(fresh, field)})
        elif what == "group":
            gid = rng.choice(GROUPS)
            old = self.groups[gid]
            if rng.random() < 0.3:
                self.groups[gid] = replace(old, stateful=not old.stateful)
            else:
                self.groups[gid] = replace(old, rules=self._rules(gid))
        elif what == "members":  # a remote member joins or leaves
            gid = rng.choice(GROUPS)
            have = set(self.members[gid])
            if have and rng.random() < 0.4:
                have.discard(rng.choice(sorted(have)))
            else:
                have.add(rng.choice([f"192.0.2.{rng.randrange(2, 250)}", "2001:db8::99"]))
                if rng.random() < 0.1:
                    have.add("198.51.100.0/28")
            self.members[gid] = tuple(sorted(have))
        elif what == "cidrs":
            self.cidrs = tuple(
                sorted(rng.sample(["203.0.113.0/25", "203.0.113.128/25", "192.0.2.9"], 2))
            )
        elif what == "net":
            nid = rng.choice(NETS)
            if nid in self.networks and not any(p.network_id == nid for p in self.ports.values()):
                del self.networks[nid]  # its last port left: the network leaves the host
            elif nid in self.networks and rng.random() < 0.5:
                self.networks[nid] = replace(self.networks[nid], mtu=rng.choice([1400, 1450]))
            elif nid not in self.networks:
                self.networks[nid] = NetworkState(nid, "vxlan", 1000 + NETS.index(nid), None, 1450)
        else:
            rid = f"r{rng.randrange(20)}"
            ips = (f"192.0.2.{rng.randrange(2, 250)}",)
            self.remote[rid] = RemotePort(rid, self._mac(), ips, rng.choice(VTEPS))
        self.revision += 1

    def state(self) -> HostState:
        nets = {p.network_id for p in self.ports.values()} | set(self.networks)
        used = {g for p in self.ports.values() for g in p.security_groups}
        named = {r.remote_group_id for g in used for r in self.groups[g].rules if r.remote_group_id}
        pops = tuple(
            L2Pop(n, VTEPS[1:], tuple(p for k, p in sorted(self.remote.items()) if int(k[1:]) % 2))
            for n in sorted(self.networks)
        )
        return HostState(
            host="hv1",
            revision=self.revision,
            networks=tuple(self.networks[n] for n in sorted(nets) if n in self.networks),
            ports=tuple(self.ports[p] for p in sorted(self.ports)),
            l2pop=pops,
            security_groups=tuple(self.groups[g] for g in sorted(used)),
            remote_groups=tuple(RemoteGroup(g, self.members[g]) for g in sorted(named)),
            address_groups=(AddressGroupState(ADDRESS_GROUP, self.cidrs),),
        )


def assert_same_ruleset(memo: SgRuleset, fresh: SgRuleset) -> None:
    assert memo.text == fresh.text
    assert memo.shape == fresh.shape
    assert dict(memo.elements) == dict(fresh.elements)
    assert (memo.bridges, memo.plain_bridges) == (fresh.bridges, fresh.plain_bridges)
    assert dict(memo.ports) == dict(fresh.ports)
    for pid, pf in fresh.ports.items():
        assert memo.flows(memo.ports[pid]) == fresh.flows(pf), pid


@pytest.mark.parametrize("seed", range(30))
def test_memoised_calculators_equal_a_from_scratch_compute(seed: int) -> None:
    rng = random.Random(seed)
    world = World(rng)
    sg, l2 = SgCalc(), L2Calc(CONFIG)
    held = world.state()
    memo_before = fresh_before = None
    for _ in range(60):
        world.step()
        new = world.state()
        if rng.random() < 0.85:  # what the watcher does with a delta
            held = held.patched(statedelta.diff(held.to_dict(), new.to_dict()))
        else:  # a snapshot: equal items, none of them the objects held before
            held = HostState.from_dict(new.to_dict())
        assert held == new
        assert held.indexed("ports") == {p.id: p for p in new.ports}  # what the calcs look up
        memo, fresh = sg.compute(held), compute_sg(new)
        assert_same_ruleset(memo, fresh)
        assert conntrack_deletions(memo_before, memo) == conntrack_deletions(fresh_before, fresh)
        if memo_before is not None and fresh_before is not None:
            assert memo.element_delta(memo_before) == fresh.element_delta(fresh_before)
        memo_before, fresh_before = memo, fresh
        assert l2.compute(held) == compute_l2(new, CONFIG)


def test_a_round_renders_only_the_ports_that_changed() -> None:
    """The memo is used: one port bound to a 200-port host renders that port alone (a
    from-scratch compute would render all 201)."""
    rng = random.Random(7)
    world = World(rng)
    for _ in range(200):
        pid = f"{rng.randrange(16**8):08x}-0000-4000-8000-{rng.randrange(10**6):012d}"
        world.ports[pid] = world._port(pid)
    sg, l2 = SgCalc(), L2Calc(CONFIG)
    before = world.state()
    sg.compute(before), l2.compute(before)
    rendered: list[str] = []
    share, tap = sg._share, l2._render_tap
    sg._share = lambda port: (rendered.append(port.id), share(port))[1]  # type: ignore[method-assign]
    l2._render_tap = lambda net, pid: (rendered.append(pid), tap(net, pid))[1]  # type: ignore[method-assign]
    pid = "ffffffff-0000-4000-8000-000000000001"
    world.ports[pid] = replace(world._port(pid), admin_state_up=True)
    after = before.patched(statedelta.diff(before.to_dict(), world.state().to_dict()))
    assert_same_ruleset(sg.compute(after), compute_sg(after))
    assert l2.compute(after) == compute_l2(after, CONFIG)
    assert rendered == [pid, pid]
