"""Leases: one runner at a time for a periodic job, among every process on the database.

A provider's auto-sync must run once per interval, not once per API worker or per server: so
each run is claimed first, by a row in ``vmm_leases`` (name ``sync:<provider id>``) that holds
who runs it (``holder``: host, pid and a random part), until when that claim stands
(``expires_at``: a runner that dies mid-run loses it then) and when the job last started
(``last_run``). ``claim`` takes the lease when the job is due (``last_run + every <= now``)
and nobody holds it, in one conditional ``UPDATE`` (or the first ``INSERT``):

* SQLite: writes are serialized (``BEGIN IMMEDIATE``), so the condition is read and written
  by one writer at a time;
* PostgreSQL (READ COMMITTED): a second ``UPDATE`` of the row waits for the first one's commit,
  then re-evaluates its ``WHERE`` on the new row and matches nothing; two first ``INSERT``\\ s
  meet the primary key and one fails. Either way exactly one claimer wins.

``release`` ends the claim (only the holder's) once the run is over, keeping ``last_run``, so
the next claim comes one interval after the start of this run, whichever process makes it.
Times are wall-clock seconds (``time.time()``): servers sharing a database must keep their
clocks in step (NTP); a skew only shifts when a sync runs, never lets two run at once while
the holder's claim stands.
"""

from __future__ import annotations

import time

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.common.errors import NamedConflict
from neutrino.vmm.storage import tables as t
from neutrino.vmm.storage.repo import VmmStore


def sync_lease(provider_id: str) -> str:
    """The lease of a provider's auto-sync."""
    return f"sync:{provider_id}"


def claim(
    store: VmmStore,
    name: str,
    holder: str,
    every: float,
    ttl: float,
    now: float | None = None,
) -> bool:
    """Take ``name`` for ``holder`` until ``now + ttl`` if the job is due and nobody holds it."""
    now = time.time() if now is None else now
    leases = t.leases
    with store.write() as repo:
        taken = repo.conn.execute(
            update(leases)
            .where(
                leases.c.name == name,
                leases.c.last_run + every <= now,
                or_(leases.c.expires_at <= now, leases.c.holder == holder),
            )
            .values(holder=holder, expires_at=now + ttl, last_run=now)
        ).rowcount
        if taken:
            return True
        exists = repo.conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
    if exists is not None:
        return False
    try:
        with store.write() as repo:
            repo.conn.execute(
                insert(leases).values(name=name, holder=holder, expires_at=now + ttl, last_run=now)
            )
    except (IntegrityError, NamedConflict):  # another process made the row first: it runs
        return False
    return True


def release(store: VmmStore, name: str, holder: str) -> None:
    """End ``holder``'s claim on ``name`` (nothing if another process holds it now)."""
    leases = t.leases
    with store.write() as repo:
        repo.conn.execute(
            update(leases)
            .where(and_(leases.c.name == name, leases.c.holder == holder))
            .values(expires_at=0.0)
        )


def forget(store: VmmStore, name: str) -> None:
    """Drop the lease (its job is gone: a removed provider)."""
    with store.write() as repo:
        repo.conn.execute(t.leases.delete().where(t.leases.c.name == name))
