"""The trace's model, kept per change-log revision (a trace reads it; only a change rebuilds it).

Building the whole intended network (``domain.trace.from_neutron`` over every collection's
list render) costs tens of milliseconds at 1,000 ports, more than a trace itself by two
orders of magnitude; a trace answers from the model kept here instead.

``ModelCache.get(build)``:

1. reads the change log's latest revision R (one query);
2. the model labelled R is returned as is; a model labelled L < R is relabelled R when every
   change in (L, R] is a kind ``INTEREST`` ignores (quotas, subnet pools, address scopes,
   rule templates: none changes a path), else
3. it is rebuilt (one rebuild at a time: concurrent requests wait for it and share it) and
   labelled with the R read *before* the build began, so a change committed during the build
   is seen as newer at the next request (rebuilt again, never missed).

Correct across server processes and replicas: the revision and the changes come from the
database's change log, which every write appends to in its own transaction; memory is one
model (about 3 MB at 1,000 ports).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from neutrino.domain.trace import NetworkModel
from neutrino.service.changes import Interest
from neutrino.store import changelog
from neutrino.store.changes import Resource, kinds
from neutrino.store.uow import Store

__all__ = ["INTEREST", "ModelCache"]

# Everything the walk reads invalidates; agents too (their tunnel endpoints are the VTEPs),
# and RBAC policies (``router:external`` is the view of one).
INTEREST = Interest(
    "trace model",
    invalidating=kinds(
        Resource.NETWORK,
        Resource.SUBNET,
        Resource.PORT,
        Resource.FLOATINGIP,
        Resource.ROUTER,
        Resource.SECURITY_GROUP,
        Resource.SECURITY_GROUP_RULE,
        Resource.AGENT,
        Resource.RBAC_POLICY,
        Resource.ROUTER_L3_AGENT,  # where a router lives, so which host a hop names
        Resource.PORT_FORWARDING,  # a floating IP's NAT
        Resource.SEGMENT,  # a network's segments are its L2
        Resource.TRUNK,  # sub-ports' bindings
        Resource.ADDRESS_GROUP,  # the addresses a rule's remote address group admits
    ),
    ignored=kinds(
        Resource.DEFAULT_SECURITY_GROUP_RULE,
        Resource.QUOTA,
        Resource.SUBNETPOOL,
        Resource.ADDRESS_SCOPE,
        Resource.QOS_POLICY,  # shapes bandwidth, passes or drops nothing
        Resource.FLAVOR,  # API-only catalogue entries
        Resource.SERVICE_PROFILE,
        Resource.NETWORK_SEGMENT_RANGE,  # ids for networks to come; a network carries its own
    ),
)


class ModelCache:
    """One model and the revision it holds (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._model: NetworkModel | None = None
        self._revision = -1
        self.builds = 0  # how many times the model was built (tests, benchmarks)

    def _fresh(self, revision: int) -> NetworkModel | None:
        """The model if it is valid at ``revision`` (relabelled when only ignored kinds
        changed), else None."""
        if self._model is None:
            return None
        if self._revision == revision:
            return self._model
        if self._revision > revision:  # another process's snapshot lags ours: rebuild
            return None
        with self.store.read() as conn:
            changes = changelog.since(conn, self._revision, revision)
        if all(INTEREST.ignores(c.resource_type, c.op) for c in changes):
            self._revision = revision
            return self._model
        return None

    def get(self, build: Callable[[], NetworkModel]) -> NetworkModel:
        with self.store.read() as conn:
            revision = changelog.latest(conn)
        with self._lock:
            model = self._fresh(revision)
            if model is None:
                model = build()
                self._model, self._revision = model, revision
                self.builds += 1
            return model
