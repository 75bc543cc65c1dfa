"""Host state's security part: JSON round trip, digest, and states without it."""

from __future__ import annotations

from dataclasses import replace

from neutrino.domain.hoststate import FixedIp, HostState, PortState
from neutrino.domain.sgstate import AddressPair, RemoteGroup, RuleState, SecurityGroupState

G = "11111111-2222-4333-8444-555555555555"


def sample() -> HostState:
    port = PortState(
        "p1",
        "n1",
        "fa:16:3e:00:00:01",
        (FixedIp("s1", "192.0.2.10"),),
        True,
        port_security_enabled=True,
        security_groups=(G,),
        allowed_address_pairs=(AddressPair("192.0.2.96/30", "fa:16:3e:00:00:01"),),
    )
    group = SecurityGroupState(
        G,
        True,
        (
            RuleState("r1", "ingress", "IPv4", "tcp", 22, 22, "203.0.113.0/24"),
            RuleState("r2", "ingress", "IPv6", remote_group_id=G),
            RuleState("r3", "egress", "IPv4"),
        ),
    )
    return HostState(
        "hv1",
        3,
        ports=(port,),
        security_groups=(group,),
        remote_groups=(RemoteGroup(G, ("192.0.2.10", "192.0.2.96/30")),),
    )


def test_round_trip_keeps_security() -> None:
    state = sample()
    wire = state.to_dict()
    assert wire["ports"][0]["allowed_address_pairs"] == [
        {"ip_address": "192.0.2.96/30", "mac_address": "fa:16:3e:00:00:01"}
    ]
    assert wire["security_groups"][0]["rules"][0]["port_range_min"] == 22
    assert HostState.from_json(state.to_json()) == state


def test_digest_sees_rules_and_members() -> None:
    state = sample()
    fewer = replace(
        state,
        security_groups=(
            replace(state.security_groups[0], rules=state.security_groups[0].rules[1:]),
        ),
    )
    moved = replace(state, remote_groups=(RemoteGroup(G, ("192.0.2.10",)),))
    assert len({state.digest(), fewer.digest(), moved.digest()}) == 3


def test_older_state_without_security_parses_unfiltered() -> None:
    old = {
        "host": "hv1",
        "revision": 1,
        "networks": [],
        "l2pop": [],
        "ports": [
            {
                "id": "p1",
                "network_id": "n1",
                "mac_address": "fa:16:3e:00:00:01",
                "fixed_ips": [],
                "admin_state_up": True,
            }
        ],
    }
    state = HostState.from_dict(old)
    assert state.security_groups == () and state.remote_groups == ()
    assert not state.ports[0].port_security_enabled and state.ports[0].security_groups == ()


def test_members_go_one_item_each_and_an_older_controllers_lists_are_read() -> None:
    """On the wire a remote group is its id and each member an item of ``remote_members``;
    a group item that still lists its ``addresses`` (an older controller) is read as is."""
    wire = sample().to_dict()
    assert wire["remote_groups"] == [{"id": G}]
    assert wire["remote_members"] == [{"id": f"{G} 192.0.2.10"}, {"id": f"{G} 192.0.2.96/30"}]
    older = {**wire, "remote_groups": [{"id": G, "addresses": ["192.0.2.10"]}]}
    del older["remote_members"]
    assert HostState.from_dict(older).remote_groups == (RemoteGroup(G, ("192.0.2.10",)),)
