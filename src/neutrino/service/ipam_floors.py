"""Floors: per-subnet hints where IPAM's scan for free addresses may start (in-process).

A floor says "below this address every pool address was allocated when last looked at",
with the pools and the change-log revision of that look. ``service.ipam`` owns when a floor
is valid (module docstring there); this is the thread-safe store of them: ``get`` hands out a
floor with a generation, ``advance`` records a new observation unless a ``lower`` (an address
released here) or ``forget`` (pools changed) happened since that generation. ``INTEREST``
declares which logged changes invalidate a floor.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from neutrino.domain import ipam as ip
from neutrino.service.changes import Interest
from neutrino.store.changes import Op, Resource, kinds

# What may free a network's addresses: a change that names the network, other than a create
# or a status report.
# Routers, groups, policies, quotas and agents name none (what they do to ports is logged as
# port changes of their own).
_SCOPED = (Resource.NETWORK, Resource.SUBNET, Resource.PORT, Resource.FLOATINGIP)
INTEREST = Interest(
    "IPAM floors",
    invalidating=kinds(*_SCOPED, ops=(Op.UPDATE, Op.DELETE)),
    ignored=kinds(*_SCOPED, ops=(Op.CREATE, Op.STATUS))
    | kinds(
        Resource.ROUTER,
        Resource.SECURITY_GROUP,
        Resource.SECURITY_GROUP_RULE,
        Resource.DEFAULT_SECURITY_GROUP_RULE,
        Resource.RBAC_POLICY,
        Resource.QUOTA,
        Resource.AGENT,
        Resource.ROUTER_L3_AGENT,  # scheduling and VRRP states: ports move by their own changes
        Resource.SUBNETPOOL,  # a pool hands out subnets, not addresses
        Resource.ADDRESS_SCOPE,
        Resource.ADDRESS_GROUP,  # names addresses for rules, allocates none
        Resource.QOS_POLICY,  # bandwidth, not addresses
        Resource.PORT_FORWARDING,  # forwards to addresses, allocates none
        Resource.TRUNK,  # trunks move bindings, never addresses
        Resource.SEGMENT,  # a segment's subnets are subnet changes of their own
        Resource.FLAVOR,  # API-only catalogue entries: allocate nothing
        Resource.SERVICE_PROFILE,
        Resource.NETWORK_SEGMENT_RANGE,  # segmentation ids, not addresses
    ),
)
FLOOR_TTL = 3600.0  # a floor unused this long is dropped (memory); validity is the change log's


@dataclass
class _Floor:
    pools: tuple[ip.Interval, ...]
    value: int
    stamp: float
    revision: int  # change-log revision the observation was made at


class Floors:
    """Per-subnet scan start hints (see the module docstring); thread-safe."""

    def __init__(self, ttl: float = FLOOR_TTL) -> None:
        self.ttl = ttl
        self._floors: dict[str, _Floor] = {}
        self._generation: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def get(self, subnet_id: str, pools: tuple[ip.Interval, ...]) -> tuple[int | None, int, int]:
        """(floor or None, generation to hand back to ``advance``, the floor's revision)."""
        with self._lock:
            gen = self._generation[subnet_id]
            floor = self._floors.get(subnet_id)
        if floor is None or floor.pools != pools or time.monotonic() - floor.stamp > self.ttl:
            return None, gen, 0
        return floor.value, gen, floor.revision

    def advance(
        self,
        subnet_id: str,
        pools: tuple[ip.Interval, ...],
        value: int,
        gen: int,
        revision: int = 0,
    ) -> None:
        """Record an observation made since ``gen``, unless a release happened meanwhile."""
        with self._lock:
            if self._generation[subnet_id] != gen:
                return
            if len(self._floors) > 10_000:
                self._prune()
            self._floors[subnet_id] = _Floor(pools, value, time.monotonic(), revision)

    def lower(self, subnet_id: str, value: int) -> None:
        with self._lock:
            self._generation[subnet_id] += 1
            floor = self._floors.get(subnet_id)
            if floor is not None and value < floor.value:
                floor.value = value

    def forget(self, subnet_id: str) -> None:
        with self._lock:
            self._generation[subnet_id] += 1
            self._floors.pop(subnet_id, None)

    def _prune(self) -> None:
        now = time.monotonic()
        for sid in [s for s, f in self._floors.items() if now - f.stamp > self.ttl]:
            del self._floors[sid]  # generations stay: a scan in flight may still compare
