"""A parsed list request (``GET /v2.0/<collection>?...``): filters, fields, sort, page.

Pure data; the API builds it from the query string, the store compiles it to one SELECT.
``in_memory`` applies one to a short list computed in the process (collections without rows
of their own, such as availability zones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrino.common.errors import BadRequest


@dataclass
class ListQuery:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False


def in_memory(
    items: list[dict[str, Any]], query: ListQuery, keys: tuple[str, ...], what: str
) -> list[dict[str, Any]]:
    """``query`` applied to ``items`` whose attributes are ``keys`` (the first ones sort
    them by default): exact filters, sorts, ``page_reverse`` and ``limit``. Such items have
    no id, so a marker is refused (``what`` names them in the message)."""
    for key in query.filters:
        if key not in keys:
            raise BadRequest(f"[{key}] is invalid attribute for filtering")
    for key, _ in query.sorts:
        if key not in keys:
            raise BadRequest(f"{key} is invalid attribute for sort_keys")
    if query.marker is not None:
        raise BadRequest(f"{what} have no id: marker is not supported")
    kept = [i for i in items if all(_matches(i[k], vs) for k, vs in query.filters.items())]
    for key, asc in reversed([*query.sorts, *((k, True) for k in keys)]):
        kept.sort(key=lambda item, k=key: item[k], reverse=not asc)  # type: ignore[misc]
    if query.page_reverse:
        kept.reverse()
    return kept[: query.limit] if query.limit is not None else kept


def _matches(value: Any, wanted: list[Any]) -> bool:
    if isinstance(value, bool):  # ?default=true, ?default=True
        return str(value).lower() in (str(w).lower() for w in wanted)
    return str(value) in map(str, wanted)
