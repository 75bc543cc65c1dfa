"""Auto-sync of a provider's networks into the manager (oVirt's periodic sync, every 300 s by
default; ``sync_interval`` 0 = off).

One ``run`` reads the provider's network list once and compares it with the networks linked
to it in every data center:

* a provider network imported nowhere is *offered* (an event names the new ones; importing
  stays a person's decision);
* a linked network whose name changed on the provider is renamed (the provider owns it);
* a linked network the provider no longer has is marked ``gone``, and the vNICs on it are
  unplugged (their ports deleted where the provider still has them); one that comes back is
  ``ok`` again;
* an authentication failure stops the automatic sync of that provider (``sync_status``
  ``auth_failed`` and an event saying so) instead of retrying forever with bad credentials;
  a manual ``run`` (or a successful one) resumes it. Other failures are recorded and retried
  at the next interval.

``SyncRunner`` is the background thread: it wakes every second and runs the providers that
are due, one at a time, each run claimed first in ``vmm_leases`` so that however many API
workers and servers share the database, one of them syncs a provider once per interval.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neutrino.client import ClientError, Unauthorized
from neutrino.vmm import model as m
from neutrino.vmm.storage import leases
from neutrino.vmm.usecases import ports
from neutrino.vmm.usecases.base import Caller, UseCase, need

log = logging.getLogger(__name__)
AUTH_FAILED, FAILED, OK = "auth_failed", "error", "ok"
RUN_TTL = 300.0  # a runner that dies mid-run holds its claim this long


@dataclass
class SyncReport:
    provider: str
    status: str = OK
    message: str = ""
    offered: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    unplugged: list[str] = field(default_factory=list)


class Sync(UseCase):
    unplug: Callable[[m.Vm, m.Vnic], None] | None = None

    def run(self, caller: Caller, provider_id: str) -> SyncReport:
        caller.require_admin("sync_provider")
        with self.store.read() as repo:
            provider = need(repo, m.Provider, provider_id)
            linked = repo.find(m.Network, provider_id=provider_id)
        report = SyncReport(provider.name)
        try:
            remote = {n["id"]: n for n in self.clients.of(provider).api.list_networks()}
        except Unauthorized as exc:
            report.status, report.message = (
                AUTH_FAILED,
                (
                    f"Keystone refused the provider's credentials ({exc.message}): automatic "
                    "sync stopped until the credentials are fixed and a sync is run by hand"
                ),
            )
            self._finish(provider, report, [], [])
            return report
        except ClientError as exc:
            report.status, report.message = FAILED, f"provider unreachable or failing: {exc}"
            self._finish(provider, report, [], [])
            return report
        changed: list[m.Network] = []
        for net in linked:
            found = remote.get(net.external_id or "")
            if found is None:
                if net.status != m.NET_GONE:
                    net.status = m.NET_GONE
                    report.gone.append(net.name)
                    changed.append(net)
                continue
            name = str(found.get("name") or found["id"])
            if net.status == m.NET_GONE or name != net.name:
                if name != net.name:
                    report.renamed.append((net.name, name))
                if net.status == m.NET_GONE:
                    report.back.append(name)
                net.name, net.status = name, m.NET_OK
                changed.append(net)
        imported = {n.external_id for n in linked}
        report.offered = sorted(
            str(n.get("name") or i) for i, n in remote.items() if i not in imported
        )
        gone_ids = {n.id for n in changed if n.status == m.NET_GONE}
        unplugged = self._unplug_gone(provider, gone_ids)
        report.unplugged = [f"{vm.name}/{nic.name}" for vm, nic in unplugged]
        self._finish(provider, report, changed, [nic for _, nic in unplugged])
        return report

    def _unplug_gone(
        self, provider: m.Provider, network_ids: set[str]
    ) -> list[tuple[m.Vm, m.Vnic]]:
        out: list[tuple[m.Vm, m.Vnic]] = []
        if not network_ids:
            return out
        with self.store.read() as repo:
            for net_id in network_ids:
                for nic in repo.vnics_on_network(net_id):
                    vm = repo.get(m.Vm, nic.vm_id)
                    if vm is not None and nic.plugged:
                        out.append((vm, nic))
        for vm, nic in out:
            if self.unplug is not None and vm.status == m.VM_UP:
                self.unplug(vm, nic)
            if nic.port_id:
                try:
                    ports.deallocate(self.clients.of(provider), nic.port_id)
                except ClientError as exc:  # the network is gone: its ports are too
                    log.info("port %s of a gone network: %s", nic.port_id, exc)
            nic.plugged, nic.port_id, nic.port_provider_id = False, None, None
        return out

    def _finish(
        self, provider: m.Provider, report: SyncReport, nets: list[m.Network], nics: list[m.Vnic]
    ) -> None:
        with self.store.write() as repo:
            current = repo.get(m.Provider, provider.id)
            if current is None:
                return
            for net in nets:
                repo.save(net)
            for nic in nics:
                repo.save(nic)
            if report.status != OK:
                kind = "sync_auth_failed" if report.status == AUTH_FAILED else "sync_failed"
                repo.add_event(kind, report.message, provider.id)
            for line in _event_lines(report):
                repo.add_event("sync", line, provider.id)
            offered = ", ".join(report.offered)
            if offered and (current.sync_status != OK or current.sync_message != offered):
                repo.add_event("networks_offered", f"not imported: {offered}", provider.id)
            current.sync_status = report.status
            current.sync_message = report.message if report.status != OK else offered
            repo.save(current)


def _event_lines(report: SyncReport) -> list[str]:
    lines = [f"renamed {a} -> {b}" for a, b in report.renamed]
    lines += [f"network {n} is gone from the provider" for n in report.gone]
    lines += [f"network {n} is back" for n in report.back]
    lines += [f"unplugged vNIC {n} (its network is gone)" for n in report.unplugged]
    return lines


class SyncRunner:
    """Runs each provider's sync every ``sync_interval`` seconds, in one daemon thread per
    process, and once per interval among all processes on the database: each run is claimed
    first (``storage.leases``), so with several API workers or servers exactly one of them
    syncs a given provider at a time, and the next run comes one interval after the last
    one started, wherever it ran."""

    def __init__(self, sync: Sync, admin: Caller, tick: float = 1.0, run_ttl: float = RUN_TTL):
        self.sync = sync
        self.admin = admin
        self.tick = tick
        self.run_ttl = run_ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vmm-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def candidates(self) -> list[m.Provider]:
        """Providers with automatic sync on (and not stopped by an authentication failure)."""
        with self.sync.store.read() as repo:
            providers = repo.find(m.Provider)
        return [p for p in providers if p.sync_interval > 0 and p.sync_status != AUTH_FAILED]

    def run_due(self, now: float | None = None) -> list[SyncReport]:
        """Sync every provider that is due and whose run this process could claim."""
        reports: list[SyncReport] = []
        for provider in self.candidates():
            name = leases.sync_lease(provider.id)
            store = self.sync.store
            if not leases.claim(
                store, name, self.holder, provider.sync_interval, self.run_ttl, now
            ):
                continue
            try:
                reports.append(self.sync.run(self.admin, provider.id))
            except Exception as exc:  # a provider removed meanwhile, a database hiccup
                log.warning("vmm sync of provider %s failed: %s", provider.id, exc)
            finally:
                leases.release(store, name, self.holder)
        return reports

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due()
            except Exception as exc:  # the database away for a moment: try at the next tick
                log.warning("vmm sync round failed: %s", exc)


def report_view(report: SyncReport) -> dict[str, Any]:
    return {
        "provider": report.provider,
        "status": report.status,
        "message": report.message,
        "offered": report.offered,
        "renamed": [list(r) for r in report.renamed],
        "gone": report.gone,
        "back": report.back,
        "unplugged": report.unplugged,
    }
