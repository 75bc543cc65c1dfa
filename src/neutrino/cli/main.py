"""The ``neutrino`` command: wiring of the command groups (one module each) and root options.

``--config FILE`` sets ``NEUTRINO_CONFIG`` before any command reads its settings. Help
printed to a pipe or file is laid out 120 columns wide (rich would assume 80 and cut option
names such as ``--interface-mappings``); ``TERMINAL_WIDTH`` chooses another width.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.rich_utils

from neutrino import __version__
from neutrino.cli import agent, db, lab, vmm
from neutrino.cli.bootstrap import bootstrap
from neutrino.cli.options import console
from neutrino.cli.serve import serve
from neutrino.cli.trace import trace

if not sys.stdout.isatty() and not os.environ.get("TERMINAL_WIDTH"):
    typer.rich_utils.MAX_WIDTH = 120

app = typer.Typer(
    name="neutrino",
    help="neutrino: a Neutron/Keystone-compatible networking controller.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="TOML settings file (sets NEUTRINO_CONFIG; NEUTRINO_* variables and flags win).",
        ),
    ] = None,
) -> None:
    if config is not None:
        os.environ["NEUTRINO_CONFIG"] = str(config.resolve())


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"neutrino {__version__} (Python {platform.python_version()})")


app.command()(serve)
app.command()(bootstrap)
app.add_typer(agent.app, name="agent")
app.command()(trace)
app.add_typer(db.app, name="db")
app.add_typer(lab.app, name="lab")
app.add_typer(vmm.app, name="vmm")


if __name__ == "__main__":
    app()
