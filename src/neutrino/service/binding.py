"""Port binding: may this host's L2 agent wire this network, and under which names?

Rules (the Linux-bridge mechanism driver, in Neutron's terms):
- no host -> ``unbound`` with empty details;
- a host whose L2 agent is registered, administratively up, alive (heartbeat within
  ``AGENT_DOWN_TIME``) and configured for the network's segment -> ``bridge`` with
  ``{"bridge_name": "brq<net[:11]>", "tap_name": "tap<port[:11]>", "port_filter": true}``;
- otherwise ``binding_failed``, with the reason in ``binding:vif_details``
  (``{"binding_failure_reason": "..."}``; Neutron logs it, we show it to the admin).

A trunk's sub-port (``bind_subport``) is bound to its parent's host like any port, and
further needs VLAN on that host: the agent reports whether its kernel can tag (8021q or
bridge VLAN filtering, detected at start) as ``trunk_segmentation_types`` and, when it cannot,
``vlan_unavailable`` (why); a VLAN network needs the same (``segment_types`` without
``vlan``).

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
from neutrino.store import trunks as trunk_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

AGENT_DOWN_TIME = dt.timedelta(seconds=75)
UNBOUND = ("unbound", "{}")
FAILED = ("binding_failed", "{}")
REASON = "binding_failure_reason"


def failed(reason: str) -> tuple[str, str]:
    return "binding_failed", orjson.dumps({REASON: reason}).decode()


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
    return refusal(config, network_type, physical_network) is None


def refusal(
    config: dict[str, Any], network_type: str | None, physical_network: str | None
) -> str | None:
    """Why an agent with this configuration cannot wire a segment of this type (None: it
    can)."""
    if not _serves(config, network_type, physical_network):
        if network_type == "vlan" and config.get("vlan_unavailable"):
            return f"the host cannot tag VLANs: {config['vlan_unavailable']}"
        return f"the host's L2 agent has no mapping for a {network_type} segment" + (
            f" on physical network {physical_network}" if physical_network else ""
        )
    return None


def trunk_refusal(config: dict[str, Any]) -> str | None:
    """Why this agent cannot carry trunk sub-ports (None: it can, with VLAN tags)."""
    if "vlan" in (config.get("trunk_segmentation_types") or []):
        return None
    why = config.get("vlan_unavailable") or "the agent does not report VLAN trunking"
    return f"the host cannot carry trunk sub-ports: {why}"


def _serves(config: dict[str, Any], network_type: str | None, physical_network: str | None) -> bool:
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


def bind(
    tx: Tx, port_id: str, network_id: str, host: str, *, subport: bool = False
) -> tuple[str, str]:
    """(binding_vif_type, binding_vif_details JSON) for a port on ``host``, read in ``tx``;
    ``subport``: the port is a trunk's sub-port (its frames are VLAN-tagged on the parent)."""
    if not host:
        return UNBOUND
    agent = repo.l2_agent(tx.conn, host)
    if agent is None:
        return failed(f"no L2 agent is registered on host {host}")
    config_text, heartbeat, admin_up = agent
    if not admin_up:
        return failed(f"the L2 agent on host {host} is administratively down")
    if clock.now() - heartbeat >= AGENT_DOWN_TIME:
        return failed(f"the L2 agent on host {host} is not alive")
    segment = repo.network_segment(tx.conn, network_id)
    if segment is None:
        return FAILED
    config = parse_configurations(config_text)
    why = refusal(config, *segment) or (trunk_refusal(config) if subport else None)
    if why is not None:
        return failed(why)
    return VIF_BRIDGE, orjson.dumps(vif_details(port_id, network_id)).decode()


def rebind_failed_ports(tx: Tx, host: str) -> int:
    """Retry the binding of the host's ``binding_failed`` ports (after its agent registered);
    each port that binds gets a new revision and a change-log entry. Returns how many bound."""
    bound = 0
    for port_id, network_id, _project_id, _revision in repo.unbound_ports_on(tx.conn, host):
        subport = trunk_repo.trunk_of_subport(tx.conn, port_id) is not None
        vif_type, details = bind(tx, port_id, network_id, host, subport=subport)
        if vif_type != VIF_BRIDGE:
            continue
        tx.updated(
            Resource.PORT, port_id, {"binding_vif_type": vif_type, "binding_vif_details": details}
        )
        bound += 1
    return bound
