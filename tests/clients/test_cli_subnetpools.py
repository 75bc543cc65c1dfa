"""``openstack address scope`` and ``openstack subnet pool`` against a live neutrino, as a
user types them: a scope, a default pool in it with a prefix added later, a subnet carved
from the pool by prefix length and one from the default pool, the network's address scope,
and the deletes refused while in use."""

from __future__ import annotations

import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_cli_address_scope_and_subnet_pool(clouds: Clouds) -> None:
    os = clouds.openstack
    scope = os(ADMIN_CLOUD, "address", "scope", "create", "--ip-version", "4", "--share", "as1")
    assert scope["shared"] is True and scope["ip_version"] == 4
    pool = os(
        ADMIN_CLOUD,
        "subnet",
        "pool",
        "create",
        "--pool-prefix",
        "198.51.100.0/25",
        "--default-prefix-length",
        "28",
        "--address-scope",
        scope["id"],
        "--default",
        "--tag",
        "blue",
        "pool1",
    )
    assert pool["prefixes"] == ["198.51.100.0/25"] and pool["is_default"] is True
    clouds.silent(
        ADMIN_CLOUD, "subnet", "pool", "set", "--pool-prefix", "198.51.100.128/25", pool["id"]
    )
    shown = os(ADMIN_CLOUD, "subnet", "pool", "show", pool["id"])
    assert shown["prefixes"] == ["198.51.100.0/24"] and shown["tags"] == ["blue"]
    assert pool["id"] in {p["ID"] for p in os(ADMIN_CLOUD, "subnet", "pool", "list", "--default")}
    net = os(ADMIN_CLOUD, "network", "create", "pool-net")
    sub = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-pool",
        pool["id"],
        "--prefix-length",
        "27",
        "pool-sub",
    )
    assert sub["subnetpool_id"] == pool["id"] and sub["cidr"].endswith("/27")
    other = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--use-default-subnet-pool",
        "pool-sub2",
    )
    assert other["cidr"].endswith("/28") and other["cidr"] != sub["cidr"]
    assert os(ADMIN_CLOUD, "network", "show", net["id"])["ipv4_address_scope"] == scope["id"]
    refused = clouds.run(ADMIN_CLOUD, "subnet", "pool", "delete", pool["id"], check=False)
    assert refused.returncode != 0
    refused = clouds.run(ADMIN_CLOUD, "address", "scope", "delete", scope["id"], check=False)
    assert refused.returncode != 0
    for subnet in (sub, other):
        clouds.silent(ADMIN_CLOUD, "subnet", "delete", subnet["id"])
    clouds.silent(ADMIN_CLOUD, "subnet", "pool", "delete", pool["id"])
    clouds.silent(ADMIN_CLOUD, "address", "scope", "delete", scope["id"])
    assert os(ADMIN_CLOUD, "address", "scope", "list") == []
