"""Pure rules of the vmm model: validation and the MAC pool."""

from __future__ import annotations

import pytest

from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.vmm import macpool
from neutrino.vmm.model import (
    Provider,
    check_interval,
    check_mac,
    check_security_groups,
    check_url,
    keystone_version_of,
)


def test_security_groups_keep_unset_empty_and_list_apart() -> None:
    assert check_security_groups(None) is None
    assert check_security_groups([]) == []
    assert check_security_groups(["a", "b"]) == ["a", "b"]
    for bad in ("default", [""], [1], ["a", "a"], {}):
        with pytest.raises(InvalidInput):
            check_security_groups(bad)


def test_urls_and_keystone_versions() -> None:
    assert check_url("http://h:9696/", "url") == "http://h:9696"
    for bad in ("h:9696", "ftp://h", "", None, "http://"):
        with pytest.raises(InvalidInput):
            check_url(bad, "url")
    assert keystone_version_of("http://h/identity/v2.0") == "v2.0"
    assert keystone_version_of("http://h/identity/v3") == "v3"
    assert keystone_version_of("http://h:5000") == "v3"
    assert keystone_version_of("http://h:5000", "v2.0") == "v2.0"
    with pytest.raises(InvalidInput):
        keystone_version_of("http://h", "v4")


def test_interval_bounds() -> None:
    assert check_interval(0) == 0
    assert check_interval(300) == 300
    for bad in (-1, True, "300", 1.5, 86401):
        with pytest.raises(InvalidInput):
            check_interval(bad)


def test_provider_view_never_shows_the_password() -> None:
    p = Provider(name="p", url="http://n", auth_url="http://k/v3", username="u", password="pw")
    assert "password" not in p.view()
    assert p.view()["username"] == "u"


def test_mac_checks() -> None:
    assert check_mac("02:6E:00:00:00:01") == "02:6e:00:00:00:01"
    for bad in ("01:00:5e:00:00:01", "02:6e:00:00:00", "zz:00:00:00:00:00", 5):
        with pytest.raises(InvalidInput):
            check_mac(bad)


def test_mac_pool_hands_out_the_lowest_free_address_then_runs_dry() -> None:
    pool = "02:00:00:00:00:fe-02:00:00:00:01:01"
    assert macpool.allocate(pool, []) == "02:00:00:00:00:fe"
    assert macpool.allocate(pool, ["02:00:00:00:00:fe", "02:00:00:00:01:00"]) == "02:00:00:00:00:ff"
    full = ["02:00:00:00:00:fe", "02:00:00:00:00:ff", "02:00:00:00:01:00", "02:00:00:00:01:01"]
    with pytest.raises(NamedConflict) as err:
        macpool.allocate(pool, full)
    assert err.value.type == "MacPoolExhausted"
    assert macpool.contains(pool, "02:00:00:00:01:00")
    assert not macpool.contains(pool, "02:00:00:00:01:02")


@pytest.mark.parametrize(
    "pool",
    [
        "02:00:00:00:00:01",
        "02:00:00:00:00:09-02:00:00:00:00:01",
        "02:ff:ff:ff:ff:ff-04:00:00:00:00:00",
        "03:00:00:00:00:00-03:00:00:00:00:01",
    ],
)
def test_bad_mac_pools_are_refused(pool: str) -> None:
    with pytest.raises(InvalidInput):
        macpool.parse_range(pool)
