"""``neutrino vmm``: the manager side from the shell, over the server's ``/vmm/v1`` API.

    neutrino vmm provider add prov1 --url http://ctl:9696 --auth-url http://ctl:9696/v3 \\
        --username admin --password-env PROV1_PASSWORD
    neutrino vmm provider test prov1
    neutrino vmm dc add dc1 && neutrino vmm cluster add c1 --dc dc1
    neutrino vmm host add hv1 --cluster c1 [--provider-host hv1]
    neutrino vmm network import --provider prov1 --dc dc1 [NETWORK...]
    neutrino vmm vm create web --cluster c1 --nic eth0=blue && neutrino vmm vm start web

Credentials are the usual ``OS_*`` variables (a Keystone user of this server; admin for
providers and data centers, a member for VMs); ``--server`` / ``NEUTRINO_VMM_URL`` names the
server when the catalog's network endpoint is not it. Names or ids are accepted wherever a
resource is named. Provider failures and bad input print the server's message and exit 1.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape

from neutrino.cli import vmm_vms
from neutrino.cli.options import console, fail
from neutrino.cli.vmm_common import Api, UrlOption, cell, show, table

app = typer.Typer(
    help="The manager side: providers, data centers, networks, VMs and vNICs.", no_args_is_help=True
)
provider_app = typer.Typer(
    help="Network providers (any Neutron-compatible endpoint).", no_args_is_help=True
)
dc_app = typer.Typer(help="Data centers.", no_args_is_help=True)
cluster_app = typer.Typer(help="Clusters.", no_args_is_help=True)
host_app = typer.Typer(
    help="Hosts (hypervisors) and the provider host each one is.", no_args_is_help=True
)
for sub, name in (
    (provider_app, "provider"),
    (dc_app, "dc"),
    (cluster_app, "cluster"),
    (host_app, "host"),
):
    app.add_typer(sub, name=name)

# --- providers -------------------------------------------------------------------------------


@provider_app.command("add")
def provider_add(
    name: str,
    url: Annotated[str, typer.Option("--url", help="Networking API URL (http://host:9696).")],
    auth_url: Annotated[str, typer.Option(help="Keystone URL (…/v3, or …/v2.0).")],
    username: Annotated[str, typer.Option(help="Keystone user of the provider.")],
    password_env: Annotated[
        str,
        typer.Option(help="Environment variable holding the password (kept off the command line)."),
    ],
    project: Annotated[str, typer.Option(help="Project (tenant).")] = "admin",
    description: Annotated[str, typer.Option()] = "",
    user_domain: Annotated[str, typer.Option()] = "Default",
    project_domain: Annotated[str, typer.Option()] = "Default",
    read_only: Annotated[bool, typer.Option("--read-only", help="Import only.")] = False,
    sync_interval: Annotated[int, typer.Option(help="Auto-sync seconds (0 = off).")] = 300,
    server: UrlOption = None,
) -> None:
    """Add a network provider (its password is stored encrypted)."""
    password = os.environ.get(password_env)
    if not password:
        raise fail(f"{password_env} is not set")
    body = {
        "name": name,
        "url": url,
        "auth_url": auth_url,
        "username": username,
        "password": password,
        "project": project,
        "description": description,
        "user_domain": user_domain,
        "project_domain": project_domain,
        "read_only": read_only,
        "sync_interval": sync_interval,
    }
    p = Api(server).call("POST", "/providers", {"provider": body})["provider"]
    console.print(f"provider [bold]{escape(p['name'])}[/] added ({p['id']})")


@provider_app.command("list")
def provider_list(server: UrlOption = None) -> None:
    """List providers."""
    rows = Api(server).call("GET", "/providers")["providers"]
    table(
        "providers",
        rows,
        ["name", "id", "url", "keystone_version", "read_only", "sync_interval", "sync_status"],
    )


@provider_app.command("show")
def provider_show(provider: str, server: UrlOption = None) -> None:
    """Show a provider and its latest events."""
    api = Api(server)
    p = api.call("GET", f"/providers/{api.resolve('providers', provider)}")["provider"]
    show(f"provider {p['name']}", p)
    table("events", p["events"], ["kind", "message"])


@provider_app.command("test")
def provider_test(provider: str, server: UrlOption = None) -> None:
    """Test the connection: a token, then GET /v2.0/ (exit 1 when it fails)."""
    api = Api(server)
    check = api.call("POST", f"/providers/{api.resolve('providers', provider)}/test")["check"]
    colour = "green" if check["ok"] else "red"
    console.print(f"[{colour}]{check['kind']}[/]: {escape(check['message'])}")
    if not check["ok"]:
        raise typer.Exit(1)


@provider_app.command("sync")
def provider_sync(provider: str, server: UrlOption = None) -> None:
    """Run the provider's auto-sync now (also resumes it after an auth failure)."""
    api = Api(server)
    report = api.call("POST", f"/providers/{api.resolve('providers', provider)}/sync")["sync"]
    show(f"sync of {report['provider']}", report)
    for key in ("offered", "renamed", "gone", "back", "unplugged"):
        if report[key]:
            console.print(f"{key}: {escape(cell(report[key]))}")


@provider_app.command("set")
def provider_set(
    provider: str,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a new password.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Networking API URL.")] = None,
    auth_url: Annotated[str | None, typer.Option(help="Keystone URL.")] = None,
    username: Annotated[str | None, typer.Option()] = None,
    sync_interval: Annotated[int | None, typer.Option(help="Auto-sync seconds (0 = off).")] = None,
    server: UrlOption = None,
) -> None:
    """Change a provider (a new password resumes an auto-sync stopped by an auth failure)."""
    body: dict[str, Any] = {
        k: v
        for k, v in (
            ("url", url),
            ("auth_url", auth_url),
            ("username", username),
            ("sync_interval", sync_interval),
        )
        if v is not None
    }
    if password_env:
        if not os.environ.get(password_env):
            raise fail(f"{password_env} is not set")
        body["password"] = os.environ[password_env]
    api = Api(server)
    p = api.call("PUT", f"/providers/{api.resolve('providers', provider)}", {"provider": body})[
        "provider"
    ]
    console.print(f"provider [bold]{escape(p['name'])}[/] updated")


@provider_app.command("remove")
def provider_remove(provider: str, server: UrlOption = None) -> None:
    """Remove a provider (refused while a vNIC uses it)."""
    api = Api(server)
    api.call("DELETE", f"/providers/{api.resolve('providers', provider)}")
    console.print(f"provider {escape(provider)} removed")


# --- data centers, clusters, hosts ---------------------------------------------------------


@dc_app.command("add")
def dc_add(
    name: str,
    description: Annotated[str, typer.Option()] = "",
    mac_pool: Annotated[
        str | None, typer.Option(help="START-END (default 02:6e:00:00:00:00-02:6e:00:ff:ff:ff).")
    ] = None,
    server: UrlOption = None,
) -> None:
    """Add a data center."""
    body: dict[str, Any] = {"name": name, "description": description}
    if mac_pool:
        body["mac_pool"] = mac_pool
    dc = Api(server).call("POST", "/datacenters", {"datacenter": body})["datacenter"]
    console.print(f"data center [bold]{escape(dc['name'])}[/] added ({dc['id']})")


@dc_app.command("remove")
def dc_remove(
    dc: str,
    force: Annotated[
        bool, typer.Option("--force", help="Also its VMs, their ports deleted on the providers.")
    ] = False,
    server: UrlOption = None,
) -> None:
    """Remove a data center (its clusters, hosts, networks and profiles)."""
    api = Api(server)
    api.call(
        "DELETE",
        f"/datacenters/{api.resolve('datacenters', dc)}",
        params={"force": "true" if force else "false"},
    )
    console.print(f"data center {escape(dc)} removed")


@dc_app.command("list")
def dc_list(server: UrlOption = None) -> None:
    """List data centers."""
    table(
        "data centers",
        Api(server).call("GET", "/datacenters")["datacenters"],
        ["name", "id", "mac_pool", "description"],
    )


@cluster_app.command("add")
def cluster_add(
    name: str,
    dc: Annotated[str, typer.Option("--dc", help="Data center.")],
    server: UrlOption = None,
) -> None:
    """Add a cluster to a data center."""
    api = Api(server)
    body = {"name": name, "datacenter_id": api.resolve("datacenters", dc)}
    cl = api.call("POST", "/clusters", {"cluster": body})["cluster"]
    console.print(f"cluster [bold]{escape(cl['name'])}[/] added ({cl['id']})")


@host_app.command("add")
def host_add(
    name: str,
    cluster: Annotated[str, typer.Option(help="Cluster.")],
    provider_host: Annotated[
        str | None,
        typer.Option(help="The binding:host_id its provider agents report (default: NAME)."),
    ] = None,
    server: UrlOption = None,
) -> None:
    """Add a host to a cluster."""
    api = Api(server)
    body = {
        "name": name,
        "cluster_id": api.resolve("clusters", cluster),
        "provider_host": provider_host or name,
    }
    h = api.call("POST", "/hosts", {"host": body})["host"]
    console.print(f"host [bold]{escape(h['name'])}[/] added ({h['id']})")


@host_app.command("list")
def host_list(server: UrlOption = None) -> None:
    """List hosts."""
    table(
        "hosts",
        Api(server).call("GET", "/hosts")["hosts"],
        ["name", "id", "provider_host", "cluster_id"],
    )


vmm_vms.register(app)
