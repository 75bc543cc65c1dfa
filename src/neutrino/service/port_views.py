"""A per-process cache of rendered port JSON, kept true by the change log.

oVirt lists every port on every vNIC allocation; between two lists usually one port changed.
Rendering 10,000 ports each time costs ~0.2 s of CPU, so each server keeps the JSON text of
every port it rendered, per view (admin / member), and before each list asks the change log
what changed since the revision its cache reflects:

- every write that changes what a port looks like records a ``port`` change for it in the same
  transaction (that is the contract agents rely on too), so those ports are dropped;
- a change of a kind ``INTEREST`` does not ignore drops everything (safe default);
- the list itself reads ids and the change log in one snapshot (one read transaction), renders
  the ports it misses, and stores them only if no newer list moved the cache on meanwhile, so
  a render from an older snapshot never overwrites a newer invalidation.

Correct across replicas (the change log is in the database); memory is ~2 KB per port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from neutrino.service.changes import Interest
from neutrino.store.changelog import Logged
from neutrino.store.changes import Resource, kinds

# A port change drops that port's views; any other invalidating kind drops everything. The
# ignored ones never alter a port's rendering (the port changes they cause, like DHCP ports or
# router interfaces, are logged as port changes of their own).
INTEREST = Interest(
    "port views",
    invalidating=kinds(
        Resource.PORT,
        Resource.FLOATINGIP,
        Resource.RBAC_POLICY,
        Resource.DEFAULT_SECURITY_GROUP_RULE,
        Resource.TRUNK,  # a parent port shows its trunk's sub-ports (``trunk_details``)
    ),
    ignored=kinds(
        Resource.NETWORK,
        Resource.SUBNET,
        Resource.ROUTER,
        Resource.SECURITY_GROUP,
        Resource.SECURITY_GROUP_RULE,
        Resource.AGENT,
        Resource.ROUTER_L3_AGENT,  # scheduling and VRRP states: ports move by their own changes
        Resource.QUOTA,
        Resource.SUBNETPOOL,
        Resource.ADDRESS_SCOPE,
        Resource.ADDRESS_GROUP,  # a port shows its groups' ids, not their rules' remotes
        Resource.QOS_POLICY,  # a port shows only the id of its policy, set by a port update
        Resource.PORT_FORWARDING,  # not shown in a port
        Resource.SEGMENT,
        Resource.FLAVOR,  # API-only catalogue entries: no port shows them
        Resource.SERVICE_PROFILE,
        Resource.NETWORK_SEGMENT_RANGE,  # ranges pick ids for new networks, ports show none
    ),
)
FULL_DROP_AFTER = 20_000  # more changes than this since last time: start over

Renderer = Callable[[list[str]], dict[str, str]]


class PortViewCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision = -1
        self._views: dict[tuple[str, bool], str] = {}

    @property
    def revision(self) -> int:
        return self._revision

    def catch_up(self, revision: int, changes: list[Logged]) -> None:
        """Apply the changes committed after our revision, up to ``revision``."""
        port = Resource.PORT.type
        with self._lock:
            if revision <= self._revision:
                return
            if (
                self._revision < 0
                or len(changes) > FULL_DROP_AFTER
                or any(
                    c.resource_type != port and not INTEREST.ignores(c.resource_type, c.op)
                    for c in changes
                )
            ):
                self._views.clear()
            else:
                for change in changes:
                    if change.resource_type == port:
                        self._views.pop((change.resource_id, True), None)
                        self._views.pop((change.resource_id, False), None)
            self._revision = revision

    def views(self, ids: list[str], admin: bool, revision: int, render: Renderer) -> list[str]:
        """JSON of each port in ``ids`` as of ``revision`` (the snapshot the caller reads)."""
        with self._lock:
            found = {i: self._views.get((i, admin)) for i in ids}
        missing = [i for i, text in found.items() if text is None]
        if missing:
            rendered = render(missing)
            found.update(rendered)
            with self._lock:
                if self._revision == revision:
                    for rid, text in rendered.items():
                        self._views[(rid, admin)] = text
        return [t for t in (found[i] for i in ids) if t is not None]
