"""Running a VM's vNIC ports: bind them on the provider, plug the host, wait until ACTIVE.

``run_ports`` is the critical path of a VM start (and of a migration or a hot-plug), so its
steps overlap wherever they do not depend on each other:

1. the host's ``prepare`` hook (the guest side of each vNIC: a libvirt domain's definition,
   the lab's VM namespace) starts at once, in parallel with the provider calls;
2. per provider, the vNICs' ports are looked up in one filtered list (``start`` does this
   while it schedules) and the missing ones created in one bulk ``POST`` (``ports.allocate``);
3. as soon as the ports exist, each port's ACTIVE wait (the provider's event long-poll, or
   polling) starts, and each vNIC is plugged once its guest side is ready: the agent can only
   report a port ACTIVE after the plug, and the long-poll is already waiting when it does;
4. the port ids are recorded with the caller's own change (``then``: the VM's status and
   host) in one transaction.

A failure after the ports exist still records their ids (so a VM delete finds and deletes
them) and then raises; a wait left running by a failed plug ends at its own timeout, without
holding the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from neutrino.client import ClientError
from neutrino.common.errors import NamedConflict
from neutrino.vmm import model as m
from neutrino.vmm.provider import PortWait
from neutrino.vmm.storage.repo import Repo
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import UseCase, need, provider_error

Plug = Callable[[m.Vm, m.Host, m.Vnic, dict[str, Any]], None]
Prepare = Callable[[m.Vm, m.Host, m.Vnic], None]
Found = dict[str, dict[str, dict[str, Any]]]  # provider id -> vNIC id -> port


class VmPorts(UseCase):
    device_owner = m.DEFAULT_DEVICE_OWNER
    wait_timeout = 30.0
    plug: Plug | None = None
    prepare: Prepare | None = None
    unplug: Callable[[m.Vm, m.Vnic], None] | None = None

    def _placement(
        self, repo: Repo, vm: m.Vm, nic: m.Vnic, host: m.Host | None
    ) -> ports.Placement | None:
        """None for a vNIC on a network of the manager's own (no provider port)."""
        profile = need(repo, m.Profile, nic.profile_id)
        net = need(repo, m.Network, profile.network_id)
        if net.provider_id is None:
            return None
        provider = need(repo, m.Provider, net.provider_id)
        return ports.Placement(vm, nic, profile, net, provider, host.provider_host if host else "")

    @staticmethod
    def _by_provider(places: list[ports.Placement]) -> dict[str, list[ports.Placement]]:
        groups: dict[str, list[ports.Placement]] = {}
        for place in places:
            groups.setdefault(place.provider.id, []).append(place)
        return groups

    def _lookup_all(self, places: list[ports.Placement]) -> Found:
        """The existing ports of these vNICs: one list call per provider."""
        found: Found = {}
        for pid, group in self._by_provider(places).items():
            try:
                found[pid] = ports.lookup(
                    self.clients.of(group[0].provider), [p.vnic for p in group]
                )
            except ClientError as exc:
                raise provider_error(group[0].provider, exc) from None
        return found

    def _bind_all(
        self, places: list[ports.Placement], found: Found | None = None
    ) -> dict[str, dict[str, Any]]:
        """Create/update every port; vNIC id -> port. A port the provider cannot bind on the
        host (``binding_failed``) fails the whole call."""
        out: dict[str, dict[str, Any]] = {}
        for pid, group in self._by_provider(places).items():
            client = self.clients.of(group[0].provider)
            existing = None if found is None else found.get(pid, {})
            try:
                out.update(ports.allocate(client, group, self.device_owner, existing))
            except ClientError as exc:
                raise provider_error(group[0].provider, exc) from None
        for place in places:
            if place.provider_host and out[place.vnic.id].get("binding:vif_type") in (
                "binding_failed",
                "unbound",
            ):
                self._record_ports(places, out)
                raise NamedConflict(
                    "PortBindingFailed",
                    f"provider {place.provider.name} could not bind vNIC "
                    f"{place.vnic.name} on {place.provider_host}",
                )
        return out

    def _wait_one(self, place: ports.Placement, port_id: str) -> PortWait:
        try:
            return self.clients.of(place.provider).wait_active(port_id, self.wait_timeout)
        except ClientError as exc:
            raise provider_error(place.provider, exc) from None

    def _record_ports(
        self,
        places: list[ports.Placement],
        bound: dict[str, dict[str, Any]],
        then: Callable[[Repo], None] | None = None,
    ) -> None:
        with self.store.write() as repo:
            for place in places:
                nic = repo.get(m.Vnic, place.vnic.id)
                if nic is not None and place.vnic.id in bound:
                    nic.port_id = bound[place.vnic.id]["id"]
                    nic.port_provider_id = place.provider.id
                    repo.save(nic)
            if then is not None:
                then(repo)

    def _run_ports(
        self,
        vm: m.Vm,
        host: m.Host,
        places: list[ports.Placement],
        wait: bool,
        found: Found | None = None,
        then: Callable[[Repo], None] | None = None,
    ) -> dict[str, Any]:
        pool = ThreadPoolExecutor(max_workers=max(1, 2 * len(places)), thread_name_prefix="vmm")
        try:
            return self._run_in(pool, vm, host, places, wait, found, then)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _run_in(
        self,
        pool: ThreadPoolExecutor,
        vm: m.Vm,
        host: m.Host,
        places: list[ports.Placement],
        wait: bool,
        found: Found | None,
        then: Callable[[Repo], None] | None,
    ) -> dict[str, Any]:
        prepare, plug = self.prepare, self.plug
        prepared: dict[str, Future[None]] = {}
        if prepare is not None:
            prepared = {p.vnic.id: pool.submit(prepare, vm, host, p.vnic) for p in places}
        try:
            bound = self._bind_all(places, found)
        except BaseException:
            self._undo_prepared(vm, places, prepared)
            raise
        try:
            waiting = {
                p.vnic.id: pool.submit(self._wait_one, p, bound[p.vnic.id]["id"])
                for p in (places if wait else [])
            }

            def plug_one(place: ports.Placement) -> None:
                if place.vnic.id in prepared:
                    prepared[place.vnic.id].result()
                if plug is not None:
                    plug(vm, host, place.vnic, bound[place.vnic.id])

            for done in [pool.submit(plug_one, p) for p in places]:
                done.result()
            waits = {nic_id: f.result() for nic_id, f in waiting.items()}
        except BaseException:
            self._record_ports(places, bound)
            raise
        late = [p.vnic.name for p in places if p.vnic.id in waits and not waits[p.vnic.id].active]
        if late:
            self._record_ports(places, bound)
            raise NamedConflict(
                "PortNotActive",
                f"port(s) of vNIC(s) {', '.join(late)} not ACTIVE after {self.wait_timeout:g} s",
            )
        self._record_ports(places, bound, then)
        return {
            nic_id: {
                "port_id": port["id"],
                "status": waits[nic_id].status if nic_id in waits else port.get("status"),
                "waited": waits[nic_id].waited if nic_id in waits else None,
            }
            for nic_id, port in bound.items()
        }

    def _undo_prepared(
        self, vm: m.Vm, places: list[ports.Placement], prepared: dict[str, Future[None]]
    ) -> None:
        """The ports could not be made: take back the guest sides already prepared."""
        for place in places:
            future = prepared.get(place.vnic.id)
            if future is None or future.exception() is not None:
                continue
            if self.unplug is not None:
                self.unplug(vm, place.vnic)
