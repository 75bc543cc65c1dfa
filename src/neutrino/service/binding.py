"""Port binding: may this host's L2 agent wire this network, and under which names?

Rules (the Linux-bridge mechanism driver, in Neutron's terms):
- no host -> ``unbound`` with empty details;
- a host whose L2 agent is registered, administratively up, alive (heartbeat within
  ``AGENT_DOWN_TIME``) and configured for the network's segment -> ``bridge`` with
  ``{"bridge_name": "brq<net[:11]>", "tap_name": "tap<port[:11]>", "port_filter": true}``;
- otherwise ``binding_failed``.

An agent "can serve" a segment when: vxlan — it reports a ``tunnel_ip`` and lists ``vxlan`` in
``tunnel_types`` (or ``segment_types``; absent means vxlan when a tunnel IP is set); flat and
vlan — the physical network appears in ``interface_mappings`` or ``bridge_mappings``.

Binding is evaluated inside the port's write transaction (create, host change) and again for
a host's failed ports when its agent registers, so it is always consistent with the agent
rows it read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from neutrino.common import clock
from neutrino.domain.hoststate import VIF_BRIDGE, bridge_name, tap_name
from neutrino.store import hostsync as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

AGENT_DOWN_TIME = dt.timedelta(seconds=75)
UNBOUND = ("unbound", "{}")
FAILED = ("binding_failed", "{}")


def parse_configurations(text: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def tunnel_ip_of(config: dict[str, Any]) -> str | None:
    ip = config.get("tunnel_ip") or config.get("local_ip")
    return str(ip) if ip else None


def can_serve(
    config: dict[str, Any], network_type: str | None, physical_network: str | None
) -> bool:
    """Whether an agent with this configuration can wire a segment of this type."""
    if network_type == "vxlan":
        types = config.get("tunnel_types") or config.get("segment_types") or ["vxlan"]
        return tunnel_ip_of(config) is not None and "vxlan" in types
    if network_type in ("flat", "vlan"):
        declared = config.get("segment_types")
        if declared and network_type not in declared:
            return False
        mappings: dict[str, Any] = {}
        for key in ("interface_mappings", "bridge_mappings", "physical_interface_mappings"):
            value = config.get(key)
            if isinstance(value, dict):
                mappings.update(value)
        return physical_network is not None and physical_network in mappings
    return False


def vif_details(port_id: str, network_id: str) -> dict[str, Any]:
    return {
        "bridge_name": bridge_name(network_id),
        "tap_name": tap_name(port_id),
        "port_filter": True,
    }


def bind(tx: Tx, port_id: str, network_id: str, host: str) -> tuple[str, str]:
    """(binding_vif_type, binding_vif_details JSON) for a port on ``host``, read in ``tx``."""
    if not host:
        return UNBOUND
    agent = repo.l2_agent(tx.conn, host)
    if agent is None:
        return FAILED
    config_text, heartbeat, admin_up = agent
    if not admin_up or clock.now() - heartbeat >= AGENT_DOWN_TIME:
        return FAILED
    segment = repo.network_segment(tx.conn, network_id)
    if segment is None or not can_serve(parse_configurations(config_text), *segment):
        return FAILED
    return VIF_BRIDGE, orjson.dumps(vif_details(port_id, network_id)).decode()


def rebind_failed_ports(tx: Tx, host: str) -> int:
    """Retry the binding of the host's ``binding_failed`` ports (after its agent registered);
    each port that binds gets a new revision and a change-log entry. Returns how many bound."""
    bound = 0
    for port_id, network_id, _project_id, _revision in repo.unbound_ports_on(tx.conn, host):
        vif_type, details = bind(tx, port_id, network_id, host)
        if vif_type != VIF_BRIDGE:
            continue
        tx.updated(
            Resource.PORT, port_id, {"binding_vif_type": vif_type, "binding_vif_details": details}
        )
        bound += 1
    return bound
