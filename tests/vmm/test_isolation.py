"""Who may do what in the vmm (/vmm/v1), over HTTP with real Keystone tokens.

The rule (the issue: "admin for providers and data centers, members for VMs in their
project"; what it leaves open is decided in ``vmm/schemas.py``'s docstring):

* providers: admin only, reads included (they hold credentials);
* the inventory (data centers, clusters, hosts, networks, vNIC profiles): any authenticated
  user reads it (a member picks a cluster and profiles), only an admin writes it;
* VMs and their vNICs: a member creates and runs the VMs of their project and sees no other
  project's VM (404, as Neutron hides what is not yours); a reader of the project sees them
  but cannot change them (403); an admin sees and manages all, and only an admin may create
  a VM for another project.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.vmm.routes import VmmExtension
from neutrino.vmm.usecases.container import Vmm
from tests.conftest import ADMIN_PASSWORD, Caller, token_caller

V = "/vmm/v1"


@pytest.fixture
def admin(settings: Settings, store: Store, vmm: Vmm) -> Iterator[Caller]:
    app = create_app(settings, store, extensions=[VmmExtension(vmm, sync=False)])
    with TestClient(app) as client:
        client.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        yield token_caller(
            client,
            {"name": "admin", "domain": {"name": "Default"}},
            ADMIN_PASSWORD,
            {"name": "admin", "domain": {"name": "Default"}},
        )


def status(response: Any) -> int:
    if response.status_code >= 400:
        assert "NeutronError" in response.json() or response.status_code == 401, response.text
    return int(response.status_code)


def made(response: Any, member: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()[member]  # type: ignore[no-any-return]


def test_who_may_do_what(admin: Caller) -> None:
    dc = made(admin.post(f"{V}/datacenters", {"datacenter": {"name": "dc"}}), "datacenter")
    cl = made(
        admin.post(f"{V}/clusters", {"cluster": {"name": "c", "datacenter_id": dc["id"]}}),
        "cluster",
    )
    host = made(admin.post(f"{V}/hosts", {"host": {"name": "h", "cluster_id": cl["id"]}}), "host")
    net = made(
        admin.post(f"{V}/networks", {"network": {"name": "n", "datacenter_id": dc["id"]}}),
        "network",
    )
    [profile] = admin.get(f"{V}/vnicprofiles?network_id={net['id']}").json()["vnicprofiles"]
    member = admin.as_member()
    reader = admin.as_reader(member.project_id)
    stranger = admin.as_member()

    # providers: admin only, reads too
    provider = {"provider": {"name": "p", "url": "http://127.0.0.1:9", "auth_url": "x"}}
    for caller in (member, reader):
        assert status(caller.get(f"{V}/providers")) == 403
        assert status(caller.post(f"{V}/providers", provider)) == 403
        assert status(caller.post(f"{V}/providers/any-id/test")) == 403
        assert status(caller.delete(f"{V}/providers/any-id")) == 403

    # the inventory: everyone reads, only the admin writes
    for caller in (member, reader):
        for plural in ("datacenters", "clusters", "hosts", "networks", "vnicprofiles"):
            assert status(caller.get(f"{V}/{plural}")) == 200, plural
        assert status(caller.post(f"{V}/datacenters", {"datacenter": {"name": "x"}})) == 403
        assert status(caller.delete(f"{V}/datacenters/{dc['id']}")) == 403
        assert (
            status(
                caller.post(f"{V}/clusters", {"cluster": {"name": "x", "datacenter_id": dc["id"]}})
            )
            == 403
        )
        assert (
            status(caller.post(f"{V}/hosts", {"host": {"name": "x", "cluster_id": cl["id"]}}))
            == 403
        )
        assert status(caller.delete(f"{V}/hosts/{host['id']}")) == 403
        assert (
            status(
                caller.post(f"{V}/networks", {"network": {"name": "x", "datacenter_id": dc["id"]}})
            )
            == 403
        )
        assert status(caller.delete(f"{V}/networks/{net['id']}")) == 403
        assert (
            status(
                caller.post(
                    f"{V}/vnicprofiles", {"vnicprofile": {"name": "x", "network_id": net["id"]}}
                )
            )
            == 403
        )
        assert status(caller.delete(f"{V}/vnicprofiles/{profile['id']}")) == 403

    # VMs: the member's project
    body = {"vm": {"name": "vm1", "cluster_id": cl["id"]}}
    vm = made(member.post(f"{V}/vms", body), "vm")
    assert vm["project_id"] == member.project_id
    elsewhere = {"vm": {"name": "vm2", "cluster_id": cl["id"], "project_id": stranger.project_id}}
    assert status(member.post(f"{V}/vms", elsewhere)) == 403
    assert status(reader.post(f"{V}/vms", {"vm": {"name": "vm3", "cluster_id": cl["id"]}})) == 403
    nic = {"nic": {"name": "eth0", "profile_id": profile["id"]}}
    made(member.post(f"{V}/vms/{vm['id']}/nics", nic), "nic")

    assert status(reader.get(f"{V}/vms/{vm['id']}")) == 200
    assert [v["id"] for v in reader.get(f"{V}/vms").json()["vms"]] == [vm["id"]]
    for call in (
        lambda c: c.post(f"{V}/vms/{vm['id']}/start", {}),
        lambda c: c.post(f"{V}/vms/{vm['id']}/stop", {}),
        lambda c: c.post(f"{V}/vms/{vm['id']}/nics", {"nic": {"name": "e1", "profile_id": "x"}}),
        lambda c: c.delete(f"{V}/vms/{vm['id']}"),
    ):
        assert status(call(reader)) == 403

    # another project's member: the VM does not exist for them
    assert stranger.get(f"{V}/vms").json()["vms"] == []
    for response in (
        stranger.get(f"{V}/vms/{vm['id']}"),
        stranger.get(f"{V}/vms/{vm['id']}/nics"),
        stranger.post(f"{V}/vms/{vm['id']}/start", {}),
        stranger.post(f"{V}/vms/{vm['id']}/stop", {}),
        stranger.post(f"{V}/vms/{vm['id']}/migrate", {}),
        stranger.post(f"{V}/vms/{vm['id']}/nics", nic),
        stranger.delete(f"{V}/vms/{vm['id']}"),
    ):
        assert status(response) == 404
        assert response.json()["NeutronError"]["type"] == "VmNotFound"

    # the admin sees every VM, makes one for another project, and removes the member's
    assert {v["id"] for v in admin.get(f"{V}/vms").json()["vms"]} == {vm["id"]}
    theirs = made(admin.post(f"{V}/vms", elsewhere), "vm")
    assert theirs["project_id"] == stranger.project_id
    assert [v["id"] for v in stranger.get(f"{V}/vms").json()["vms"]] == [theirs["id"]]
    assert status(member.get(f"{V}/vms/{theirs['id']}")) == 404
    assert status(admin.delete(f"{V}/vms/{vm['id']}")) == 204
    assert status(member.get(f"{V}/vms/{vm['id']}")) == 404
