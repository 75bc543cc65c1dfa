"""Counts for the controller's metrics: agents alive, ports by status (the change-log revision
is ``changelog.latest``).

Cheap aggregate queries (the ports one is one ``GROUP BY`` over the status column), read on
each ``/metrics`` scrape. (Database time is measured per transaction by the unit of work:
``Store.observe``.)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from neutrino.store.models import Agent, Port

__all__ = ["agents_alive", "port_statuses"]

agents = Agent.__table__
ports = Port.__table__


def agents_alive(conn: Connection, since: dt.datetime) -> dict[str, int]:
    """Agents (by type) whose last heartbeat is at or after ``since``."""
    rows = conn.execute(
        select(agents.c.agent_type, func.count())
        .where(agents.c.heartbeat_timestamp >= since)
        .group_by(agents.c.agent_type)
    )
    return {str(t): int(n) for t, n in rows}


def port_statuses(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(ports.c.status, func.count()).group_by(ports.c.status))
    return {str(s): int(n) for s, n in rows}
