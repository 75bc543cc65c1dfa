"""Data centers, clusters, hosts and vNIC profiles: the manager's own inventory.

Admin only for data centers, clusters and hosts; profiles too (members pick them for their
vNICs). A host names the provider host it is (``provider_host`` = the ``binding:host_id`` its
provider agents report). A profile's ``security_groups`` is unset (``None``), ``[]`` or a list.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.vmm import macpool
from neutrino.vmm import model as m
from neutrino.vmm.usecases.base import Caller, UseCase, need


def _view(obj: Any) -> dict[str, Any]:
    return asdict(obj)


def _known(body: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"unknown {what} attribute(s): {', '.join(sorted(unknown))}")


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value


class Inventory(UseCase):
    # --- data centers --------------------------------------------------------------------

    def add_datacenter(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_admin("add_datacenter")
        _known(body, {"name", "description", "mac_pool"}, "data center")
        dc = m.DataCenter(
            name=m.check_name(body.get("name")), description=_text(body, "description")
        )
        if "mac_pool" in body:
            macpool.parse_range(_text(body, "mac_pool"))
            dc.mac_pool = body["mac_pool"].lower()
        with self.store.write() as repo:
            repo.add(dc)
        return _view(dc)

    def list_datacenters(self, caller: Caller, name: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            return [_view(d) for d in repo.find(m.DataCenter, **_by_name(name))]

    def remove_datacenter(
        self, caller: Caller, datacenter_id: str, force: bool = False, drop_port: Any = None
    ) -> None:
        """Remove a data center with its clusters, hosts, networks and profiles. Refused (409)
        while it has VMs, unless ``force``: then their vNICs' ports are deleted on the
        providers (``drop_port``, the VM use case's) and the VMs go too."""
        caller.require_admin("remove_datacenter")
        with self.store.read() as repo:
            dc = need(repo, m.DataCenter, datacenter_id)
            clusters = [c.id for c in repo.find(m.Cluster, datacenter_id=datacenter_id)]
            vms = repo.find(m.Vm, cluster_id=clusters) if clusters else []
            nics = repo.find(m.Vnic, vm_id=[v.id for v in vms]) if vms else []
        if vms and not force:
            raise NamedConflict(
                "DataCenterInUse",
                f"data center {dc.name} has {len(vms)} VM(s): remove them first, or force",
            )
        for nic in nics:
            if drop_port is not None:
                drop_port(nic)
        with self.store.write() as repo:
            for vm in vms:
                repo.remove(m.Vm, vm.id)
            repo.remove(m.DataCenter, datacenter_id)

    # --- clusters ------------------------------------------------------------------------

    def add_cluster(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_admin("add_cluster")
        _known(body, {"name", "datacenter_id"}, "cluster")
        cluster = m.Cluster(
            name=m.check_name(body.get("name")), datacenter_id=_text(body, "datacenter_id")
        )
        with self.store.write() as repo:
            need(repo, m.DataCenter, cluster.datacenter_id)
            repo.add(cluster)
        return _view(cluster)

    def list_clusters(self, caller: Caller, name: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            return [_view(c) for c in repo.find(m.Cluster, **_by_name(name))]

    # --- hosts ---------------------------------------------------------------------------

    def add_host(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_admin("add_host")
        _known(body, {"name", "cluster_id", "provider_host"}, "host")
        name = m.check_name(body.get("name"))
        host = m.Host(
            name=name,
            cluster_id=_text(body, "cluster_id"),
            provider_host=m.check_name(body.get("provider_host", name), "provider_host"),
        )
        with self.store.write() as repo:
            need(repo, m.Cluster, host.cluster_id)
            repo.add(host)
        return _view(host)

    def list_hosts(self, caller: Caller, name: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            return [_view(h) for h in repo.find(m.Host, **_by_name(name))]

    def remove_host(self, caller: Caller, host_id: str) -> None:
        caller.require_admin("remove_host")
        with self.store.write() as repo:
            host = need(repo, m.Host, host_id)
            if repo.count(m.Vm, host_id=host_id):
                raise NamedConflict("HostInUse", f"host {host.name} runs VMs")
            repo.remove(m.Host, host_id)

    # --- vNIC profiles -------------------------------------------------------------------

    def add_profile(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_admin("add_profile")
        _known(body, {"name", "network_id", "security_groups"}, "vNIC profile")
        profile = m.Profile(
            name=m.check_name(body.get("name")),
            network_id=_text(body, "network_id"),
            security_groups=m.check_security_groups(body.get("security_groups")),
        )
        with self.store.write() as repo:
            need(repo, m.Network, profile.network_id)
            repo.add(profile)
        return _view(profile)

    def list_profiles(
        self, caller: Caller, network_id: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        where: dict[str, Any] = _by_name(name)
        if network_id:
            where["network_id"] = network_id
        with self.store.read() as repo:
            return [_view(p) for p in repo.find(m.Profile, **where)]

    def remove_profile(self, caller: Caller, profile_id: str) -> None:
        caller.require_admin("remove_profile")
        with self.store.write() as repo:
            profile = need(repo, m.Profile, profile_id)
            if repo.count(m.Vnic, profile_id=profile_id):
                raise NamedConflict("ProfileInUse", f"vNIC profile {profile.name} is in use")
            repo.remove(m.Profile, profile_id)


def _by_name(name: str | None) -> dict[str, Any]:
    return {"name": name} if name else {}
