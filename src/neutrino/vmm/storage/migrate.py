"""Schema migrations of the vmm's tables (Alembic, its own history and version table).

``upgrade(url)`` brings the ``vmm_*`` tables of a database (the controller's, usually) to the
newest revision; ``neutrino db upgrade`` and ``neutrino serve`` run it after the controller's
own upgrade. Revision ids are ``vmm_0001``, ``vmm_0002``... so they can never be mistaken for
the controller's ``0001``... Like the controller's, an upgrade is one transaction and
concurrent upgrades are serialized (``BEGIN IMMEDIATE`` on SQLite, an advisory lock of its own
on PostgreSQL).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from neutrino.vmm.storage.engine import engine_for

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "vmm_alembic_version"
LOCK_KEY = 0x766D6D6D  # "vmmm"


def upgrade(url: str, revision: str = "head") -> None:
    with _connection(url) as conn:
        command.upgrade(_config(conn), revision)


def downgrade(url: str, revision: str) -> None:
    with _connection(url) as conn:
        command.downgrade(_config(conn), revision)


def current(url: str) -> str | None:
    engine = engine_for(url, immediate=False)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_heads()
    finally:
        engine.dispose()
    return ",".join(heads) if heads else None


def head() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"vmm migrations have {len(heads)} heads, expected one: {heads}")
    return heads[0]


def is_up_to_date(url: str) -> bool:
    return current(url) == head()


def new_revision(message: str) -> Path:
    """Autogenerate the next revision against a scratch SQLite migrated to the head."""
    with tempfile.TemporaryDirectory(prefix="neutrino-vmm-migration-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        with _connection(url) as conn:
            numbers = [
                int(r.revision.removeprefix("vmm_"))
                for r in ScriptDirectory.from_config(_config()).walk_revisions()
            ]
            script = command.revision(
                _config(conn),
                message=message,
                autogenerate=True,
                rev_id=f"vmm_{max(numbers, default=0) + 1:04d}",
            )
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic did not write exactly one revision")
    return Path(script.path)


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    engine = engine_for(url, immediate=True, foreign_keys=False)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            yield conn
    finally:
        engine.dispose()
