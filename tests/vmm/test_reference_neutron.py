"""The vmm against the reference OpenStack Keystone + Neutron of ../shared/reference (``up.sh``).

Opt-in, not in CI: skipped unless ``NEUTRINO_REF_AUTH_URL`` (its Keystone, e.g.
``http://127.0.0.1:5000/v3``) is set and answers; ``NEUTRINO_REF_URL`` is its Neutron
(default ``http://127.0.0.1:9696``), ``NEUTRINO_REF_PASSWORD`` the admin's password
(default ``adminpass``, what ``up.sh`` makes). The reference runs no agents, so its ports never
go ACTIVE and a port bound to a host comes back ``binding_failed``: the port lifecycle is
driven through the vmm's port functions (the ones a VM start calls), not a VM start.

What it proves: test connection with Keystone v3 (good, and a bad password), and v2.0 (which
Keystone no longer serves: a clear ``not_keystone`` answer); discover + import of a network
made behind the manager's back; create a network with an IPv4 and an IPv6 SLAAC subnet from
the manager; a VM's two vNIC ports made in one bulk create, found again by one lookup, bound
to a host (refused by the provider, as it has no agent there), and deleted; the profile's
security groups (unset / ``[]``) reaching Neutron exactly; removing the network from the
provider too.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import httpx
import pytest

from neutrino.client import ClientError
from neutrino.vmm import model as m
from neutrino.vmm.provider import ProviderClient
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.container import Vmm

AUTH = os.environ.get("NEUTRINO_REF_AUTH_URL", "")
URL = os.environ.get("NEUTRINO_REF_URL", "http://127.0.0.1:9696")
PASSWORD = os.environ.get("NEUTRINO_REF_PASSWORD", "adminpass")


def _reference_running() -> bool:
    if not AUTH:
        return False
    try:
        body = httpx.get(AUTH, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return str(body.get("version", {}).get("id", "")).startswith("v3")


pytestmark = pytest.mark.skipif(
    not _reference_running(),
    reason="reference Keystone/Neutron: set NEUTRINO_REF_AUTH_URL to a running one",
)


def _body(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "url": URL,
        "auth_url": AUTH,
        "username": "admin",
        "password": PASSWORD,
        "sync_interval": 0,
        **extra,
    }


def _provider(vmm: Vmm, provider_id: str) -> m.Provider:
    with vmm.store.read() as repo:
        found = repo.get(m.Provider, provider_id)
    assert found is not None
    return found


def test_connection_checks(vmm: Vmm) -> None:
    good = vmm.providers.add(ADMIN, _body("ref-v3"))
    assert vmm.providers.test(ADMIN, good["id"]).ok
    bad = vmm.providers.add(ADMIN, _body("ref-bad", password="not-the-password"))
    assert vmm.providers.test(ADMIN, bad["id"]).kind == "bad_credentials"
    v2 = vmm.providers.add(
        ADMIN,
        _body("ref-v2", keystone_version="v2.0", auth_url=AUTH.rsplit("/v3", 1)[0] + "/v2.0"),
    )
    check = vmm.providers.test(ADMIN, v2["id"])
    assert check.kind == "not_keystone"
    assert "v3" in check.message  # the answer says what to use instead


def test_reference_neutron_as_a_provider(vmm: Vmm) -> None:
    p = vmm.providers.add(ADMIN, _body("reference"))
    client = ProviderClient(_provider(vmm, p["id"]))
    tag = uuid.uuid4().hex[:8]
    behind = client.api.create_network(name=f"vmm-ref-behind-{tag}")
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc"})
    made: list[str] = [behind["id"]]
    try:
        offered = {n["id"] for n in vmm.networks.discover(ADMIN, p["id"], dc["id"])}
        assert behind["id"] in offered
        [imported] = vmm.networks.import_(ADMIN, p["id"], dc["id"], [behind["id"]])
        assert imported["external_id"] == behind["id"]
        assert behind["id"] not in {
            n["id"] for n in vmm.networks.discover(ADMIN, p["id"], dc["id"])
        }

        net = vmm.networks.create(
            ADMIN,
            {
                "provider_id": p["id"],
                "datacenter_id": dc["id"],
                "name": f"vmm-ref-{tag}",
                "subnets": [
                    {"cidr": "198.51.100.0/24", "dns_nameservers": ["192.0.2.53"]},
                    {
                        "cidr": "2001:db8:10::/64",
                        "ipv6_ra_mode": "slaac",
                        "ipv6_address_mode": "slaac",
                    },
                ],
            },
        )
        made.append(net["external_id"])
        subnets = vmm.networks.show(ADMIN, net["id"])["subnets"]
        assert sorted(s["cidr"] for s in subnets) == ["198.51.100.0/24", "2001:db8:10::/64"]
        v6 = next(s for s in subnets if s["ip_version"] == 6)
        assert (v6["ipv6_ra_mode"], v6["ipv6_address_mode"]) == ("slaac", "slaac")

        cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c", "datacenter_id": dc["id"]})
        none = vmm.inventory.add_profile(
            ADMIN, {"name": "none", "network_id": net["id"], "security_groups": []}
        )
        default = vmm.inventory.list_profiles(ADMIN, network_id=net["id"])
        default_id = next(x["id"] for x in default if x["security_groups"] is None)
        vm = vmm.vms.create(
            ADMIN,
            {
                "name": "ref-vm",
                "cluster_id": cluster["id"],
                "nics": [
                    {"name": "eth0", "profile_id": none["id"]},
                    {"name": "eth1", "profile_id": default_id},
                ],
            },
        )
        with vmm.store.read() as repo:
            vm_row = repo.get(m.Vm, vm["id"])
            nics = sorted(repo.find(m.Vnic, vm_id=vm["id"]), key=lambda n: n.name)
            assert vm_row is not None
            places = [vmm.vms._placement(repo, vm_row, n, None) for n in nics]
        unbound = [pl for pl in places if pl is not None]
        assert len(unbound) == 2

        bound = ports.allocate(client, unbound, "compute:neutrino")  # one bulk POST
        eth0, eth1 = bound[nics[0].id], bound[nics[1].id]
        assert (eth0["device_id"], eth0["mac_address"], eth0["security_groups"]) == (
            nics[0].id,
            nics[0].mac,
            [],
        )
        assert len(eth1["security_groups"]) == 1  # omitted: the project's default group
        assert set(ports.lookup(client, nics)) == {n.id for n in nics}
        again = ports.allocate(client, unbound, "compute:neutrino")  # found, nothing new
        assert {k: v["id"] for k, v in again.items()} == {k: v["id"] for k, v in bound.items()}

        on_host = [
            ports.Placement(pl.vm, pl.vnic, pl.profile, pl.network, pl.provider, "hv-ref")
            for pl in unbound
        ]
        rebound = ports.allocate(client, on_host, "compute:neutrino")  # a PUT each
        assert {v["binding:host_id"] for v in rebound.values()} == {"hv-ref"}
        # no agent serves hv-ref on the reference: Neutron cannot bind there
        assert {v["binding:vif_type"] for v in rebound.values()} == {"binding_failed"}

        for port in bound.values():
            ports.deallocate(client, port["id"])
        ports.deallocate(client, eth0["id"])  # already gone: still fine
        assert ports.lookup(client, nics) == {}
        vmm.vms.delete(ADMIN, vm["id"])
        vmm.networks.remove(ADMIN, net["id"], from_provider=True)
        made.remove(net["external_id"])
        assert net["external_id"] not in {n["id"] for n in client.api.list_networks()}
    finally:
        for network_id in made:
            with contextlib.suppress(ClientError):  # cleanup of the test's own networks
                client.api.delete_network(network_id)
        client.close()
