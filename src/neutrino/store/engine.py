"""Database engines: SQLite (WAL, one writer at a time) or PostgreSQL.

SQLite allows one writer; rather than let threads spin on ``database is locked``, writes take a
process-wide lock and open with ``BEGIN IMMEDIATE`` (which also orders writers from other
processes). Reads use a separate engine with deferred transactions and never wait for writers
(WAL). On PostgreSQL both engines are the same pool.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool


class Engines:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_parent(url)
            self.read = _sqlite_engine(url, immediate=False)
            self.write = _sqlite_engine(url, immediate=True)
            self._write_lock: threading.Lock | None = threading.Lock()
        else:
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            self.write = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            # reads see one snapshot: a multi-query read (a host's state, labelled with the
            # revision read first) never mixes in half of a later commit
            self.read = self.write.execution_options(isolation_level="REPEATABLE READ")
            self._write_lock = None

    def write_lock(self) -> AbstractContextManager[Any]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    def dispose(self) -> None:
        self.write.dispose()
        if self.is_sqlite:  # on PostgreSQL ``read`` shares ``write``'s pool
            self.read.dispose()


def _ensure_parent(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=16,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
