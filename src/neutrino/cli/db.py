"""``neutrino db``: schema migrations (Alembic) of the controller database, and of the vmm's
tables in it (their own history, ``neutrino.vmm.storage.migrate``), always both together.

``ensure_schema`` is also what ``serve`` and ``bootstrap`` run first: SQLite is always brought up
to date; PostgreSQL only when allowed (several servers may share it, and an operator may want
to migrate it deliberately with ``neutrino db upgrade``).
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from neutrino.cli.options import DbOption, StateDirOption, console, fail, load_settings
from neutrino.store import migrate
from neutrino.vmm.storage import migrate as vmm_migrate

app = typer.Typer(help="Database schema: upgrade, show the current revision.", no_args_is_help=True)


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def ensure_schema(url: str, *, allow_migrate: bool = True) -> None:
    """Bring the schema at ``url`` to the newest revision, or fail if not allowed to."""
    if migrate.is_up_to_date(url) and vmm_migrate.is_up_to_date(url):
        return
    if not allow_migrate and not url.startswith("sqlite"):
        raise fail(
            f"the schema of {redact(url)} is at {migrate.current(url) or 'nothing'}, "
            f"this neutrino needs {migrate.head()}: run `neutrino db upgrade` "
            "(or start with --migrate)"
        )
    before = migrate.current(url)
    if before != migrate.head():
        migrate.upgrade(url)
        console.print(
            f"database {redact(url)}: schema upgraded {before or 'empty'} -> {migrate.head()}"
        )
    _upgrade_vmm(url)


def _upgrade_vmm(url: str, revision: str = "head") -> None:
    before = vmm_migrate.current(url)
    vmm_migrate.upgrade(url, revision)
    after = vmm_migrate.current(url)
    if before != after:
        console.print(f"database {redact(url)}: vmm tables upgraded {before or 'empty'} -> {after}")


@app.command()
def upgrade(
    db: DbOption = None,
    state_dir: StateDirOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the database schema to the newest (or the given) revision."""
    url = load_settings(db=db, state_dir=state_dir).db_url
    before = migrate.current(url)
    migrate.upgrade(url, revision)
    after = migrate.current(url)
    if before == after:
        console.print(f"database {redact(url)}: already at {after}")
    else:
        console.print(f"database {redact(url)}: upgraded {before or 'empty'} -> {after}")
    if revision == "head":  # a controller revision names no point of the vmm's history
        _upgrade_vmm(url)


@app.command()
def current(
    db: DbOption = None,
    state_dir: StateDirOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit with status 1 unless the schema is up to date.")
    ] = False,
) -> None:
    """Show the schema revision of the database and the newest one."""
    url = load_settings(db=db, state_dir=state_dir).db_url
    now, newest = migrate.current(url), migrate.head()
    state = "up to date" if now == newest else f"upgrade available: {newest}"
    console.print(f"{now or 'empty'} ({state})")
    vmm_now, vmm_newest = vmm_migrate.current(url), vmm_migrate.head()
    vmm_state = "up to date" if vmm_now == vmm_newest else f"upgrade available: {vmm_newest}"
    console.print(f"vmm: {vmm_now or 'empty'} ({vmm_state})")
    if check and (now != newest or vmm_now != vmm_newest):
        raise typer.Exit(1)
