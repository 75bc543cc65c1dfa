"""Migrations: an empty database upgraded to head has exactly the models' schema, on SQLite and
(with ``NEUTRINO_TEST_PG_URL``) PostgreSQL; upgrades are idempotent and report where they are.

If ``test_upgrade_matches_models`` fails after a model change, write a migration:
``make migration m="what changed"`` (docs/development.md).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from neutrino.store import migrate
from neutrino.store.models import Base


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_upgrade_matches_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diffs = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert not diffs, (
        "schema after upgrade differs from models (run `make migration`):\n"
        + "\n".join(_describe(d) for d in diffs)
    )


def _describe(diff: Any) -> str:
    """One line per autogenerate difference: the operation and what it names."""
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(_describe(d) for d in diff)
    op, *args = diff
    names = [
        getattr(a, "name", None) or getattr(a, "key", None) or str(a)
        for a in args
        if a is not None and not isinstance(a, dict)
    ]
    return f"{op}: {', '.join(map(str, names))}"


def test_upgrade_creates_every_table(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = _engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_current_and_up_to_date(db_url: str) -> None:
    assert migrate.current(db_url) is None
    assert not migrate.is_up_to_date(db_url)
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()
    assert migrate.is_up_to_date(db_url)
    migrate.upgrade(db_url)  # a second upgrade is a no-op
    assert migrate.is_up_to_date(db_url)


def test_downgrade_to_base_and_back(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    migrate.upgrade(db_url)
    assert migrate.is_up_to_date(db_url)


def test_single_head_with_sequential_ids() -> None:
    assert migrate.head().isdigit()
