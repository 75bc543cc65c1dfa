"""The kernel side of the link watcher: a netlink socket subscribed to link events in a
namespace, and the ifindexes present there.

Kept under ``dataplane`` so the rest of the agent never imports pyroute2 (an import
contract in pyproject.toml): ``agent/linkwatch.py`` only parses the datagrams and decides.
"""

from __future__ import annotations

import socket

from neutrino.agent.dataplane.netns import inside, route

__all__ = ["link_indexes", "subscribe_link_events"]

RTMGRP_LINK = 0x1


def subscribe_link_events(namespace: str | None) -> socket.socket:
    """A NETLINK_ROUTE socket in ``namespace`` (None: this one) receiving RTM_*LINK events."""
    with inside(namespace):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, RTMGRP_LINK))
    return sock


def link_indexes(namespace: str | None) -> set[int]:
    """The ifindex of every device in ``namespace`` (None: this one)."""
    ipr = route(namespace)
    try:
        return {int(link["index"]) for link in ipr.get_links()}
    finally:
        ipr.close()
