"""``openstack network flavor`` and ``network flavor profile``, ``router create --flavor``
and ``subnet create/set --service-type`` against a live neutrino, as an admin types them: a
profile naming the single-node router provider, a flavor bound to it, a router made with the
flavor (the flavor then refused deletion), and an external network whose floating IPs and
router gateways live on subnets of their own."""

from __future__ import annotations

import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients

SINGLE = "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"


def test_cli_flavors_and_routers(clouds: Clouds) -> None:
    os = clouds.openstack
    profile = os(
        ADMIN_CLOUD,
        "network",
        "flavor",
        "profile",
        "create",
        "--driver",
        SINGLE,
        "--description",
        "one node",
    )
    assert profile["driver"] == SINGLE and profile["enabled"] is True
    flavor = os(
        ADMIN_CLOUD,
        "network",
        "flavor",
        "create",
        "--service-type",
        "L3_ROUTER_NAT",
        "--description",
        "economy",
        "economy",
    )
    assert flavor["service_type"] == "L3_ROUTER_NAT" and flavor["enabled"] is True
    clouds.silent(ADMIN_CLOUD, "network", "flavor", "add", "profile", "economy", profile["id"])
    shown = os(ADMIN_CLOUD, "network", "flavor", "show", "economy")
    assert shown["service_profile_ids"] == [profile["id"]]
    listed = os(ADMIN_CLOUD, "network", "flavor", "list")
    assert [f["Name"] for f in listed] == ["economy"]
    assert profile["id"] in {
        p["ID"] for p in os(ADMIN_CLOUD, "network", "flavor", "profile", "list")
    }
    router = os(ADMIN_CLOUD, "router", "create", "--flavor", "economy", "flavored")
    assert router["flavor_id"] == flavor["id"]
    refused = clouds.run(ADMIN_CLOUD, "network", "flavor", "delete", "economy", check=False)
    assert refused.returncode != 0
    clouds.silent(ADMIN_CLOUD, "network", "flavor", "set", "--disable", "economy")
    assert os(ADMIN_CLOUD, "network", "flavor", "show", "economy")["enabled"] is False
    refused = clouds.run(ADMIN_CLOUD, "router", "create", "--flavor", "economy", "r2", check=False)
    assert refused.returncode != 0
    clouds.silent(ADMIN_CLOUD, "router", "delete", router["id"])
    clouds.silent(ADMIN_CLOUD, "network", "flavor", "remove", "profile", "economy", profile["id"])
    clouds.silent(ADMIN_CLOUD, "network", "flavor", "profile", "delete", profile["id"])
    clouds.silent(ADMIN_CLOUD, "network", "flavor", "delete", "economy")
    assert os(ADMIN_CLOUD, "network", "flavor", "list") == []


def test_cli_subnet_service_types(clouds: Clouds) -> None:
    os = clouds.openstack
    net = os(ADMIN_CLOUD, "network", "create", "--external", "typed-ext")
    gw = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "203.0.113.0/25",
        "--service-type",
        "network:router_gateway",
        "gw-sub",
    )
    assert gw["service_types"] == ["network:router_gateway"]
    fips = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "203.0.113.128/25",
        "fip-sub",
    )
    clouds.silent(ADMIN_CLOUD, "subnet", "set", "--service-type", "network:floatingip", fips["id"])
    assert os(ADMIN_CLOUD, "subnet", "show", fips["id"])["service_types"] == ["network:floatingip"]
    fip = os(ADMIN_CLOUD, "floating", "ip", "create", net["id"])
    assert int(fip["floating_ip_address"].rsplit(".", 1)[1]) >= 128
    router = os(ADMIN_CLOUD, "router", "create", "--external-gateway", net["id"], "gw-router")
    ips = router["external_gateway_info"]["external_fixed_ips"]
    assert [i["subnet_id"] for i in ips] == [gw["id"]]
    clouds.silent(
        ADMIN_CLOUD, "subnet", "unset", "--service-type", "network:floatingip", fips["id"]
    )
    assert os(ADMIN_CLOUD, "subnet", "show", fips["id"])["service_types"] == []
    clouds.silent(ADMIN_CLOUD, "floating", "ip", "delete", fip["id"])
    clouds.silent(ADMIN_CLOUD, "router", "delete", router["id"])
