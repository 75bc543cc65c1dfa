"""The kernel side of the link watcher: a netlink socket subscribed to link events in a
namespace, and the ifindexes present there.

Kept under ``dataplane`` so the rest of the agent never imports pyroute2 (an import
contract in pyproject.toml): ``agent/linkwatch.py`` only parses the datagrams and decides.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

from pyroute2 import IPRoute, netns

__all__ = ["link_indexes", "subscribe_link_events"]

RTMGRP_LINK = 0x1

T = TypeVar("T")


def _in_namespace(namespace: str | None, make: Callable[[], T]) -> T:
    """Run ``make`` with this thread inside ``namespace``: sockets it opens stay there."""
    if namespace is None:
        return make()
    netns.pushns(namespace)
    try:
        return make()
    finally:
        netns.popns()


def subscribe_link_events(namespace: str | None) -> socket.socket:
    """A NETLINK_ROUTE socket in ``namespace`` (None: this one) receiving RTM_*LINK events."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sock.bind((0, RTMGRP_LINK))
        return sock

    return _in_namespace(namespace, make)


def link_indexes(namespace: str | None) -> set[int]:
    """The ifindex of every device in ``namespace`` (None: this one)."""
    ipr = _in_namespace(namespace, IPRoute)
    try:
        return {int(link["index"]) for link in ipr.get_links()}
    finally:
        ipr.close()
