"""The ports neutrino makes for itself (DHCP, router interfaces and gateways, L3 HA, floating
IPs): a free MAC, no port security, no DNS name, bound to ``host`` (unbound without one),
system-owned so the agent leaves them unfiltered. Their addresses are the caller's (IPAM)."""

from __future__ import annotations

from typing import Any

from neutrino.common.ids import new_id
from neutrino.service import binding
from neutrino.service.common import new_row
from neutrino.service.macs import free_mac
from neutrino.store import ports as port_repo
from neutrino.store.uow import Tx


def insert(
    tx: Tx,
    network_id: str,
    base_mac: str,
    *,
    device_id: str,
    device_owner: str,
    project: str = "",
    name: str = "",
    host: str = "",
    status: str = "DOWN",
) -> dict[str, Any]:
    """Insert the port; returns its row (``id``, ``mac_address``...) as inserted."""
    port_id = new_id()
    mac = free_mac(tx, network_id, base_mac)
    vif_type, vif_details = binding.bind(tx, port_id, network_id, host)
    row = new_row(
        port_id,
        project,
        {"name": name},
        revision=1,
        network_id=network_id,
        mac_address=mac,
        admin_state_up=True,
        status=status,
        device_id=device_id,
        device_owner=device_owner,
        port_security_enabled=False,
        binding_host_id=host,
        binding_vnic_type="normal",
        binding_vif_type=vif_type,
        binding_vif_details=vif_details,
        binding_profile="{}",
        dns_name="",
    )
    port_repo.insert_row(tx.conn, row, system_owned=True)
    return row
