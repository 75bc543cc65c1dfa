"""``neutrino serve``: the controller's API server (Neutron v2.0 + Keystone on one port).

Before listening it makes the database ready (schema migration, first bootstrap) and prints
where it listens and how to log in; then it hands over to uvicorn (httptools + uvloop, with
the connection limits of ``api.connections``). With
``--workers N`` uvicorn forks N processes that each build the app from the environment
(``app_from_environment``): the flags given here are exported as ``NEUTRINO_*`` variables first.

The application stack is imported when a command runs, not when ``neutrino`` starts, so quick
commands (``version``, ``db``) stay quick.
"""

from __future__ import annotations

import inspect
import os
from typing import Annotated, Any

import typer
import uvicorn

from neutrino.cli import admin, banner
from neutrino.cli.allinone import LocalAgent, agent_env
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
from neutrino.common.settings import Settings

# A worker imports the whole application before it answers the supervisor's first health
# check; on a busy machine that takes longer than uvicorn's default 5 s.
WORKER_START_SECONDS = 60


def serve(
    listen: Annotated[str | None, typer.Option(
        "--listen", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:9696).")
    ] = None,
    db: DbOption = None,
    state_dir: StateDirOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    migrate: Annotated[bool, typer.Option(
        "--migrate/--no-migrate",
        help="Upgrade a PostgreSQL schema if needed (SQLite is always upgraded).")] = True,
    admin_password: AdminPasswordOption = None,
    public_url: PublicUrlOption = None,
    region: RegionOption = None,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log every request.")] = False,
    agent: Annotated[bool, typer.Option(
        "--agent", help="All-in-one: also run a host agent (L2 + DHCP) for this machine "
                        "(needs root).")] = False,
    agent_host: Annotated[str | None, typer.Option(
        "--agent-host", metavar="NAME",
        help="Host name of the local agent (default: this machine's name).")] = None,
) -> None:
    """Run the API server: upgrade the schema, bootstrap the admin if needed, listen."""
    overrides: dict[str, Any] = {"listen": listen, "db": db, "state_dir": state_dir,
                                 "admin_password": admin_password, "public_url": public_url,
                                 "region": region}
    settings = load_settings(**overrides)
    host, port = parse_listen(settings.listen)
    creds = prepare(settings, allow_migrate=migrate)
    banner.print_endpoints(console, settings, creds, listening=settings.listen)
    local = _local_agent(settings, creds, host, port, agent_host) if agent else None
    try:
        _run(settings, overrides, host, port, workers, access_log)
    finally:
        if local is not None:
            local.stop()


def _local_agent(settings: Settings, creds: admin.AdminCredentials, host: str, port: int,
                 name: str | None) -> LocalAgent:
    if os.geteuid() != 0:
        raise fail("--agent builds bridges and namespaces: run it as root")
    password = creds.password
    if password is None and admin.password_path(settings).exists():
        password = admin.password_path(settings).read_text().strip()
    if not password:
        raise fail("--agent needs the admin password: pass --admin-password")
    local = LocalAgent(name or os.uname().nodename, agent_env(host, port, password))
    console.print(f"Local agent: host [bold]{local.host}[/] (bind ports with "
                  f"binding:host_id={local.host}), VXLAN on lo, DHCP", soft_wrap=True)
    local.start()
    return local


def _run(settings: Settings, overrides: dict[str, Any], host: str, port: int, workers: int,
         access_log: bool) -> None:

    from neutrino.api import connections

    connections.raise_open_files_limit()  # before the limits are computed from it
    options: dict[str, Any] = {"host": host, "port": port, "loop": "uvloop",
                               "log_level": "info", "access_log": access_log,
                               **connections.server_options(settings)}
    if workers == 1:
        from neutrino.api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    options["http"] = connections.GuardedHttpProtocol  # picklable; each worker configures it
    _export(overrides)
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        options["timeout_worker_healthcheck"] = WORKER_START_SECONDS
    uvicorn.run("neutrino.cli.serve:app_from_environment", factory=True, workers=workers,
                **options)


def prepare(settings: Settings, *, allow_migrate: bool) -> admin.AdminCredentials:
    """Schema up to date, token key present, admin bootstrapped: ready to serve."""
    from neutrino.service.container import Services
    from neutrino.store.uow import Store

    ensure_schema(settings.db_url, allow_migrate=allow_migrate)
    settings.signing_key()  # create the shared key once, before any worker races for it
    store = Store(settings.db_url)
    try:
        return admin.ensure_admin(Services.build(settings, store), settings)
    finally:
        store.dispose()


def app_from_environment() -> Any:
    """The app factory each worker process calls (settings from file and environment)."""
    from neutrino.api import connections
    from neutrino.api.app import create_app

    settings = Settings()
    connections.configure(settings)
    return create_app(settings)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6addr]:PORT`` for IPv6) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise fail(f"--listen must be HOST:PORT, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _export(overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"NEUTRINO_{key.upper()}"] = str(value)
