"""The two ends of a trace: whether a port is wired at all, and how the answer gets back.

``reachable`` is the port's wire (bound to a host, admin up — an admin-down port's tap is
not on the bridge — and status ACTIVE, else a warning). ``reply`` evaluates the answer to a
delivered packet: by conntrack for stateful groups ("allowed only by conntrack"), by a rule of
its own for stateless ones, and across hosts on VXLAN the answer's neighbour lookup, which
l2population answers for fixed IPs and one-address allowed address pairs only.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from neutrino.domain.trace import filters
from neutrino.domain.trace.model import Port
from neutrino.domain.trace.packet import Trace, make_hop

if TYPE_CHECKING:
    from neutrino.domain.trace.walk import Walk

__all__ = ["EPHEMERAL_PORT", "reachable", "reply"]

EPHEMERAL_PORT = 40000  # the client port assumed for a stateless reply when none is given


def _link_local(address: str) -> bool:
    return ipaddress.ip_address(address).is_link_local


def reachable(t: Trace, port: Port, step: str) -> bool:
    """A port's wire: bound to a host, tap on the bridge (admin up); status is a warning."""
    if port.host is None:
        t.add(
            step,
            port,
            "drop",
            "the port is not bound to any host (no "
            "binding:host_id, or its binding failed): nothing is wired",
            f"bind it: openstack port set --host HOST {port.id}",
        )
        return False
    if not port.admin_state_up:
        t.add(
            step,
            port,
            "drop",
            f"the port is admin down: its tap is not on the bridge on host {port.host}",
            f"openstack port set --enable {port.id}",
        )
        return False
    if port.status != "ACTIVE":
        t.add(
            step,
            port,
            "warn",
            f"status {port.status}: the agent on {port.host} has not reported it wired",
        )
    else:
        t.add(step, port, "pass", f"on host {port.host}, admin up, ACTIVE")
    return True


def reply(w: Walk, dst_port: Port) -> None:
    """How the answer to a delivered packet passes the two filters (``Trace.reply``)."""
    original = w.t.packet
    sport = original.sport or EPHEMERAL_PORT
    # the answer's source port is the one the packet reached: after a port forwarding's
    # DNAT, the internal port on the destination's side, the external one at the origin
    for port, direction, src, dst, answering in (
        (dst_port, "egress", w.packet.dst, w.src, w.packet.dport),
        (w.origin, "ingress", original.dst, w.origin_src, original.dport),
    ):
        if port is None:
            continue
        step = f"reply {direction}"
        if not port.filtered:
            w.t.reply.append(make_hop(step, port, "pass", "not filtered"))
        elif filters.stateful(port, w.m):
            w.t.reply.append(
                make_hop(
                    step,
                    port,
                    "pass",
                    "the reply is allowed only by conntrack "
                    "(established): no rule allows it by itself",
                )
            )
        else:
            echo = {8: 0, 128: 129}.get(original.echo_type())
            back = original.with_(
                dst=dst,
                dport=sport,
                sport=answering,
                icmp_type=echo if original.icmp else None,
                src=src,
            )
            r = filters.check(port, direction, back, src, w.m)
            w.t.reply.append(
                make_hop(
                    step,
                    r.obj,
                    "pass" if r.allowed else "drop",
                    f"stateless: {r.detail}",
                    r.fix,
                )
            )
    _reply_neighbour(w)


def _reply_neighbour(w: Walk) -> None:
    """The answer goes back to the origin's source address from the port the origin
    handed the packet to: across hosts on VXLAN that address must be a fixed IP."""
    if w.origin is None or w.first is None:
        return
    network_id, first = w.first
    net = w.m.networks.get(network_id)
    if net is None or net.network_type != "vxlan" or first.host == w.origin.host:
        return
    src = w.origin_src
    if _link_local(src) or w.m.announced(w.origin, src):
        return
    w.t.reply.append(
        make_hop(
            "reply L2",
            net,
            "drop",
            f"the answer to {src} leaves {first.label()} on host {first.host}: {src} is "
            f"neither a fixed IP nor a one-address allowed address pair of "
            f"{w.origin.label()}, and across hosts ARP/ND is answered only from "
            f"l2population's neighbour entries, so nothing answers",
            f"add {src} itself as an allowed address pair of the port (openstack port set "
            f"--allowed-address ip-address={src} {w.origin.id}), or keep both ends on one host",
        )
    )
