"""How floating IPs and floating IP pools look on the wire.

Owns the Neutron shape of a floating IP (``tenant_id`` beside ``project_id``, ``port_id`` for
the ``fixed_port_id`` column, ``port_details`` of the ``fip-port-details`` extension: the
associated port's name, network, MAC, admin state, status, device id and owner, or null) and
of a ``floatingip_pools`` entry. ``port_forwardings`` (``expose-port-forwarding-in-fip``) lists
the floating IP's forwardings in short. Rendering is read-only and batched: one query per related
table for a whole page, never one per floating IP.
"""

from __future__ import annotations

from typing import Any

from neutrino.service.common import standard_view
from neutrino.store import floatingips as repo
from neutrino.store import port_forwardings as pf_repo
from neutrino.store import tags as tag_repo

DETAIL_KEYS = (
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
)


def render(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    tags = tag_repo.tags_of(conn, [r["id"] for r in rows])
    details = repo.port_details(conn, [r["fixed_port_id"] for r in rows])
    forwardings = pf_repo.of_floating_ips(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        port = details.get(r["fixed_port_id"] or "")
        out.append(
            {
                "id": r["id"],
                "tenant_id": r["project_id"],
                "project_id": r["project_id"],
                "floating_ip_address": r["floating_ip_address"],
                "floating_network_id": r["floating_network_id"],
                "router_id": r["router_id"],
                "port_id": r["fixed_port_id"],
                "fixed_ip_address": r["fixed_ip_address"],
                "status": r["status"],
                "port_details": None if port is None else {k: port[k] for k in DETAIL_KEYS},
                "qos_policy_id": r["qos_policy_id"],
                "port_forwardings": [_forwarding(f) for f in forwardings.get(r["id"], ())],
                "dns_name": "",  # dns-integration without an external DNS service
                "dns_domain": "",
                **standard_view(r, tags.get(r["id"], [])),
            }
        )
    return out


def _forwarding(row: Any) -> dict[str, Any]:
    """A forwarding as a floating IP shows it (``expose-port-forwarding-in-fip`` with
    ``floating-ip-port-forwarding-detail``: ``id`` and ``internal_port_id`` too); the single
    ports only where they are single, as Neutron."""
    out = {
        "id": row["id"],
        "protocol": row["protocol"],
        "internal_ip_address": row["internal_ip_address"],
        "internal_port_id": row["internal_port_id"],
    }
    if row["external_port_start"] == row["external_port_end"]:
        out["external_port"] = row["external_port_start"]
    if row["internal_port_start"] == row["internal_port_end"]:
        out["internal_port"] = row["internal_port_start"]
    return out


def render_one(conn: Any, fip_id: str) -> dict[str, Any]:
    row = repo.find(conn, fip_id)
    assert row is not None
    return render(conn, [row])[0]


def pool_view(row: Any) -> dict[str, Any]:
    return {
        "subnet_id": row["id"],
        "subnet_name": row["name"],
        "network_id": row["network_id"],
        "cidr": row["cidr"],
        "project_id": row["project_id"],
        "tenant_id": row["project_id"],
    }
