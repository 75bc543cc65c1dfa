"""Hot-path SQL straight on the DB-API cursor of a SQLAlchemy connection.

SQLAlchemy builds, caches and processes every statement at ~70-250 µs each; sqlite3 itself
answers a primary-key lookup in ~7 µs. The handful of statements on the hot paths (port
create/delete, the 10,000-port list) therefore run here as plain parameterized SQL on the
same DB-API connection — so they share the caller's transaction — and everything else stays
on SQLAlchemy Core.

SQL is written with ``?`` placeholders and must be portable between SQLite and PostgreSQL;
for psycopg they become ``%s`` (so a literal percent sign must never appear in the SQL text).
Values cross in their natural driver types, with two differences smoothed here: SQLite keeps
booleans as 0/1 and timestamps as text (SQLAlchemy's ``YYYY-MM-DD HH:MM:SS.ffffff`` format, so
rows written here and by Core read back the same either way).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


def _wrapped(conn: Connection, sql: str, params: Any, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy's (IntegrityError, OperationalError, ...), so the unit
    of work retries a lost race whichever layer ran the statement."""
    return DBAPIError.instance(
        sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    text = _pg_sql(sql) if _is_pg(conn) else sql
    try:
        cursor.execute(text, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        cursor.close()
        raise _wrapped(conn, text, params, exc) from exc
    return cursor


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor = execute(conn, sql, params)
    try:
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        cursor.close()


def one(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    cursor = execute(conn, sql, params)
    try:
        return cursor.fetchone()  # type: ignore[no-any-return]
    finally:
        cursor.close()


def column(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The first column of ``rows``."""
    return [r[0] for r in rows(conn, sql, params)]


def marks(items: Sequence[Any]) -> str:
    """One ``?`` per item, for ``IN (...)``."""
    return ",".join("?" * len(items))


def rows_in(
    conn: Connection, sql: str, ids: Sequence[Any], params: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    """``rows`` of ``sql`` with ``{ids}`` spelled as one placeholder per id (no query for no
    ids); ``params`` (default: the ids) when other values are bound too."""
    if not ids:
        return []
    return rows(conn, sql.format(ids=marks(ids)), tuple(ids) if params is None else params)


def grouped(
    conn: Connection, sql: str, ids: Sequence[Any], params: Sequence[Any] | None = None
) -> defaultdict[Any, list[Any]]:
    """``rows_in`` by their first column: key -> the rest of each row (its value when one
    column is left), in row order."""
    out: defaultdict[Any, list[Any]] = defaultdict(list)
    for key, *rest in rows_in(conn, sql, ids, params):
        out[key].append(rest[0] if len(rest) == 1 else tuple(rest))
    return out


def select_rows(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """Run a Core SELECT built elsewhere (filters, sort, keyset) but fetch its rows raw:
    no per-row type processing, which is most of the cost of a 10,000-row list."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = (
        [params[k] for k in compiled.positiontup or ()]
        if conn.dialect.paramstyle in ("qmark", "numeric")
        else params
    )
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def run(conn: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    cursor = execute(conn, sql, params)
    count = cursor.rowcount
    cursor.close()
    return int(count)


def run_many(conn: Connection, sql: str, params: Sequence[Sequence[Any]]) -> None:
    if not params:
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    text = _pg_sql(sql) if _is_pg(conn) else sql
    try:
        cursor.executemany(text, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, text, params, exc) from exc
    finally:
        cursor.close()


def db_time(conn: Connection, when: dt.datetime) -> Any:
    """A timestamp as this database stores it."""
    return when if _is_pg(conn) else when.isoformat(" ", "microseconds")


def stored_time(value: Any) -> dt.datetime:
    """A stored (naive, UTC) timestamp as the datetime SQLAlchemy would have read."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def wire_time(value: Any) -> str:
    """A stored timestamp in Neutron's wire format ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    return f"{value.isoformat(timespec='seconds')}Z"
