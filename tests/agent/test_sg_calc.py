"""sg_calc: HostState -> nftables ruleset (design B), flows, conntrack deletions; the SG role."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from neutrino.agent.dataplane import ApplyReport
from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.roles import Round, SecurityRole
from neutrino.agent.sg_calc import (
    ANY_FLOW,
    CtDelete,
    Flow,
    SgRuleset,
    compute_sg,
    conntrack_deletions,
    protocol_number,
    zone_of,
)
from neutrino.domain.hoststate import FixedIp, HostState, NetworkState, PortState
from neutrino.domain.ipam import link_local
from neutrino.domain.sgstate import (
    AddressGroupState,
    AddressPair,
    RemoteGroup,
    RuleState,
    SecurityGroupState,
)

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
NET2 = "7b2c3d4e-bbbb-4ccc-8ddd-000000000002"
G = "11111111-2222-4333-8444-555555555555"
H = "22222222-3333-4444-8555-666666666666"
P1, P2, P3 = (
    "5a0c3e7f-1111-4a1a-9b1b-00000000000a",
    "9d4b2f6c-2222-4a2a-9b2b-00000000000b",
    "c7e8a1b2-3333-4a3a-9b3b-00000000000c",
)
EGRESS = (RuleState("e4", "egress", "IPv4"), RuleState("e6", "egress", "IPv6"))


def port(pid: str, ip: str, mac: str, groups: tuple[str, ...] = (G,), **kw: Any) -> PortState:
    return PortState(
        pid,
        kw.pop("network_id", NET),
        mac,
        (FixedIp("s", ip),),
        True,
        port_security_enabled=kw.pop("secure", True),
        security_groups=groups,
        **kw,
    )


def state(
    ports: tuple[PortState, ...],
    groups: tuple[SecurityGroupState, ...] = (),
    remotes: tuple[RemoteGroup, ...] = (),
) -> HostState:
    nets = sorted({p.network_id for p in ports})
    return HostState(
        "hv1",
        1,
        networks=tuple(NetworkState(n, "vxlan", 1001, None, 1450) for n in nets),
        ports=ports,
        security_groups=groups,
        remote_groups=remotes,
    )


def chain(text: str, name: str) -> list[str]:
    """The rule lines of chain ``name`` in rendered ``text``."""
    lines = text.splitlines()
    start = lines.index(f"    chain {name} {{")
    end = lines.index("    }", start)
    return [line.strip() for line in lines[start + 1 : end]]


def test_rules_render_neutron_semantics() -> None:
    rules = (
        *EGRESS,
        RuleState("r1", "ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/28"),
        RuleState("r2", "ingress", "IPv4", "icmp", 8, 0),
        RuleState("r3", "ingress", "IPv6", "ipv6-icmp", 128, None, "2001:db8::/32"),
        RuleState("r4", "ingress", "IPv4", "udp", 1000, 2000),
        RuleState("r5", "ingress", "IPv4", "47"),
        RuleState("r6", "ingress", "IPv4", "0", remote_ip_prefix="0.0.0.0/0"),
        RuleState("r7", "ingress", "IPv4", remote_group_id=H),
        RuleState("r8", "egress", "IPv4", "tcp", 443, 443, "203.0.113.0/24"),
    )
    text = compute_sg(
        state(
            (port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),),
            (SecurityGroupState(G, True, rules),),
            (RemoteGroup(H, ("192.0.2.20", "192.0.2.21", "2001:db8::5")),),
        )
    ).text
    assert chain(text, f"sg-{G}-in") == [
        "ether type ip ip saddr 192.0.2.0/28 meta l4proto 6 th dport 22 accept",
        "ether type ip meta l4proto 1 icmp type 8 icmp code 0 accept",
        "ether type ip6 ip6 saddr 2001:db8::/32 meta l4proto 58 icmpv6 type 128 accept",
        "ether type ip meta l4proto 17 th dport 1000-2000 accept",
        "ether type ip meta l4proto 47 accept",
        "ether type ip accept",  # protocol 0 from anywhere: all IPv4
        f"ether type ip ip saddr @rg4-{H} accept",
        f"ether type ip ip saddr @rg4-{H}-net accept",
    ]
    assert chain(text, f"sg-{G}-out") == [
        "ether type ip accept",
        "ether type ip6 accept",
        "ether type ip ip daddr 203.0.113.0/24 meta l4proto 6 th dport 443 accept",
    ]
    # remote group members: host addresses in a hashed set, CIDRs in an interval set (kept
    # small: libnftables reads every non-concatenated interval set before an element
    # command), split by family
    assert (
        f"set rg4-{H} {{ type ipv4_addr;\n        elements = {{ 192.0.2.20,\n"
        "                     192.0.2.21 } }" in text
    )
    assert f"set rg4-{H}-net {{ type ipv4_addr; flags interval; }}" in text
    assert f"set rg6-{H} {{ type ipv6_addr;\n        elements = {{ 2001:db8::5 }} }}" in text
    # overlapping CIDRs are collapsed (no interval clash); a host address a CIDR holds
    # stays in the hashed set, where it clashes with nothing
    text = compute_sg(
        state(
            (port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),),
            (SecurityGroupState(G, True, rules),),
            (RemoteGroup(H, ("192.0.2.20", "192.0.2.20/30", "192.0.2.16/28", "192.0.2.40")),),
        )
    ).text
    assert (
        f"set rg4-{H}-net {{ type ipv4_addr; flags interval;\n        elements = "
        "{ 192.0.2.16/28 } }" in text
    )
    assert (
        f"set rg4-{H} {{ type ipv4_addr;\n        elements = {{ 192.0.2.20,\n"
        "                     192.0.2.40 } }" in text
    )


def test_ports_bind_through_maps_and_anti_spoofing_sets() -> None:
    pair = AddressPair("192.0.2.96/29", "fa:16:3e:00:00:99")
    ports = (
        port(P1, "192.0.2.11", "FA:16:3E:00:00:11", allowed_address_pairs=(pair,)),
        port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=()),  # [] but secure
        port(P3, "192.0.2.13", "fa:16:3e:00:00:13", groups=(), secure=False),
        port(
            "d0000000-0000-4000-8000-0000000000dd",
            "192.0.2.2",
            "fa:16:3e:00:00:02",
            groups=(),
            device_owner="network:dhcp",
            system_owned=True,
        ),
    )
    ruleset = compute_sg(state(ports, (SecurityGroupState(G, True, EGRESS),)))
    text = ruleset.text
    assert ruleset.protected == {P1, P2}
    assert ruleset.bridges == ("brq3f1c2d9e-aa",)
    assert '"tap5a0c3e7f-11" . fa:16:3e:00:00:11 . 192.0.2.11' in text  # MAC lower-cased
    assert '"tap5a0c3e7f-11" . fa:16:3e:00:00:99 . 192.0.2.96/29' in text  # pair: own MAC
    assert "set p_net4 { type ifname . ether_addr . ipv4_addr; flags interval;" in text
    assert '"tap5a0c3e7f-11" . fa:16:3e:00:00:99 . fe80::f816:3eff:fe00:99' in text
    assert '"tap9d4b2f6c-22" : jump in-none' in text
    assert "tapc7e8a1b2-33" not in text and "tapd0000000-00" not in text  # not filtered
    assert chain(text, "in-none") == [
        "meta mark & 0x20000 == 0x20000 drop",
        "meta mark & 0x10000 == 0x10000 accept",
        "jump ingress_common",
        "drop",
    ]
    assert chain(text, "out-none")[0] == "jump anti_spoof"
    assert chain(text, "out-none")[-2:] == ["jump egress_common", "drop"]
    # the inet table zones the network's bridge; underlay VXLAN untracked
    assert '"brq3f1c2d9e-aa" : ' in text and "udp dport 4789 notrack" in text
    assert text.startswith("table inet neutrino\ndelete table inet neutrino\n")
    assert "table bridge neutrino\ndelete table bridge neutrino\n" in text


def test_egress_is_enforced_and_groups_share_chains() -> None:
    no_egress = SecurityGroupState(H, True, (RuleState("i", "ingress", "IPv4", "tcp", 80, 80),))
    ports = (
        port(P1, "192.0.2.11", "fa:16:3e:00:00:11", groups=(G, H)),
        port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=(H, G)),
        port(P3, "192.0.2.13", "fa:16:3e:00:00:13", groups=(H,)),
    )
    text = compute_sg(state(ports, (SecurityGroupState(G, True, EGRESS), no_egress))).text
    assert chain(text, f"sg-{H}-out") == []  # a group without egress rules allows none
    combos = {
        line.split(": jump ")[1].rstrip(",").rstrip(" }")
        for line in text.splitlines()
        if ": jump in-" in line
    }
    assert len(combos) == 2  # {G, H} (either order) and {H}
    two = next(c for c in combos if len(chain(text, c)) == 6)
    assert chain(text, two)[2:] == [
        "jump ingress_common",
        f"jump sg-{G}-in",
        f"jump sg-{H}-in",
        "drop",
    ]
    only_h = (combos - {two}).pop().replace("in-", "out-")
    assert chain(text, only_h)[-2:] == [f"jump sg-{H}-out", "drop"]


def test_stateless_groups_skip_conntrack_marks() -> None:
    text = compute_sg(
        state(
            (port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),), (SecurityGroupState(G, False, EGRESS),)
        )
    ).text
    combo = next(
        line.split("jump ")[1].rstrip(", }")
        for line in text.splitlines()
        if '"tap5a0c3e7f-11" : jump in-' in line
    )
    assert chain(text, combo) == ["jump ingress_common", f"jump sg-{G}-in", "drop"]


def test_output_is_deterministic() -> None:
    groups = (
        SecurityGroupState(
            G, True, (*EGRESS, RuleState("r", "ingress", "IPv4", remote_group_id=G))
        ),
    )
    ports = (
        port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),
        port(P2, "192.0.2.12", "fa:16:3e:00:00:12"),
    )
    a = compute_sg(state(ports, groups, (RemoteGroup(G, ("192.0.2.12", "192.0.2.11")),)))
    b = compute_sg(state(ports[::-1], groups, (RemoteGroup(G, ("192.0.2.11", "192.0.2.12")),)))
    assert a.text == b.text and a == b


def test_zones_are_stable_and_distinct() -> None:
    one = zone_of([NET])
    both = zone_of([NET, NET2])
    assert both[NET] == one[NET] and both[NET2] != both[NET]
    assert all(1 <= z <= 65000 for z in both.values())


def test_helpers() -> None:
    assert link_local("fa:16:3e:00:00:11") == "fe80::f816:3eff:fe00:11"
    assert protocol_number("tcp") == 6 and protocol_number("132") == 132
    assert protocol_number(None) is None and protocol_number("ip") is None
    assert protocol_number("any") is None


def test_state_without_security_fields_filters_nothing() -> None:
    legacy = {
        "host": "hv1",
        "revision": 1,
        "networks": [],
        "l2pop": [],
        "ports": [
            {
                "id": P1,
                "network_id": NET,
                "mac_address": "fa:16:3e:00:00:11",
                "fixed_ips": [],
                "admin_state_up": True,
            }
        ],
    }
    assert compute_sg(HostState.from_dict(legacy)).protected == frozenset()


# --- conntrack deletions -----------------------------------------------------------------


def test_removed_rule_deletes_its_flows_for_each_port_address() -> None:
    icmp = RuleState("icmp", "ingress", "IPv4", "icmp", remote_ip_prefix="192.0.2.0/28")
    ssh = RuleState("ssh", "ingress", "IPv4", "tcp", 22, 22)
    p1 = port(
        P1,
        "192.0.2.11",
        "fa:16:3e:00:00:11",
        allowed_address_pairs=(AddressPair("192.0.2.99", "fa:16:3e:00:00:11"),),
    )
    old = compute_sg(state((p1,), (SecurityGroupState(G, True, (icmp, ssh)),)))
    new = compute_sg(state((p1,), (SecurityGroupState(G, True, (ssh,)),)))
    zone = zone_of([NET])[NET]
    flow = Flow("ingress", "IPv4", 1, None, None, "192.0.2.0/28")
    assert conntrack_deletions(old, new) == [
        CtDelete(zone, "192.0.2.11", flow),
        CtDelete(zone, "192.0.2.99", flow),
    ]
    assert conntrack_deletions(new, new) == [] and conntrack_deletions(None, new) == []
    assert conntrack_deletions(new, old) == []  # adding a rule deletes nothing


def test_remote_member_leaving_and_port_security_turning_on() -> None:
    rule = RuleState("rg", "ingress", "IPv4", remote_group_id=H)
    group = SecurityGroupState(G, True, (rule,))
    p1 = port(P1, "192.0.2.11", "fa:16:3e:00:00:11")
    old = compute_sg(state((p1,), (group,), (RemoteGroup(H, ("192.0.2.20", "192.0.2.30")),)))
    new = compute_sg(state((p1,), (group,), (RemoteGroup(H, ("192.0.2.30",)),)))
    (gone,) = conntrack_deletions(old, new)
    assert gone.flow.remote == "192.0.2.20" and gone.address == "192.0.2.11"
    # a port that was unfiltered and becomes filtered loses every flow it had
    open_ = compute_sg(state((replace(p1, port_security_enabled=False),), (group,)))
    assert ANY_FLOW in open_.flows(open_.ports[P1])
    (cut,) = conntrack_deletions(open_, new)
    assert cut.flow == ANY_FLOW
    assert conntrack_deletions(new, open_) == []  # turning it off cuts nothing


# --- the role --------------------------------------------------------------------------------


class FakeNft:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.applied: SgRuleset | None = None

    def apply(self, ruleset: SgRuleset, *, full: bool = True) -> object:
        if self.fail:
            raise DataplaneError("nft refused")
        self.applied = ruleset
        return None


def test_role_holds_back_ports_whose_filter_is_not_in_place() -> None:
    p1 = port(P1, "192.0.2.11", "fa:16:3e:00:00:11")
    p3 = port(P3, "192.0.2.13", "fa:16:3e:00:00:13", groups=(), secure=False)
    host = state((p1, p3), (SecurityGroupState(G, True, EGRESS),))
    ok = SecurityRole(FakeNft())
    rnd = Round(host, ApplyReport(wired={"tap5a0c3e7f-11", "tapc7e8a1b2-33"}))
    ok.apply(rnd)
    assert rnd.report.wired == {"tap5a0c3e7f-11", "tapc7e8a1b2-33"} and ok.retryable() == []
    bad = SecurityRole(FakeNft(fail=True))
    bad.apply(rnd)
    assert rnd.report.wired == {"tapc7e8a1b2-33"}  # the unfiltered port is still ACTIVE
    assert bad.retryable() == ["security groups"] and len(bad.errors()) == 1


@pytest.mark.parametrize("owner", ["network:dhcp", "network:router_interface"])
def test_system_owned_ports_are_not_filtered(owner: str) -> None:
    p1 = port(
        P1, "192.0.2.1", "fa:16:3e:00:00:01", groups=(G,), device_owner=owner, system_owned=True
    )
    assert compute_sg(state((p1,), (SecurityGroupState(G, True, EGRESS),))).protected == set()


@pytest.mark.parametrize("owner", ["network:dhcp", "network:router_interface", "network:foo"])
def test_a_claimed_network_owner_is_filtered_with_anti_spoofing(owner: str) -> None:
    """A port that only claims a ``network:*`` owner (made through the API) is filtered: its
    groups apply and it may send only from its own MAC and addresses."""
    claimed = port(P1, "192.0.2.1", "fa:16:3e:00:00:01", groups=(G,), device_owner=owner)
    system = port(
        P2, "192.0.2.2", "fa:16:3e:00:00:02", groups=(G,), device_owner=owner, system_owned=True
    )
    ruleset = compute_sg(state((claimed, system), (SecurityGroupState(G, True, EGRESS),)))
    assert ruleset.protected == {P1}
    assert '"tap5a0c3e7f-11" . fa:16:3e:00:00:01 . 192.0.2.1' in ruleset.text
    assert "fa:16:3e:00:00:02 . 192.0.2.2" not in ruleset.text


def test_system_owned_survives_the_wire_form() -> None:
    """The fact travels in the host state the agent receives (and defaults to not owned)."""
    p1 = port(P1, "192.0.2.1", "fa:16:3e:00:00:01", device_owner="network:dhcp", system_owned=True)
    host = state((p1,))
    again = HostState.from_dict(host.to_dict())
    assert again.ports[0].system_owned is True
    legacy = {k: v for k, v in host.to_dict()["ports"][0].items() if k != "system_owned"}
    assert PortState.from_dict(legacy).system_owned is False


# --- the loop: no ACTIVE before the filter is in place ---------------------------------------


def test_loop_reports_active_only_once_the_filter_is_applied() -> None:
    from tests.agent.test_loop import NET as LOOP_NET
    from tests.agent.test_loop import make

    secured = replace(port(P1, "192.0.2.11", "fa:16:3e:00:00:11"), network_id=LOOP_NET)
    host = HostState(
        "hv1",
        1,
        tunnel_ip="198.51.100.1",
        networks=(NetworkState(LOOP_NET, "vxlan", 1001, None, 1450),),
        ports=(secured,),
        security_groups=(SecurityGroupState(G, True, EGRESS),),
    )
    nft = FakeNft(fail=True)
    kernel, ctl, watcher, loop = make(host, SecurityRole(nft))
    kernel.add_device("tap5a0c3e7f-11")
    watcher.poll_once()
    loop.apply_once()
    assert ctl.statuses == [(P1, "DOWN")]  # wired, but its filter is not in place
    nft.fail = False
    loop.apply_once()
    assert ctl.statuses[-1] == (P1, "ACTIVE") and nft.applied is not None
    assert P1 in nft.applied.protected


def test_a_port_joining_an_existing_group_is_an_element_delta() -> None:
    groups = (SecurityGroupState(G, True, EGRESS),)
    one = compute_sg(state((port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),), groups))
    two = compute_sg(
        state(
            (
                port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),
                port(P2, "192.0.2.12", "fa:16:3e:00:00:12"),
            ),
            groups,
        )
    )
    assert two.shape == one.shape and two.text != one.text
    delta = two.element_delta(one)
    assert delta is not None and "delete" not in delta
    assert 'add element bridge neutrino p_mac { "tap9d4b2f6c-22" . fa:16:3e:00:00:12 }' in delta
    assert 'add element bridge neutrino port_in { "tap9d4b2f6c-22" : jump in-' in delta
    assert "tap5a0c3e7f-11" not in delta  # what is already there is left alone

    back = one.element_delta(two)  # leaving: deleted by key (maps) or element (sets)
    assert back is not None and "add" not in back
    assert 'delete element bridge neutrino port_in { "tap9d4b2f6c-22" }' in back

    # a port moving to another group set changes its map value: delete + add of the key
    moved = compute_sg(
        state(
            (
                port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),
                port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=()),
            ),
            groups,
        )
    )
    assert moved.shape != two.shape  # a new chain (in-none): the tables are reloaded
    assert moved.element_delta(two) is None


def test_a_flow_still_admitted_by_another_rule_is_not_cut() -> None:
    from types import SimpleNamespace

    from neutrino.agent.dataplane.nft import NftManager

    rules = (
        *EGRESS,
        RuleState("lb", "ingress", "IPv4", "tcp", 80, 80, remote_group_id=H),
        RuleState("net", "ingress", "IPv4", "tcp", 80, 80, "198.51.100.0/24"),
    )
    groups = (SecurityGroupState(G, True, rules),)
    web = (port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),)
    before = compute_sg(state(web, groups, (RemoteGroup(H, ("198.51.100.6", "203.0.113.7")),)))
    after = compute_sg(state(web, groups, (RemoteGroup(H, ()),)))  # both members left "lb"
    deletions = conntrack_deletions(before, after)
    assert {d.flow.remote for d in deletions} == {"198.51.100.6", "203.0.113.7"}
    zone = after.ports[P1].zone

    def entry(src: str) -> SimpleNamespace:
        return SimpleNamespace(
            zone=zone,
            tuple_orig=SimpleNamespace(
                saddr=src, daddr="192.0.2.11", proto=6, dport=80, icmp_type=None
            ),
        )

    entries = [entry("198.51.100.6"), entry("203.0.113.7")]
    manager = NftManager("unused")
    cut: list[str] = []
    manager._sweep = lambda _v, doomed: len(  # type: ignore[method-assign]
        [cut.append(e.tuple_orig.saddr) for e in entries if doomed(e)]
    )
    assert manager.delete_conntrack(deletions, after) == 1
    assert cut == ["203.0.113.7"]  # 198.51.100.6 is still admitted by the CIDR rule


# --- stateless groups ----------------------------------------------------------------------


def test_stateless_ports_are_untracked_both_ways_stateful_ones_win_a_shared_mac() -> None:
    pair = AddressPair("192.0.2.96/29", "fa:16:3e:00:00:99")
    other = port(P3, "198.51.100.13", "FA:16:3E:00:00:12", network_id=NET2, groups=(H,))
    ruleset = compute_sg(
        state(
            (
                port(P1, "192.0.2.11", "fa:16:3e:00:00:11", allowed_address_pairs=(pair,)),
                port(P2, "192.0.2.12", "fa:16:3e:00:00:12"),  # the same MAC as P3, on NET
                other,
            ),
            (SecurityGroupState(G, False, EGRESS), SecurityGroupState(H, True, EGRESS)),
        )
    )
    assert ruleset.elements["bridge raw_src"] == {
        '"tap5a0c3e7f-11" : goto from_stateless',
        '"tap9d4b2f6c-22" : goto from_stateless',
        '"tapc7e8a1b2-33" : accept',
    }
    assert ruleset.elements["bridge raw_dst"] == {
        "fa:16:3e:00:00:11 : goto untrack",
        "fa:16:3e:00:00:99 : goto untrack",  # a pair's MAC is the port's too
        "fa:16:3e:00:00:12 : accept",  # P2 (stateless) and P3 (stateful) share it: tracked
    }
    text = ruleset.text
    assert "map raw_dst { type ether_addr : verdict;" in text
    bridge_table = text[text.index("table bridge neutrino {") :]
    assert chain(bridge_table, "raw") == [
        "type filter hook prerouting priority -300; policy accept;",
        "iifname vmap @raw_src",
        "ether daddr vmap @raw_dst",
    ]
    assert chain(text, "from_stateless") == ["ether daddr vmap @raw_dst", "notrack"]
    assert chain(text, "untrack") == ["notrack"]
    # the inet table does not zone (and so track again) what the bridge table untracked
    assert "ct state != untracked ct zone set iifname map @br_zone" in text
    # NET holds stateless ports only: no br_netfilter; NET2 has a stateful port
    assert ruleset.bridges == ("brq7b2c3d4e-bb",)
    assert ruleset.plain_bridges == ("brq3f1c2d9e-aa",)


def test_tracking_per_bridge_follows_the_stateful_ports() -> None:
    stateless = SecurityGroupState(G, False, EGRESS)

    def bridges(*ports: PortState) -> tuple[tuple[str, ...], tuple[str, ...]]:
        ruleset = compute_sg(state(ports, (stateless, SecurityGroupState(H, True, EGRESS))))
        return ruleset.bridges, ruleset.plain_bridges

    one = port(P1, "192.0.2.11", "fa:16:3e:00:00:11")
    assert bridges(one) == ((), ("brq3f1c2d9e-aa",))
    # a stateful neighbour on the same bridge turns br_netfilter on for it
    assert bridges(one, port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=(H,))) == (
        ("brq3f1c2d9e-aa",),
        (),
    )
    # a port without groups (port security on) stays tracked, as today
    assert bridges(one, port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=())) == (
        ("brq3f1c2d9e-aa",),
        (),
    )
    # unfiltered ports need nothing: their bridge goes without br_netfilter
    unfiltered = port(P3, "198.51.100.3", "fa:16:3e:00:00:13", network_id=NET2, secure=False)
    assert bridges(one, unfiltered) == ((), ("brq3f1c2d9e-aa", "brq7b2c3d4e-bb"))
    # a mix the API refuses stays tracked (and keeps today's chains)
    mixed = compute_sg(
        state(
            (port(P1, "192.0.2.11", "fa:16:3e:00:00:11", groups=(G, H)),),
            (stateless, SecurityGroupState(H, True, EGRESS)),
        )
    )
    assert mixed.elements["bridge raw_src"] == {'"tap5a0c3e7f-11" : accept'}
    assert mixed.bridges == ("brq3f1c2d9e-aa",)


def test_binding_a_stateless_port_is_an_element_delta() -> None:
    """Binding a stateless port next to others is an element change of the raw maps, not a
    reload (the raw chains are always there, even on a host without stateless ports)."""
    groups = (SecurityGroupState(G, True, EGRESS), SecurityGroupState(H, False, EGRESS))
    one = compute_sg(state((port(P1, "192.0.2.11", "fa:16:3e:00:00:11", groups=(H,)),), groups))
    two = compute_sg(
        state(
            (
                port(P1, "192.0.2.11", "fa:16:3e:00:00:11", groups=(H,)),
                port(P2, "192.0.2.12", "fa:16:3e:00:00:12", groups=(H,)),
            ),
            groups,
        )
    )
    delta = two.element_delta(one)
    assert delta is not None
    assert 'add element bridge neutrino raw_src { "tap9d4b2f6c-22" : goto from_stateless }' in delta
    assert "add element bridge neutrino raw_dst { fa:16:3e:00:00:12 : goto untrack }" in delta
    stateful_only = compute_sg(state((port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),), groups))
    bridge_table = stateful_only.text[stateful_only.text.index("table bridge neutrino {") :]
    assert chain(bridge_table, "raw")[1:] == [
        "iifname vmap @raw_src",
        "ether daddr vmap @raw_dst",
    ]


# --- address groups --------------------------------------------------------------------------

AG = "33333333-4444-4555-8666-777777777777"


def test_address_group_rules_match_its_cidrs_and_a_removed_cidr_cuts_its_flows() -> None:
    rules = (
        *EGRESS,
        RuleState("a4", "ingress", "IPv4", "tcp", 22, 22, remote_address_group_id=AG),
        RuleState("a6", "ingress", "IPv6", remote_address_group_id=AG),
    )
    p1 = port(P1, "192.0.2.11", "fa:16:3e:00:00:11")
    cidrs = ("198.51.100.0/25", "198.51.100.128/25", "203.0.113.9/32", "2001:db8:1::/48")

    def with_cidrs(addresses: tuple[str, ...]) -> HostState:
        return replace(
            state((p1,), (SecurityGroupState(G, True, rules),)),
            address_groups=(AddressGroupState(AG, addresses),),
        )

    old = compute_sg(with_cidrs(cidrs))
    assert chain(old.text, f"sg-{G}-in") == [
        f"ether type ip ip saddr @ag4-{AG} meta l4proto 6 th dport 22 accept",
        f"ether type ip ip saddr @ag4-{AG}-net meta l4proto 6 th dport 22 accept",
        f"ether type ip6 ip6 saddr @ag6-{AG} accept",
        f"ether type ip6 ip6 saddr @ag6-{AG}-net accept",
    ]
    # adjacent CIDRs collapse (an interval set refuses overlaps), a /32 is a bare host
    assert (
        f"set ag4-{AG}-net {{ type ipv4_addr; flags interval;\n        elements = {{ "
        "198.51.100.0/24,\n                     203.0.113.9 }" in old.text
    )
    assert (
        f"set ag6-{AG}-net {{ type ipv6_addr; flags interval;\n        elements = {{ " in old.text
    )
    assert "2001:db8:1::/48 }" in old.text
    new = compute_sg(with_cidrs(("198.51.100.0/24", "2001:db8:1::/48")))
    (gone,) = conntrack_deletions(old, new)
    assert gone.flow.remote == "203.0.113.9" and gone.address == "192.0.2.11"
    # a group named by no rule of a used group renders no set; an unknown one an empty set
    bare = compute_sg(
        replace(
            state((p1,), (SecurityGroupState(G, True, EGRESS),)),
            address_groups=(AddressGroupState(AG, cidrs),),
        )
    )
    assert f"ag4-{AG}" not in bare.text
    empty = compute_sg(state((p1,), (SecurityGroupState(G, True, rules),)))
    assert f"set ag4-{AG} {{ type ipv4_addr; }}" in empty.text
    assert f"set ag4-{AG}-net {{ type ipv4_addr; flags interval; }}" in empty.text
    assert empty.elements[f"bridge ag4-{AG}"] == frozenset()
    assert empty.elements[f"bridge ag4-{AG}-net"] == frozenset()


def test_address_groups_survive_the_wire_form() -> None:
    st = replace(
        state((port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),)),
        address_groups=(AddressGroupState(AG, ("192.0.2.0/24",)),),
    )
    assert HostState.from_dict(st.to_dict()) == st
    assert st.patched({"set": {}, "upsert": {}, "remove": {}}) == st
