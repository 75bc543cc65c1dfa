"""Import, create-and-import, remove and auto-sync, against a real neutrino provider."""

from __future__ import annotations

import time

import pytest

from neutrino.client import NotFound
from neutrino.common.errors import NamedConflict, NamedNotFound, NeutrinoError
from neutrino.vmm import model as m
from neutrino.vmm.usecases.base import ADMIN
from tests.vmm.world import World


def test_discover_import_once_per_datacenter(world: World) -> None:
    a, b = world.network("a", "192.0.2.0/28"), world.network("b", "192.0.2.16/28")
    vmm, pid, dc = world.vmm, world.provider["id"], world.dc["id"]
    offered = {n["id"] for n in vmm.networks.discover(ADMIN, pid, dc)}
    assert {a["id"], b["id"]} <= offered
    [imported] = vmm.networks.import_(ADMIN, pid, dc, [a["id"]])
    assert (imported["name"], imported["external_id"], imported["linked"]) == ("a", a["id"], True)
    assert imported["network_type"] == "vxlan"  # the provider's attributes, read-only copy
    assert world.profile(imported["id"])["security_groups"] is None  # default profile
    offered = {n["id"] for n in vmm.networks.discover(ADMIN, pid, dc)}
    assert a["id"] not in offered and b["id"] in offered
    with pytest.raises(NamedConflict) as err:
        vmm.networks.import_(ADMIN, pid, dc, [a["id"]])
    assert err.value.type == "NetworkAlreadyImported" and err.value.status == 409
    dc2 = vmm.inventory.add_datacenter(ADMIN, {"name": "dc2"})["id"]
    assert len(vmm.networks.import_(ADMIN, pid, dc2, [a["id"]])) == 1  # another DC: fine
    with pytest.raises(NamedNotFound, match="has no network"):
        vmm.networks.import_(ADMIN, pid, dc, ["no-such-network"])


def test_create_on_provider_and_import_in_one_step(world: World) -> None:
    net = world.vmm.networks.create(
        ADMIN,
        {
            "provider_id": world.provider["id"],
            "datacenter_id": world.dc["id"],
            "name": "made",
            "subnets": [
                {
                    "cidr": "203.0.113.0/24",
                    "gateway_ip": "203.0.113.1",
                    "dns_nameservers": ["203.0.113.53"],
                },
                {"cidr": "2001:db8:1::/64", "ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"},
            ],
        },
    )
    remote = world.api.get_network(net["external_id"])
    assert remote["name"] == "made"
    subnets = {s["cidr"]: s for s in world.api.list_subnets(network_id=remote["id"])}
    assert subnets["203.0.113.0/24"]["dns_nameservers"] == ["203.0.113.53"]
    assert subnets["2001:db8:1::/64"]["ipv6_address_mode"] == "slaac"
    shown = world.vmm.networks.show(ADMIN, net["id"])  # subnets read live
    assert {s["cidr"] for s in shown["subnets"]} == set(subnets)


def test_a_refused_subnet_leaves_nothing_behind(world: World) -> None:
    before = {n["id"] for n in world.api.list_networks()}
    with pytest.raises(NeutrinoError) as err:
        world.vmm.networks.create(
            ADMIN,
            {
                "provider_id": world.provider["id"],
                "datacenter_id": world.dc["id"],
                "name": "broken",
                "subnets": [{"cidr": "not-a-cidr"}],
            },
        )
    assert err.value.status == 400 and "prov1" in err.value.message
    assert {n["id"] for n in world.api.list_networks()} == before
    assert world.vmm.networks.list_networks(ADMIN, name="broken") == []


def test_remove_from_manager_or_provider(world: World) -> None:
    keep, drop = world.imported("keep", "drop")
    world.vmm.networks.remove(ADMIN, keep["id"])
    assert world.api.get_network(keep["external_id"])["name"] == "keep"
    world.vmm.networks.remove(ADMIN, drop["id"], from_provider=True)
    with pytest.raises(NotFound):
        world.api.get_network(drop["external_id"])
    assert world.vmm.networks.list_networks(ADMIN) == []


def test_read_only_provider_imports_only(world: World) -> None:
    with world.vmm.store.write() as repo:
        p = repo.get(m.Provider, world.provider["id"])
        assert p is not None
        p.read_only = True
        repo.save(p)
    with pytest.raises(NamedConflict, match="read-only"):
        world.vmm.networks.create(
            ADMIN,
            {"provider_id": world.provider["id"], "datacenter_id": world.dc["id"], "name": "x"},
        )


def test_auto_sync_offers_renames_marks_gone_and_unplugs(world: World) -> None:
    ren, gone = world.imported("ren", "gone")
    vm = world.vmm.vms.create(
        ADMIN,
        {
            "name": "vm1",
            "cluster_id": world.cluster["id"],
            "nics": [{"name": "nic0", "profile_id": world.profile(gone["id"])["id"]}],
        },
    )
    world.vmm.vms.start(ADMIN, vm["id"])
    world.vmm.vms.stop(ADMIN, vm["id"])  # the port stays, unbound
    nic = world.vmm.vms.show(ADMIN, vm["id"])["nics"][0]
    behind = world.api.create_network(name="behind-the-back")
    world.api.session.request(
        "PUT", f"/v2.0/networks/{ren['external_id']}", json={"network": {"name": "renamed"}}
    )
    world.api.delete_port(nic["port_id"])
    world.api.delete_network(gone["external_id"])
    report = world.vmm.sync.run(ADMIN, world.provider["id"])
    assert report.status == "ok"
    assert "behind-the-back" in report.offered
    assert report.renamed == [("ren", "renamed")]
    assert report.gone == ["gone"] and report.unplugged == ["vm1/nic0"]
    nets = {n["name"]: n for n in world.vmm.networks.list_networks(ADMIN)}
    assert nets["gone"]["status"] == "gone" and nets["renamed"]["status"] == "ok"
    nic = world.vmm.vms.show(ADMIN, vm["id"])["nics"][0]
    assert not nic["plugged"] and nic["port_id"] is None
    with pytest.raises(NamedConflict) as err:  # a gone network cannot run a VM
        world.vmm.vms.update_nic(ADMIN, vm["id"], nic["id"], {"plugged": True})
        world.vmm.vms.start(ADMIN, vm["id"])
    assert err.value.type == "NetworkGone"
    kinds = [e["kind"] for e in world.vmm.providers.show(ADMIN, world.provider["id"])["events"]]
    assert "networks_offered" in kinds and "sync" in kinds
    assert behind["id"] not in {n["external_id"] for n in nets.values()}  # offered, not taken


def test_a_network_gone_under_a_running_vm_unplugs_its_vnic(world: World) -> None:
    (gone,) = world.imported("gone")
    nics = [{"name": "nic0", "profile_id": world.profile(gone["id"])["id"]}]
    vm = world.vmm.vms.create(
        ADMIN, {"name": "vm1", "cluster_id": world.cluster["id"], "nics": nics}
    )
    world.vmm.vms.start(ADMIN, vm["id"])
    nic = world.vmm.vms.show(ADMIN, vm["id"])["nics"][0]
    world.api.delete_port(nic["port_id"])  # a provider refuses to delete a network in use
    world.api.delete_network(gone["external_id"])
    report = world.vmm.sync.run(ADMIN, world.provider["id"])
    assert report.gone == ["gone"] and report.unplugged == ["vm1/nic0"]
    assert nic["id"] in world.unplugged  # the host let go of the running VM's vNIC
    nic = world.vmm.vms.show(ADMIN, vm["id"])["nics"][0]
    assert not nic["plugged"] and nic["port_id"] is None


def test_auth_failure_stops_the_automatic_sync(world: World) -> None:
    with world.vmm.store.write() as repo:
        p = repo.get(m.Provider, world.provider["id"])
        assert p is not None
        p.password, p.sync_interval = "changed-behind-our-back", 1
        repo.save(p)
    assert [p.id for p in world.vmm.runner.candidates()] == [world.provider["id"]]
    [report] = world.vmm.runner.run_due()
    assert report.status == "auth_failed" and "stopped" in report.message
    shown = world.vmm.providers.show(ADMIN, world.provider["id"])
    assert shown["sync_status"] == "auth_failed"
    assert shown["events"][0]["kind"] == "sync_auth_failed"
    assert world.vmm.runner.candidates() == []  # no retrying forever
    assert world.vmm.runner.run_due(time.time() + 10) == []
