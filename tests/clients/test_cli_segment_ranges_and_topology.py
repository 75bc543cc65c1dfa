"""``openstack network segment range`` against a live neutrino, as an admin types it: a shared
range and a project's own VLAN range, the defaults from configuration in the list, a resize,
a provider network of that project drawing from its range, and the deletes Neutron refuses
(a default range; a range with an id in use). And ``openstack network auto allocated
topology``: the check refused without a default pool, then passed, the topology made once,
shown again, and deleted."""

from __future__ import annotations

import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_cli_network_segment_ranges(clouds: Clouds) -> None:
    os = clouds.openstack
    shared = os(
        ADMIN_CLOUD,
        *("network", "segment", "range", "create", "--shared", "--network-type", "vxlan"),
        *("--minimum", "5000", "--maximum", "5009", "r-shared"),
    )
    assert shared["shared"] is True and shared["default"] is False
    assert shared["available"] == ["5000-5009"]
    private = os(
        ADMIN_CLOUD,
        *("network", "segment", "range", "create", "--private", "--project", "admin"),
        *("--network-type", "vlan", "--physical-network", "physnet1"),
        *("--minimum", "300", "--maximum", "305", "r-private"),
    )
    assert private["shared"] is False and private["physical_network"] == "physnet1"
    listed = {r["Name"]: r for r in os(ADMIN_CLOUD, "network", "segment", "range", "list")}
    assert {"r-shared", "r-private"} <= listed.keys()
    assert [r["Minimum ID"] for r in listed.values() if r["Default"]] != []
    clouds.silent(
        ADMIN_CLOUD,
        *("network", "segment", "range", "set", "--name", "r-wide"),
        *("--minimum", "4990", "--maximum", "5020", shared["id"]),
    )
    shown = os(ADMIN_CLOUD, "network", "segment", "range", "show", "r-wide")
    assert (shown["minimum"], shown["maximum"]) == (4990, 5020)
    net = os(ADMIN_CLOUD, "network", "create", "--provider-network-type", "vlan", "vlan-net")
    assert (net["provider:physical_network"], net["provider:segmentation_id"]) == ("physnet1", 300)
    shown = os(ADMIN_CLOUD, "network", "segment", "range", "show", private["id"])
    assert shown["available"] == ["301-305"] and list(shown["used"].values()) == [["300"]]
    refused = clouds.run(
        ADMIN_CLOUD, "network", "segment", "range", "delete", private["id"], check=False
    )
    assert refused.returncode != 0 and "referenced" in refused.stderr
    default = next(r for r in listed.values() if r["Default"])
    refused = clouds.run(
        ADMIN_CLOUD, "network", "segment", "range", "delete", default["ID"], check=False
    )
    assert refused.returncode != 0 and "default segment range" in refused.stderr
    clouds.silent(ADMIN_CLOUD, "network", "delete", net["id"])
    clouds.silent(ADMIN_CLOUD, "network", "segment", "range", "delete", private["id"], "r-wide")
    names = {r["Name"] for r in os(ADMIN_CLOUD, "network", "segment", "range", "list")}
    assert not {"r-wide", "r-private"} & names


def test_cli_auto_allocated_topology(clouds: Clouds) -> None:
    os = clouds.openstack
    ext = os(ADMIN_CLOUD, "network", "create", "--external", "--default", "ext")
    assert ext["is_default"] is True
    os(ADMIN_CLOUD, "subnet", "create", "--network", "ext", "--subnet-range", "203.0.113.0/24", "s")
    topology = ("network", "auto", "allocated", "topology")
    refused = clouds.run(ADMIN_CLOUD, *topology, "create", "--check-resources", check=False)
    assert refused.returncode != 0 and "No default subnetpools defined" in refused.stderr
    os(
        ADMIN_CLOUD,
        *("subnet", "pool", "create", "--default", "--share"),
        *("--pool-prefix", "198.51.100.0/24", "--default-prefix-length", "28", "default-v4"),
    )
    assert set(os(ADMIN_CLOUD, *topology, "create", "--check-resources")) == {"dry_run"}
    made = os(ADMIN_CLOUD, *topology, "create")
    again = os(ADMIN_CLOUD, *topology, "create", "--or-show")
    assert made["id"] == again["id"]
    net = os(ADMIN_CLOUD, "network", "show", made["id"])
    assert net["name"] == "auto_allocated_network"
    routers = os(ADMIN_CLOUD, "router", "list", "--name", "auto_allocated_router")
    assert len(routers) == 1
    clouds.silent(ADMIN_CLOUD, *topology, "delete")
    assert os(ADMIN_CLOUD, "router", "list", "--name", "auto_allocated_router") == []
