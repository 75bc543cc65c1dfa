"""Options shared by several commands, and how they turn into a ``Settings``.

Precedence: defaults < config file (``--config`` / ``NEUTRINO_CONFIG``) < environment
(``NEUTRINO_*``) < command-line flags. A flag left out does not override anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from neutrino.common.settings import Settings

console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER:PASS@HOST/DB (default: SQLite in the state dir).",
    ),
]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="Where the SQLite database, token key and generated admin password live.",
    ),
]
AdminPasswordOption = Annotated[
    str | None,
    typer.Option(
        "--admin-password",
        metavar="PASSWORD",
        envvar="NEUTRINO_ADMIN_PASSWORD",
        show_envvar=True,
        help="Admin password (default: generated into <state-dir>/admin-password).",
    ),
]
PublicUrlOption = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        metavar="URL",
        help="Base URL the catalog advertises (default: http://<listen>).",
    ),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", metavar="NAME", help="Catalog region (default RegionOne).")
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from file and environment, with the flags that were given on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the ``Exit`` to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)
