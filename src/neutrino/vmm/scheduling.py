"""Which host may run a VM: a host of the VM's cluster whose provider agents are alive and can
wire every one of the VM's linked networks. (oVirt's feature page leaves this open; here it is
a pure function over what the providers' ``GET /v2.0/agents`` and the networks say.)

A host qualifies for a network when, on that network's provider, an L2 agent reports the
host's ``provider_host`` (its ``binding:host_id``), is alive and administratively up, and can
serve the network's segment: a tunnel type (vxlan, gre, geneve) needs a tunnel endpoint
(``tunnel_ip``/``local_ip``) and the type among its ``tunnel_types``; flat and vlan need the
physical network in one of its mappings; ``local`` always fits; an unknown type (the
provider hides provider attributes from us) is taken on trust. When no host qualifies,
``NoHostAvailable`` names each host with the first reason it was refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import NamedConflict

TUNNEL_TYPES = ("vxlan", "gre", "geneve")
NOT_L2 = ("dhcp", "l3", "metadata", "loadbalancer", "metering", "bgp")
MAPPING_KEYS = ("interface_mappings", "bridge_mappings", "physical_interface_mappings")


@dataclass(frozen=True)
class NetworkNeed:
    name: str
    provider_id: str
    provider_name: str
    network_type: str | None
    physical_network: str | None


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    provider_host: str


class NoHostAvailable(NamedConflict):
    def __init__(self, vm: str, reasons: Mapping[str, str]) -> None:
        detail = "; ".join(f"{host}: {why}" for host, why in reasons.items())
        super().__init__(
            "NoHostAvailable", f"no host can run VM {vm}: " + (detail or "the cluster has no hosts")
        )
        self.reasons = dict(reasons)


def is_l2(agent: Mapping[str, Any]) -> bool:
    kind = str(agent.get("agent_type", "")).lower()
    return not any(word in kind for word in NOT_L2)


def serves(
    config: Mapping[str, Any], network_type: str | None, physical_network: str | None
) -> str | None:
    """None when an agent with ``config`` can wire the segment, else why not."""
    if network_type is None or network_type == "local":
        return None
    if network_type in TUNNEL_TYPES:
        endpoint = config.get("tunnel_ip") or config.get("local_ip")
        types = config.get("tunnel_types") or config.get("segment_types") or ["vxlan"]
        if not endpoint:
            return f"no tunnel endpoint for {network_type}"
        if network_type not in types:
            return f"no {network_type} tunnels (has {', '.join(map(str, types))})"
        return None
    if network_type in ("flat", "vlan"):
        mapped: set[str] = set()
        for key in MAPPING_KEYS:
            value = config.get(key)
            if isinstance(value, Mapping):
                mapped.update(map(str, value))
        if physical_network not in mapped:
            return (
                f"physical network {physical_network} not mapped"
                f" (maps {', '.join(sorted(mapped)) or 'none'})"
            )
        return None
    return f"segment type {network_type} not supported"


def refusal(
    host: Candidate, needs: Iterable[NetworkNeed], agents: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str | None:
    """Why ``host`` cannot serve every need (None: it can). ``agents``: provider id -> the
    agents that provider lists."""
    for need in needs:
        mine = [
            a
            for a in agents.get(need.provider_id, ())
            if a.get("host") == host.provider_host and is_l2(a)
        ]
        if not mine:
            return f"provider {need.provider_name} has no L2 agent on {host.provider_host}"
        usable = [a for a in mine if a.get("alive") and a.get("admin_state_up", True)]
        if not usable:
            state = "dead" if not any(a.get("alive") for a in mine) else "administratively down"
            return f"its L2 agent on provider {need.provider_name} is {state}"
        why = [
            serves(a.get("configurations") or {}, need.network_type, need.physical_network)
            for a in usable
        ]
        if all(why):
            return f"network {need.name}: {why[0]}"
    return None


def choose(
    vm: str,
    hosts: Sequence[Candidate],
    needs: Sequence[NetworkNeed],
    agents: Mapping[str, Sequence[Mapping[str, Any]]],
    load: Mapping[str, int] | None = None,
    exclude: str | None = None,
) -> Candidate:
    """The qualifying host with the fewest running VMs (``load``: host id -> count; ties by
    name); ``exclude`` (a migration's source) is refused as "the VM runs there"."""
    reasons: dict[str, str] = {}
    fit: list[Candidate] = []
    for host in hosts:
        if host.id == exclude:
            reasons[host.name] = "the VM runs there already"
            continue
        why = refusal(host, needs, agents)
        if why is None:
            fit.append(host)
        else:
            reasons[host.name] = why
    if not fit:
        raise NoHostAvailable(vm, reasons)
    counts = load or {}
    return min(fit, key=lambda h: (counts.get(h.id, 0), h.name))
