"""Prefix arithmetic of subnet pools (``domain/prefixes.py``), against ``ipaddress`` as the
oracle where one exists."""

from __future__ import annotations

import ipaddress
import random

from neutrino.domain import prefixes as px


def nets(*cidrs: str) -> list[px.Network]:
    return [px.network(c) for c in cidrs]


def test_compact_merges_overlapping_and_adjacent() -> None:
    got = px.compact(nets("10.0.0.128/25", "10.0.0.0/25", "10.0.0.0/26", "10.1.0.0/16"))
    assert [str(n) for n in got] == ["10.0.0.0/24", "10.1.0.0/16"]
    assert [str(n) for n in px.compact(nets("2001:db8::/49", "2001:db8:0:8000::/49"))] == [
        "2001:db8::/48"
    ]


def test_compact_matches_ipaddress_collapse() -> None:
    rng = random.Random(7)
    for _ in range(200):
        given = [
            ipaddress.ip_network(
                f"10.{rng.randrange(4)}.{rng.randrange(256)}.0/{rng.randint(20, 26)}", strict=False
            )
            for _ in range(rng.randint(1, 8))
        ]
        assert px.compact(given) == list(ipaddress.collapse_addresses(given))


def test_stored_interval_is_the_networks() -> None:
    for cidr in ("10.0.0.0/8", "192.0.2.64/26", "2001:db8::/64", "::/0", "0.0.0.0/0"):
        assert px.stored_interval(cidr) == px.interval(px.network(cidr))


def test_free_space_and_best_fit() -> None:
    free = px.free(["192.0.2.0/24", "198.51.100.0/28"], ["192.0.2.0/26"])
    assert [str(n) for n in px.blocks(free, 4)] == [
        "192.0.2.64/26",
        "192.0.2.128/25",
        "198.51.100.0/28",
    ]
    assert str(px.allocate_any(free, 28, 4)) == "198.51.100.0/28"  # the smallest block that fits
    assert str(px.allocate_any(free, 26, 4)) == "192.0.2.64/26"
    assert str(px.allocate_any(free, 25, 4)) == "192.0.2.128/25"
    assert px.allocate_any(free, 24, 4) is None
    assert px.allocate_specific(free, px.network("192.0.2.192/27"))
    assert not px.allocate_specific(free, px.network("192.0.2.32/27"))  # handed out
    assert not px.allocate_specific(free, px.network("198.51.100.0/27"))  # past the prefix


def test_allocations_never_overlap_until_exhausted() -> None:
    rng = random.Random(3)
    prefixes = ["10.0.0.0/22", "10.0.8.0/24"]
    taken: list[str] = []
    while True:
        length = rng.randint(24, 28)
        found = px.allocate_any(px.free(prefixes, taken), length, 4)
        if found is None:
            break
        assert found.prefixlen == length
        for other in taken:
            assert not found.overlaps(px.network(other)), (found, other)
        assert any(found.subnet_of(px.network(p)) for p in prefixes)  # type: ignore[arg-type]
        taken.append(str(found))
    room = sum(px.network(p).num_addresses for p in prefixes)
    used = sum(px.network(t).num_addresses for t in taken)
    assert room - used < 2 ** (32 - 24)  # stopped only when a /24 no longer fits


def test_subtract_contains_overlap() -> None:
    have = px.span(nets("10.0.0.0/24"))
    assert px.subtract(have, px.span(nets("10.0.0.64/26"))) == [
        (px.interval(px.network("10.0.0.0/26"))[0], px.interval(px.network("10.0.0.0/26"))[1]),
        px.interval(px.network("10.0.0.128/25")),
    ]
    assert px.contains(have, px.span(nets("10.0.0.128/25")))
    assert not px.contains(have, px.span(nets("10.0.1.0/25")))
    assert px.overlap(have, px.span(nets("10.0.0.0/8")))
    assert not px.overlap(have, px.span(nets("10.0.1.0/24")))


def test_quota_units() -> None:
    assert px.quota_units(24, 4) == 256
    assert px.quota_units(64, 6) == 1
    assert px.quota_units(56, 6) == 256
    assert px.quota_units(65, 6) == 0.5
