"""Networks: the manager's own, or linked to a provider network (provider id + external id).

* ``discover`` — the provider's networks not yet imported into a data center (one
  ``GET /v2.0/networks``);
* ``import_`` — link some (or all) of them into the data center, each with a default vNIC
  profile of the same name (security groups unset), in one transaction;
* ``create`` — create the network and its subnets on the provider, then import it; when a
  subnet is refused the network is deleted again, so nothing half-made stays behind;
* ``remove`` — from the manager, optionally from the provider too; refused (409) while a
  vNIC uses it;
* ``show`` — the network with its subnets read live from the provider (the provider owns them;
  the manager keeps no copy).

Linked networks are VM networks; their provider attributes are the provider's and are not
editable here (auto-sync follows renames). A read-only provider accepts imports only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from neutrino.client import ClientError
from neutrino.common.errors import InvalidInput, NamedConflict, NamedNotFound
from neutrino.vmm import model as m
from neutrino.vmm.usecases.base import Caller, UseCase, need, provider_error

SUBNET_KEYS = {
    "cidr",
    "name",
    "ip_version",
    "gateway_ip",
    "dns_nameservers",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "allocation_pools",
}
NETWORK_KEYS = {
    "provider_id",
    "datacenter_id",
    "name",
    "description",
    "mtu",
    "network_type",
    "physical_network",
    "segmentation_id",
    "port_security_enabled",
    "subnets",
}


def view(net: m.Network) -> dict[str, Any]:
    return {**asdict(net), "linked": net.linked}


def linked_network(provider_net: dict[str, Any], provider_id: str, datacenter_id: str) -> m.Network:
    """The manager's copy of a provider network's identity and (read-only) attributes."""
    seg = provider_net.get("provider:segmentation_id")
    return m.Network(
        name=str(provider_net.get("name") or provider_net["id"]),
        datacenter_id=datacenter_id,
        provider_id=provider_id,
        external_id=str(provider_net["id"]),
        mtu=provider_net.get("mtu"),
        network_type=provider_net.get("provider:network_type"),
        physical_network=provider_net.get("provider:physical_network"),
        segmentation_id=int(seg) if isinstance(seg, int) else None,
        description=str(provider_net.get("description") or ""),
    )


def _offer(net: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "mtu",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "port_security_enabled",
        "shared",
        "status",
    )
    return {k: net.get(k) for k in keys}


def subnet_body(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("cidr"), str):
        raise InvalidInput("each subnet needs a cidr")
    unknown = set(raw) - SUBNET_KEYS
    if unknown:
        raise InvalidInput(f"unknown subnet attribute(s): {', '.join(sorted(unknown))}")
    body = dict(raw)
    body.setdefault("ip_version", 6 if ":" in raw["cidr"] else 4)
    return body


class Networks(UseCase):
    def _provider_and_dc(self, provider_id: str, datacenter_id: str) -> tuple[m.Provider, set[str]]:
        with self.store.read() as repo:
            provider = need(repo, m.Provider, provider_id)
            need(repo, m.DataCenter, datacenter_id)
            have = {
                n.external_id or ""
                for n in repo.find(m.Network, datacenter_id=datacenter_id, provider_id=provider_id)
            }
        return provider, have

    def _provider_networks(self, provider: m.Provider) -> list[dict[str, Any]]:
        try:
            return self.clients.of(provider).api.list_networks()
        except ClientError as exc:
            raise provider_error(provider, exc) from None

    def discover(
        self, caller: Caller, provider_id: str, datacenter_id: str
    ) -> list[dict[str, Any]]:
        caller.require_admin("discover_networks")
        provider, have = self._provider_and_dc(provider_id, datacenter_id)
        return [_offer(n) for n in self._provider_networks(provider) if n["id"] not in have]

    def import_(
        self,
        caller: Caller,
        provider_id: str,
        datacenter_id: str,
        external_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Import the given provider networks (all not yet imported when None)."""
        caller.require_admin("import_networks")
        if external_ids is not None and not all(isinstance(i, str) for i in external_ids):
            raise InvalidInput("external_ids must be a list of provider network ids")
        provider, have = self._provider_and_dc(provider_id, datacenter_id)
        offered = {n["id"]: n for n in self._provider_networks(provider)}
        wanted = [i for i in offered if i not in have] if external_ids is None else external_ids
        missing = [i for i in wanted if i not in offered]
        if missing:
            raise NamedNotFound(
                "ProviderNetworkNotFound",
                f"provider {provider.name} has no network {', '.join(missing)}",
            )
        already = [i for i in wanted if i in have]
        if already:
            raise NamedConflict(
                "NetworkAlreadyImported",
                f"already imported into this data center: {', '.join(already)}",
            )
        nets = [linked_network(offered[i], provider_id, datacenter_id) for i in wanted]
        with self.store.write() as repo:
            repo.add_all([*nets, *(m.Profile(name=n.name, network_id=n.id) for n in nets)])
        return [view(n) for n in nets]

    def create(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """Create on the provider (network + subnets), then import in the same step."""
        caller.require_admin("create_network")
        unknown = set(body) - NETWORK_KEYS
        if unknown:
            raise InvalidInput(f"unknown network attribute(s): {', '.join(sorted(unknown))}")
        name = m.check_name(body.get("name"))
        provider_id, datacenter_id = str(body.get("provider_id")), str(body.get("datacenter_id"))
        subnets = [subnet_body(s) for s in body.get("subnets") or []]
        provider, _ = self._provider_and_dc(provider_id, datacenter_id)
        if provider.read_only:
            raise NamedConflict(
                "ProviderReadOnly", f"provider {provider.name} is read-only: import only"
            )
        attrs: dict[str, Any] = {"name": name, "admin_state_up": True}
        for key in ("mtu", "port_security_enabled"):
            if key in body:
                attrs[key] = body[key]
        for key in ("network_type", "physical_network", "segmentation_id"):
            if body.get(key) is not None:
                attrs[f"provider:{key}"] = body[key]
        api = self.clients.of(provider).api
        try:
            created = api.create_network(**attrs)
            try:
                made = [api.create_subnet(created["id"], **s) for s in subnets]
            except ClientError:
                api.delete_network(created["id"])  # compensate: nothing half-made stays
                raise
        except ClientError as exc:
            raise provider_error(provider, exc) from None
        net = linked_network(created, provider_id, datacenter_id)
        with self.store.write() as repo:
            repo.add(net)
            repo.add(m.Profile(name=net.name, network_id=net.id))
        return {**view(net), "subnets": made}

    def list_networks(
        self, caller: Caller, datacenter_id: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if datacenter_id:
            where["datacenter_id"] = datacenter_id
        if name:
            where["name"] = name
        with self.store.read() as repo:
            return [view(n) for n in repo.find(m.Network, **where)]

    def show(self, caller: Caller, network_id: str) -> dict[str, Any]:
        with self.store.read() as repo:
            net = need(repo, m.Network, network_id)
            provider = repo.get(m.Provider, net.provider_id) if net.provider_id else None
        subnets: list[dict[str, Any]] = []
        if provider is not None and net.external_id:
            try:
                subnets = self.clients.of(provider).api.list_subnets(network_id=net.external_id)
            except ClientError as exc:
                raise provider_error(provider, exc) from None
        return {**view(net), "subnets": subnets}

    def remove(self, caller: Caller, network_id: str, from_provider: bool = False) -> None:
        caller.require_admin("remove_network")
        with self.store.read() as repo:
            net = need(repo, m.Network, network_id)
            provider = repo.get(m.Provider, net.provider_id) if net.provider_id else None
            users = repo.vnics_on_network(network_id)
        if users:
            raise NamedConflict(
                "NetworkInUse", f"network {net.name} is used by {len(users)} vNIC(s)"
            )
        if from_provider and provider is not None and net.external_id:
            if provider.read_only:
                raise NamedConflict("ProviderReadOnly", f"provider {provider.name} is read-only")
            try:
                self.clients.of(provider).api.delete_network(net.external_id)
            except ClientError as exc:
                if getattr(exc, "status", None) != 404:  # gone already: fine
                    raise provider_error(provider, exc) from None
        with self.store.write() as repo:
            if repo.vnics_on_network(network_id):  # a vNIC came meanwhile
                raise NamedConflict("NetworkInUse", f"network {net.name} is in use")
            repo.remove(m.Network, network_id)

    def add_own(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """A network of the manager's own (no provider)."""
        caller.require_admin("create_network")
        net = m.Network(
            name=m.check_name(body.get("name")),
            datacenter_id=str(body.get("datacenter_id")),
            description=str(body.get("description") or ""),
        )
        with self.store.write() as repo:
            need(repo, m.DataCenter, net.datacenter_id)
            repo.add(net)
            repo.add(m.Profile(name=net.name, network_id=net.id))
        return view(net)
