"""The vmm's database engine, on the controller's database URL (or its own).

SQLite allows one writer: writes take a process-wide lock and open with ``BEGIN IMMEDIATE``,
and every connection waits up to 30 s on a busy database (the controller writes to the same
file). PostgreSQL uses one pool. Foreign keys are on for SQLite (cascades are part of the
model). The vmm never holds a transaction open across a provider call: use cases read, call
the provider, then write.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event


def engine_for(url: str, *, immediate: bool = True, foreign_keys: bool = True) -> Engine:
    """An engine for ``url``; on SQLite ``foreign_keys`` False is for migrations (a batch
    rebuild of a table must not cascade into the tables that reference it)."""
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below starts them
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.execute("PRAGMA busy_timeout=30000")
        # WAL + NORMAL: a commit does not wait for an fsync (the controller does the same);
        # a power cut may lose the last commits, never corrupt the file.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Engines:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.write = engine_for(url, immediate=True)
        self.read = engine_for(url, immediate=False) if self.is_sqlite else self.write
        self._lock: threading.Lock | None = threading.Lock() if self.is_sqlite else None

    def write_lock(self) -> AbstractContextManager[Any]:
        return self._lock if self._lock is not None else nullcontext()

    def dispose(self) -> None:
        self.write.dispose()
        if self.read is not self.write:
            self.read.dispose()
