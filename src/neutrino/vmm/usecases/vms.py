"""VMs and their vNICs: define, start (schedule, ports, wait ACTIVE), stop, migrate, hot-plug
and unplug, delete.

Members manage the VMs of their project; admins all. A vNIC gets the lowest free MAC of its
data center's pool. Port calls go through ``ports``; waiting for ACTIVE is the provider's
event (or polling), all of a VM's ports at once (``vmports``). ``plug`` (optional) is the
hypervisor side: called with each vNIC's port once bound, it wires the VM on the host (the
lab plugs a namespace; a real host would use the libvirt XML); ``prepare`` (optional) makes
the guest side before the port exists. Transactions never span provider calls: a start reads
the VM, calls the providers, then records ports and the host in one write.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from neutrino.client import ClientError
from neutrino.common.errors import InvalidInput, NamedConflict, ResourceNotFound
from neutrino.vmm import libvirt, macpool
from neutrino.vmm import model as m
from neutrino.vmm.storage.repo import Repo
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import Caller, need
from neutrino.vmm.usecases.vmports import VmPorts

MAC_TRIES = 5


class Vms(VmPorts):
    # --- reads ---------------------------------------------------------------------------

    def _vm(self, repo: Repo, caller: Caller, vm_id: str) -> m.Vm:
        vm = repo.get(m.Vm, vm_id)
        if vm is None or not (caller.is_admin or vm.project_id == caller.project_id):
            raise ResourceNotFound("Vm", vm_id)
        return vm

    def list_vms(self, caller: Caller, name: str | None = None) -> list[dict[str, Any]]:
        where: dict[str, Any] = {} if caller.is_admin else {"project_id": caller.project_id}
        if name:
            where["name"] = name
        with self.store.read() as repo:
            return [asdict(v) for v in repo.find(m.Vm, **where)]

    def show(self, caller: Caller, vm_id: str, live: bool = True) -> dict[str, Any]:
        """The VM, its vNICs and, when ``live``, each port's status and libvirt XML."""
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            nics = repo.find(m.Vnic, vm_id=vm_id)
            places = {n.id: self._placement(repo, vm, n, None) for n in nics}
        views = []
        for nic in nics:
            view: dict[str, Any] = asdict(nic)
            place = places[nic.id]
            if live and place is not None and nic.port_id:
                view.update(self._port_view(place, nic))
            views.append(view)
        return {**asdict(vm), "nics": views}

    def _port_view(self, place: ports.Placement, nic: m.Vnic) -> dict[str, Any]:
        try:
            port = self.clients.of(place.provider).api.get_port(nic.port_id or "")
        except ClientError as exc:
            return {"port_status": f"unknown ({exc})"}
        out: dict[str, Any] = {
            "port_status": port.get("status"),
            "binding:host_id": port.get("binding:host_id"),
            "binding:vif_type": port.get("binding:vif_type"),
            "fixed_ips": port.get("fixed_ips", []),
        }
        try:
            out["libvirt_xml"] = libvirt.interface_xml(port, nic.mac, place.network.mtu)
        except libvirt.UnpluggableBinding:
            out["libvirt_xml"] = None
        return out

    # --- define --------------------------------------------------------------------------

    def create(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_write("create_vm")
        unknown = set(body) - {"name", "cluster_id", "project_id", "nics"}
        if unknown:
            raise InvalidInput(f"unknown VM attribute(s): {', '.join(sorted(unknown))}")
        project = caller.project_id
        if body.get("project_id") and body["project_id"] != project:
            caller.require_admin("create_vm_for_another_project")
            project = m.check_text(body["project_id"], "project_id", 64)
        vm = m.Vm(
            name=m.check_name(body.get("name")),
            cluster_id=str(body.get("cluster_id")),
            project_id=project,
        )
        nics = body.get("nics") or []
        if not isinstance(nics, list):
            raise InvalidInput("nics must be a list of {name, profile_id[, mac]}")
        with self.store.write() as repo:
            need(repo, m.Cluster, vm.cluster_id)
            repo.add(vm)
        try:
            for nic in nics:
                self._add_nic_row(caller, vm, nic)
        except Exception:
            with self.store.write() as repo:
                repo.remove(m.Vm, vm.id)
            raise
        return self.show(caller, vm.id, live=False)

    def _add_nic_row(self, caller: Caller, vm: m.Vm, body: Any) -> m.Vnic:
        if not isinstance(body, dict):
            raise InvalidInput("a vNIC is {name, profile_id[, mac]}")
        unknown = set(body) - {"name", "profile_id", "mac"}
        if unknown:
            raise InvalidInput(f"unknown vNIC attribute(s): {', '.join(sorted(unknown))}")
        name = m.check_name(body.get("name"))
        given = m.check_mac(body["mac"]) if body.get("mac") else None
        for _ in range(MAC_TRIES):
            with self.store.write() as repo:
                profile = need(repo, m.Profile, str(body.get("profile_id")))
                cluster = need(repo, m.Cluster, vm.cluster_id)
                net = need(repo, m.Network, profile.network_id)
                if net.datacenter_id != cluster.datacenter_id:
                    raise InvalidInput(
                        f"profile {profile.name} is on a network of another data center"
                    )
                dc = need(repo, m.DataCenter, cluster.datacenter_id)
                mac = given or macpool.allocate(dc.mac_pool, repo.macs_in_datacenter(dc.id))
                try:
                    return repo.add(m.Vnic(name=name, vm_id=vm.id, profile_id=profile.id, mac=mac))
                except NamedConflict as exc:
                    if exc.type != "MacAddressInUse" or given:
                        raise
            # another allocation took this MAC first: pick again in a new transaction
        raise NamedConflict("MacAddressInUse", "could not allocate a MAC address (contention)")
