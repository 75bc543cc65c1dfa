"""``openstack network rbac create/list/show/set/delete`` against a live neutrino: an admin
shares a network to the member's project by name; the member sees and uses it until the
policy is deleted (refused while the member's port is on it)."""

from __future__ import annotations

import httpx
import pytest

from tests.clients.conftest import ADMIN_CLOUD, MEMBER_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_cli_network_rbac(clouds: Clouds) -> None:
    os = clouds.openstack
    project = os(ADMIN_CLOUD, "project", "create", "--domain", "default", clouds.member_project)
    os(
        ADMIN_CLOUD,
        "user",
        "create",
        "--domain",
        "default",
        "--project",
        clouds.member_project,
        "--password",
        clouds.member_password,
        clouds.member_user,
    )
    clouds.silent(
        ADMIN_CLOUD,
        "role",
        "add",
        "--project",
        clouds.member_project,
        "--user",
        clouds.member_user,
        "member",
    )
    net = os(ADMIN_CLOUD, "network", "create", "rbac-net")
    os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "192.0.2.0/24",
        "rbac-sub",
    )
    assert clouds.run(MEMBER_CLOUD, "network", "show", net["id"], check=False).returncode != 0

    policy = os(
        ADMIN_CLOUD,
        "network",
        "rbac",
        "create",
        "--type",
        "network",
        "--action",
        "access_as_shared",
        "--target-project",
        project["id"],
        net["id"],
    )
    assert policy["object_id"] == net["id"]
    assert policy["target_project_id"] == project["id"]
    assert policy["action"] == "access_as_shared"
    listed = os(ADMIN_CLOUD, "network", "rbac", "list", "--long")
    assert policy["id"] in {row["ID"] for row in listed}
    shown = os(ADMIN_CLOUD, "network", "rbac", "show", policy["id"])
    assert shown["object_type"] == "network" and shown["target_project_id"] == project["id"]

    seen = os(MEMBER_CLOUD, "network", "show", net["id"])
    assert seen["id"] == net["id"] and seen["shared"] is True
    port = os(MEMBER_CLOUD, "port", "create", "--network", net["id"], "member-port")
    assert port["project_id"] == project["id"]
    # the member does not see the admin's policy
    assert policy["id"] not in {r["ID"] for r in os(MEMBER_CLOUD, "network", "rbac", "list")}

    refused = clouds.run(ADMIN_CLOUD, "network", "rbac", "delete", policy["id"], check=False)
    assert refused.returncode != 0
    assert os(ADMIN_CLOUD, "network", "rbac", "show", policy["id"])["id"] == policy["id"]
    clouds.silent(MEMBER_CLOUD, "port", "delete", port["id"])
    clouds.silent(ADMIN_CLOUD, "network", "rbac", "delete", policy["id"])
    assert policy["id"] not in {r["ID"] for r in os(ADMIN_CLOUD, "network", "rbac", "list")}
    assert clouds.run(MEMBER_CLOUD, "network", "show", net["id"], check=False).returncode != 0


def test_cli_ip_availability_and_availability_zones(clouds: Clouds) -> None:
    os = clouds.openstack
    token = os(ADMIN_CLOUD, "token", "issue")["id"]
    r = httpx.post(
        f"{clouds.url}/agent/v1/agents",
        headers={"X-Auth-Token": token},
        json={
            "agent": {
                "host": "hv-cli",
                "agent_type": "DHCP agent",
                "binary": "neutrino-agent",
                "configurations": {},
                "availability_zone": "az-cli",
            }
        },
    )
    assert r.status_code == 200, r.text
    zones = os(ADMIN_CLOUD, "availability", "zone", "list", "--network")
    assert {(z["Zone Name"], z["Zone Status"]) for z in zones} == {("az-cli", "available")}
    net = os(ADMIN_CLOUD, "network", "create", "ipa-net")
    sub = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "198.51.100.0/28",
        "ipa-sub",
    )
    os(ADMIN_CLOUD, "port", "create", "--network", net["id"], "ipa-port")
    listed = os(ADMIN_CLOUD, "ip", "availability", "list")
    row = next(r for r in listed if r["Network ID"] == net["id"])
    ports = os(ADMIN_CLOUD, "port", "list", "--network", net["id"])  # ours, and DHCP's
    assert (row["Total IPs"], row["Used IPs"]) == (13, len(ports))
    assert len(ports) >= 1
    shown = os(ADMIN_CLOUD, "ip", "availability", "show", net["id"])
    assert shown["subnet_ip_availability"][0]["subnet_id"] == sub["id"]
