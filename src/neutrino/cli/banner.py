"""What ``serve`` and ``bootstrap`` print: where the API is, the admin credentials (or where the
password is), and ready-to-paste client configuration (clouds.yaml and ``OS_*`` variables).

Nothing is wrapped (``soft_wrap``): lines survive copy and paste from any terminal width, and
server logs keep one fact per line.
"""

from __future__ import annotations

import shlex

from rich.console import Console
from rich.markup import escape

from neutrino import __version__
from neutrino.cli.admin import ADMIN_DOMAIN, ADMIN_PROJECT, ADMIN_USER, AdminCredentials
from neutrino.cli.db import redact
from neutrino.common.settings import Settings

CLOUD_NAME = "neutrino"


def password_text(creds: AdminCredentials) -> str:
    if creds.password is None:
        return (
            "set at the first bootstrap (change it with `neutrino bootstrap --admin-password ...`)"
        )
    if creds.password_file is None:
        return "as given (--admin-password / NEUTRINO_ADMIN_PASSWORD)"
    origin = "generated, saved in" if creds.generated else "saved in"
    return f"{creds.password}  ({origin} {creds.password_file})"


def clouds_yaml(settings: Settings, creds: AdminCredentials) -> str:
    password = creds.password if creds.password_file else "<admin password>"
    return "\n".join(
        [
            "clouds:",
            f"  {CLOUD_NAME}:",
            "    auth:",
            f"      auth_url: {settings.base_url}/v3",
            f"      username: {ADMIN_USER}",
            f"      password: {password}",
            f"      project_name: {ADMIN_PROJECT}",
            f"      user_domain_name: {ADMIN_DOMAIN}",
            f"      project_domain_name: {ADMIN_DOMAIN}",
            f"    region_name: {settings.region}",
            "    identity_api_version: 3",
        ]
    )


def os_exports(settings: Settings, creds: AdminCredentials) -> str:
    if creds.password_file is not None:
        password = f'"$(cat {shlex.quote(str(creds.password_file))})"'
    else:
        password = "'<admin password>'"
    values = [
        ("OS_AUTH_URL", shlex.quote(f"{settings.base_url}/v3")),
        ("OS_USERNAME", ADMIN_USER),
        ("OS_PASSWORD", password),
        ("OS_PROJECT_NAME", ADMIN_PROJECT),
        ("OS_USER_DOMAIN_NAME", ADMIN_DOMAIN),
        ("OS_PROJECT_DOMAIN_NAME", ADMIN_DOMAIN),
        ("OS_REGION_NAME", shlex.quote(settings.region)),
        ("OS_IDENTITY_API_VERSION", "3"),
    ]
    return "\n".join(f"export {k}={v}" for k, v in values)


def print_endpoints(
    console: Console, settings: Settings, creds: AdminCredentials, *, listening: str | None = None
) -> None:
    title = f"neutrino {__version__}" + (f" listening on http://{listening}" if listening else "")
    rows = [
        ("Keystone URL", f"{settings.base_url}/v3"),
        ("Networking API", f"{settings.base_url}/v2.0"),
        ("region", settings.region),
        ("database", redact(settings.db_url)),
        ("state dir", str(settings.state_dir)),
        ("admin", f"user {ADMIN_USER}, project {ADMIN_PROJECT}, domain {ADMIN_DOMAIN}"),
        ("admin password", password_text(creds)),
    ]
    console.print(f"[bold green]{escape(title)}[/]")
    for key, value in rows:
        console.print(f"  [bold]{key:<16}[/]{escape(value)}", soft_wrap=True)
    console.print()
    console.print(f"[bold]clouds.yaml[/] (then `openstack --os-cloud {CLOUD_NAME} network list`):")
    console.print(escape(clouds_yaml(settings, creds)), soft_wrap=True)
    console.print()
    console.print("[bold]or, in a shell:[/]")
    console.print(escape(os_exports(settings, creds)), soft_wrap=True)
    console.print()
