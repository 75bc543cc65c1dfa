"""Link watcher: wake the apply loop the moment a device it cares about appears or vanishes.

Without it, a VM plugged after its port was bound (its ``tap…`` created by whoever starts the
VM) would wait for the next periodic resync to be enslaved and reported ACTIVE. The watcher
subscribes to rtnetlink link events in the managed namespace and calls ``on_change`` when

* a device named with one of ``plug_prefixes`` (taps) appears that was not there before —
  a new VM plug; later RTM_NEWLINK messages for the same device (carrier, master, MTU
  changes, most of them caused by our own apply) are ignored, so a round never wakes itself;
* a device with one of ``owned_prefixes`` disappears — a VM gone, or a bridge deleted by
  hand, repaired now instead of at the next resync.

It only signals, and notes the names (``LinkEvents``): the L2 role looks those devices up
between resyncs instead of dumping every link (``L2Manager.apply``'s ``touched``); dropped
events (ENOBUFS) make the next round a full read. A lost event costs latency only: the
periodic resync still converges. Linux-only: the socket, its parser and the device list
come from ``dataplane.rtnl``. A plain socket and our parser instead of pyroute2's
``get``: pyroute2 0.9 reads ahead into its own buffers, so ``select`` on its descriptor can
miss messages it already read.
"""

from __future__ import annotations

import errno
import logging
import select
import threading
from collections.abc import Callable

from neutrino.agent.dataplane.rtnl import (
    RTM_DELLINK,
    RTM_NEWLINK,
    link_indexes,
    parse_link_events,
    subscribe_link_events,
)
from neutrino.agent.model import OWNED_PREFIXES, TAP_PREFIX

__all__ = ["LinkEvents", "LinkWatcher", "parse_link_events"]

log = logging.getLogger(__name__)


class LinkEvents:
    """The names of the devices that appeared or vanished since the last ``take``, or None
    when that is not known (before the watcher listens, after dropped events)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._known = False

    def note(self, name: str) -> None:
        with self._lock:
            self._names.add(name)

    def lost(self) -> None:
        with self._lock:
            self._known = False

    def take(self) -> set[str] | None:
        with self._lock:
            names, known = self._names, self._known
            self._names, self._known = set(), True
        return names if known else None


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
        self.events = LinkEvents()
        self.ready = threading.Event()  # set once subscribed: later events are seen

    def run(self, stop: threading.Event) -> None:
        sock = subscribe_link_events(self.namespace)
        try:
            # Subscribed first, then listed: a device made in between is in the list and
            # its event is ignored, so wake once now to cover it.
            self._known = link_indexes(self.namespace)
            self.events.lost()  # the first take after this is a full round: it sees all
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
                    self._relist()
                    continue
                # every event must be seen (it updates the known devices): no short-circuit
                relevant = [self._relevant(*event) for event in parse_link_events(data)]
                if any(relevant):
                    self.on_change()
        finally:
            sock.close()

    def _relist(self) -> None:
        """Events were dropped: list the devices again and let the loop look at everything.
        While devices are made by the thousand, the listing itself can be interrupted again
        and again (EAGAIN): then the old list stays, and a device it lacks wakes one round
        more when its next event comes (latency, never a dead watcher)."""
        self.events.lost()
        try:
            self._known = link_indexes(self.namespace)
        except BlockingIOError as exc:
            log.warning("link list after dropped events: %s; keeping the last one", exc)
        self.on_change()

    def _relevant(self, kind: int, index: int, name: str) -> bool:
        if kind == RTM_NEWLINK:
            if index in self._known:
                return False
            self._known.add(index)
            if name.startswith(self.plug_prefixes):
                log.debug("link %s appeared", name)
                self.events.note(name)
                return True
        elif kind == RTM_DELLINK:
            self._known.discard(index)
            if name.startswith(self.owned_prefixes):
                log.debug("link %s disappeared", name)
                self.events.note(name)
                return True
        return False
