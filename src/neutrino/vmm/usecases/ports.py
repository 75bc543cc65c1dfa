"""The port lifecycle of a VM's vNICs on their provider (oVirt's allocate/deallocate, made
exact and batched).

``lookup`` finds the ports of several vNICs in one call: the provider's ports whose
``device_id`` is one of the vNIC ids (``GET /v2.0/ports?device_id=a&device_id=b``: a filtered
list, where oVirt lists every port and scans them). ``allocate`` then makes each vNIC's port
what it must be: ``network_id``, ``mac_address``, ``device_owner`` (configurable,
``compute:neutrino``), ``device_id`` = the vNIC id, ``binding:host_id`` = the host's
``provider_host``, and ``security_groups`` per the profile (unset: omitted, so the provider
applies its default group; ``[]``; a list). Missing ports are created in one bulk
``POST /v2.0/ports`` (all of them or none, Neutron's bulk semantics); an existing port is
updated only in what differs; a port on another network or with another MAC (the profile
moved) is deleted and made anew. ``deallocate`` deletes a port (a 404 is success).

Why the lookup: a start that failed half-way (or a retried request) must find the ports it
made instead of making a second set. Why one call per provider and one bulk create: a VM
start is on the manager's critical path, and each round trip is one more share of it.

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


def lookup(client: ProviderClient, vnics: list[m.Vnic]) -> dict[str, dict[str, Any]]:
    """vNIC id -> its port on this provider (vNICs without one are absent). One list call."""
    if not vnics:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for port in client.ports_of_devices([v.id for v in vnics]):
        found.setdefault(str(port.get("device_id")), port)
    return found


def allocate(
    client: ProviderClient,
    places: list[Placement],
    device_owner: str,
    existing: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Create or update the port of each placement (all on ``client``'s provider); vNIC id ->
    port. ``existing`` is ``lookup``'s answer when the caller already has it."""
    if existing is None:
        existing = lookup(client, [p.vnic for p in places])
    out: dict[str, dict[str, Any]] = {}
    create: list[tuple[Placement, dict[str, Any]]] = []
    for place in places:
        want = desired(place, device_owner)
        port = existing.get(place.vnic.id)
        if port is not None and (
            port.get("network_id") != want["network_id"]
            or port.get("mac_address") != want["mac_address"]
        ):
            deallocate(client, port["id"])
            port = None
        if port is None:
            create.append((place, want))
            continue
        update = changes(port, want)
        out[place.vnic.id] = client.api.update_port(port["id"], **update) if update else port
    if create:
        made = client.create_ports([want for _, want in create])
        for (place, _), port in zip(create, made, strict=True):
            out[place.vnic.id] = port
    return out


def deallocate(client: ProviderClient, port_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.api.delete_port(port_id)


def unbind(client: ProviderClient, port_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.api.update_port(port_id, **{"binding:host_id": ""})
