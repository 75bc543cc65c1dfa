"""Alembic environment of the vmm's tables: its own history, recorded in ``vmm_alembic_version``
(never the controller's ``alembic_version``), comparing only ``vmm_*`` tables, batch mode for
SQLite. Online only: :mod:`neutrino.vmm.storage.migrate` hands over the connection."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from neutrino.vmm.storage.tables import metadata

VERSION_TABLE = "vmm_alembic_version"


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table":
        return bool(name and name.startswith("vmm_"))
    return True


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=_ours,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("vmm migrations run online only (neutrino db upgrade)")
run_migrations(context.config.attributes["connection"])
