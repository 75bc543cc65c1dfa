"""Compile a ``ListQuery`` into one SELECT: filters (repeated values OR'ed), sort keys with
``id`` as the final tie-breaker, and keyset pagination from the marker row.

Pagination never runs on an unordered query: without sort keys the order is ``id`` ascending,
so markers are stable across pages.

Filter values are converted by their column's ``parse``, as Neutron converts them: a converter
that raises ``Invalid`` (``?admin_state_up=maybe``, ``?mtu=abc``) is a 400 ``InvalidInput``; a
plain ``ValueError`` marks a lenient column (``?revision_number=x``: Neutron has no converter
there, and such a value simply matches nothing). A value the column could not hold (an integer
outside its type's range, a string longer than its length) matches nothing either and is never
sent to the database, where it would overflow. Timestamps match to the second, the precision
the API shows them at.

An empty value is a filter like any other (Neutron's ``empty-string-filtering``): ``?name=``
matches the resources named "", a boolean or integer column refuses it as its converter does
(400), and ``None``/``null`` stay the way to ask for NULL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    RowMapping,
    Select,
    SmallInteger,
    String,
    Table,
    and_,
    false,
    or_,
    select,
)

from neutrino.common.errors import BadRequest, InvalidInput, ResourceNotFound, excerpt
from neutrino.domain.attributes import Invalid
from neutrino.domain.listing import ListQuery

Matcher = Callable[[Any, list[Any]], ColumnElement[bool]]


@dataclass(frozen=True)
class Column:
    """A filterable/sortable wire attribute backed by one column. ``match`` builds the
    condition from the parsed values when equality (``IN``) is not the meaning."""

    column: Any
    parse: Callable[[str], Any] = str
    match: Matcher | None = None


FilterHook = Callable[[list[Any]], ColumnElement[bool]]
# ``None``/``null`` match NULL; an empty value matches the empty string (empty-string-filtering)
NULLS = ("None", "null")
# More ids than this: read the whole table rather than bind a huge IN list (``rows_by_key``).
IN_LIMIT = 500
# The narrowest range each integer type has on the databases we run on (PostgreSQL's).
_INT_RANGES = ((BigInteger, 63), (SmallInteger, 15), (Integer, 31))


def nullable_str(value: str) -> str | None:
    """A filter value for a nullable text column (``None``/``null`` match NULL)."""
    return None if value in NULLS else value


def nullable_int(value: str) -> int | None:
    if value in NULLS:
        return None
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"'{excerpt(value)}' is not an integer") from None


def parse_timestamp(value: str) -> dt.datetime:
    """ISO 8601 (``2024-01-01T00:00:00Z``, an offset, or none for UTC) -> naive UTC, as
    stored."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"'{excerpt(value)}' is not a valid ISO 8601 timestamp") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _same_second(column: Any, values: list[dt.datetime]) -> ColumnElement[bool]:
    second = dt.timedelta(seconds=1)
    starts = [v.replace(microsecond=0) for v in values]
    return or_(*(and_(column >= t, column < t + second) for t in starts))


def timestamp_column(column: Any) -> Column:
    return Column(column, parse_timestamp, _same_second)


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
        "created_at": timestamp_column(c.created_at),
        "updated_at": timestamp_column(c.updated_at),
    }


def rows_by_key(
    conn: Connection, stmt: Select[Any], ids: Sequence[Any]
) -> defaultdict[Any, list[Any]]:
    """The rows of ``stmt`` (selecting the key first) whose key is among ``ids``: key -> the
    rest of each row (its value when one column is left), in row order."""
    out: defaultdict[Any, list[Any]] = defaultdict(list)
    if not ids:
        return out
    if len(ids) <= IN_LIMIT:
        stmt = stmt.where(stmt.selected_columns[0].in_(list(ids)))
    wanted = set(ids)
    for key, *rest in conn.execute(stmt):
        if key in wanted:
            out[key].append(rest[0] if len(rest) == 1 else tuple(rest))
    return out


def own_rows(table: Table, visible_to: str | None) -> Any:
    """The scope of a resource a project sees only its own of (None: every row; "": none)."""
    if visible_to is None:
        return None
    return table.c.project_id == visible_to if visible_to else false()


def listed(
    conn: Connection,
    table: Table,
    query: ListQuery,
    columns: Mapping[str, Column],
    hooks: Mapping[str, FilterHook],
    kind: str,
    scope: Any = None,
    stmt: Select[Any] | None = None,
) -> list[RowMapping]:
    """A list's rows: ``query``'s keys checked, then ``stmt`` (default: the whole table)
    narrowed to ``scope`` (None: every row), filtered, sorted and paged."""
    check_keys(query, columns, hooks)
    stmt = select(table) if stmt is None else stmt
    if scope is not None:
        stmt = stmt.where(scope)
    stmt = compile_list(conn, stmt, table, query, columns, hooks, kind)
    return list(conn.execute(stmt).mappings())


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
        stmt = stmt.where(_matching(columns[key], values))

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

    stmt = stmt.order_by(*[_ordered(c, asc) for c, asc in sorts])
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    return stmt


def _matching(col: Column, values: list[Any]) -> ColumnElement[bool]:
    """Rows whose column equals any of ``values`` (``None``/``null`` matching NULL)."""
    parsed = []
    for v in values:
        try:
            value = col.parse(v)
        except Invalid as exc:
            raise InvalidInput(str(exc)) from None
        except (ValueError, TypeError):
            continue  # a lenient column: this value cannot match
        if value is None or _storable(col.column, value):
            parsed.append(value)
    rest = [p for p in parsed if p is not None]
    clauses = []
    if rest:
        clauses.append(col.match(col.column, rest) if col.match else col.column.in_(rest))
    if len(rest) < len(parsed):
        clauses.append(col.column.is_(None))
    return or_(*clauses) if clauses else false()


def _storable(column: Any, value: Any) -> bool:
    """Whether ``column`` could hold ``value`` (else no row can match it)."""
    kind = column.type
    if isinstance(value, int) and not isinstance(value, bool):
        for type_, bits in _INT_RANGES:
            if isinstance(kind, type_):
                return bool(-(2**bits) <= value < 2**bits)
    if isinstance(value, str) and isinstance(kind, String) and kind.length is not None:
        return len(value) <= kind.length
    return True


def _after(sorts: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the marker in the given order (lexicographic keyset). NULL sorts
    as the smallest value on both databases (``_ordered``), so a nullable sort key pages too."""
    clauses = []
    for i, (col, asc) in enumerate(sorts):
        equal_prefix = [_equal(sorts[j][0], values[j]) for j in range(i)]
        clauses.append(and_(*equal_prefix, _beyond(col, asc, values[i])))
    return or_(*clauses)


def _equal(col: Any, value: Any) -> ColumnElement[bool]:
    return col.is_(None) if value is None else col == value  # type: ignore[no-any-return]


def _beyond(col: Any, asc: bool, value: Any) -> ColumnElement[bool]:
    if value is None:
        return col.is_not(None) if asc else false()
    return col > value if asc else or_(col < value, col.is_(None))


def _ordered(col: Any, asc: bool) -> Any:
    """SQLite puts NULLs first and PostgreSQL last by default: say it, so pages agree."""
    return col.asc().nulls_first() if asc else col.desc().nulls_last()


def check_keys(query: ListQuery, columns: Mapping[str, Column], hooks: Mapping[str, Any]) -> None:
    for key in query.filters:
        if key not in columns and key not in hooks:
            raise BadRequest(f"[{key}] is invalid attribute for filtering")
    for key, _ in query.sorts:
        if key not in columns:
            raise BadRequest(f"{key} is invalid attribute for sort_keys")
