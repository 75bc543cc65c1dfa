"""Which kernel objects each hop of a trace relies on, and the first hop the kernel betrays.

The agents' drift check (``agent/check.py``) names every difference between a host's kernel
and its intended state as an object string: ``tap…`` and ``vxlan-<vni>`` devices, ``fdb
vxlan-<vni> <mac> dst <vtep>``, ``neigh vxlan-<vni> <ip> lladdr <mac>``, ``nft table bridge
neutrino``, ``nft bridge p_ip4 tap… . <mac> . <ip>``, ``nft bridge port_in tap… : jump …``,
``nft bridge rg4-<group> <address>``, ``router <id> route <dst> via <hop>``, ``router <id> nat
floating ip <fip> -> <fixed>``, ...

A hop records the objects it relies on as ``(host, prefix)`` pairs (``Hop.refs``), set by the
walk where it knows the port, network, router and host (``refs_*`` below). ``--verify`` asks
the agents of the hosts involved for their differences and ``first_difference`` returns the
first hop (in path order) with a difference on its host whose object is a ref's prefix, or
starts with it followed by a space (``vxlan-5`` is not ``vxlan-50``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from neutrino.domain.hoststate import bridge_name, tap_name
from neutrino.domain.trace.model import Network, NetworkModel, Port, Router
from neutrino.domain.trace.packet import Hop

__all__ = [
    "first_difference",
    "hosts_of",
    "refs_delivery",
    "refs_egress",
    "refs_ingress",
    "refs_l2",
    "refs_router",
    "refs_spoof",
]

Ref = tuple[str, str]
PORT_SETS = ("p_mac", "p_ip4", "p_ip6", "p_net4", "p_net6")
TABLES = ("nft table bridge neutrino", "nft table inet neutrino")


def _remote_groups(port: Port, model: NetworkModel, direction: str) -> list[str]:
    found = set()
    for gid in port.security_groups:
        group = model.groups.get(gid)
        for rule in group.rules if group is not None else ():
            if rule.direction == direction and rule.remote_group_id:
                found.add(rule.remote_group_id)
    return sorted(found)


def _filter(port: Port, model: NetworkModel, direction: str, verdict_map: str) -> list[Ref]:
    if port.host is None or not port.filtered:
        return []
    host, tap = port.host, tap_name(port.id)
    refs = [(host, t) for t in TABLES] + [(host, f"nft bridge {verdict_map} {tap}")]
    refs += [(host, f"nft set bridge {verdict_map}")]
    for gid in _remote_groups(port, model, direction):
        for v in (4, 6):
            for name in (f"rg{v}-{gid}", f"rg{v}-{gid}-net"):  # host addresses, CIDRs
                refs += [(host, f"nft bridge {name}"), (host, f"nft set bridge {name}")]
    return refs


def refs_spoof(port: Port) -> list[Ref]:
    """Anti-spoofing: the port's bindings in the ``p_*`` sets."""
    if port.host is None or not port.filtered:
        return []
    tap = tap_name(port.id)
    refs = [(port.host, t) for t in TABLES]
    for name in PORT_SETS:
        refs += [(port.host, f"nft bridge {name} {tap}"), (port.host, f"nft set bridge {name}")]
    return refs


def refs_egress(port: Port, model: NetworkModel) -> list[Ref]:
    return _filter(port, model, "egress", "port_out")


def refs_ingress(port: Port, model: NetworkModel) -> list[Ref]:
    refs = _filter(port, model, "ingress", "port_in")
    if port.host is not None and port.filtered:
        refs.append((port.host, f"nft inet br_zone {bridge_name(port.network_id)}"))
    return refs


def refs_delivery(port: Port) -> list[Ref]:
    """The port's tap on its bridge."""
    return [(port.host, tap_name(port.id))] if port.host else []


def refs_l2(net: Network | None, host: str | None, target: Port, address: str) -> list[Ref]:
    """From ``host`` to ``target``: the bridge, and across hosts on VXLAN both VXLAN
    devices, the FDB entry and the neighbour entry of the address resolved."""
    if target.host is None:
        return []
    network_id = target.network_id
    refs = [(target.host, bridge_name(network_id))]
    if host is None or host == target.host or net is None:
        return refs
    refs.append((host, bridge_name(network_id)))
    if net.network_type == "vxlan" and net.segmentation_id is not None:
        vx = f"vxlan-{net.segmentation_id}"
        refs += [(host, vx), (target.host, vx), (host, f"fdb {vx} {target.mac_address.lower()}")]
        if address:
            refs.append((host, f"neigh {vx} {address}"))
    return refs


def refs_router(router: Router, host: str | None, what: Iterable[str]) -> list[Ref]:
    """The router's objects in its namespace on ``host``: ``what`` of ``device``,
    ``address``, ``forwarding``, ``netns``, ``route``, ``nat``."""
    if host is None:
        return []
    return [(host, f"router {router.id} {w}") for w in what]


def hosts_of(hops: Iterable[Hop]) -> list[str]:
    return sorted({host for hop in hops for host, _ in hop.refs})


def _matches(obj: str, prefix: str) -> bool:
    return obj == prefix or obj.startswith(prefix + " ")


def first_difference(
    hops: list[Hop], differences: Mapping[str, list[str]]
) -> tuple[int, list[str]] | None:
    """The first hop relying on an object the kernel has otherwise (its index, and the
    differences: ``<kind> <object>...`` lines as the drift check prints them), or None."""
    for index, hop in enumerate(hops):
        found = []
        for host, prefix in hop.refs:
            for line in differences.get(host, ()):
                _kind, _, obj = line.partition(" ")
                obj = obj.split(": want ", 1)[0]
                if _matches(obj, prefix):
                    found.append(f"{host}: {line}")
        if found:
            return index, sorted(set(found))
    return None
