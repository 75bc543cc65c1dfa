"""``Vmm``: every vmm use case built on one store and one set of provider clients, plus the
auto-sync thread. Made by whoever mounts the vmm (``neutrino serve``, tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from neutrino.vmm import model as m
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.base import ADMIN, Clients
from neutrino.vmm.usecases.inventory import Inventory
from neutrino.vmm.usecases.lifecycle import VmLifecycle
from neutrino.vmm.usecases.networks import Networks
from neutrino.vmm.usecases.providers import Providers
from neutrino.vmm.usecases.sync import Sync, SyncRunner


class Vmm:
    def __init__(
        self,
        store: VmmStore,
        *,
        timeout: float = 30.0,
        device_owner: str = m.DEFAULT_DEVICE_OWNER,
        wait_timeout: float = 30.0,
        sync_tick: float = 1.0,
    ) -> None:
        self.store = store
        self.clients = Clients(timeout)
        self.providers = Providers(store, self.clients)
        self.inventory = Inventory(store, self.clients)
        self.networks = Networks(store, self.clients)
        self.vms = VmLifecycle(store, self.clients)
        self.vms.device_owner = device_owner
        self.vms.wait_timeout = wait_timeout
        self.sync = Sync(store, self.clients)
        self.runner = SyncRunner(self.sync, ADMIN, sync_tick)

    @classmethod
    def open(cls, db_url: str, state_dir: Path, **options: object) -> Vmm:
        return cls(VmmStore(db_url, Cipher.from_state_dir(state_dir)), **options)  # type: ignore[arg-type]

    def set_host_plug(
        self,
        plug: Callable[..., None] | None,
        unplug: Callable[..., None] | None,
        prepare: Callable[..., None] | None = None,
    ) -> None:
        """The hypervisor side (the lab's namespaces, a libvirt host...): ``prepare(vm, host,
        vnic)`` makes a vNIC's guest side while its port is being made (optional), ``plug(vm,
        host, vnic, port)`` wires it to the bound port, ``unplug(vm, vnic)`` takes it away."""
        self.vms.plug, self.vms.unplug, self.sync.unplug = plug, unplug, unplug
        self.vms.prepare = prepare

    def close(self) -> None:
        self.runner.stop()
        self.clients.close()
        self.store.dispose()
