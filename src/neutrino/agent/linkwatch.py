"""Link watcher: wake the apply loop the moment a device it cares about appears or vanishes.

Without it, a VM plugged after its port was bound (its ``tap…`` created by whoever starts the
VM) would wait for the next periodic resync to be enslaved and reported ACTIVE. The watcher
subscribes to rtnetlink link events in the managed namespace and calls ``on_change`` when

* a device named with one of ``plug_prefixes`` (taps) appears that was not there before —
  a new VM plug; later RTM_NEWLINK messages for the same device (carrier, master, MTU
  changes, most of them caused by our own apply) are ignored, so a round never wakes itself;
* a device with one of ``owned_prefixes`` disappears — a VM gone, or a bridge deleted by
  hand, repaired now instead of at the next resync.

It only signals; the loop re-reads the kernel and decides. A lost event costs latency only:
the periodic resync still converges. Linux-only: the socket and the device list come from
``dataplane.linkevents``.
"""

from __future__ import annotations

import errno
import logging
import select
import struct
import threading
from collections.abc import Callable, Iterator

from neutrino.agent.dataplane.linkevents import link_indexes, subscribe_link_events
from neutrino.agent.model import OWNED_PREFIXES, TAP_PREFIX

__all__ = ["LinkWatcher", "parse_link_events"]

log = logging.getLogger(__name__)

RTM_NEWLINK, RTM_DELLINK = 16, 17
IFLA_IFNAME = 3
_NLMSG = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_RTA = struct.Struct("=HH")  # rtattr: length, type


def parse_link_events(data: bytes) -> Iterator[tuple[int, int, str]]:
    """(message type, ifindex, name) for each RTM_NEWLINK/RTM_DELLINK in a netlink datagram.

    A plain socket and this parser instead of pyroute2's ``get``: pyroute2 0.9 reads ahead
    into its own buffers, so ``select`` on its descriptor can miss messages it already read.
    """
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
        if length < _NLMSG.size:
            return
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            body = offset + _NLMSG.size
            _family, _type, index, _iflags, _change = _IFINFO.unpack_from(data, body)
            name, attr, end = "", body + _IFINFO.size, offset + length
            while attr + _RTA.size <= end:
                alen, atype = _RTA.unpack_from(data, attr)
                if alen < _RTA.size:
                    break
                if atype == IFLA_IFNAME:
                    name = (
                        data[attr + _RTA.size : attr + alen]
                        .split(b"\0", 1)[0]
                        .decode(errors="replace")
                    )
                    break
                attr += (alen + 3) & ~3
            yield kind, index, name
        offset += (length + 3) & ~3


class LinkWatcher:
    """Calls ``on_change`` on relevant link events in ``namespace`` (None: this one)."""

    def __init__(
        self,
        namespace: str | None,
        on_change: Callable[[], None],
        *,
        plug_prefixes: tuple[str, ...] = (TAP_PREFIX,),
        owned_prefixes: tuple[str, ...] = OWNED_PREFIXES,
        poll: float = 0.5,
    ) -> None:
        self.namespace = namespace
        self.on_change = on_change
        self.plug_prefixes = plug_prefixes
        self.owned_prefixes = owned_prefixes
        self.poll = poll
        self._known: set[int] = set()
        self.ready = threading.Event()  # set once subscribed: later events are seen

    def run(self, stop: threading.Event) -> None:
        sock = subscribe_link_events(self.namespace)
        try:
            # Subscribed first, then listed: a device made in between is in the list and
            # its event is ignored, so wake once now to cover it.
            self._known = link_indexes(self.namespace)
            self.ready.set()
            self.on_change()
            while not stop.is_set():
                ready, _, _ = select.select([sock], [], [], self.poll)
                if not ready:
                    continue
                try:
                    data = sock.recv(1 << 16)
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:
                        raise
                    self._known = link_indexes(self.namespace)  # events were dropped
                    self.on_change()  # let the loop look at everything
                    continue
                # every event must be seen (it updates the known devices): no short-circuit
                relevant = [self._relevant(*event) for event in parse_link_events(data)]
                if any(relevant):
                    self.on_change()
        finally:
            sock.close()

    def _relevant(self, kind: int, index: int, name: str) -> bool:
        if kind == RTM_NEWLINK:
            if index in self._known:
                return False
            self._known.add(index)
            if name.startswith(self.plug_prefixes):
                log.debug("link %s appeared", name)
                return True
        elif kind == RTM_DELLINK:
            self._known.discard(index)
            if name.startswith(self.owned_prefixes):
                log.debug("link %s disappeared", name)
                return True
        return False
