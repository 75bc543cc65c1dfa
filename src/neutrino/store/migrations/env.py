"""Alembic environment: migrates the connection that :mod:`neutrino.store.migrate` hands over
in ``config.attributes["connection"]``, against the metadata of :mod:`neutrino.store.models`.

SQLite cannot ``ALTER`` most things, so every operation is rendered in batch mode (copy the
table, swap it in); that is a no-op on PostgreSQL. Offline mode (``--sql``) is not supported:
the controller always migrates a live database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from neutrino.store.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("neutrino migrations run online only (neutrino db upgrade)")
run_migrations(context.config.attributes["connection"])
