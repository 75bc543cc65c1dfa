"""``neutrino bootstrap``: seed the identity data (domain Default, roles admin/member/reader,
the admin project and user) so scripts can prepare a controller before it first serves.

Idempotent; with a password (flag or ``NEUTRINO_ADMIN_PASSWORD``) it also sets the admin's
password. The catalog's region and URLs come from the settings (``--public-url``, ``--region``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from neutrino.cli import admin, banner
from neutrino.cli.db import ensure_schema
from neutrino.cli.options import (
    AdminPasswordOption,
    DbOption,
    PublicUrlOption,
    RegionOption,
    StateDirOption,
    console,
    load_settings,
)


def bootstrap(
    admin_password: AdminPasswordOption = None,
    db: DbOption = None,
    state_dir: StateDirOption = None,
    public_url: PublicUrlOption = None,
    region: RegionOption = None,
    listen: Annotated[str | None, typer.Option(
        "--listen", metavar="HOST:PORT",
        help="Where the server will listen (the default public URL derives from it).")] = None,
) -> None:
    """Create the admin user, project and roles (and set the admin password)."""
    settings = load_settings(admin_password=admin_password, db=db, state_dir=state_dir,
                             public_url=public_url, region=region, listen=listen)
    from neutrino.service.container import Services
    from neutrino.store.uow import Store

    ensure_schema(settings.db_url)
    store = Store(settings.db_url)
    try:
        creds = admin.bootstrap(Services.build(settings, store), settings)
    finally:
        store.dispose()
    console.print("[bold green]bootstrap done[/]")
    banner.print_endpoints(console, settings, creds)
