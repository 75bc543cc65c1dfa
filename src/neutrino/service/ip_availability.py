"""``GET /v2.0/network-ip-availabilities[/{network_id}]`` (extension
``network-ip-availability``): per network and subnet, how many addresses the allocation pools
hold (``total_ips``) and how many fixed IPs are allocated (``used_ips``), as Neutron counts
them. Neutron's policy makes it admin-only: anyone else lists nothing and is told a network's
availability does not exist (404), as Neutron's API layer does for a refused show.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.errors import BadRequest, NamedNotFound
from neutrino.domain.listing import ListQuery
from neutrino.service.context import RequestContext
from neutrino.store import ip_availability as repo
from neutrino.store.uow import Store

FILTERS = ("network_id", "network_name", "project_id", "tenant_id", "ip_version")
SORT_KEYS = ("network_id", "network_name", "project_id", "tenant_id", "total_ips", "used_ips")


def _pool_size(first: str, last: str) -> int:
    return int(ipaddress.ip_address(last)) - int(ipaddress.ip_address(first)) + 1


def _page(items: list[dict[str, Any]], query: ListQuery) -> list[dict[str, Any]]:
    """Sorting and keyset paging in memory (one item per network: a list is small next to the
    ports it counts), ``network_id`` as the final tie-breaker, as every collection's."""
    sorts = [*query.sorts, ("network_id", query.sorts[-1][1] if query.sorts else True)]
    if query.page_reverse:
        sorts = [(k, not asc) for k, asc in sorts]
    for key, asc in reversed(sorts):
        items.sort(key=lambda item, k=key: item[k], reverse=not asc)  # type: ignore[misc]
    if query.marker is not None:
        ids = [item["network_id"] for item in items]
        if query.marker not in ids:
            raise NamedNotFound("NetworkNotFound", f"Network {query.marker} could not be found.")
        items = items[ids.index(query.marker) + 1 :]
    return items[: query.limit] if query.limit is not None else items


class IpAvailabilityService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _render(self, conn: Any, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        versions = filters.pop("ip_version", None)
        if "tenant_id" in filters:
            filters.setdefault("project_id", []).extend(filters.pop("tenant_id"))
        nets = repo.network_rows(conn, filters)
        subnets = repo.subnets_of(conn, [n["id"] for n in nets])
        pools, used = repo.pools_of(conn), repo.used_counts(conn)
        out = []
        for net in nets:
            subs = [
                s
                for s in subnets.get(net["id"], [])
                if versions is None or str(s["ip_version"]) in versions
            ]
            if versions is not None and not subs:
                continue
            shown = [
                {
                    "subnet_id": s["id"],
                    "subnet_name": s["name"],
                    "cidr": s["cidr"],
                    "ip_version": s["ip_version"],
                    "total_ips": sum(_pool_size(a, b) for a, b in pools.get(s["id"], [])),
                    "used_ips": used.get(s["id"], 0),
                }
                for s in subs
            ]
            out.append(
                {
                    "network_id": net["id"],
                    "network_name": net["name"],
                    "tenant_id": net["project_id"],
                    "project_id": net["project_id"],
                    "total_ips": sum(s["total_ips"] for s in shown),
                    "used_ips": sum(s["used_ips"] for s in shown),
                    "subnet_ip_availability": shown,
                }
            )
        return out

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        for key in query.filters:
            if key not in FILTERS:
                raise BadRequest(f"[{key}] is invalid attribute for filtering")
        for key, _ in query.sorts:
            if key not in SORT_KEYS:
                raise BadRequest(f"{key} is invalid attribute for sort_keys")
        if not ctx.is_admin:
            return []
        with self.store.read() as conn:
            items = self._render(
                conn,
                {
                    k: [str(v) for v in vs if "\x00" not in str(v)]
                    for k, vs in query.filters.items()
                },
            )
        return _page(items, query)

    def get(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        if ctx.is_admin and "\x00" not in network_id:
            with self.store.read() as conn:
                found = self._render(conn, {"network_id": [network_id]})
        if not found:
            raise NamedNotFound("NetworkNotFound", f"Network {network_id} could not be found.")
        return found[0]
