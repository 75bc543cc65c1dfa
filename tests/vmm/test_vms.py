"""VM lifecycle against a real neutrino provider: what reaches the provider's ports exactly
(device owner and id, binding host, MAC, security groups per profile), scheduling refusals,
migration, hot-plug and unplug, profile moves, deletion, and a provider in use."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.client import NotFound
from neutrino.common.errors import (
    InvalidInput,
    NamedConflict,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.vmm.scheduling import NoHostAvailable
from neutrino.vmm.usecases.base import ADMIN, Caller
from tests.conftest import ADMIN_PASSWORD
from tests.vmm.world import World


def _vm(world: World, *profiles: str, name: str = "vm1") -> dict[str, Any]:
    nics = [{"name": f"nic{i}", "profile_id": p} for i, p in enumerate(profiles)]
    return world.vmm.vms.create(
        ADMIN, {"name": name, "cluster_id": world.cluster["id"], "nics": nics}
    )


def test_start_stop_migrate_and_the_ports_the_provider_sees(world: World) -> None:
    blue, red = world.imported("blue", "red")
    sg = world.api.session.request(
        "POST", "/v2.0/security-groups", json={"security_group": {"name": "web"}}
    )["security_group"]
    vmm = world.vmm
    unset = world.profile(blue["id"])
    empty = vmm.inventory.add_profile(
        ADMIN, {"name": "open", "network_id": blue["id"], "security_groups": []}
    )
    listed = vmm.inventory.add_profile(
        ADMIN, {"name": "web", "network_id": red["id"], "security_groups": [sg["id"]]}
    )
    vm = _vm(world, unset["id"], empty["id"], listed["id"])
    macs = [n["mac"] for n in vm["nics"]]
    assert macs == ["02:6e:00:00:00:00", "02:6e:00:00:00:01", "02:6e:00:00:00:02"]

    started = vmm.vms.start(ADMIN, vm["id"])
    assert started["status"] == "up" and started["host"] == "host-hv1"
    assert all(p["status"] == "ACTIVE" for p in started["ports"].values())
    shown = vmm.vms.show(ADMIN, vm["id"])
    ports = {n["name"]: world.api.get_port(n["port_id"]) for n in shown["nics"]}
    default_sg = [
        g["id"]
        for g in world.api.session.request(
            "GET", "/v2.0/security-groups", params={"name": "default"}
        )["security_groups"]
        if g["tenant_id"] == ports["nic0"]["tenant_id"]
    ]
    for nic in shown["nics"]:
        port = ports[nic["name"]]
        assert port["device_owner"] == "compute:neutrino"
        assert port["device_id"] == nic["id"]
        assert port["binding:host_id"] == "hv1" and port["mac_address"] == nic["mac"]
        assert nic["port_status"] == "ACTIVE" and "<interface" in nic["libvirt_xml"]
    assert ports["nic0"]["security_groups"] == default_sg  # unset: the provider's default
    assert ports["nic1"]["security_groups"] == []
    assert ports["nic2"]["security_groups"] == [sg["id"]]

    stopped = vmm.vms.stop(ADMIN, vm["id"])
    assert stopped["status"] == "down" and stopped["host_id"] is None
    assert world.api.get_port(ports["nic0"]["id"])["binding:host_id"] == ""
    restarted = vmm.vms.start(ADMIN, vm["id"], host_id=world.hosts["hv2"]["id"])
    assert restarted["host"] == "host-hv2"
    assert {p["port_id"] for p in restarted["ports"].values()} == {
        p["id"] for p in ports.values()
    }  # the same ports, updated
    moved = vmm.vms.migrate(ADMIN, vm["id"])
    assert moved["host"] == "host-hv1"
    assert {world.api.get_port(p["id"])["binding:host_id"] for p in ports.values()} == {"hv1"}
    with pytest.raises(NamedConflict, match="running"):
        vmm.vms.delete(ADMIN, vm["id"])
    vmm.vms.stop(ADMIN, vm["id"])
    vmm.vms.delete(ADMIN, vm["id"])
    for port in ports.values():
        with pytest.raises(NotFound):
            world.api.get_port(port["id"])


def test_the_configured_device_owner_reaches_the_provider(world: World) -> None:
    (blue,) = world.imported("blue")
    world.vmm.vms.device_owner = "compute:nova"  # setting vmm_device_owner
    vm = _vm(world, world.profile(blue["id"])["id"])
    world.vmm.vms.start(ADMIN, vm["id"])
    (nic,) = world.vmm.vms.show(ADMIN, vm["id"])["nics"]
    assert world.api.get_port(nic["port_id"])["device_owner"] == "compute:nova"


def test_hot_plug_unplug_and_profile_move(world: World) -> None:
    blue, red = world.imported("blue", "red")
    vmm = world.vmm
    vm = _vm(world, world.profile(blue["id"])["id"])
    vmm.vms.start(ADMIN, vm["id"])
    added = vmm.vms.add_nic(
        ADMIN, vm["id"], {"name": "hot", "profile_id": world.profile(blue["id"])["id"]}
    )
    [hot] = added["ports"].values()
    assert hot["status"] == "ACTIVE"
    assert world.api.get_port(hot["port_id"])["device_id"] == added["id"]
    moved = vmm.vms.update_nic(
        ADMIN, vm["id"], added["id"], {"profile_id": world.profile(red["id"])["id"]}
    )
    [new] = moved["ports"].values()
    assert new["port_id"] != hot["port_id"]
    assert world.api.get_port(new["port_id"])["network_id"] == red["external_id"]
    with pytest.raises(NotFound):
        world.api.get_port(hot["port_id"])
    unplugged = vmm.vms.update_nic(ADMIN, vm["id"], added["id"], {"plugged": False})
    assert unplugged["port_id"] is None and added["id"] in world.unplugged
    with pytest.raises(NotFound):
        world.api.get_port(new["port_id"])
    vmm.vms.update_nic(ADMIN, vm["id"], added["id"], {"plugged": True})
    nic = next(n for n in vmm.vms.show(ADMIN, vm["id"])["nics"] if n["id"] == added["id"])
    assert nic["port_status"] == "ACTIVE"
    vmm.vms.remove_nic(ADMIN, vm["id"], added["id"])
    with pytest.raises(NotFound):
        world.api.get_port(nic["port_id"])


def test_scheduling_refuses_each_host_with_its_reason(world: World) -> None:
    [blue] = world.imported("blue")
    vmm = world.vmm
    vmm.inventory.add_host(
        ADMIN, {"name": "host-hv3", "cluster_id": world.cluster["id"], "provider_host": "hv3"}
    )
    agent = world.api.list_agents(host="hv2")[0]
    world.api.session.request(
        "PUT", f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": False}}
    )
    vm = _vm(world, world.profile(blue["id"])["id"])
    with pytest.raises(NoHostAvailable) as err:
        vmm.vms.start(ADMIN, vm["id"], host_id=world.hosts["hv2"]["id"])
    assert err.value.reasons == {
        "host-hv2": "its L2 agent on provider prov1 is administratively down"
    }
    vmm.vms.start(ADMIN, vm["id"])  # hv1 qualifies
    with pytest.raises(NoHostAvailable) as err:
        vmm.vms.migrate(ADMIN, vm["id"])
    assert err.value.reasons == {
        "host-hv1": "the VM runs there already",
        "host-hv2": "its L2 agent on provider prov1 is administratively down",
        "host-hv3": "provider prov1 has no L2 agent on hv3",
    }
    assert err.value.status == 409


def test_port_not_active_in_time_is_an_error(world: World) -> None:
    [blue] = world.imported("blue")
    world.vmm.set_host_plug(None, None)  # nobody wires the VM
    world.vmm.vms.wait_timeout = 0.5
    vm = _vm(world, world.profile(blue["id"])["id"])
    with pytest.raises(NamedConflict) as err:
        world.vmm.vms.start(ADMIN, vm["id"])
    assert err.value.type == "PortNotActive" and "nic0" in err.value.message
    assert world.vmm.vms.show(ADMIN, vm["id"])["status"] == "down"
    started = world.vmm.vms.start(ADMIN, vm["id"], wait=False)  # the CLI waits itself
    assert started["status"] == "up"


def test_provider_in_use_cannot_be_removed(world: World) -> None:
    [blue] = world.imported("blue")
    vm = _vm(world, world.profile(blue["id"])["id"])
    with pytest.raises(NamedConflict) as err:
        world.vmm.providers.remove(ADMIN, world.provider["id"])
    assert err.value.status == 409 and err.value.type == "ProviderInUse"
    assert "vm1/nic0" in err.value.message
    world.vmm.vms.delete(ADMIN, vm["id"])
    world.vmm.providers.remove(ADMIN, world.provider["id"])
    assert world.vmm.networks.list_networks(ADMIN) == []


def test_members_see_and_change_only_their_projects_vms(world: World) -> None:
    [blue] = world.imported("blue")
    alice = Caller(user_id="a", project_id="pa", can_write=True)
    bob = Caller(user_id="b", project_id="pb", can_write=True)
    reader = Caller(user_id="r", project_id="pa")
    vm = world.vmm.vms.create(alice, {"name": "mine", "cluster_id": world.cluster["id"]})
    assert vm["project_id"] == "pa"
    assert [v["name"] for v in world.vmm.vms.list_vms(bob)] == []
    with pytest.raises(ResourceNotFound):
        world.vmm.vms.start(bob, vm["id"])
    with pytest.raises(PolicyNotAuthorized):
        world.vmm.vms.stop(reader, vm["id"])
    with pytest.raises(PolicyNotAuthorized):
        world.vmm.providers.list_providers(alice)
    with pytest.raises(PolicyNotAuthorized):
        world.vmm.vms.create(
            alice, {"name": "x", "cluster_id": world.cluster["id"], "project_id": "pb"}
        )
    assert [v["name"] for v in world.vmm.vms.list_vms(ADMIN)] == ["mine"]
    assert blue["id"]


def test_datacenter_force_removal_deletes_the_ports(world: World) -> None:
    [blue] = world.imported("blue")
    vm = _vm(world, world.profile(blue["id"])["id"])
    world.vmm.vms.start(ADMIN, vm["id"])
    port_id = world.vmm.vms.show(ADMIN, vm["id"])["nics"][0]["port_id"]
    with pytest.raises(NamedConflict) as err:
        world.vmm.inventory.remove_datacenter(ADMIN, world.dc["id"])
    assert err.value.type == "DataCenterInUse"
    world.vmm.inventory.remove_datacenter(
        ADMIN, world.dc["id"], force=True, drop_port=world.vmm.vms.drop_port
    )
    with pytest.raises(NotFound):
        world.api.get_port(port_id)
    assert world.vmm.vms.list_vms(ADMIN) == [] and world.vmm.networks.list_networks(ADMIN) == []
    assert world.vmm.inventory.list_hosts(ADMIN) == []
    assert world.api.get_network(blue["external_id"])  # the provider keeps its network


def test_provider_update_resumes_after_an_auth_failure(world: World) -> None:
    pid = world.provider["id"]
    world.vmm.providers.update(ADMIN, pid, {"password": "wrong", "sync_interval": 5})
    assert world.vmm.sync.run(ADMIN, pid).status == "auth_failed"
    assert world.vmm.runner.candidates() == []  # the automatic sync stopped
    shown = world.vmm.providers.update(ADMIN, pid, {"password": ADMIN_PASSWORD})
    assert shown["sync_status"] == "" and shown["sync_interval"] == 5
    assert [p.id for p in world.vmm.runner.candidates()] == [pid]
    assert world.vmm.sync.run(ADMIN, pid).status == "ok"
    with pytest.raises(InvalidInput):
        world.vmm.providers.update(ADMIN, pid, {"url": "nope"})
