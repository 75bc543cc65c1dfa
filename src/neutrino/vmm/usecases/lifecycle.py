"""What happens to a VM's ports when it runs, moves and changes (see ``vms`` for the parts).

* start — schedule (a host of the VM's cluster whose provider agents are alive and serve each
  linked network; or the host asked for, checked the same way), create/update each plugged
  vNIC's port bound to that host, plug, wait until every port is ACTIVE;
* stop — unbind the ports (they stay, so the next start updates instead of creating);
* migrate — schedule another host, move the bindings, plug there, wait ACTIVE again;
* hot-plug / unplug / profile change of a vNIC — its port is created, deleted, or (profile on
  another network) deleted and made anew;
* delete — every port of the VM is deleted (a stopped VM only); so is every port of a
  force-removed data center's VMs (``drop_port``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

from neutrino.client import ClientError, HttpError
from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.vmm import model as m
from neutrino.vmm import scheduling
from neutrino.vmm.storage.repo import Repo
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import Caller, need, provider_error
from neutrino.vmm.usecases.vms import Vms


class VmLifecycle(Vms):
    # --- scheduling ----------------------------------------------------------------------

    def _needs(
        self, repo: Repo, vm: m.Vm, nics: list[m.Vnic]
    ) -> tuple[list[scheduling.NetworkNeed], dict[str, m.Provider]]:
        needs: dict[str, scheduling.NetworkNeed] = {}
        providers: dict[str, m.Provider] = {}
        for nic in nics:
            place = self._placement(repo, vm, nic, None)
            if place is None:
                continue
            if place.network.status == m.NET_GONE:
                raise NamedConflict(
                    "NetworkGone",
                    f"network {place.network.name} of vNIC {nic.name} is gone from its provider",
                )
            providers[place.provider.id] = place.provider
            needs[place.network.id] = scheduling.NetworkNeed(
                place.network.name,
                place.provider.id,
                place.provider.name,
                place.network.network_type,
                place.network.physical_network,
            )
        return list(needs.values()), providers

    def _agents(self, providers: dict[str, m.Provider]) -> dict[str, list[dict[str, Any]]]:
        """Each provider's agents; a provider without the agents API (404/403) is left out:
        its networks are then taken on trust."""
        out: dict[str, list[dict[str, Any]]] = {}
        for pid, provider in providers.items():
            try:
                out[pid] = self.clients.of(provider).api.list_agents()
            except HttpError as exc:
                if exc.status not in (403, 404):
                    raise provider_error(provider, exc) from None
            except ClientError as exc:
                raise provider_error(provider, exc) from None
        return out

    def _schedule(
        self,
        repo: Repo,
        vm: m.Vm,
        nics: list[m.Vnic],
        host_id: str | None,
        exclude: str | None = None,
    ) -> m.Host:
        needs, providers = self._needs(repo, vm, nics)
        hosts = repo.find(m.Host, cluster_id=vm.cluster_id)
        if host_id is not None:
            hosts = [h for h in hosts if h.id == host_id]
            if not hosts:
                raise InvalidInput(f"host {host_id} is not a host of the VM's cluster")
        load = {h.id: repo.count(m.Vm, host_id=h.id) for h in hosts}
        agents = self._agents(providers)
        known = [n for n in needs if n.provider_id in agents]
        cands = [scheduling.Candidate(h.id, h.name, h.provider_host) for h in hosts]
        chosen = scheduling.choose(vm.name, cands, known, agents, load, exclude)
        return next(h for h in hosts if h.id == chosen.id)

    # --- start / stop / migrate ----------------------------------------------------------

    def start(
        self, caller: Caller, vm_id: str, host_id: str | None = None, wait: bool = True
    ) -> dict[str, Any]:
        caller.require_write("start_vm")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            if vm.status == m.VM_UP:
                raise NamedConflict("VmIsRunning", f"VM {vm.name} is running already")
            nics = repo.find(m.Vnic, vm_id=vm_id, plugged=True)
            unbound = [p for n in nics if (p := self._placement(repo, vm, n, None))]
        # the ports' lookup does not depend on the host: it runs while the VM is scheduled
        with ThreadPoolExecutor(max_workers=1) as pool:
            found = pool.submit(self._lookup_all, unbound)
            with self.store.read() as repo:
                host = self._schedule(repo, vm, nics, host_id)
            existing = found.result()
        places = [replace(p, provider_host=host.provider_host) for p in unbound]

        def running(repo: Repo) -> None:
            row = self._vm(repo, caller, vm_id)
            row.status, row.host_id = m.VM_UP, host.id
            repo.save(row)

        result = self._run_ports(vm, host, places, wait, existing, then=running)
        vm.status, vm.host_id = m.VM_UP, host.id
        return {**asdict(vm), "host": host.name, "ports": result}

    def stop(self, caller: Caller, vm_id: str) -> dict[str, Any]:
        caller.require_write("stop_vm")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            nics = repo.find(m.Vnic, vm_id=vm_id)
            places = [p for n in nics if n.port_id and (p := self._placement(repo, vm, n, None))]
        for place in places:
            if self.unplug is not None:
                self.unplug(vm, place.vnic)
            try:
                ports.unbind(self.clients.of(place.provider), place.vnic.port_id or "")
            except ClientError as exc:
                raise provider_error(place.provider, exc) from None
        with self.store.write() as repo:
            vm = self._vm(repo, caller, vm_id)
            vm.status, vm.host_id = m.VM_DOWN, None
            repo.save(vm)
        return asdict(vm)

    def migrate(
        self, caller: Caller, vm_id: str, host_id: str | None = None, wait: bool = True
    ) -> dict[str, Any]:
        caller.require_write("migrate_vm")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            if vm.status != m.VM_UP:
                raise NamedConflict("VmNotRunning", f"VM {vm.name} is not running")
            nics = repo.find(m.Vnic, vm_id=vm_id, plugged=True)
            host = self._schedule(repo, vm, nics, host_id, exclude=vm.host_id)
            places = [p for n in nics if (p := self._placement(repo, vm, n, host))]

        def moved(repo: Repo) -> None:
            row = self._vm(repo, caller, vm_id)
            row.host_id = host.id
            repo.save(row)

        result = self._run_ports(vm, host, places, wait, then=moved)
        vm.host_id = host.id
        return {**asdict(vm), "host": host.name, "ports": result}

    def delete(self, caller: Caller, vm_id: str) -> None:
        caller.require_write("delete_vm")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            if vm.status == m.VM_UP:
                raise NamedConflict("VmIsRunning", f"VM {vm.name} is running: stop it first")
            nics = repo.find(m.Vnic, vm_id=vm_id)
        for nic in nics:
            self.drop_port(nic)
        with self.store.write() as repo:
            repo.remove(m.Vm, vm_id)

    # --- vNICs ---------------------------------------------------------------------------

    def drop_port(self, nic: m.Vnic) -> None:
        """Delete the vNIC's port on the provider that holds it (404: already gone)."""
        if not nic.port_id or not nic.port_provider_id:
            return
        with self.store.read() as repo:
            provider = repo.get(m.Provider, nic.port_provider_id)
        if provider is None:
            return
        try:
            ports.deallocate(self.clients.of(provider), nic.port_id)
        except ClientError as exc:
            raise provider_error(provider, exc) from None

    def _plug_one(self, caller: Caller, vm_id: str, nic_id: str, wait: bool) -> dict[str, Any]:
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            nic = need(repo, m.Vnic, nic_id)
            host = repo.get(m.Host, vm.host_id) if vm.host_id else None
            place = self._placement(repo, vm, nic, host)
        if vm.status != m.VM_UP or host is None or place is None or not nic.plugged:
            return {}
        return self._run_ports(vm, host, [place], wait)

    def add_nic(
        self, caller: Caller, vm_id: str, body: dict[str, Any], wait: bool = True
    ) -> dict[str, Any]:
        """Define a vNIC; on a running VM it is hot-plugged (port made, waited ACTIVE)."""
        caller.require_write("add_nic")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
        nic = self._add_nic_row(caller, vm, body)
        try:
            ports_ = self._plug_one(caller, vm_id, nic.id, wait)
        except Exception:
            self._forget_nic(nic)
            raise
        return {**asdict(nic), "ports": ports_}

    def _forget_nic(self, nic: m.Vnic) -> None:
        with self.store.read() as repo:
            current = repo.get(m.Vnic, nic.id)
        if current is not None:
            self.drop_port(current)
        with self.store.write() as repo:
            repo.remove(m.Vnic, nic.id)

    def remove_nic(self, caller: Caller, vm_id: str, nic_id: str) -> None:
        """Remove a vNIC (hot-unplug on a running VM): its port is deleted."""
        caller.require_write("remove_nic")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            nic = need(repo, m.Vnic, nic_id)
            if nic.vm_id != vm.id:
                raise InvalidInput(f"vNIC {nic_id} is not a vNIC of VM {vm.name}")
        if self.unplug is not None and vm.status == m.VM_UP:
            self.unplug(vm, nic)
        self._forget_nic(nic)

    def update_nic(
        self, caller: Caller, vm_id: str, nic_id: str, body: dict[str, Any], wait: bool = True
    ) -> dict[str, Any]:
        """``plugged`` (hot-plug/unplug, the vNIC stays defined) and ``profile_id`` (a profile
        on another network: the old port is deleted, a new one made if running)."""
        caller.require_write("update_nic")
        unknown = set(body) - {"plugged", "profile_id"}
        if unknown:
            raise InvalidInput(f"unknown vNIC attribute(s): {', '.join(sorted(unknown))}")
        with self.store.read() as repo:
            vm = self._vm(repo, caller, vm_id)
            nic = need(repo, m.Vnic, nic_id)
            if nic.vm_id != vm.id:
                raise InvalidInput(f"vNIC {nic_id} is not a vNIC of VM {vm.name}")
            old_net = need(repo, m.Profile, nic.profile_id).network_id
            profile = need(repo, m.Profile, str(body.get("profile_id", nic.profile_id)))
        plugged = m.check_bool(body.get("plugged", nic.plugged), "plugged")
        if not plugged or profile.network_id != old_net:
            if self.unplug is not None and vm.status == m.VM_UP and nic.port_id:
                self.unplug(vm, nic)
            self.drop_port(nic)
            nic.port_id = nic.port_provider_id = None
        nic.plugged, nic.profile_id = plugged, profile.id
        with self.store.write() as repo:
            repo.save(nic)
        return {**asdict(nic), "ports": self._plug_one(caller, vm_id, nic.id, wait)}
