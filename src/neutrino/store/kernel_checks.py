"""The ``kernel_checks`` table (``models_checks``): file, take, answer, read, sweep.

Each function is one statement on the connection it is given (the caller's transaction).
Taking is a conditional ``UPDATE ... RETURNING``, so two processes never hand one check to
two long-polls; answering is conditional too (an answer to a check nobody waits for any more,
or of another host, changes no row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from neutrino.store import raw


def file(
    conn: Connection,
    checks: Sequence[tuple[str, str]],
    now: float,
    older: float,
    requests: Mapping[str, str] | None = None,
) -> None:
    """Insert ``(id, host)`` checks filed at ``now``, each with its host's request (JSON) from
    ``requests`` if any; drop rows filed before ``older`` (left by a process that died while
    it waited)."""
    requests = requests or {}
    raw.run(conn, "DELETE FROM kernel_checks WHERE filed_at < ?", (older,))
    raw.run_many(
        conn,
        "INSERT INTO kernel_checks (id, host, filed_at, taken, request) VALUES (?, ?, ?, ?, ?)",
        [(cid, host, now, False, requests.get(host)) for cid, host in checks],
    )


def waiting_hosts(conn: Connection, host: str | None = None) -> set[str]:
    """The hosts (or just ``host``, if given) with checks nobody took yet: a read, so a
    long-poll with nothing to take writes nothing."""
    if host is None:
        rows = raw.rows(conn, "SELECT DISTINCT host FROM kernel_checks WHERE taken = ?", (False,))
    else:
        rows = raw.rows(
            conn,
            "SELECT DISTINCT host FROM kernel_checks WHERE host = ? AND taken = ?",
            (host, False),
        )
    return {r[0] for r in rows}


def take(conn: Connection, host: str) -> list[tuple[str, str | None]]:
    """``host``'s checks nobody took yet, now taken: (id, request JSON or None)."""
    rows = raw.rows(
        conn,
        "UPDATE kernel_checks SET taken = ? WHERE host = ? AND taken = ? RETURNING id, request",
        (True, host, False),
    )
    return sorted((r[0], r[1]) for r in rows)


def answer(conn: Connection, host: str, check_id: str, lines: str) -> bool:
    """Record ``host``'s answer (JSON) to ``check_id``; False if no such check waits."""
    rows = raw.rows(
        conn,
        "UPDATE kernel_checks SET answer = ? WHERE id = ? AND host = ? AND answer IS NULL "
        "RETURNING id",
        (lines, check_id, host),
    )
    return bool(rows)


def answers(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """check id -> its answer (JSON), for those of ``ids`` answered."""
    rows = raw.rows_in(
        conn, "SELECT id, answer FROM kernel_checks WHERE answer IS NOT NULL AND id IN ({ids})", ids
    )
    return {r[0]: r[1] for r in rows}


def forget(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        marks = ", ".join("?" for _ in ids)
        raw.run(conn, f"DELETE FROM kernel_checks WHERE id IN ({marks})", tuple(ids))


def latest(conn: Connection) -> int:
    """The highest ``seq`` ever filed still in the table (0: none): it moves when a check
    is filed, by any process."""
    row = raw.one(conn, "SELECT MAX(seq) FROM kernel_checks")
    return int(row[0] or 0) if row else 0
