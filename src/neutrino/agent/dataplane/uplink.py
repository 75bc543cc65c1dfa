"""The all-in-one's external network: a veth pair the agent owns, so one machine can route.

A single machine has no spare NIC for a flat external network, so ``--local-external
PHYSNET:GATEWAY/PREFIX`` makes one: ``nt-<physnet>`` (this host's end: it holds the gateway
address, e.g. 203.0.113.1/24, so the host reaches routers' gateway ports and floating IPs
directly, and routers use it as their next hop) veth-paired with ``ntb-<physnet>`` (the
network's end, mapped to the physnet: the L2 manager enslaves it to the flat network's
bridge, like a physical NIC). Nothing leaves the machine unless the operator adds NAT to the
uplink (README: "Reach the outside world").

``ensure_uplink`` is idempotent (an existing pair is kept, its address and state repaired);
``remove_uplink`` deletes the pair (its peer goes with it) and is a no-op when it is absent.
Both work in namespace ``netns`` (None = the current one). Names: ``uplink_names``.
"""

from __future__ import annotations

from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.dataplane.base import error_from_errno
from neutrino.agent.dataplane.netns import route

__all__ = ["HOST_PREFIX", "NETWORK_PREFIX", "ensure_uplink", "remove_uplink", "uplink_names"]

HOST_PREFIX = "nt-"
NETWORK_PREFIX = "ntb-"
IFNAMSIZ = 15


def uplink_names(physnet: str) -> tuple[str, str]:
    """(host end, network end) of ``physnet``'s pair."""
    return (HOST_PREFIX + physnet)[:IFNAMSIZ], (NETWORK_PREFIX + physnet)[:IFNAMSIZ]


def ensure_uplink(physnet: str, gateway_cidr: str, netns: str | None = None) -> str:
    """Make (or repair) ``physnet``'s pair; the network end's name (to map the physnet to)."""
    host_dev, net_dev = uplink_names(physnet)
    address, _, prefix = gateway_cidr.partition("/")
    try:
        with route(netns) as ipr:
            if not ipr.link_lookup(ifname=host_dev):
                ipr.link("add", ifname=host_dev, kind="veth", peer=net_dev)
            host_idx = ipr.link_lookup(ifname=host_dev)[0]
            net_idx = ipr.link_lookup(ifname=net_dev)[0]
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=host_idx)}
            if address not in have:
                ipr.addr("add", index=host_idx, address=address, prefixlen=int(prefix or 24))
            ipr.link("set", index=host_idx, state="up")
            ipr.link("set", index=net_idx, state="up")
    except NetlinkError as exc:
        raise error_from_errno(exc.code, f"uplink {host_dev}") from exc
    return net_dev


def remove_uplink(physnet: str, netns: str | None = None) -> bool:
    """Delete ``physnet``'s pair; whether there was one."""
    host_dev, _ = uplink_names(physnet)
    try:
        with route(netns) as ipr:
            found = ipr.link_lookup(ifname=host_dev)
            if not found:
                return False
            ipr.link("del", index=found[0])
    except NetlinkError as exc:
        raise error_from_errno(exc.code, f"delete {host_dev}") from exc
    return True
