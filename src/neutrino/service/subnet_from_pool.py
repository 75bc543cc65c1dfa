"""A subnet's cidr from a subnet pool, and the network/pool affinity rules, inside the subnet
create's transaction (``service.subnets``).

Which pool: ``subnetpool_id``, or with ``use_default_subnetpool`` the default pool of the
request's ip_version (400 when there is none). The request asks either for a prefix length
(``prefixlen``, else the pool's ``default_prefixlen``: the pool picks the place, best fit) or
for a specific ``cidr`` (granted only when it lies in the pool's free space). Neutron's checks,
in its order: the pool's ip_version, the min/max prefix lengths (400), the owner project's
``default_quota`` counted in quota units (409 ``SubnetPoolQuotaExceeded``), then free space
(409 ``SubnetAllocationError`` when exhausted).

Affinity (Neutron's ``_validate_network_subnetpools``): the subnets of one ip_version on a
network come from one pool, or all from pools of one address scope; a subnet with no pool may
not join subnets of its version that have one.

Races: the caller holds the network's row lock; this module then locks the pool's row
(``for_change``, PostgreSQL) before it reads what the pool has handed out, so two creates
from one pool are serialized and the second sees the first's subnet — no two subnets of a
pool overlap, on any number of servers. A pool delete (``for_delete``) waits for the
allocation to commit and then finds the subnet. On SQLite writers are serialized anyway.
Lock order: networks -> subnetpools -> address_scopes.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedBadRequest, NamedConflict
from neutrino.domain import prefixes as px
from neutrino.service import rbac_objects
from neutrino.service import subnetpool_attrs as spa
from neutrino.service.context import RequestContext
from neutrino.store import locks
from neutrino.store import subnetpools as repo
from neutrino.store.uow import Tx

PD_POOL_ID = "prefix_delegation"


def _bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad subnets request: {message}.")


def affinity_error() -> NamedBadRequest:
    return NamedBadRequest(
        "NetworkAddressScopeAffinityError",
        "Subnets of the same address family hosted on the same network must all participate "
        "in the same address scope.",
    )


def pool_for(tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> Any:
    """The pool the request names (or its version's default), locked; None without one."""
    pool_id = attrs.get("subnetpool_id")
    if attrs.get("use_default_subnetpool"):
        version = px.network(attrs["cidr"]).version if attrs.get("cidr") else attrs["ip_version"]
        default = repo.default_pool(tx.conn, version)
        if default is None:
            raise _bad(f"No default subnetpool found for IPv{version}")
        pool_id = default["id"]
    if pool_id is None or pool_id == PD_POOL_ID:
        return None
    locks.for_change(tx.conn, "subnetpools", pool_id)
    row = repo.find(tx.conn, pool_id)
    if row is None or not rbac_objects.visible(tx.conn, ctx, row):
        raise spa.pool_not_found(pool_id)
    return row


def carve(tx: Tx, pool: Any, attrs: dict[str, Any], project: str) -> str:
    """The cidr of the new subnet of ``project`` from the (locked) pool."""
    version = pool["ip_version"]
    if attrs["ip_version"] != version:
        raise _bad(f"Cannot allocate IPv{attrs['ip_version']} subnet from IPv{version} subnet pool")
    wanted = px.network(attrs["cidr"]) if attrs.get("cidr") else None
    if wanted is not None and wanted.version != version:
        raise _bad(f"Cannot allocate IPv{wanted.version} subnet from IPv{version} subnet pool")
    prefixlen = wanted.prefixlen if wanted else attrs.get("prefixlen")
    if prefixlen is None:
        prefixlen = pool["default_prefixlen"]
    for bound, broken, word in (
        ("max_prefixlen", prefixlen > pool["max_prefixlen"], "maximum"),
        ("min_prefixlen", prefixlen < pool["min_prefixlen"], "minimum"),
    ):
        if broken:
            raise NamedBadRequest(
                f"{word.capitalize()[:3]}PrefixSubnetAllocationError",
                f"Unable to allocate subnet with prefix length {prefixlen}, {word} allowed "
                f"prefix is {pool[bound]}.",
            )
    handed = repo.allocated(tx.conn, pool["id"])
    quota = pool["default_quota"]
    if quota:
        used = sum(
            px.quota_units(px.network(c).prefixlen, version) for c, p in handed if p == project
        )
        if used + px.quota_units(prefixlen, version) > quota:
            raise NamedConflict(
                "SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded."
            )
    prefixes = repo.prefixes_of(tx.conn, [pool["id"]]).get(pool["id"], [])
    free = px.free(prefixes, (c for c, _ in handed))
    if wanted is not None:
        if not px.allocate_specific(free, wanted):
            raise _allocation_error(
                "Cannot allocate requested subnet from the available set of prefixes"
            )
        return str(wanted)
    found = px.allocate_any(free, prefixlen, version)
    if found is None:
        raise _allocation_error(f"Insufficient prefix space to allocate subnet size /{prefixlen}")
    return str(found)


def _allocation_error(reason: str) -> NamedConflict:
    return NamedConflict("SubnetAllocationError", f"Failed to allocate subnet: {reason}.")


def check_affinity(conn: Any, network_id: str, version: int, pool: Any) -> None:
    """Neutron's network/pool affinity for a new subnet of ``version`` from ``pool`` (None:
    a plain cidr) on the network (whose row the caller has locked)."""
    others = repo.subnets_on(conn, {network_id}, version)
    scope = next((o["address_scope_id"] for o in others if o["address_scope_id"]), None)
    if scope is not None and pool is not None and pool["address_scope_id"] != scope:
        raise affinity_error()
    for other in others:
        if pool is None:
            mismatch = other["subnetpool_id"] is not None
        else:
            mismatch = other["subnetpool_id"] != pool["id"] and scope is None
        if mismatch:
            raise NamedBadRequest(
                "NetworkSubnetPoolAffinityError",
                "Subnets hosted on the same network must be allocated from the same subnet pool.",
            )
