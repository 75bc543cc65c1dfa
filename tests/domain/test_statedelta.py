"""Host-state deltas: patch(old, diff(old, new)) == new, and a delta carries only changes."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from neutrino.domain.hoststate import FixedIp, HostState, L2Pop, PortState, RemotePort
from neutrino.domain.sgstate import RemoteGroup
from neutrino.domain.statedelta import advance_digest, diff, digest, find, is_empty, patch

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


ids = st.sampled_from([f"{c}{NET[1:]}" for c in "0123456789"])
port_state = st.builds(
    lambda pid, ip, up, groups: PortState(
        id=pid,
        network_id=NET,
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("s", f"192.0.2.{ip}"),),
        admin_state_up=up,
        security_groups=groups,
    ),
    ids,
    st.integers(1, 9),
    st.booleans(),
    st.lists(st.sampled_from("gh"), unique=True).map(tuple),
)
host_state = st.builds(
    lambda ports, remotes, tunnel, groups: HostState(
        host="hv1",
        revision=1,
        tunnel_ip=tunnel,
        ports=tuple(sorted({p.id: p for p in ports}.values(), key=lambda p: p.id)),
        l2pop=(L2Pop(NET, ("198.51.100.2",), tuple(remotes)),) if remotes else (),
        remote_groups=tuple(  # a group's members: its ports' addresses (it may have none)
            RemoteGroup(
                g,
                tuple(sorted({p.fixed_ips[0].ip_address for p in ports if g in p.security_groups})),
            )
            for g in groups
        ),
    ),
    st.lists(port_state, max_size=6),
    st.lists(
        st.builds(RemotePort, ids, st.just("fa:16:3e:00:00:02"), st.just(()), st.just("v")),
        max_size=2,
        unique_by=lambda r: r.id,
    ).map(lambda rs: sorted(rs, key=lambda r: r.id)),
    st.none() | st.just("198.51.100.1"),
    st.lists(st.sampled_from("gh"), unique=True).map(sorted),
)


@given(host_state, host_state)
def test_a_state_patched_in_place_equals_the_state_parsed_whole(
    old: HostState, new: HostState
) -> None:
    """The agent's copy is patched item by item (``HostState.patched``): the same state as
    parsing the patched wire form whole, unchanged items kept as the very same objects."""
    delta = diff(old.to_dict(), new.to_dict())
    patched = old.patched(delta)
    assert patched == HostState.from_dict(patch(old.to_dict(), delta)) == new
    kept = {p.id: p for p in old.ports}
    assert all(kept.get(p.id) is p for p in patched.ports if kept.get(p.id) == p)


@given(state, state)
def test_the_digest_follows_a_delta_item_by_item(old: dict[str, Any], new: dict[str, Any]) -> None:
    """``advance_digest`` (hashing only the items a delta names) gives the digest of the
    patched state; equal content, equal digest; the revision is not content."""
    delta = diff(old, new)
    assert advance_digest(digest(old), old, delta) == digest(new)
    assert (digest(old) == digest(new)) == ({**old, "revision": 0} == {**new, "revision": 0})


@given(host_state, host_state)
def test_host_state_digests_follow_deltas(old: HostState, new: HostState) -> None:
    before, after = old.to_dict(), new.to_dict()
    assert advance_digest(old.digest(), before, diff(before, after)) == new.digest()


def reference_patch(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``patch`` as a whole-list rebuild: a map of every item, sorted again."""
    new = {**old, **delta["set"]}
    for field in set(delta["upsert"]) | set(delta["remove"]):
        key = (delta["upsert"].get(field) or delta["remove"][field])["key"]
        items = {i[key]: i for i in old.get(field) or ()}
        for k in delta["remove"].get(field, {}).get("keys", ()):
            items.pop(k, None)
        for i in delta["upsert"].get(field, {}).get("items", ()):
            items[i[key]] = i
        new[field] = [items[k] for k in sorted(items)]
    return new


# any delta, not only diff's: keys removed that are absent, removed and upserted at once
keys = st.lists(st.sampled_from("abcdefgh"), unique=True)
delta = st.fixed_dictionaries(
    {
        "set": st.just({}),
        "upsert": st.fixed_dictionaries(
            {
                "ports": st.builds(
                    lambda items: {"key": "id", "items": items},
                    st.lists(item, unique_by=lambda i: i["id"]),
                )
            }
        ),
        "remove": st.fixed_dictionaries(
            {"ports": st.builds(lambda ks: {"key": "id", "keys": ks}, keys)}
        ),
    }
)


@given(state, delta)
def test_patch_finds_the_items_a_delta_names_in_the_sorted_lists(
    old: dict[str, Any], change: dict[str, Any]
) -> None:
    """``patch`` bisects the sorted lists instead of mapping them whole: the same result as
    the whole rebuild, and ``advance_digest`` still follows it; ``find`` finds each item."""
    assert patch(old, change) == reference_patch(old, change)
    assert advance_digest(digest(old), old, change) == digest(patch(old, change))
    for k in "abcdefgh":
        assert find(old["ports"], "id", k) == next((i for i in old["ports"] if i["id"] == k), None)
