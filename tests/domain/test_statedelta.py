"""Host-state deltas: patch(old, diff(old, new)) == new, and a delta carries only changes."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from neutrino.domain.hoststate import FixedIp, HostState, L2Pop, PortState, RemotePort
from neutrino.domain.statedelta import diff, is_empty, patch

NET = "11111111-1111-4111-8111-111111111111"


def port(pid: str, ip: str) -> PortState:
    return PortState(
        id=pid,
        network_id=NET,
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("s", ip),),
        admin_state_up=True,
    )


def test_one_port_changed_among_many_sends_that_port_only() -> None:
    ports = tuple(port(f"p{i:04d}", f"192.0.2.{i % 250}") for i in range(300))
    old = HostState(host="hv1", revision=5, ports=ports).to_dict()
    changed = (
        *ports[:10],
        port("p0010", "192.0.2.99"),
        *ports[11:150],
        *ports[151:],
        port("p9999", "192.0.2.1"),
    )
    new = HostState(host="hv1", revision=6, ports=changed).to_dict()
    delta = diff(old, new)
    assert delta["set"] == {"revision": 6}
    assert [p["id"] for p in delta["upsert"]["ports"]["items"]] == ["p0010", "p9999"]
    assert delta["remove"]["ports"]["keys"] == ["p0150"]
    assert patch(old, delta) == new
    assert HostState.from_dict(patch(old, delta)) == HostState.from_dict(new)


def test_per_network_sections_are_keyed_by_network_and_empty_means_nothing() -> None:
    pop = L2Pop(
        network_id=NET,
        vteps=("198.51.100.2",),
        ports=(RemotePort("r1", "fa:16:3e:00:00:02", ("192.0.2.2",), "198.51.100.2"),),
    )
    other = L2Pop(network_id="2" + NET[1:], vteps=("198.51.100.3",))
    old = HostState(host="hv1", revision=1, l2pop=(pop, other)).to_dict()
    new = HostState(host="hv1", revision=1, l2pop=(other,)).to_dict()
    delta = diff(old, new)
    assert delta["remove"] == {"l2pop": {"key": "network_id", "keys": [NET]}}
    assert patch(old, delta) == new
    assert is_empty(diff(new, new))


item = st.fixed_dictionaries({"id": st.sampled_from("abcdefgh"), "v": st.integers(0, 3)})
keyed = st.lists(item, unique_by=lambda i: i["id"]).map(
    lambda items: sorted(items, key=lambda i: i["id"])
)
state = st.fixed_dictionaries(
    {
        "host": st.just("hv1"),
        "revision": st.integers(0, 9),
        "tunnel_ip": st.none() | st.sampled_from(["198.51.100.1", "198.51.100.2"]),
        "ports": keyed,
        "networks": keyed,
        "plain": st.lists(st.integers(0, 3), max_size=3),  # not keyed: sent whole
    }
)


@given(state, state)
def test_patch_of_diff_is_the_new_state(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert patch(old, diff(old, new)) == new
    assert is_empty(diff(old, new)) == (old == new)
