"""HostState: kernel names, JSON round trip, content digest."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from neutrino.domain.hoststate import (
    FixedIp,
    HostRoute,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
    SubnetState,
    bridge_name,
    tap_name,
    vxlan_name,
)

NET = "0d5e1c4a-8f3b-4c2e-9a1d-6b7c8d9e0f10"
PORT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def sample(revision: int = 7) -> HostState:
    subnet = SubnetState(
        id="s1",
        cidr="192.0.2.0/24",
        ip_version=4,
        gateway_ip="192.0.2.1",
        enable_dhcp=True,
        dns_nameservers=("192.0.2.53",),
        host_routes=(HostRoute("203.0.113.0/24", "192.0.2.254"),),
    )
    v6 = SubnetState(
        id="s2",
        cidr="2001:db8::/64",
        ip_version=6,
        gateway_ip=None,
        enable_dhcp=True,
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    return HostState(
        host="hv1",
        revision=revision,
        tunnel_ip="198.51.100.1",
        networks=(NetworkState(NET, "vxlan", 1001, None, 1450, (subnet, v6)),),
        ports=(PortState(PORT, NET, "fa:16:3e:00:00:01", (FixedIp("s1", "192.0.2.10"),), True),),
        l2pop=(
            L2Pop(
                NET,
                ("198.51.100.2",),
                (RemotePort("p2", "fa:16:3e:00:00:02", ("192.0.2.11",), "198.51.100.2"),),
            ),
        ),
    )


def test_kernel_names_follow_neutron() -> None:
    assert tap_name(PORT) == "tapa1b2c3d4-e5"
    assert bridge_name(NET) == "brq0d5e1c4a-8f"
    assert vxlan_name(1001) == "vxlan-1001"
    state = sample()
    assert state.ports[0].device_name == "tapa1b2c3d4-e5"
    assert state.ports[0].bridge_name == state.networks[0].bridge_name == "brq0d5e1c4a-8f"


def test_json_round_trip_is_lossless() -> None:
    state = sample()
    wire = state.to_dict()
    assert wire["ports"][0]["device_name"] == "tapa1b2c3d4-e5"
    assert wire["networks"][0]["subnets"][0]["host_routes"] == [
        {"destination": "203.0.113.0/24", "nexthop": "192.0.2.254"}
    ]
    assert HostState.from_json(state.to_json()) == state
    assert HostState.from_dict(wire) == state
    assert HostState.from_json(HostState("hv9", 0).to_json()) == HostState("hv9", 0)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def test_wire_form_is_asdict_with_lists_and_derived_names() -> None:
    """``to_dict``'s one-pass conversion gives what ``asdict`` gives, tuples as lists (remote
    groups apart: their members are items of their own, see ``test_sgstate``)."""
    state = sample()
    expected = _lists(asdict(state)) | {"remote_groups": [], "remote_members": []}
    expected["networks"][0]["bridge_name"] = state.networks[0].bridge_name
    expected["ports"][0] |= {"device_name": "tapa1b2c3d4-e5", "bridge_name": "brq0d5e1c4a-8f"}
    assert state.to_dict() == expected
    assert isinstance(state.to_dict()["l2pop"][0]["ports"][0]["ip_addresses"], list)


def test_digest_ignores_revision_but_not_content() -> None:
    assert sample(1).digest() == sample(2).digest()
    moved = HostState.from_dict({**sample().to_dict(), "tunnel_ip": "198.51.100.9"})
    assert moved.digest() != sample().digest()
    assert sample().network_ids == frozenset({NET})
