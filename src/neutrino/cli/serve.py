"""``neutrino serve``: the controller's API server (Neutron v2.0 + Keystone on one port).

Before listening it makes the database ready (schema migration, first bootstrap) and prints
where it listens and how to log in; then it hands over to uvicorn (httptools + uvloop, with
the connection limits of ``api.connections``). With
``--workers N`` uvicorn forks N processes that each build the app from the environment
(``app_from_environment``): the flags given here are exported as ``NEUTRINO_*`` variables first.

Logs: one line format for the server and uvicorn (``common.logs``: request ids in every line),
``--log-json`` for one JSON object a line. ``/metrics`` serves Prometheus metrics; with
``--workers N`` the workers share them through prometheus_client's multiprocess mode (files in
``<state dir>/metrics``, emptied at each start).

With ``--agent`` (the all-in-one, ``cli/allinone``) the external network ``public`` is made
before serving, and a stop signal stops the local agent at once, in parallel with the server.

The application stack is imported when a command runs, not when ``neutrino`` starts, so quick
commands (``version``, ``db``) stay quick.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import sys
from typing import Annotated, Any

import typer
import uvicorn

from neutrino.cli import admin, banner
from neutrino.cli.allinone import EXTERNAL, LocalAgent, agent_env, ensure_public_network
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
from neutrino.common import heap
from neutrino.common.settings import Settings

# A worker imports the whole application before it answers the supervisor's first health
# check; on a busy machine that takes longer than uvicorn's default 5 s.
WORKER_START_SECONDS = 60


def serve(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:9696)."
        ),
    ] = None,
    db: DbOption = None,
    state_dir: StateDirOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="Upgrade a PostgreSQL schema if needed (SQLite is always upgraded).",
        ),
    ] = True,
    admin_password: AdminPasswordOption = None,
    public_url: PublicUrlOption = None,
    region: RegionOption = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    agent: Annotated[
        bool,
        typer.Option(
            "--agent",
            help="All-in-one: also run a host agent for this machine: L2, DHCP, "
            "routers, security groups, external network 'public' (needs root).",
        ),
    ] = False,
    agent_host: Annotated[
        str | None,
        typer.Option(
            "--agent-host",
            metavar="NAME",
            help="Host name of the local agent (default: this machine's name).",
        ),
    ] = None,
    agent_cleanup: Annotated[
        bool,
        typer.Option(
            "--agent-cleanup/--agent-keep",
            help="When serve stops, the local agent removes what it built (default), or keeps "
            "the data plane running for the VMs.",
        ),
    ] = True,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object a line.")
    ] = False,
) -> None:
    """Run the API server: upgrade the schema, bootstrap the admin if needed, listen."""
    overrides: dict[str, Any] = {
        "listen": listen,
        "db": db,
        "state_dir": state_dir,
        "admin_password": admin_password,
        "public_url": public_url,
        "region": region,
    }
    settings = load_settings(**overrides)
    host, port = parse_listen(settings.listen)
    from neutrino.common import logs

    logs.configure(logging.INFO, json=log_json)
    if log_json:
        os.environ["NEUTRINO_LOG_JSON"] = "1"  # workers configure themselves alike
    creds = prepare(settings, allow_migrate=migrate, external_network=agent)
    banner.print_endpoints(console, settings, creds, listening=settings.listen)
    local = _local_agent(settings, creds, host, port, agent_host, agent_cleanup) if agent else None
    try:
        _run(settings, overrides, host, port, workers, access_log, local)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: a clean stop
        pass
    finally:
        if local is not None:
            local.stop()
    # A clean stop: skip interpreter teardown (~1 s for the whole application stack on a
    # busy machine), there is nothing left to finalize
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _local_agent(
    settings: Settings,
    creds: admin.AdminCredentials,
    host: str,
    port: int,
    name: str | None,
    cleanup: bool,
) -> LocalAgent:
    if os.geteuid() != 0:
        raise fail("--agent builds bridges and namespaces: run it as root")
    password = creds.password or settings.admin_password or None  # given again on a restart
    if password is None and admin.password_path(settings).exists():
        password = admin.password_path(settings).read_text().strip()
    if not password:
        raise fail("--agent needs the admin password: pass --admin-password")
    env = {**agent_env(host, port, password), "NEUTRINO_STATE_DIR": str(settings.state_dir)}
    local = LocalAgent(name or os.uname().nodename, env, cleanup=cleanup)
    console.print(
        f"Local agent: host [bold]{local.host}[/] (bind ports with "
        f"binding:host_id={local.host}), VXLAN on lo, DHCP, routers; external "
        f"network {EXTERNAL['name']} {EXTERNAL['cidr']} on nt-public "
        f"({EXTERNAL['gateway']}, this host)",
        soft_wrap=True,
    )
    console.print(
        "On stop the agent "
        + (
            "removes what it built (--agent-keep to keep it)"
            if cleanup
            else "leaves the data plane running (`neutrino agent cleanup` removes it)"
        ),
        soft_wrap=True,
    )
    local.start()
    return local


def _run(
    settings: Settings,
    overrides: dict[str, Any],
    host: str,
    port: int,
    workers: int,
    access_log: bool,
    local: LocalAgent | None = None,
) -> None:
    from neutrino.api import connections
    from neutrino.common.logs import uvicorn_log_config

    connections.raise_open_files_limit()  # before the limits are computed from it
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "log_level": "info",
        "access_log": access_log,
        "log_config": uvicorn_log_config(),
        **connections.server_options(settings),
    }
    if workers == 1:
        from neutrino.cli.vmm_app import server_app

        app = server_app(settings)
        heap.settle()  # imports and the app live as long as the process (common/heap.py)
        if local is not None:
            app.state.on_exit = [local.terminate]
        uvicorn.run(app, **options)
        return
    options["http"] = connections.GuardedHttpProtocol  # picklable; each worker configures it
    _export(overrides)
    _metrics_dir(settings)
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        options["timeout_worker_healthcheck"] = WORKER_START_SECONDS
    uvicorn.run("neutrino.cli.serve:app_from_environment", factory=True, workers=workers, **options)


def _metrics_dir(settings: Settings) -> None:
    """prometheus_client's multiprocess mode for the workers: an empty directory of its own."""
    path = settings.state_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def prepare(
    settings: Settings, *, allow_migrate: bool, external_network: bool = False
) -> admin.AdminCredentials:
    """Schema up to date, token key present, admin bootstrapped (and, for the all-in-one,
    the external network ``public``): ready to serve."""
    from neutrino.service.container import Services
    from neutrino.store.uow import Store

    ensure_schema(settings.db_url, allow_migrate=allow_migrate)
    settings.signing_key()  # create the shared key once, before any worker races for it
    store = Store(settings.db_url)
    try:
        services = Services.build(settings, store)
        creds = admin.ensure_admin(services, settings)
        if external_network:
            ensure_public_network(services)
        return creds
    finally:
        store.dispose()


def app_from_environment() -> Any:
    """The app factory each worker process calls (settings from file and environment)."""
    from neutrino.api import connections
    from neutrino.cli.vmm_app import server_app
    from neutrino.common import logs

    logs.configure(logging.INFO, json=bool(os.environ.get("NEUTRINO_LOG_JSON")))
    settings = Settings()
    connections.configure(settings)
    app = server_app(settings)
    heap.settle()  # as in _run
    return app


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
