"""IPAM arithmetic: default pools and gateways (Neutron's rules), pool validation, free
intervals, the window pick (property tests), EUI-64 vectors and the sortable key."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neutrino.common.errors import NeutrinoError
from neutrino.domain import ipam as ip


def _ranges(cidr: str, gateway: str | None) -> list[str]:
    net = ip.network(cidr)
    gw = None if gateway is None else ip.to_int(gateway)
    return [ip.format_range(p, net.version) for p in ip.default_pools(net, gw)]


# --- layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "gateway", "pools"),
    [
        ("10.10.0.0/24", "10.10.0.1", ["10.10.0.2-10.10.0.254"]),  # sample 12
        ("fd00:10::/64", "fd00:10::", ["fd00:10::1-fd00:10::ffff:ffff:ffff:ffff"]),  # sample 13
        ("10.0.0.0/24", "10.0.0.254", ["10.0.0.1-10.0.0.253"]),
        ("10.0.0.0/24", "10.0.0.100", ["10.0.0.1-10.0.0.99", "10.0.0.101-10.0.0.254"]),
        ("10.0.0.0/24", None, ["10.0.0.1-10.0.0.254"]),
        ("10.0.0.0/24", "100.0.0.1", ["10.0.0.1-10.0.0.254"]),  # gateway outside the cidr
        ("10.0.0.0/30", "10.0.0.1", ["10.0.0.2-10.0.0.2"]),
        ("10.14.0.20/31", "10.14.0.19", ["10.14.0.20-10.14.0.21"]),  # /31: both addresses
        ("10.0.0.0/31", "10.0.0.1", ["10.0.0.0-10.0.0.0"]),
        ("10.0.0.7/32", "10.0.0.8", ["10.0.0.7-10.0.0.7"]),
        ("2001:db8::/127", "2001:db8::", ["2001:db8::1-2001:db8::1"]),
        ("2001:db8::5/128", "2001:db8::5", ["2001:db8::5-2001:db8::5"]),
        ("2001::/64", "2001::1", ["2001::2-2001::ffff:ffff:ffff:ffff"]),
    ],
)
def test_default_pools_follow_neutron(cidr: str, gateway: str | None, pools: list[str]) -> None:
    assert _ranges(cidr, gateway) == pools


def test_default_gateway_is_first_host_v4_and_prefix_v6() -> None:
    assert ip.to_text(ip.default_gateway(ip.network("10.0.0.0/24")), 4) == "10.0.0.1"
    assert ip.to_text(ip.default_gateway(ip.network("10.0.0.9/32")), 4) == "10.0.0.10"
    assert ip.to_text(ip.default_gateway(ip.network("2001:db8::/64")), 6) == "2001:db8::"


def test_gateway_validity() -> None:
    net = ip.network("10.0.0.0/24")
    assert ip.gateway_invalid(net, ip.to_int("10.0.0.0"))
    assert ip.gateway_invalid(net, ip.to_int("10.0.0.255"))
    assert not ip.gateway_invalid(net, ip.to_int("10.0.0.254"))
    assert not ip.gateway_invalid(net, ip.to_int("192.0.2.1"))  # outside: allowed
    assert not ip.gateway_invalid(ip.network("2001:db8::/64"), ip.to_int("2001:db8::"))


def test_valid_for_subnet() -> None:
    v4, v6 = ip.network("10.0.0.0/24"), ip.network("2001:db8::/64")
    assert not ip.valid_for_subnet(v4, ip.to_int("10.0.0.0"))
    assert not ip.valid_for_subnet(v4, ip.to_int("10.0.0.255"))
    assert not ip.valid_for_subnet(v4, ip.to_int("10.0.1.1"))
    assert ip.valid_for_subnet(v4, ip.to_int("10.0.0.1"))  # the gateway is not excluded
    assert ip.valid_for_subnet(ip.network("10.0.0.0/31"), ip.to_int("10.0.0.0"))
    anycast = ip.to_int("2001:db8::")
    assert ip.valid_for_subnet(v6, anycast, "network:router_interface")
    assert ip.valid_for_subnet(v6, anycast, "")
    assert not ip.valid_for_subnet(v6, anycast, "compute:nova")
    assert ip.valid_for_subnet(v6, ip.to_int("2001:db8::ffff:ffff:ffff:ffff"), "compute:nova")


def test_parse_pools_accepts_and_sorts() -> None:
    net = ip.network("10.0.0.0/24")
    pools = ip.parse_pools(
        net,
        [{"start": "10.0.0.110", "end": "10.0.0.150"}, {"start": "10.0.0.2", "end": "10.0.0.100"}],
    )
    assert [ip.format_range(p, 4) for p in pools] == [
        "10.0.0.2-10.0.0.100",
        "10.0.0.110-10.0.0.150",
    ]
    assert ip.parse_pools(net, []) == []
    assert ip.parse_pools(
        ip.network("10.14.0.20/31"), [{"start": "10.14.0.20", "end": "10.14.0.21"}]
    ) == [(ip.to_int("10.14.0.20"), ip.to_int("10.14.0.21"))]


@pytest.mark.parametrize(
    ("pools", "status", "kind", "message"),
    [
        (
            [{"start": "10.0.0.20", "end": "10.0.0.10"}],
            400,
            "InvalidAllocationPool",
            "The allocation pool {'start': '10.0.0.20', 'end': '10.0.0.10'} is not valid.",
        ),
        (
            [{"start": "fe80::2", "end": "fe80::ffff"}],
            400,
            "InvalidAllocationPool",
            "The allocation pool fe80::2-fe80::ffff is not valid.",
        ),
        (
            [{"start": "10.0.0.200", "end": "10.0.3.20"}],
            400,
            "OutOfBoundsAllocationPool",
            "The allocation pool 10.0.0.200-10.0.3.20 spans beyond the subnet cidr 10.0.0.0/24.",
        ),
        (
            [{"start": "10.0.0.0", "end": "10.0.0.50"}],
            400,
            "OutOfBoundsAllocationPool",
            "The allocation pool 10.0.0.0-10.0.0.50 spans beyond the subnet cidr 10.0.0.0/24.",
        ),
        (
            [
                {"start": "10.0.0.20", "end": "10.0.0.40"},
                {"start": "10.0.0.30", "end": "10.0.0.50"},
            ],
            409,
            "OverlappingAllocationPools",
            "Found overlapping allocation pools: "
            "10.0.0.20-10.0.0.40 10.0.0.30-10.0.0.50 for subnet 10.0.0.0/24.",
        ),
    ],
)
def test_parse_pools_rejects_like_neutron(
    pools: list[dict[str, str]], status: int, kind: str, message: str
) -> None:
    with pytest.raises(NeutrinoError) as err:
        ip.parse_pools(ip.network("10.0.0.0/24"), pools)
    assert (err.value.status, err.value.type, err.value.message) == (status, kind, message)


def test_gateway_inside_a_pool_conflicts() -> None:
    pools = [(ip.to_int("10.0.0.1"), ip.to_int("10.0.0.100"))]
    ip.check_gateway_outside(None, pools, 4)
    ip.check_gateway_outside(ip.to_int("10.0.0.101"), pools, 4)
    with pytest.raises(NeutrinoError) as err:
        ip.check_gateway_outside(ip.to_int("10.0.0.50"), pools, 4)
    assert err.value.status == 409 and err.value.type == "GatewayConflictWithAllocationPools"
    assert err.value.message == (
        "Gateway ip 10.0.0.50 conflicts with allocation pool 10.0.0.1-10.0.0.100."
    )


# --- EUI-64 and keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "mac", "address"),
    [
        ("fd00:10::/64", "fa:16:3e:df:80:e1", "fd00:10::f816:3eff:fedf:80e1"),  # sample 18
        ("2001:db8::/64", "00:16:3e:33:44:55", "2001:db8::216:3eff:fe33:4455"),
        ("fe80::/64", "ee:ee:ee:ee:ee:ee", "fe80::ecee:eeff:feee:eeee"),
        ("2001:db8:1:2::/64", "02:00:00:00:00:01", "2001:db8:1:2:0:ff:fe00:1"),  # U/L bit
    ],
)
def test_eui64_vectors(prefix: str, mac: str, address: str) -> None:
    value = ip.eui64(ip.network(prefix), mac)
    assert ip.to_text(value, 6) == address
    assert ip.is_eui64(address)


def test_is_eui64_rejects_pool_addresses() -> None:
    assert not ip.is_eui64("2001:db8::2")
    assert not ip.is_eui64("10.0.0.2")


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_key_order_is_numeric_order_v4(a: int, b: int) -> None:
    assert (ip.key(a, 4) < ip.key(b, 4)) == (a < b)
    assert ip.from_key(ip.key(a, 4)) == a


@given(st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1))
def test_key_order_is_numeric_order_v6(a: int, b: int) -> None:
    assert (ip.key(a, 6) < ip.key(b, 6)) == (a < b)
    assert ip.key_of(ip.to_text(a, 6)) == ip.key(a, 6)


# --- free intervals and the pick ------------------------------------------------------------


@given(st.integers(0, 200), st.integers(0, 60), st.lists(st.integers(0, 300), max_size=80))
def test_gaps_partition_the_range(lo: int, width: int, used: list[int]) -> None:
    hi = lo + width
    used_sorted = sorted(set(used))
    free = list(ip.gaps(lo, hi, used_sorted))
    covered = {a for first, last in free for a in range(first, last + 1)}
    inside_used = {u for u in used_sorted if lo <= u <= hi}
    assert covered | inside_used == set(range(lo, hi + 1))
    assert not covered & inside_used
    assert all(a[1] < b[0] - 1 for a, b in itertools.pairwise(free))  # maximal, sorted


@st.composite
def subnets(draw: st.DrawFn) -> tuple[ip.Network, int | None]:
    if draw(st.booleans()):
        prefix = draw(st.integers(23, 32))
        base = draw(st.integers(0, 2**32 - 1)) >> (32 - prefix) << (32 - prefix)
        net: ip.Network = ipaddress.IPv4Network((base, prefix))
    else:
        prefix = draw(st.integers(118, 128))
        base = draw(st.integers(1, 2**128 - 1)) >> (128 - prefix) << (128 - prefix)
        net = ipaddress.IPv6Network((base, prefix))
    first, last = int(net.network_address), int(net.broadcast_address)
    gateway = draw(st.one_of(st.none(), st.just(ip.default_gateway(net)), st.integers(first, last)))
    if gateway is not None and ip.gateway_invalid(net, gateway):
        gateway = None
    return net, gateway


@settings(max_examples=300, deadline=None)
@given(subnets(), st.data(), st.integers(1, 32), st.randoms(use_true_random=False))
def test_pick_is_a_free_pool_address_within_the_window(
    subnet: tuple[ip.Network, int | None], data: st.DataObject, window: int, rng: random.Random
) -> None:
    net, gateway = subnet
    pools = ip.default_pools(net, gateway)
    first, last = int(net.network_address), int(net.broadcast_address)
    used = set(data.draw(st.lists(st.integers(first, min(last, first + 1100)), max_size=400)))
    if data.draw(st.booleans()):  # a full subnet now and then
        used |= {a for p in pools for a in range(p[0], min(p[1], p[0] + 1100) + 1)}
    free = ip.free_intervals(pools, used, window)
    picked = ip.pick(free, window, rng)
    brute = [a for p in pools for a in range(p[0], min(p[1], p[0] + 2000) + 1) if a not in used][
        :window
    ]
    if picked is None:
        assert brute == []  # exhaustion is reported only when nothing is free
        return
    assert picked in brute  # one of the first `window` free addresses
    assert any(p[0] <= picked <= p[1] for p in pools)
    assert picked not in used
    if first == last:
        return  # a single-address subnet's one address is its pool (Neutron), gateway or not
    assert picked != gateway
    if net.version == 4 and net.prefixlen <= 30:
        assert picked not in (first, last)
    if net.version == 6:
        assert picked != first  # the subnet-router anycast address
    assert ip.valid_for_subnet(net, picked, "compute:nova")


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10)), min_size=1, max_size=5),
    st.integers(1, 40),
    st.integers(0, 2**32),
)
def test_pick_covers_the_whole_window(raw: list[tuple[int, int]], window: int, seed: int) -> None:
    rng = random.Random(seed)
    free, cursor = [], 0
    for gap, width in raw:
        free.append((cursor + gap, cursor + gap + width))
        cursor += gap + width + 2
    allowed = {a for first, last in ip.take(free, window) for a in range(first, last + 1)}
    assume(allowed)
    seen = {ip.pick(free, window, rng) for _ in range(400)}
    assert seen <= allowed
    if len(allowed) <= 8:
        assert seen == allowed  # every candidate is reachable


def test_pick_on_nothing_is_none() -> None:
    assert ip.pick([], 16) is None
    assert ip.free_intervals([(10, 12)], [10, 11, 12], 16) == []


def test_free_intervals_stop_at_the_limit_in_pool_order() -> None:
    pools = [(100, 105), (10, 12)]  # pool order is the caller's
    assert ip.free_intervals(pools, [101, 102], 4) == [(100, 100), (103, 105)]
    assert ip.free_intervals(pools, [100, 101, 102, 103, 104, 105], 2) == [(10, 11)]
