"""Compile a ``ListQuery`` into one SELECT: filters (repeated values OR'ed), sort keys with
``id`` as the final tie-breaker, and keyset pagination from the marker row.

Pagination never runs on an unordered query: without sort keys the order is ``id`` ascending,
so markers are stable across pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, false, or_, select

from neutrino.common.errors import BadRequest, ResourceNotFound
from neutrino.domain.listing import ListQuery


@dataclass(frozen=True)
class Column:
    """A filterable/sortable wire attribute backed by one column."""

    column: Any
    parse: Callable[[str], Any] = str


FilterHook = Callable[[list[Any]], ColumnElement[bool]]
NULLS = ("", "None", "null")


def nullable_str(value: str) -> str | None:
    """A filter value for a nullable text column (``None``/``null`` match NULL)."""
    return None if value in NULLS else value


def nullable_int(value: str) -> int | None:
    return None if value in NULLS else int(value)


def standard_columns(table: Table) -> dict[str, Column]:
    """Filters/sort keys every standard-attribute resource has."""
    c = table.c
    return {
        "id": Column(c.id),
        "name": Column(c.name),
        "description": Column(c.description),
        "project_id": Column(c.project_id),
        "tenant_id": Column(c.project_id),
        "revision_number": Column(c.revision_number, int),
        "created_at": Column(c.created_at),
        "updated_at": Column(c.updated_at),
    }


def compile_list(
    conn: Connection,
    stmt: Select[Any],
    table: Table,
    query: ListQuery,
    columns: Mapping[str, Column],
    hooks: Mapping[str, FilterHook] | None = None,
    kind: str = "Resource",
) -> Select[Any]:
    hooks = hooks or {}
    for key, values in query.filters.items():
        if key in hooks:
            stmt = stmt.where(hooks[key](values))
            continue
        col = columns[key]
        parsed = []
        for v in values:
            try:
                parsed.append(col.parse(v))
            except (ValueError, TypeError):
                # A value that cannot match (e.g. "abc" for an integer): nothing is returned.
                stmt = stmt.where(false())
                break
        else:
            nulls = [p for p in parsed if p is None]
            rest = [p for p in parsed if p is not None]
            clauses = []
            if rest:
                clauses.append(col.column.in_(rest))
            if nulls:
                clauses.append(col.column.is_(None))
            stmt = stmt.where(or_(*clauses))

    sorts = [(columns[k].column, asc) for k, asc in query.sorts]
    if not any(c is table.c.id for c, _ in sorts):
        sorts.append((table.c.id, sorts[-1][1] if sorts else True))
    if query.page_reverse:
        sorts = [(c, not asc) for c, asc in sorts]

    if query.marker is not None:
        marker = conn.execute(
            select(*[c for c, _ in sorts]).where(table.c.id == query.marker)
        ).first()
        if marker is None:
            raise ResourceNotFound(kind, query.marker)
        stmt = stmt.where(_after(sorts, list(marker)))

    stmt = stmt.order_by(*[c.asc() if asc else c.desc() for c, asc in sorts])
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    return stmt


def _after(sorts: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the marker in the given order (lexicographic keyset)."""
    clauses = []
    for i, (col, asc) in enumerate(sorts):
        equal_prefix = [sorts[j][0] == values[j] for j in range(i)]
        cmp = col > values[i] if asc else col < values[i]
        clauses.append(and_(*equal_prefix, cmp))
    return or_(*clauses)


def check_keys(query: ListQuery, columns: Mapping[str, Column], hooks: Mapping[str, Any]) -> None:
    for key in query.filters:
        if key not in columns and key not in hooks:
            raise BadRequest(f"[{key}] is invalid attribute for filtering")
    for key, _ in query.sorts:
        if key not in columns:
            raise BadRequest(f"{key} is invalid attribute for sort_keys")
