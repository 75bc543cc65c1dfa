"""The vmm against the reference Neutron of ../shared/reference (``up.sh``: Keystone on :5000,
Neutron on :9696): add it as a provider, test the connection, create and import a network,
and create/update/delete a vNIC's port through the vmm's port lifecycle. Not in CI: skipped
unless that Keystone answers (``NEUTRINO_REF_AUTH_URL`` / ``NEUTRINO_REF_URL`` /
``NEUTRINO_REF_PASSWORD`` point elsewhere)."""

from __future__ import annotations

import os

import httpx
import pytest

from neutrino.vmm import model as m
from neutrino.vmm.provider import ProviderClient
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.container import Vmm

AUTH = os.environ.get("NEUTRINO_REF_AUTH_URL", "http://127.0.0.1:5000/v3")
URL = os.environ.get("NEUTRINO_REF_URL", "http://127.0.0.1:9696")
PASSWORD = os.environ.get("NEUTRINO_REF_PASSWORD", "adminpass")


def _reference_running() -> bool:
    try:
        body = httpx.get(AUTH, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return str(body.get("version", {}).get("id", "")).startswith("v3")


pytestmark = pytest.mark.skipif(
    not _reference_running(), reason=f"reference Keystone/Neutron not running ({AUTH})"
)


def test_reference_neutron_as_a_provider(vmm: Vmm) -> None:
    p = vmm.providers.add(
        ADMIN,
        {
            "name": "reference",
            "url": URL,
            "auth_url": AUTH,
            "username": "admin",
            "password": PASSWORD,
        },
    )
    check = vmm.providers.test(ADMIN, p["id"])
    assert check.ok, check.message
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc"})
    net = vmm.networks.create(
        ADMIN,
        {
            "provider_id": p["id"],
            "datacenter_id": dc["id"],
            "name": "vmm-ref-test",
            "subnets": [{"cidr": "198.51.100.0/24"}],
        },
    )
    client = ProviderClient(_provider(vmm, p["id"]))
    try:
        assert net["external_id"] not in {
            n["id"] for n in vmm.networks.discover(ADMIN, p["id"], dc["id"])
        }
        cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c", "datacenter_id": dc["id"]})
        profile = vmm.inventory.add_profile(
            ADMIN, {"name": "none", "network_id": net["id"], "security_groups": []}
        )
        vm = vmm.vms.create(
            ADMIN,
            {
                "name": "ref-vm",
                "cluster_id": cluster["id"],
                "nics": [{"name": "eth0", "profile_id": profile["id"]}],
            },
        )
        with vmm.store.read() as repo:
            vm_row, nic = repo.get(m.Vm, vm["id"]), repo.find(m.Vnic, vm_id=vm["id"])[0]
            place = vmm.vms._placement(repo, vm_row, nic, None)  # type: ignore[arg-type]
        assert place is not None
        port = ports.allocate(client, place, "compute:neutrino")
        assert (port["device_id"], port["mac_address"], port["security_groups"]) == (
            nic.id,
            nic.mac,
            [],
        )
        assert ports.allocate(client, place, "compute:neutrino")["id"] == port["id"]  # found
        ports.deallocate(client, port["id"])
        assert client.ports_of_devices([nic.id]) == []
        vmm.vms.delete(ADMIN, vm["id"])
    finally:
        vmm.networks.remove(ADMIN, net["id"], from_provider=True)
        client.close()


def _provider(vmm: Vmm, provider_id: str) -> m.Provider:
    with vmm.store.read() as repo:
        found = repo.get(m.Provider, provider_id)
    assert found is not None
    return found
