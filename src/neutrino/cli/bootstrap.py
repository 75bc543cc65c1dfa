"""``neutrino bootstrap``: seed the identity data (domain Default, roles admin/member/reader,
the admin project and user) so scripts can prepare a controller before it first serves.

Idempotent; with a password (flag or ``NEUTRINO_ADMIN_PASSWORD``) it also sets the admin's
password. The admin project gets unlimited quotas on the first bootstrap; ``--admin-quota``
sets them at any time (``unlimited``, ``default`` or ``RESOURCE=N,...``). The catalog's
region and URLs come from the settings (``--public-url``, ``--region``).
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
    fail,
    load_settings,
)


def bootstrap(
    admin_password: AdminPasswordOption = None,
    db: DbOption = None,
    state_dir: StateDirOption = None,
    public_url: PublicUrlOption = None,
    region: RegionOption = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Where the server will listen (the default public URL derives from it).",
        ),
    ] = None,
    admin_quota: Annotated[
        str | None,
        typer.Option(
            "--admin-quota",
            metavar="SPEC",
            help="Quotas of the admin project: 'unlimited' (the first bootstrap's choice), "
            "'default' (the same defaults as every project) or RESOURCE=N,... "
            "(network, subnet, port, router, floatingip, security_group, "
            "security_group_rule; -1 = unlimited).",
        ),
    ] = None,
) -> None:
    """Create the admin user, project and roles (and set the admin password)."""
    settings = load_settings(
        admin_password=admin_password,
        db=db,
        state_dir=state_dir,
        public_url=public_url,
        region=region,
        listen=listen,
    )
    if admin_quota is not None:
        try:
            admin.parse_quota(admin_quota)
        except ValueError as exc:
            raise fail(str(exc)) from None
    from neutrino.service.container import Services
    from neutrino.store.uow import Store

    ensure_schema(settings.db_url)
    store = Store(settings.db_url)
    try:
        creds = admin.bootstrap(Services.build(settings, store), settings, admin_quota=admin_quota)
    finally:
        store.dispose()
    console.print("[bold green]bootstrap done[/]")
    banner.print_endpoints(console, settings, creds)
