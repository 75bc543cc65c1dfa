"""Conntrack deletions of the router namespace the caller is in (netlink, pyroute2's
``Conntrack``): what makes a removed floating IP or port forwarding dead at once instead of
letting established connections run on the old translation. An entry already gone is fine.
"""

from __future__ import annotations

import contextlib
import socket

from pyroute2 import Conntrack
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.domain.port_forwarding import Forwarding

IP_PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}


def flush_addresses(addresses: set[str]) -> None:
    """Delete the connections to these (former floating) addresses and their NATed flows."""
    with Conntrack() as ct:
        for entry in list(ct.dump_entries()):
            if entry.tuple_orig.daddr in addresses or entry.tuple_reply.daddr in addresses:
                with contextlib.suppress(NetlinkError):  # already gone
                    ct.entry("del", tuple_orig=entry.tuple_orig)


def flush_forwardings(gone: set[Forwarding]) -> None:
    """Delete the connections that came in through these forwardings (original direction:
    to the floating address and external port, of that protocol), so they are cut at once."""
    keys = {(f.floating_ip_address, IP_PROTO[f.protocol], f.external_port) for f in gone}
    with Conntrack() as ct:
        for entry in list(ct.dump_entries()):
            orig = entry.tuple_orig
            if (orig.daddr, orig.proto, orig.dport) in keys:
                with contextlib.suppress(NetlinkError):  # already gone
                    ct.entry("del", tuple_orig=orig)
