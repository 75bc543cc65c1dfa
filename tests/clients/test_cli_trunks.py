"""``openstack network trunk`` and ``openstack network segment`` against a live neutrino, as
a user types them: a trunk on a parent port with a sub-port, one more added and one removed,
the parent's ``trunk_details``, the parent's delete refused, then the trunk deleted; and a
second segment on a network, listed, shown, renamed and deleted."""

from __future__ import annotations

import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_cli_trunk(clouds: Clouds) -> None:
    os = clouds.openstack
    net = os(ADMIN_CLOUD, "network", "create", "trunk-net")
    parent = os(ADMIN_CLOUD, "port", "create", "--network", net["id"], "parent")
    kids = [os(ADMIN_CLOUD, "port", "create", "--network", net["id"], f"c{i}") for i in range(2)]
    trunk = os(
        ADMIN_CLOUD,
        "network",
        "trunk",
        "create",
        "--parent-port",
        parent["id"],
        "--subport",
        f"port={kids[0]['id']},segmentation-type=vlan,segmentation-id=100",
        "t1",
    )
    assert trunk["port_id"] == parent["id"] and trunk["status"] == "DOWN"
    clouds.silent(
        ADMIN_CLOUD,
        "network",
        "trunk",
        "set",
        "--subport",
        f"port={kids[1]['id']},segmentation-type=vlan,segmentation-id=101",
        trunk["id"],
    )
    shown = os(ADMIN_CLOUD, "network", "trunk", "show", trunk["id"])
    assert sorted(s["segmentation_id"] for s in shown["sub_ports"]) == [100, 101]
    subs = os(ADMIN_CLOUD, "network", "subport", "list", "--trunk", trunk["id"])
    assert {s["Port"] for s in subs} == {kids[0]["id"], kids[1]["id"]}
    clouds.silent(ADMIN_CLOUD, "network", "trunk", "unset", "--subport", kids[0]["id"], "t1")
    shown = os(ADMIN_CLOUD, "network", "trunk", "show", "t1")
    assert [s["port_id"] for s in shown["sub_ports"]] == [kids[1]["id"]]
    details = os(ADMIN_CLOUD, "port", "show", parent["id"])["trunk_details"]
    assert details["trunk_id"] == trunk["id"]
    assert clouds.run(ADMIN_CLOUD, "port", "delete", parent["id"], check=False).returncode != 0
    assert trunk["id"] in {t["ID"] for t in os(ADMIN_CLOUD, "network", "trunk", "list")}
    clouds.silent(ADMIN_CLOUD, "network", "trunk", "delete", trunk["id"])
    assert os(ADMIN_CLOUD, "network", "trunk", "list") == []
    clouds.silent(ADMIN_CLOUD, "port", "delete", parent["id"])


def test_cli_segment(clouds: Clouds) -> None:
    os = clouds.openstack
    net = os(ADMIN_CLOUD, "network", "create", "seg-net")
    first = os(ADMIN_CLOUD, "network", "segment", "list", "--network", net["id"])
    assert len(first) == 1
    seg = os(
        ADMIN_CLOUD,
        "network",
        "segment",
        "create",
        "--network",
        net["id"],
        "--network-type",
        "vxlan",
        "--description",
        "second",
        "seg2",
    )
    assert seg["network_type"] == "vxlan" and seg["name"] == "seg2"
    listed = os(ADMIN_CLOUD, "network", "segment", "list", "--network", net["id"])
    assert {s["ID"] for s in listed} == {first[0]["ID"], seg["id"]}
    clouds.silent(ADMIN_CLOUD, "network", "segment", "set", "--name", "renamed", seg["id"])
    shown = os(ADMIN_CLOUD, "network", "segment", "show", seg["id"])
    assert shown["name"] == "renamed" and shown["description"] == "second"
    clouds.silent(ADMIN_CLOUD, "network", "segment", "delete", seg["id"])
    listed = os(ADMIN_CLOUD, "network", "segment", "list", "--network", net["id"])
    assert [s["ID"] for s in listed] == [first[0]["ID"]]
