"""The real ``openstack`` CLI (python-openstackclient), configured only by a clouds.yaml that
points at our Keystone URL, drives networks, subnets and ports as the admin and as a member.

Every assertion is on the ``-f json`` output (values, not exit codes). The CLI is slow to start
(~1-2 s a command), so each test walks one whole lifecycle: about 40 invocations in all.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from tests.clients.conftest import ADMIN_CLOUD, MEMBER_CLOUD, Clouds
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.clients

MAC = "fa:16:3e:11:22:33"
EUI64_V6 = "2001:db8:1:0:f816:3eff:fe11:2233"  # SLAAC address of MAC in 2001:db8:1::/64


def admin_scope(url: str) -> tuple[str, str]:
    """(project_id, user_id) of the bootstrap admin, asked over plain HTTP."""
    r = httpx.post(
        f"{url}/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": ADMIN_PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        },
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    return token["project"]["id"], token["user"]["id"]


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["ID"]: row for row in rows}


def ips(port: dict[str, Any]) -> dict[str, str]:
    """subnet_id -> ip_address of a port as the CLI prints it."""
    return {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}


def test_cli_token_network_subnet_port_lifecycle_as_admin(clouds: Clouds) -> None:
    os = clouds.openstack
    project_id, user_id = admin_scope(clouds.url)

    token = os(ADMIN_CLOUD, "token", "issue")
    assert token["project_id"] == project_id
    assert token["user_id"] == user_id
    assert token["id"] and token["expires"]

    # --- networks -------------------------------------------------------------------------
    net = os(
        ADMIN_CLOUD, "network", "create", "--mtu", "1400", "--description", "cli test", "cli-net"
    )
    assert net["name"] == "cli-net"
    assert net["description"] == "cli test"
    assert net["mtu"] == 1400
    assert net["admin_state_up"] is True
    assert net["status"] == "ACTIVE"
    assert net["shared"] is False
    assert net["project_id"] == project_id
    assert net["provider:network_type"] == "vxlan"  # admin sees the provider attributes
    assert isinstance(net["provider:segmentation_id"], int)
    assert net["subnets"] == []

    vlan = os(
        ADMIN_CLOUD,
        "network",
        "create",
        "--provider-network-type",
        "vlan",
        "--provider-physical-network",
        "physnet1",
        "--provider-segment",
        "150",
        "cli-vlan",
    )
    assert vlan["provider:network_type"] == "vlan"
    assert vlan["provider:physical_network"] == "physnet1"
    assert vlan["provider:segmentation_id"] == 150

    listed = by_id(os(ADMIN_CLOUD, "network", "list"))
    assert listed[net["id"]]["Name"] == "cli-net"
    assert listed[vlan["id"]]["Name"] == "cli-vlan"

    clouds.silent(
        ADMIN_CLOUD,
        "network",
        "set",
        "--name",
        "cli-net2",
        "--description",
        "renamed",
        "--mtu",
        "1300",
        net["id"],
    )
    shown = os(ADMIN_CLOUD, "network", "show", net["id"])
    assert (shown["name"], shown["description"], shown["mtu"]) == ("cli-net2", "renamed", 1300)
    assert shown["revision_number"] > net["revision_number"]

    # --- subnets (the network by name: the CLI's find-by-name path) -------------------------
    sub4 = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        "cli-net2",
        "--subnet-range",
        "192.0.2.0/24",
        "--gateway",
        "192.0.2.1",
        "--dns-nameserver",
        "198.51.100.53",
        "--allocation-pool",
        "start=192.0.2.10,end=192.0.2.100",
        "cli-sub4",
    )
    assert sub4["network_id"] == net["id"]
    assert sub4["ip_version"] == 4
    assert sub4["cidr"] == "192.0.2.0/24"
    assert sub4["gateway_ip"] == "192.0.2.1"
    assert sub4["dns_nameservers"] == ["198.51.100.53"]
    assert sub4["allocation_pools"] == [{"start": "192.0.2.10", "end": "192.0.2.100"}]
    assert sub4["enable_dhcp"] is True

    sub6 = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--ip-version",
        "6",
        "--ipv6-ra-mode",
        "slaac",
        "--ipv6-address-mode",
        "slaac",
        "--subnet-range",
        "2001:db8:1::/64",
        "cli-sub6",
    )
    assert sub6["ip_version"] == 6
    assert sub6["cidr"] == "2001:db8:1::/64"
    assert (sub6["ipv6_ra_mode"], sub6["ipv6_address_mode"]) == ("slaac", "slaac")
    v6net = ipaddress.ip_network("2001:db8:1::/64")
    assert ipaddress.ip_address(sub6["gateway_ip"]) in v6net
    assert sub6["allocation_pools"], sub6

    subnets = by_id(os(ADMIN_CLOUD, "subnet", "list", "--network", net["id"]))
    assert set(subnets) == {sub4["id"], sub6["id"]}
    assert subnets[sub4["id"]]["Subnet"] == "192.0.2.0/24"
    assert subnets[sub6["id"]]["Subnet"] == "2001:db8:1::/64"

    # `subnet set --dns-nameserver` sends the new server(s) followed by the existing ones;
    # the order is significant (resolver order) and must be kept.
    clouds.silent(
        ADMIN_CLOUD,
        "subnet",
        "set",
        "--name",
        "cli-sub4b",
        "--dns-nameserver",
        "203.0.113.53",
        sub4["id"],
    )
    shown = os(ADMIN_CLOUD, "subnet", "show", sub4["id"])
    assert shown["name"] == "cli-sub4b"
    assert shown["dns_nameservers"] == ["203.0.113.53", "198.51.100.53"]

    # --- ports ----------------------------------------------------------------------------
    port = os(
        ADMIN_CLOUD,
        "port",
        "create",
        "--network",
        "cli-net2",
        "--fixed-ip",
        "subnet=cli-sub4b,ip-address=192.0.2.50",
        "--mac-address",
        MAC,
        "cli-port",
    )
    assert port["name"] == "cli-port"
    assert port["network_id"] == net["id"]
    assert port["mac_address"] == MAC
    assert port["admin_state_up"] is True
    assert port["status"] == "DOWN"
    # The v4 address asked for, plus the SLAAC (EUI-64) address of the v6 subnet.
    assert ips(port) == {sub4["id"]: "192.0.2.50", sub6["id"]: EUI64_V6}

    auto = os(ADMIN_CLOUD, "port", "create", "--network", net["id"], "cli-port-auto")
    auto_v4 = ipaddress.IPv4Address(ips(auto)[sub4["id"]])
    assert ipaddress.IPv4Address("192.0.2.10") <= auto_v4 <= ipaddress.IPv4Address("192.0.2.100")
    assert str(auto_v4) != "192.0.2.50"
    assert auto["mac_address"] != MAC
    assert auto["mac_address"].startswith("fa:16:3e:")

    ports = by_id(os(ADMIN_CLOUD, "port", "list", "--network", net["id"]))
    assert set(ports) == {port["id"], auto["id"]}
    assert ports[port["id"]]["MAC Address"] == MAC
    assert {f["ip_address"] for f in ports[port["id"]]["Fixed IP Addresses"]} == {
        "192.0.2.50",
        EUI64_V6,
    }

    clouds.silent(
        ADMIN_CLOUD,
        "port",
        "set",
        "--name",
        "cli-port2",
        "--description",
        "moved",
        "--device-owner",
        "oVirt",
        "--device",
        "vnic-1",
        "--host",
        "host-a",
        port["id"],
    )
    shown = os(ADMIN_CLOUD, "port", "show", port["id"])
    assert (shown["name"], shown["description"]) == ("cli-port2", "moved")
    assert (shown["device_owner"], shown["device_id"]) == ("oVirt", "vnic-1")
    assert shown["binding_host_id"] == "host-a"
    assert shown["mac_address"] == MAC

    # --- teardown through the CLI, and nothing is left --------------------------------------
    clouds.silent(ADMIN_CLOUD, "port", "delete", port["id"], auto["id"])
    clouds.silent(ADMIN_CLOUD, "subnet", "delete", sub4["id"], sub6["id"])
    clouds.silent(ADMIN_CLOUD, "network", "delete", net["id"], vlan["id"])
    remaining = by_id(os(ADMIN_CLOUD, "network", "list"))
    assert net["id"] not in remaining
    assert vlan["id"] not in remaining


def test_cli_member_lifecycle_and_isolation(clouds: Clouds) -> None:
    os = clouds.openstack

    # --- identity setup with the CLI's own identity commands --------------------------------
    project = os(
        ADMIN_CLOUD,
        "project",
        "create",
        "--domain",
        "default",
        "--description",
        "cli member project",
        clouds.member_project,
    )
    assert project["name"] == clouds.member_project
    assert project["domain_id"] == "default"
    assert project["enabled"] is True
    user = os(
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
    assert user["name"] == clouds.member_user
    assert user["default_project_id"] == project["id"]
    assert "password" not in user
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

    admin_net = os(ADMIN_CLOUD, "network", "create", "admin-private")

    token = os(MEMBER_CLOUD, "token", "issue")
    assert token["project_id"] == project["id"]
    assert token["user_id"] == user["id"]

    # --- the member's own resources -----------------------------------------------------------
    net = os(MEMBER_CLOUD, "network", "create", "member-net")
    assert net["project_id"] == project["id"]
    assert net["status"] == "ACTIVE"
    assert net.get("provider:network_type") is None  # provider attributes are admin-only

    sub = os(
        MEMBER_CLOUD,
        "subnet",
        "create",
        "--network",
        "member-net",
        "--subnet-range",
        "198.51.100.0/24",
        "member-sub",
    )
    assert sub["project_id"] == project["id"]
    assert sub["gateway_ip"] == "198.51.100.1"
    assert sub["allocation_pools"] == [{"start": "198.51.100.2", "end": "198.51.100.254"}]

    port = os(
        MEMBER_CLOUD,
        "port",
        "create",
        "--network",
        "member-net",
        "--fixed-ip",
        "subnet=member-sub,ip-address=198.51.100.20",
        "member-port",
    )
    assert port["project_id"] == project["id"]
    assert ips(port) == {sub["id"]: "198.51.100.20"}

    # --- isolation: the admin's private network is invisible to the member -------------------
    networks = by_id(os(MEMBER_CLOUD, "network", "list"))
    assert net["id"] in networks
    assert admin_net["id"] not in networks
    hidden = clouds.run(MEMBER_CLOUD, "network", "show", admin_net["id"], check=False)
    assert hidden.returncode != 0
    assert admin_net["id"] in hidden.stderr or "No Network found" in hidden.stderr, hidden.stderr
    # ... while the admin sees the member's port.
    assert port["id"] in by_id(os(ADMIN_CLOUD, "port", "list", "--network", net["id"]))

    # --- updates --------------------------------------------------------------------------
    clouds.silent(MEMBER_CLOUD, "network", "set", "--name", "member-net2", net["id"])
    assert os(MEMBER_CLOUD, "network", "show", "member-net2")["id"] == net["id"]
    clouds.silent(MEMBER_CLOUD, "subnet", "set", "--name", "member-sub2", sub["id"])
    subnets = by_id(os(MEMBER_CLOUD, "subnet", "list"))
    assert {k: v["Name"] for k, v in subnets.items()} == {sub["id"]: "member-sub2"}
    clouds.silent(MEMBER_CLOUD, "port", "set", "--name", "member-port2", port["id"])
    ports = by_id(os(MEMBER_CLOUD, "port", "list"))
    assert set(ports) == {port["id"]}
    assert ports[port["id"]]["Name"] == "member-port2"

    # --- deletes --------------------------------------------------------------------------
    clouds.silent(MEMBER_CLOUD, "port", "delete", port["id"])
    clouds.silent(MEMBER_CLOUD, "subnet", "delete", sub["id"])
    clouds.silent(MEMBER_CLOUD, "network", "delete", net["id"])
    assert os(MEMBER_CLOUD, "network", "list") == []
