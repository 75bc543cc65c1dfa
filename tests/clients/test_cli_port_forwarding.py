"""``openstack floating ip port forwarding`` against a live neutrino, as a user types it: a
routed network and a free floating IP, a single-port and a ranged forwarding, list (with a
filter), show, set, delete; and the floating IP shows its forwardings."""

from __future__ import annotations

import pytest

from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_cli_floating_ip_port_forwarding(clouds: Clouds) -> None:
    os = clouds.openstack
    ext = os(ADMIN_CLOUD, "network", "create", "--external", "pf-public")
    os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        ext["id"],
        "--subnet-range",
        "203.0.113.0/24",
        "pf-public-sub",
    )
    net = os(ADMIN_CLOUD, "network", "create", "pf-net")
    sub = os(
        ADMIN_CLOUD,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "192.0.2.0/24",
        "pf-sub",
    )
    router = os(ADMIN_CLOUD, "router", "create", "pf-router")
    clouds.silent(ADMIN_CLOUD, "router", "set", "--external-gateway", ext["id"], router["id"])
    clouds.silent(ADMIN_CLOUD, "router", "add", "subnet", router["id"], sub["id"])
    port = os(ADMIN_CLOUD, "port", "create", "--network", net["id"], "pf-port")
    address = port["fixed_ips"][0]["ip_address"]
    fip = os(ADMIN_CLOUD, "floating", "ip", "create", ext["id"])

    web = os(
        ADMIN_CLOUD,
        "floating",
        "ip",
        "port",
        "forwarding",
        "create",
        "--internal-ip-address",
        address,
        "--port",
        port["id"],
        "--internal-protocol-port",
        "80",
        "--external-protocol-port",
        "8080",
        "--protocol",
        "tcp",
        "--description",
        "web",
        fip["id"],
    )
    assert web["internal_port"] == 80 and web["external_port"] == 8080
    assert web["protocol"] == "tcp" and web["description"] == "web"
    ranged = os(
        ADMIN_CLOUD,
        "floating",
        "ip",
        "port",
        "forwarding",
        "create",
        "--internal-ip-address",
        address,
        "--port",
        port["id"],
        "--internal-protocol-port",
        "5000:5001",
        "--external-protocol-port",
        "6000:6001",
        "--protocol",
        "udp",
        fip["floating_ip_address"],
    )
    assert ranged["external_port_range"] == "6000:6001"
    listed = os(ADMIN_CLOUD, "floating", "ip", "port", "forwarding", "list", fip["id"])
    assert {row["ID"] for row in listed} == {web["id"], ranged["id"]}
    udp = os(
        ADMIN_CLOUD, "floating", "ip", "port", "forwarding", "list", "--protocol", "udp", fip["id"]
    )
    assert [row["ID"] for row in udp] == [ranged["id"]]
    clouds.silent(
        ADMIN_CLOUD,
        "floating",
        "ip",
        "port",
        "forwarding",
        "set",
        "--description",
        "www",
        "--internal-protocol-port",
        "81",
        fip["id"],
        web["id"],
    )
    shown = os(ADMIN_CLOUD, "floating", "ip", "port", "forwarding", "show", fip["id"], web["id"])
    assert shown["description"] == "www" and shown["internal_port"] == 81
    assert len(os(ADMIN_CLOUD, "floating", "ip", "show", fip["id"])["port_forwardings"]) == 2
    refused = clouds.run(ADMIN_CLOUD, "floating", "ip", "delete", fip["id"], check=False)
    assert refused.returncode != 0  # in use by its forwardings
    clouds.silent(
        ADMIN_CLOUD,
        "floating",
        "ip",
        "port",
        "forwarding",
        "delete",
        fip["id"],
        web["id"],
        ranged["id"],
    )
    assert os(ADMIN_CLOUD, "floating", "ip", "port", "forwarding", "list", fip["id"]) == []
    clouds.silent(ADMIN_CLOUD, "floating", "ip", "delete", fip["id"])
