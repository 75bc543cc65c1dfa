"""Providers: add, list, show, test connection, remove.

Admin only. The password is write-only (never in a view) and stored encrypted. A provider
whose networks carry a vNIC (or that holds a vNIC's port) cannot be removed: 409
``ProviderInUse`` names the vNICs; otherwise its linked networks and their profiles go with it.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.vmm import model as m
from neutrino.vmm.provider import ConnectionCheck, ProviderClient
from neutrino.vmm.storage import leases
from neutrino.vmm.usecases.base import Caller, UseCase, need

FIELDS = {
    "name",
    "description",
    "url",
    "auth_url",
    "keystone_version",
    "username",
    "password",
    "project",
    "user_domain",
    "project_domain",
    "read_only",
    "sync_interval",
}


def provider_from(body: dict[str, Any]) -> m.Provider:
    """A validated ``Provider`` from a request body (InvalidInput names the bad field)."""
    unknown = set(body) - FIELDS
    if unknown:
        raise InvalidInput(f"unknown provider attribute(s): {', '.join(sorted(unknown))}")
    for key in ("username", "password"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise InvalidInput(f"{key} is required")
    m.check_text(body["username"], "username")
    auth_url = m.check_url(body.get("auth_url"), "auth_url")
    text = {
        k: body.get(k, d)
        for k, d in (
            ("description", ""),
            ("project", "admin"),
            ("user_domain", "Default"),
            ("project_domain", "Default"),
        )
    }
    for key, value in text.items():
        if key != "description":
            m.check_text(value, key)
        elif not isinstance(value, str):
            raise InvalidInput(f"{key} must be a string")
    return m.Provider(
        name=m.check_name(body.get("name")),
        url=m.check_url(body.get("url"), "url"),
        auth_url=auth_url,
        username=body["username"],
        password=body["password"],
        keystone_version=m.keystone_version_of(auth_url, body.get("keystone_version")),
        read_only=m.check_bool(body.get("read_only", False), "read_only"),
        sync_interval=m.check_interval(body.get("sync_interval", m.DEFAULT_SYNC_INTERVAL)),
        **text,
    )


class Providers(UseCase):
    def add(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        caller.require_admin("add_provider")
        provider = provider_from(body)
        with self.store.write() as repo:
            repo.add(provider)
        return provider.view()

    def update(self, caller: Caller, provider_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change any field (a new password, say, after an auth failure stopped the sync:
        the status is reset so the auto-sync resumes)."""
        caller.require_admin("update_provider")
        with self.store.write() as repo:
            current = need(repo, m.Provider, provider_id)
            merged = {
                k: v for k, v in vars(current).items() if k in FIELDS and k != "keystone_version"
            }
            if "keystone_version" in body or "auth_url" not in body:
                merged["keystone_version"] = current.keystone_version
            merged.update(body)
            updated = provider_from(merged)
            updated.id = current.id
            updated.sync_status, updated.sync_message = "", ""
            repo.save(updated)
        self.clients.forget(provider_id)
        return updated.view()

    def list_providers(self, caller: Caller, name: str | None = None) -> list[dict[str, Any]]:
        caller.require_admin("list_providers")
        with self.store.read() as repo:
            found = repo.find(m.Provider, **({"name": name} if name else {}))
        return [p.view() for p in found]

    def show(self, caller: Caller, provider_id: str) -> dict[str, Any]:
        caller.require_admin("show_provider")
        with self.store.read() as repo:
            provider = need(repo, m.Provider, provider_id)
            events = repo.events(provider_id, limit=10)
        return {
            **provider.view(),
            "events": [{"at": e.at, "kind": e.kind, "message": e.message} for e in events],
        }

    def test(self, caller: Caller, provider_id: str) -> ConnectionCheck:
        """oVirt's "test connection", on a fresh session (no cached token hides a change)."""
        caller.require_admin("test_provider")
        with self.store.read() as repo:
            provider = need(repo, m.Provider, provider_id)
        client = ProviderClient(provider, timeout=self.clients.timeout)
        try:
            return client.check()
        finally:
            client.close()

    def remove(self, caller: Caller, provider_id: str) -> None:
        caller.require_admin("remove_provider")
        with self.store.write() as repo:
            provider = need(repo, m.Provider, provider_id)
            users = repo.vnics_using_provider(provider_id)
            if users:
                names = ", ".join(sorted(f"{_vm_name(repo, v)}/{v.name}" for v in users)[:10])
                raise NamedConflict(
                    "ProviderInUse",
                    f"provider {provider.name} is used by {len(users)} "
                    f"vNIC(s): {names}; remove them first",
                )
            repo.remove(m.Provider, provider_id)
        self.clients.forget(provider_id)
        leases.forget(self.store, leases.sync_lease(provider_id))


def _vm_name(repo: Any, vnic: m.Vnic) -> str:
    vm = repo.get(m.Vm, vnic.vm_id)
    return vm.name if vm is not None else vnic.vm_id
