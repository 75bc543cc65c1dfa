"""Rows of the web UI's jobs (``web_jobs``): insert, save progress, beat, read, expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from neutrino.store.models_web import WebJob

jobs = WebJob.__table__


def add(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(jobs).values(**row))


def save(conn: Connection, job_id: str, steps: str, finished: bool, now: dt.datetime) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(steps=steps, finished=finished, updated_at=now)
    )


def beat(conn: Connection, job_id: str, now: dt.datetime) -> None:
    """The runner is alive: a running job's ``updated_at`` moves on."""
    conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.finished.is_(False)).values(updated_at=now)
    )


def get(conn: Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    return None if row is None else dict(row._mapping)


def expire(conn: Connection, user_id: str, project_id: str, keep: int, before: dt.datetime) -> int:
    """Deletes the owner's jobs past its ``keep`` newest, and everyone's jobs untouched since
    ``before``; how many went."""
    mine = (jobs.c.user_id == user_id) & (jobs.c.project_id == project_id)
    newest = select(jobs.c.id).where(mine).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(keep)
    old = conn.execute(delete(jobs).where(mine, jobs.c.id.not_in(newest))).rowcount
    return old + conn.execute(delete(jobs).where(jobs.c.updated_at < before)).rowcount
