"""Port bindings as the API shows them (extension ``binding-extended``): the rules that need
no database.

- Only ports of a compute instance (``device_owner`` ``compute:*``) or of a shared file
  system (``manila:*``) have several bindings; any other port answers 400 (Neutron's
  ``BadRequest``).
- A list is short (a port's active binding and the few inactive ones a migration makes), so
  filters, sorting and paging apply in memory (``page``). The filters and sort keys are the
  attributes Neutron marks as such: ``host``, ``vif_type``, ``vnic_type``, ``status``. A
  binding has no id: its host is its key, so it is the marker (unknown: 404, as a marker that
  names no row elsewhere) and the last sort key.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import BadRequest, NamedBadRequest, NamedNotFound, excerpt
from neutrino.domain.listing import ListQuery

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
KEYS = ("host", "vif_type", "vnic_type", "status")
OWNERS = ("compute:", "manila:")


def check_port(port_id: str, device_owner: str) -> None:
    if not device_owner.startswith(OWNERS):
        raise NamedBadRequest(
            "BadRequest",
            f"Bad port request: Invalid port {excerpt(port_id)}. Operation only valid on "
            "compute and shared filesystem ports.",
        )


def not_found(port_id: str, host: str) -> NamedNotFound:
    return NamedNotFound(
        "PortBindingNotFound",
        f"Binding for port {excerpt(port_id)} for host {excerpt(host)} could not be found.",
    )


def check_query(query: ListQuery) -> None:
    for key in query.filters:
        if key not in KEYS:
            raise BadRequest(f"[{excerpt(key)}] is invalid attribute for filtering")
    for key, _ in query.sorts:
        if key not in KEYS:
            raise BadRequest(f"{excerpt(key)} is invalid attribute for sort_keys")


def page(items: list[dict[str, Any]], query: ListQuery, port_id: str) -> list[dict[str, Any]]:
    """``query`` (checked by ``check_query``) applied to a port's bindings: exact filters,
    sorts with ``host`` last, then the items after the marker's host, at most ``limit``; with
    ``page_reverse`` the items before it, still in the asked order."""
    kept = [b for b in items if all(str(b[k]) in map(str, vs) for k, vs in query.filters.items())]
    sorts = [*query.sorts, ("host", query.sorts[-1][1] if query.sorts else True)]
    for key, asc in reversed(sorts):
        kept.sort(key=lambda b, k=key: str(b[k]), reverse=not asc)  # type: ignore[misc]
    if query.page_reverse:
        kept.reverse()
    if query.marker is not None:
        hosts = [b["host"] for b in kept]
        if query.marker not in hosts:
            raise not_found(port_id, query.marker)
        kept = kept[hosts.index(query.marker) + 1 :]
    if query.limit is not None:
        kept = kept[: query.limit]
    if query.page_reverse:
        kept.reverse()
    return kept
