"""The port lifecycle of a vNIC on its provider (oVirt's allocate/deallocate, made exact).

``allocate`` finds the vNIC's port (the one it recorded, else the provider's ports with
``device_id`` = the vNIC id: a filtered list, never the full one) and creates or updates it:
``network_id``, ``mac_address``, ``device_owner`` (configurable, ``compute:neutrino``),
``device_id``, ``binding:host_id`` = the host's ``provider_host``, and ``security_groups``
per the profile (unset: omitted, so the provider applies its default group; ``[]``; a list).
An existing port is updated only in what differs; a port on another network (the profile
moved) is deleted and a new one made. ``deallocate`` deletes the port (a 404 is success).

These functions call the provider and touch no table: the caller records ``port_id``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from neutrino.client import NotFound
from neutrino.vmm import model as m
from neutrino.vmm.provider import ProviderClient


@dataclass(frozen=True)
class Placement:
    """Everything a vNIC's port depends on."""

    vm: m.Vm
    vnic: m.Vnic
    profile: m.Profile
    network: m.Network
    provider: m.Provider
    provider_host: str  # "" = unbound


def desired(p: Placement, device_owner: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"{p.vm.name}-{p.vnic.name}",
        "network_id": p.network.external_id,
        "mac_address": p.vnic.mac,
        "device_owner": device_owner,
        "device_id": p.vnic.id,
        "binding:host_id": p.provider_host,
        "admin_state_up": True,
    }
    if p.profile.security_groups is not None:
        body["security_groups"] = list(p.profile.security_groups)
    return body


def changes(port: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``want`` a PUT must send (the network and MAC never change here)."""
    out: dict[str, Any] = {}
    for key, value in want.items():
        if key in ("network_id", "mac_address"):
            continue
        have = port.get(key)
        if key == "security_groups":
            if sorted(have or []) != sorted(value):
                out[key] = value
        elif have != value:
            out[key] = value
    return out


def find_port(client: ProviderClient, vnic: m.Vnic) -> dict[str, Any] | None:
    if vnic.port_id and vnic.port_provider_id == client.provider.id:
        try:
            return client.api.get_port(vnic.port_id)
        except NotFound:
            pass
    found = client.ports_of_device(vnic.id)
    return found[0] if found else None


def allocate(client: ProviderClient, p: Placement, device_owner: str) -> dict[str, Any]:
    want = desired(p, device_owner)
    port = find_port(client, p.vnic)
    if port is not None and (
        port.get("network_id") != want["network_id"]
        or port.get("mac_address") != want["mac_address"]
    ):
        deallocate(client, port["id"])
        port = None
    if port is None:
        return client.api.create_port(**want)
    update = changes(port, want)
    return client.api.update_port(port["id"], **update) if update else port


def deallocate(client: ProviderClient, port_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.api.delete_port(port_id)


def unbind(client: ProviderClient, port_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.api.update_port(port_id, **{"binding:host_id": ""})
