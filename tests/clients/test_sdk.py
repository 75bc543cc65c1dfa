"""openstacksdk, configured only by the clouds.yaml (``openstack.connect(cloud=...)``), drives
networks, subnets and ports as the admin and as a member, and a member cannot see the admin's
private network. The member's project, user and role are made with the SDK's identity proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import openstack
import openstack.connection
import pytest
from openstack import exceptions

from tests.clients.conftest import ADMIN_CLOUD, MEMBER_CLOUD, Clouds

pytestmark = pytest.mark.clients

MAC = "fa:16:3e:44:55:66"
EUI64_V6 = "2001:db8:2:0:f816:3eff:fe44:5566"  # SLAAC address of MAC in 2001:db8:2::/64


@pytest.fixture
def admin(clouds: Clouds) -> Iterator[openstack.connection.Connection]:
    conn = openstack.connect(cloud=ADMIN_CLOUD)
    yield conn
    conn.close()


def ips(port: Any) -> dict[str, str]:
    return {f["subnet_id"]: f["ip_address"] for f in port.fixed_ips}


def test_sdk_crud_as_admin(admin: openstack.connection.Connection, clouds: Clouds) -> None:
    net_api = admin.network
    project_id = admin.current_project_id
    assert project_id

    net = net_api.create_network(name="sdk-net", mtu=1400, description="sdk test")
    assert net.name == "sdk-net"
    assert net.mtu == 1400
    assert net.description == "sdk test"
    assert net.is_admin_state_up is True
    assert net.status == "ACTIVE"
    assert net.project_id == project_id
    assert net.provider_network_type == "vxlan"
    assert isinstance(net.provider_segmentation_id, int)

    vlan = net_api.create_network(
        name="sdk-vlan",
        provider_network_type="vlan",
        provider_physical_network="physnet1",
        provider_segmentation_id=123,
    )
    assert (
        vlan.provider_network_type,
        vlan.provider_physical_network,
        vlan.provider_segmentation_id,
    ) == ("vlan", "physnet1", 123)

    assert {net.id, vlan.id} <= {n.id for n in net_api.networks()}
    assert [n.id for n in net_api.networks(name="sdk-net")] == [net.id]
    assert net_api.get_network(net.id).name == "sdk-net"

    revision = net.revision_number
    updated = net_api.update_network(net, name="sdk-net2", mtu=1300)
    assert (updated.name, updated.mtu) == ("sdk-net2", 1300)
    assert updated.revision_number > revision
    assert net_api.find_network("sdk-net2", ignore_missing=False).id == net.id

    sub4 = net_api.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="192.0.2.0/24",
        gateway_ip="192.0.2.1",
        dns_nameservers=["198.51.100.53"],
        allocation_pools=[{"start": "192.0.2.10", "end": "192.0.2.20"}],
        name="sdk-sub4",
    )
    assert sub4.cidr == "192.0.2.0/24"
    assert sub4.gateway_ip == "192.0.2.1"
    assert sub4.dns_nameservers == ["198.51.100.53"]
    assert sub4.allocation_pools == [{"start": "192.0.2.10", "end": "192.0.2.20"}]
    assert sub4.is_dhcp_enabled is True
    sub6 = net_api.create_subnet(
        network_id=net.id,
        ip_version=6,
        cidr="2001:db8:2::/64",
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
        name="sdk-sub6",
    )
    assert (sub6.ipv6_ra_mode, sub6.ipv6_address_mode) == ("slaac", "slaac")
    assert ipaddress.ip_address(sub6.gateway_ip) in ipaddress.ip_network("2001:db8:2::/64")

    assert {s.id for s in net_api.subnets(network_id=net.id)} == {sub4.id, sub6.id}
    assert sorted(net_api.get_network(net.id).subnet_ids) == sorted([sub4.id, sub6.id])
    sub4 = net_api.update_subnet(
        sub4, name="sdk-sub4b", dns_nameservers=["203.0.113.53", "198.51.100.53"]
    )
    got_subnet = net_api.get_subnet(sub4.id)
    assert got_subnet.name == "sdk-sub4b"
    assert got_subnet.dns_nameservers == ["203.0.113.53", "198.51.100.53"]

    port = net_api.create_port(
        network_id=net.id,
        name="sdk-port",
        mac_address=MAC,
        fixed_ips=[{"subnet_id": sub4.id, "ip_address": "192.0.2.15"}],
    )
    assert port.mac_address == MAC
    assert port.status == "DOWN"
    assert ips(port) == {sub4.id: "192.0.2.15", sub6.id: EUI64_V6}
    auto = net_api.create_port(network_id=net.id)
    auto_v4 = ipaddress.IPv4Address(ips(auto)[sub4.id])
    assert ipaddress.IPv4Address("192.0.2.10") <= auto_v4 <= ipaddress.IPv4Address("192.0.2.20")
    assert str(auto_v4) != "192.0.2.15"
    assert {p.id for p in net_api.ports(network_id=net.id)} == {port.id, auto.id}
    assert [p.id for p in net_api.ports(mac_address=MAC)] == [port.id]

    port = net_api.update_port(
        port, name="sdk-port2", is_admin_state_up=False, binding_host_id="host-a"
    )
    got = net_api.get_port(port.id)
    assert (got.name, got.is_admin_state_up, got.binding_host_id) == ("sdk-port2", False, "host-a")

    net_api.delete_port(port)
    net_api.delete_port(auto)
    assert list(net_api.ports(network_id=net.id)) == []
    net_api.delete_subnet(sub4)
    net_api.delete_subnet(sub6)
    net_api.delete_network(net)
    net_api.delete_network(vlan)
    with pytest.raises(exceptions.NotFoundException):
        net_api.get_network(net.id)
    with pytest.raises(exceptions.NotFoundException):
        net_api.find_network("sdk-vlan", ignore_missing=False)


def test_sdk_member_crud_and_isolation(
    admin: openstack.connection.Connection, clouds: Clouds
) -> None:
    identity: Any = admin.identity  # the v3 proxy (identity_api_version: 3)
    project = identity.create_project(name=clouds.member_project, domain_id="default")
    user = identity.create_user(
        name=clouds.member_user,
        password=clouds.member_password,
        domain_id="default",
        default_project_id=project.id,
    )
    role = identity.find_role("member", ignore_missing=False)
    assert role.name == "member"
    identity.assign_project_role_to_user(project, user, role)
    assert identity.validate_user_has_project_role(project, user, role)

    private = admin.network.create_network(name="admin-private")

    member = openstack.connect(cloud=MEMBER_CLOUD)
    try:
        assert member.current_project_id == project.id
        assert member.current_user_id == user.id
        api = member.network

        net = api.create_network(name="member-net")
        assert net.project_id == project.id
        assert net.provider_network_type is None  # admin-only attribute, not shown
        sub = api.create_subnet(network_id=net.id, ip_version=4, cidr="198.51.100.0/24")
        assert sub.project_id == project.id
        assert sub.gateway_ip == "198.51.100.1"
        port = api.create_port(network_id=net.id, name="member-port")
        assert port.project_id == project.id
        address = ipaddress.ip_address(ips(port)[sub.id])
        assert address in ipaddress.ip_network("198.51.100.0/24")
        assert str(address) != "198.51.100.1"

        # Isolation: the admin's private network does not exist for the member.
        assert {n.id for n in api.networks()} == {net.id}
        with pytest.raises(exceptions.NotFoundException):
            api.get_network(private.id)
        with pytest.raises(exceptions.NotFoundException):
            api.update_network(private.id, name="stolen")
        assert admin.network.get_network(private.id).name == "admin-private"
        # Provider attributes are the admin's to set.
        with pytest.raises(exceptions.ForbiddenException):
            api.create_network(
                name="member-vlan",
                provider_network_type="vlan",
                provider_physical_network="physnet1",
                provider_segmentation_id=160,
            )
        # The admin sees the member's resources.
        assert [p.id for p in admin.network.ports(project_id=project.id)] == [port.id]

        net = api.update_network(net, name="member-net2")
        assert api.get_network(net.id).name == "member-net2"
        sub = api.update_subnet(sub, name="member-sub2")
        assert [s.name for s in api.subnets()] == ["member-sub2"]
        port = api.update_port(port, name="member-port2")
        assert [(p.id, p.name) for p in api.ports()] == [(port.id, "member-port2")]

        api.delete_port(port)
        api.delete_subnet(sub)
        api.delete_network(net)
        assert list(api.networks()) == []
    finally:
        member.close()
