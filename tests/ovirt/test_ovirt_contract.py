"""The oVirt contract (DESIGN.md): the engine's own sequences of calls, replayed by the engine
model in ``engine.py`` against neutrino — token flows (Keystone v2.0 and v3), the connection
test, network import, network + subnet creation, and the vNIC allocate / migrate / profile
change / deallocate sequence built on the FULL port list and a client-side scan.

Most tests run in-process (TestClient); one replays the whole story over real HTTP.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD, Caller, token_caller
from tests.ovirt.engine import (
    DEVICE_OWNER,
    Engine,
    EngineNetwork,
    ExternalSubnet,
    Provider,
    ProviderFailure,
    VmNic,
    VnicProfile,
    security_groups_changed,
)

NO_GROUPS = VnicProfile(security_groups=[])
DEFAULT_GROUPS = VnicProfile(security_groups=None)


def v2_provider(
    url: str = "", tenant_name: str | None = "admin", password: str = ADMIN_PASSWORD
) -> Provider:
    return Provider(
        url=url,
        auth_url=f"{url}/v2.0",
        username="admin",
        password=password,
        tenant_name=tenant_name,
    )


def v3_provider(url: str = "", project_name: str | None = "admin") -> Provider:
    return Provider(
        url=url,
        auth_url=f"{url}/v3",
        username="admin",
        password=ADMIN_PASSWORD,
        project_name=project_name,
    )


def new_nic(n: int = 1) -> VmNic:
    # oVirt's default MAC pool is 56:6f:xx:xx:xx:xx.
    return VmNic(id=str(uuid.uuid4()), name=f"nic{n}", mac_address=f"56:6f:1a:2b:00:{n:02x}")


@pytest.fixture
def engine(client: TestClient) -> Engine:
    return Engine(client, v2_provider())


def network_with_subnet(
    engine: Engine, name: str = "ovirt-net", cidr: str = "192.0.2.0/24"
) -> tuple[str, dict[str, Any]]:
    network_id = engine.add(EngineNetwork(name=name))
    subnet = engine.add_subnet(
        ExternalSubnet(
            cidr=cidr, name=f"{name}-sub", network_id=network_id, gateway=None, dns_servers=[]
        )
    )
    return network_id, subnet


def ports_of(api: Caller, network_id: str) -> list[dict[str, Any]]:
    r = api.get("/v2.0/ports", params={"network_id": network_id})
    assert r.status_code == 200, r.text
    return r.json()["ports"]  # type: ignore[no-any-return]


# --- auth and connection ---------------------------------------------------------------------


def test_connection_test_is_get_v2_root(engine: Engine) -> None:
    root = engine.test_connection()
    assert engine.log() == [("GET", "/v2.0/")]
    collections = {r["collection"]: r["name"] for r in root["resources"]}
    # what oVirt reads, plus subnet pools: Neutron's root lists its four core collections
    assert collections == {
        "networks": "network",
        "subnets": "subnet",
        "ports": "port",
        "subnetpools": "subnetpool",
    }


def test_v2_token_with_tenant_name_is_scoped_and_works(
    client: TestClient, api: Caller, settings: Settings
) -> None:
    r = client.post(
        "/v2.0/tokens",
        json={
            "auth": {
                "passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD},
                "tenantName": "admin",
            }
        },
    )
    assert r.status_code == 200, r.text
    access = r.json()["access"]
    assert access["token"]["tenant"]["id"] == api.project_id
    assert access["token"]["tenant"]["name"] == "admin"
    assert access["user"]["id"] == api.user_id
    assert "admin" in {role["name"] for role in access["user"]["roles"]}
    catalog = {s["type"]: s["endpoints"][0] for s in access["serviceCatalog"]}
    assert catalog["network"]["publicURL"] == settings.base_url + "/"
    assert catalog["identity"]["publicURL"] == settings.base_url + "/v2.0"

    token = access["token"]["id"]
    r = client.get("/v2.0/networks", headers={"X-Auth-Token": token})
    assert r.status_code == 200, r.text
    r = client.post(
        "/v2.0/networks", json={"network": {"name": "via-v2"}}, headers={"X-Auth-Token": token}
    )
    assert r.status_code == 201, r.text
    assert r.json()["network"]["project_id"] == api.project_id


def test_v2_token_without_tenant_works_for_the_engine(client: TestClient, api: Caller) -> None:
    """The external-network-provider type authenticates with no tenant at all."""
    engine = Engine(client, v2_provider(tenant_name=None))
    network_id = engine.add(EngineNetwork(name="no-tenant"))
    assert engine.auth_calls[0].body == {
        "auth": {"passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD}}
    }
    assert engine.auth_calls[0].status == 200
    # The token falls back to the user's default project (as Keystone does).
    assert engine.get(network_id)["project_id"] == api.project_id
    assert network_id in {n.external_id for n in engine.get_all()}


def test_v2_token_by_tenant_id_and_bad_credentials(client: TestClient, api: Caller) -> None:
    r = client.post(
        "/v2.0/tokens",
        json={
            "auth": {
                "passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD},
                "tenantId": api.project_id,
            }
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["access"]["token"]["tenant"]["id"] == api.project_id

    r = client.post(
        "/v2.0/tokens",
        json={
            "auth": {
                "passwordCredentials": {"username": "admin", "password": "wrong"},
                "tenantName": "admin",
            }
        },
    )
    assert r.status_code == 401, r.text
    with pytest.raises(ProviderFailure) as failure:
        Engine(client, v2_provider(password="wrong")).test_connection()
    assert failure.value.status_code == 401


@pytest.mark.parametrize("project_name", ["admin", None])
def test_v3_token_works_for_the_engine(
    client: TestClient, api: Caller, project_name: str | None
) -> None:
    engine = Engine(client, v3_provider(project_name=project_name))
    assert engine.uses_v3
    token = engine.token()
    assert engine.auth_calls[0].status == 201
    assert ("scope" in engine.auth_calls[0].body["auth"]) is (project_name is not None)
    r = client.get("/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert r.status_code == 200, r.text
    assert r.json()["token"]["project"]["id"] == api.project_id
    engine.test_connection()
    network_id = engine.add(EngineNetwork(name="via-v3"))
    assert engine.get(network_id)["project_id"] == api.project_id


def test_bad_token_is_401_and_the_engine_reauthenticates(client: TestClient) -> None:
    r = client.get("/v2.0/networks", headers={"X-Auth-Token": "not-a-token"})
    assert r.status_code == 401
    engine = Engine(client, v2_provider())
    engine._token = "expired-or-revoked"
    assert engine.get_all() == []
    assert engine.calls[0].status == 200
    assert len(engine.auth_calls) == 1


# --- network import ------------------------------------------------------------------------


def test_network_import_reads_what_the_engine_maps(engine: Engine, api: Caller) -> None:
    vxlan = api.network(name="tenant-overlay")
    vlan = api.network(
        name="vlan101",
        mtu=1400,
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 101,
        },
    )
    flat = api.network(
        name="public-flat",
        port_security_enabled=False,
        **{"provider:network_type": "flat", "provider:physical_network": "public"},
    )
    member_net = api.as_member().network(name="members-own")

    raw = engine.request("GET", "/networks")["networks"]
    for n in raw:  # every attribute the engine reads is on the wire for the admin
        assert {
            "id",
            "name",
            "mtu",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
            "port_security_enabled",
            "tenant_id",
        } <= set(n)
    imported = {n.external_id: n for n in engine.get_all()}
    assert set(imported) == {vxlan["id"], vlan["id"], flat["id"], member_net["id"]}

    i = imported[vxlan["id"]]
    assert (i.name, i.network_type, i.physical_network, i.vlan_id) == (
        "tenant-overlay",
        "vxlan",
        None,
        None,
    )
    assert i.mtu == 1450  # 1500 underlay - 50 VXLAN overhead
    assert i.port_security_enabled is True
    i = imported[vlan["id"]]
    assert (i.name, i.mtu, i.network_type, i.physical_network, i.vlan_id) == (
        "vlan101",
        1400,
        "vlan",
        "physnet1",
        101,
    )
    i = imported[flat["id"]]
    assert (i.mtu, i.network_type, i.physical_network, i.vlan_id) == (1500, "flat", "public", None)
    assert i.port_security_enabled is False
    assert imported[member_net["id"]].name == "members-own"


# --- create network and subnets ---------------------------------------------------------------


def test_engine_creates_networks_with_its_body(engine: Engine, api: Caller) -> None:
    vlan_id = engine.add(
        EngineNetwork(
            name="ovirt-vlan",
            mtu=1400,
            physical_network="physnet1",
            vlan_id=120,
            port_security_enabled=True,
        )
    )
    assert engine.calls[-1].body == {
        "network": {
            "admin_state_up": True,
            "name": "ovirt-vlan",
            "mtu": 1400,
            "provider:physical_network": "physnet1",
            "provider:network_type": "vlan",
            "provider:segmentation_id": 120,
            "port_security_enabled": True,
        }
    }
    flat_id = engine.add(
        EngineNetwork(name="ovirt-flat", physical_network="public", port_security_enabled=False)
    )
    plain_id = engine.add(EngineNetwork(name="ovirt-plain"))
    assert engine.calls[-1].body == {"network": {"admin_state_up": True, "name": "ovirt-plain"}}

    vlan = engine.get(vlan_id)
    assert (vlan["name"], vlan["mtu"], vlan["admin_state_up"], vlan["status"]) == (
        "ovirt-vlan",
        1400,
        True,
        "ACTIVE",
    )
    assert (
        vlan["provider:network_type"],
        vlan["provider:physical_network"],
        vlan["provider:segmentation_id"],
        vlan["port_security_enabled"],
    ) == ("vlan", "physnet1", 120, True)
    assert vlan["tenant_id"] == vlan["project_id"] == api.project_id
    flat = engine.get(flat_id)
    assert (
        flat["provider:network_type"],
        flat["provider:physical_network"],
        flat["provider:segmentation_id"],
        flat["port_security_enabled"],
    ) == ("flat", "public", None, False)
    plain = engine.get(plain_id)
    assert plain["provider:network_type"] == "vxlan"
    assert plain["port_security_enabled"] is True

    # A second flat network on the same physnet, or a VLAN id in use, is a conflict.
    with pytest.raises(ProviderFailure) as failure:
        engine.add(EngineNetwork(name="again", physical_network="public"))
    assert failure.value.status_code == 409
    with pytest.raises(ProviderFailure) as failure:
        engine.add(EngineNetwork(name="again", physical_network="physnet1", vlan_id=120))
    assert failure.value.status_code == 409

    engine.remove(plain_id)
    assert plain_id not in {n.external_id for n in engine.get_all()}


def test_network_body_with_tenant_id_creates_it_for_that_project(
    engine: Engine, api: Caller
) -> None:
    """The engine's create body may carry tenant_id; an admin creates on behalf of it."""
    member = api.as_member()
    body = {
        "network": {
            "admin_state_up": True,
            "name": "for-member",
            "mtu": 1400,
            "port_security_enabled": True,
            "tenant_id": member.project_id,
        }
    }
    network = engine.request("POST", "/networks", body)["network"]
    assert network["tenant_id"] == network["project_id"] == member.project_id
    r = member.get(f"/v2.0/networks/{network['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["network"]["name"] == "for-member"
    # Subnet and port follow the network's tenant, as the engine sends them.
    subnet = engine.add_subnet(
        ExternalSubnet(cidr="198.51.100.0/24", name="m-sub", network_id=network["id"])
    )
    assert subnet["tenant_id"] == member.project_id
    nic = new_nic()
    engine.allocate(network["id"], NO_GROUPS, nic, "host-a")
    port = engine.locate_port(nic)
    assert port is not None and port["tenant_id"] == member.project_id
    assert [p["id"] for p in ports_of(member, network["id"])] == [port["id"]]


def test_subnets_create_list_delete_as_the_engine_does(engine: Engine) -> None:
    network_id = engine.add(EngineNetwork(name="with-subnets"))
    other_id = engine.add(EngineNetwork(name="other"))
    engine.reset_log()
    v4 = engine.add_subnet(
        ExternalSubnet(
            cidr="192.0.2.0/24",
            name="v4",
            network_id=network_id,
            gateway="192.0.2.254",
            dns_servers=["198.51.100.53", "198.51.100.54"],
        )
    )
    assert engine.log() == [("GET", f"/v2.0/networks/{network_id}"), ("POST", "/v2.0/subnets")]
    assert engine.calls[-1].body == {
        "subnet": {
            "cidr": "192.0.2.0/24",
            "ip_version": 4,
            "name": "v4",
            "network_id": network_id,
            "enable_dhcp": True,
            "gateway_ip": "192.0.2.254",
            "dns_nameservers": ["198.51.100.53", "198.51.100.54"],
            "tenant_id": engine.get(network_id)["tenant_id"],
        }
    }
    assert v4["enable_dhcp"] is True
    assert v4["allocation_pools"] == [{"start": "192.0.2.1", "end": "192.0.2.253"}]
    v6 = engine.add_subnet(
        ExternalSubnet(
            cidr="2001:db8:5::/64", name="v6", ip_version=6, network_id=network_id, dns_servers=[]
        )
    )
    engine.add_subnet(ExternalSubnet(cidr="203.0.113.0/24", name="elsewhere", network_id=other_id))

    engine.reset_log()
    listed = {s.id: s for s in engine.get_all_subnets(network_id)}
    assert engine.log() == [("GET", "/v2.0/subnets")]  # whole list, filtered by the engine
    assert set(listed) == {v4["id"], v6["id"]}
    s = listed[v4["id"]]
    assert (s.cidr, s.ip_version, s.name, s.gateway, s.dns_servers) == (
        "192.0.2.0/24",
        4,
        "v4",
        "192.0.2.254",
        ["198.51.100.53", "198.51.100.54"],
    )
    s = listed[v6["id"]]
    assert (s.cidr, s.ip_version, s.name, s.dns_servers) == ("2001:db8:5::/64", 6, "v6", [])
    assert s.gateway is not None
    assert ipaddress.ip_address(s.gateway) in ipaddress.ip_network("2001:db8:5::/64")

    engine.remove_subnet(v4["id"])
    assert engine.calls[-1].status == 204
    assert {s.id for s in engine.get_all_subnets(network_id)} == {v6["id"]}
    assert engine.get(network_id)["subnets"] == [v6["id"]]


# --- vNIC allocate / migrate / deallocate --------------------------------------------------------


def test_vnic_allocate_migrate_and_deallocate(engine: Engine, api: Caller) -> None:
    network_id, subnet = network_with_subnet(engine)
    nic = new_nic()

    # VM run: scan finds nothing, so GET the network and POST the port.
    engine.reset_log()
    properties = engine.allocate(network_id, NO_GROUPS, nic, "host-a")
    assert engine.log() == [
        ("GET", "/v2.0/ports"),
        ("GET", f"/v2.0/networks/{network_id}"),
        ("POST", "/v2.0/ports"),
    ]
    assert engine.calls[-1].body == {
        "port": {
            "admin_state_up": True,
            "name": "nic1",
            "mac_address": nic.mac_address,
            "network_id": network_id,
            "device_owner": "oVirt",
            "device_id": nic.id,
            "binding:host_id": "host-a",
            "security_groups": [],
            "tenant_id": api.project_id,
        }
    }
    port = api.get(f"/v2.0/ports/{properties['vnic_id']}").json()["port"]
    assert properties == {
        "vnic_id": port["id"],
        "provider_type": "EXTERNAL_NETWORK",
        "plugin_type": "LINUX_BRIDGE",
    }
    assert port["mac_address"] == nic.mac_address  # the MAC oVirt gave, not a generated one
    assert (port["device_owner"], port["device_id"], port["name"]) == ("oVirt", nic.id, "nic1")
    assert port["binding:host_id"] == "host-a"
    assert port["admin_state_up"] is True
    assert port["security_groups"] == []
    assert port["tenant_id"] == api.project_id
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [subnet["id"]]
    address = port["fixed_ips"][0]["ip_address"]
    assert address.startswith("192.0.2.") and address != "192.0.2.1"

    # VM restarted on the same host: the scan finds the port, nothing changed, nothing sent.
    engine.reset_log()
    assert engine.allocate(network_id, NO_GROUPS, nic, "host-a")["vnic_id"] == port["id"]
    assert engine.log() == [("GET", "/v2.0/ports")]

    # Migration: same vNIC on host-b; the engine PUTs the binding (and the MAC, unchanged).
    engine.reset_log()
    assert engine.allocate(network_id, NO_GROUPS, nic, "host-b")["vnic_id"] == port["id"]
    assert engine.log() == [("GET", "/v2.0/ports"), ("PUT", f"/v2.0/ports/{port['id']}")]
    assert engine.calls[-1].body == {
        "port": {"binding:host_id": "host-b", "mac_address": nic.mac_address}
    }
    moved = api.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert moved["binding:host_id"] == "host-b"
    assert moved["mac_address"] == nic.mac_address
    assert moved["fixed_ips"] == port["fixed_ips"]  # the VM keeps its address
    assert moved["revision_number"] > port["revision_number"]

    # Re-allocating never creates a second port for the vNIC.
    assert [p["id"] for p in ports_of(api, network_id)] == [port["id"]]

    # Hot-plug a second vNIC: a new port, told apart by device_id.
    nic2 = new_nic(2)
    second = engine.allocate(network_id, NO_GROUPS, nic2, "host-b")["vnic_id"]
    assert second != port["id"]
    assert {p["id"] for p in ports_of(api, network_id)} == {port["id"], second}

    # Deallocate (vNIC removed): scan, then DELETE; the address is free again.
    engine.reset_log()
    engine.deallocate(nic)
    assert engine.log() == [("GET", "/v2.0/ports"), ("DELETE", f"/v2.0/ports/{port['id']}")]
    assert engine.calls[-1].status == 204
    assert api.get(f"/v2.0/ports/{port['id']}").status_code == 404
    assert engine.locate_port(nic) is None
    engine.reset_log()
    engine.deallocate(nic)  # gone already: the scan finds nothing and nothing is deleted
    assert engine.log() == [("GET", "/v2.0/ports")]
    again = api.port(network_id, fixed_ips=[{"subnet_id": subnet["id"], "ip_address": address}])
    assert again["fixed_ips"][0]["ip_address"] == address


def test_profile_moved_to_another_network(engine: Engine, api: Caller) -> None:
    """The vNIC's profile now points at another network: deallocate, then allocate there."""
    net_a, _ = network_with_subnet(engine, "net-a", "192.0.2.0/24")
    net_b, sub_b = network_with_subnet(engine, "net-b", "198.51.100.0/24")
    nic = new_nic()
    old = engine.allocate(net_a, NO_GROUPS, nic, "host-a")["vnic_id"]

    engine.reset_log()
    engine.deallocate(nic)
    new = engine.allocate(net_b, NO_GROUPS, nic, "host-a")["vnic_id"]
    assert engine.log() == [
        ("GET", "/v2.0/ports"),
        ("DELETE", f"/v2.0/ports/{old}"),
        ("GET", "/v2.0/ports"),
        ("GET", f"/v2.0/networks/{net_b}"),
        ("POST", "/v2.0/ports"),
    ]
    assert ports_of(api, net_a) == []
    [port] = ports_of(api, net_b)
    assert port["id"] == new
    assert port["mac_address"] == nic.mac_address
    assert port["fixed_ips"][0]["subnet_id"] == sub_b["id"]


def test_default_security_groups_are_omitted_on_create(engine: Engine, api: Caller) -> None:
    """A profile without the SecurityGroups property: the engine leaves the attribute out, so
    the port gets exactly what any port created without it gets."""
    network_id, _ = network_with_subnet(engine)
    control = api.port(network_id, name="control")
    nic = new_nic()
    engine.allocate(network_id, DEFAULT_GROUPS, nic, "host-a")
    assert "security_groups" not in engine.calls[-1].body["port"]
    port = engine.locate_port(nic)
    assert port is not None
    assert isinstance(port["security_groups"], list)
    assert sorted(port["security_groups"]) == sorted(control["security_groups"])

    # Run again on the same host: the engine PUTs only if it thinks the groups changed
    # (default wanted, none on the port: it then sends PortForUpdate's explicit null).
    engine.reset_log()
    engine.allocate(network_id, DEFAULT_GROUPS, nic, "host-a")
    if security_groups_changed(port["security_groups"], None):
        assert engine.log() == [("GET", "/v2.0/ports"), ("PUT", f"/v2.0/ports/{port['id']}")]
        assert engine.calls[-1].body == {"port": {"security_groups": None}}
        assert api.get(f"/v2.0/ports/{port['id']}").json()["port"]["security_groups"] == []
    else:
        assert engine.log() == [("GET", "/v2.0/ports")]
    assert len(ports_of(api, network_id)) == 2


def test_profile_change_from_default_to_no_groups(engine: Engine, api: Caller) -> None:
    """Profile change on a running VM: default groups -> SecurityGroups="" (none)."""
    network_id, _ = network_with_subnet(engine)
    nic = new_nic()
    vnic_id = engine.allocate(network_id, DEFAULT_GROUPS, nic, "host-a")["vnic_id"]
    before = api.get(f"/v2.0/ports/{vnic_id}").json()["port"]["security_groups"]

    engine.reset_log()
    properties = engine.allocate(network_id, NO_GROUPS, nic, "host-a")
    assert properties["vnic_id"] == vnic_id
    assert "security_groups" not in properties
    if before:  # a default group was bound: the engine clears it with a PUT of []
        assert engine.log() == [("GET", "/v2.0/ports"), ("PUT", f"/v2.0/ports/{vnic_id}")]
        assert engine.calls[-1].body == {"port": {"security_groups": []}}
    else:
        assert engine.log() == [("GET", "/v2.0/ports")]
    assert api.get(f"/v2.0/ports/{vnic_id}").json()["port"]["security_groups"] == []


def test_scan_matches_owner_and_device_id_together(engine: Engine, api: Caller) -> None:
    network_id, _ = network_with_subnet(engine)
    nic = new_nic()
    # Decoys: the vNIC id under another owner, and oVirt ports of other vNICs.
    decoy = api.port(network_id, device_owner="compute:nova", device_id=nic.id)
    others = [
        api.port(network_id, device_owner=DEVICE_OWNER, device_id=str(uuid.uuid4()))
        for _ in range(3)
    ]
    vnic_id = engine.allocate(network_id, NO_GROUPS, nic, "host-a")["vnic_id"]
    assert vnic_id not in {decoy["id"], *(o["id"] for o in others)}
    found = engine.locate_port(nic)
    assert found is not None and found["id"] == vnic_id
    engine.deallocate(nic)
    remaining = {p["id"] for p in ports_of(api, network_id)}
    assert remaining == {decoy["id"], *(o["id"] for o in others)}


@pytest.fixture
def unlimited_client(settings: Settings, store: Store) -> Iterator[TestClient]:
    """The app with no port quota (the default, 500 a project, is Neutron's too)."""
    app = create_app(settings.model_copy(update={"quota_port": -1}), store)
    with TestClient(app) as c:
        c.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        yield c


def test_scan_over_2000_ports(unlimited_client: TestClient) -> None:
    """Not timed: with 2,000 ports the full list returns every one and the scan finds the
    vNIC's port, so re-allocation updates it instead of adding a duplicate."""
    engine = Engine(unlimited_client, v2_provider())
    api = token_caller(
        unlimited_client,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )
    network_id = engine.add(EngineNetwork(name="big"))
    nic = new_nic()
    total = 2000
    for start in range(0, total, 500):
        bodies: list[dict[str, Any]] = [
            {
                "network_id": network_id,
                "device_owner": DEVICE_OWNER,
                "device_id": str(uuid.uuid4()),
                "name": f"vm{i}",
            }
            for i in range(start, start + 500)
        ]
        if start == 1000:  # the vNIC's port sits in the middle of the list
            bodies[250] = {
                "network_id": network_id,
                "device_owner": DEVICE_OWNER,
                "device_id": nic.id,
                "name": nic.name,
                "mac_address": nic.mac_address,
                "binding:host_id": "host-a",
                "admin_state_up": True,
            }
        r = api.post("/v2.0/ports", {"ports": bodies})
        assert r.status_code == 201, r.text[:500]
        assert len(r.json()["ports"]) == 500

    listed = engine.request("GET", "/ports")["ports"]
    assert len(listed) == total
    assert len({p["id"] for p in listed}) == total
    target = engine.locate_port(nic)
    assert target is not None
    assert (target["mac_address"], target["binding:host_id"]) == (nic.mac_address, "host-a")

    engine.reset_log()
    engine.allocate(network_id, NO_GROUPS, nic, "host-b")
    assert engine.log() == [("GET", "/v2.0/ports"), ("PUT", f"/v2.0/ports/{target['id']}")]
    r = api.get("/v2.0/ports", params={"device_id": nic.id})
    assert [(p["id"], p["binding:host_id"]) for p in r.json()["ports"]] == [
        (target["id"], "host-b")
    ]
    assert len(engine.request("GET", "/ports")["ports"]) == total


# --- the whole story over real HTTP ------------------------------------------------------------


@pytest.mark.parametrize("auth", ["v2.0", "v3"])
def test_engine_story_against_a_live_server(live_url: str, auth: str) -> None:
    with httpx.Client(timeout=30) as http:
        provider = v2_provider(live_url) if auth == "v2.0" else v3_provider(live_url)
        engine = Engine(http, provider)
        root = engine.test_connection()
        assert {r["collection"] for r in root["resources"]} >= {"networks", "subnets", "ports"}

        network_id = engine.add(
            EngineNetwork(
                name="live",
                mtu=1400,
                physical_network="physnet1",
                vlan_id=130,
                port_security_enabled=True,
            )
        )
        subnet = engine.add_subnet(
            ExternalSubnet(
                cidr="203.0.113.0/24",
                name="live-sub",
                network_id=network_id,
                gateway="203.0.113.1",
                dns_servers=["203.0.113.53"],
            )
        )
        [imported] = [n for n in engine.get_all() if n.external_id == network_id]
        assert (
            imported.name,
            imported.mtu,
            imported.network_type,
            imported.physical_network,
            imported.vlan_id,
            imported.port_security_enabled,
        ) == ("live", 1400, "vlan", "physnet1", 130, True)
        assert [s.id for s in engine.get_all_subnets(network_id)] == [subnet["id"]]

        nic = new_nic(7)
        vnic_id = engine.allocate(network_id, NO_GROUPS, nic, "host-a")["vnic_id"]
        engine.reset_log()
        assert engine.allocate(network_id, NO_GROUPS, nic, "host-b")["vnic_id"] == vnic_id
        assert engine.log() == [("GET", "/v2.0/ports"), ("PUT", f"/v2.0/ports/{vnic_id}")]
        port = engine.locate_port(nic)
        assert port is not None
        assert (port["id"], port["mac_address"], port["binding:host_id"]) == (
            vnic_id,
            nic.mac_address,
            "host-b",
        )
        assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]

        engine.deallocate(nic)
        assert engine.locate_port(nic) is None
        engine.remove_subnet(subnet["id"])
        engine.remove(network_id)
        assert network_id not in {n.external_id for n in engine.get_all()}
        assert len(engine.auth_calls) == 1  # one token served the whole story
