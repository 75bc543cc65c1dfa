"""``neutrino vmm network|profile|vm|nic``: the second half of the vmm CLI (see ``vmm``)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from neutrino.cli.options import console, fail
from neutrino.cli.vmm_common import Api, UrlOption, show, table

network_app = typer.Typer(
    help="Networks: import from a provider, create there, remove.", no_args_is_help=True
)
profile_app = typer.Typer(help="vNIC profiles (security groups per profile).", no_args_is_help=True)
vm_app = typer.Typer(help="VMs: define, start, stop, migrate, delete.", no_args_is_help=True)
nic_app = typer.Typer(help="vNICs of a VM (hot-plugged when it runs).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for sub, name in (
        (network_app, "network"),
        (profile_app, "profile"),
        (vm_app, "vm"),
        (nic_app, "nic"),
    ):
        app.add_typer(sub, name=name)


ServerOption = UrlOption
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for ports to be ACTIVE.")]

# --- networks --------------------------------------------------------------------------------


@network_app.command("import")
def network_import(
    networks: Annotated[
        list[str] | None,
        typer.Argument(help="Provider network ids or names (default: every one not yet imported)."),
    ] = None,
    provider: Annotated[str, typer.Option(help="Provider.")] = "",
    dc: Annotated[str, typer.Option("--dc", help="Data center.")] = "",
    list_only: Annotated[bool, typer.Option("--list", help="Only list what is offered.")] = False,
    server: ServerOption = None,
) -> None:
    """Import provider networks into a data center (or list those not yet imported)."""
    if not provider or not dc:
        raise fail("--provider and --dc are required")
    api = Api(server)
    pid, dcid = api.resolve("providers", provider), api.resolve("datacenters", dc)
    offered = api.call("GET", f"/providers/{pid}/networks", params={"datacenter_id": dcid})[
        "networks"
    ]
    if list_only:
        table(
            "offered networks",
            offered,
            ["name", "id", "provider:network_type", "provider:segmentation_id", "mtu"],
        )
        return
    ids = None
    if networks:
        by_name = {n["name"]: n["id"] for n in offered}
        known = set(by_name.values())
        ids = [by_name.get(n, n) for n in networks]
        missing = [n for n, i in zip(networks, ids, strict=True) if i not in known]
        if missing:
            raise fail(
                f"not offered by {provider} for {dc} (already imported, or no such "
                f"network): {', '.join(missing)}"
            )
    done = api.call(
        "POST", f"/providers/{pid}/import", {"datacenter_id": dcid, "external_ids": ids}
    )["networks"]
    table(f"imported into {dc}", done, ["name", "id", "external_id", "network_type"])


@network_app.command("create")
def network_create(
    name: str,
    provider: Annotated[str, typer.Option(help="Provider.")],
    dc: Annotated[str, typer.Option("--dc", help="Data center.")],
    subnet: Annotated[
        list[str] | None,
        typer.Option(
            help="CIDR[,gateway=IP][,dns=IP;IP][,mode=slaac|dhcpv6-stateful|dhcpv6-stateless]"
            "[,dhcp=false] (repeatable)."
        ),
    ] = None,
    mtu: Annotated[int | None, typer.Option()] = None,
    server: ServerOption = None,
) -> None:
    """Create a network with subnets on the provider and import it in one step."""
    api = Api(server)
    body: dict[str, Any] = {
        "name": name,
        "provider_id": api.resolve("providers", provider),
        "datacenter_id": api.resolve("datacenters", dc),
        "subnets": [parse_subnet(s) for s in subnet or []],
    }
    if mtu:
        body["mtu"] = mtu
    net = api.call("POST", "/networks", {"network": body})["network"]
    console.print(
        f"network [bold]{escape(net['name'])}[/] created on the provider "
        f"({net['external_id']}) and imported ({net['id']})"
    )
    table("subnets", net["subnets"], ["cidr", "gateway_ip", "id"])


def parse_subnet(text: str) -> dict[str, Any]:
    cidr, *options = text.split(",")
    out: dict[str, Any] = {"cidr": cidr}
    for option in options:
        key, _, value = option.partition("=")
        if key == "gateway":
            out["gateway_ip"] = value
        elif key == "dns":
            out["dns_nameservers"] = [v for v in value.split(";") if v]
        elif key == "mode":
            out["ipv6_address_mode"] = out["ipv6_ra_mode"] = value
        elif key == "dhcp":
            out["enable_dhcp"] = value.lower() not in ("false", "0", "no")
        else:
            raise fail(f"unknown subnet option {key!r} in {text!r}")
    return out


@network_app.command("list")
def network_list(
    dc: Annotated[str | None, typer.Option("--dc")] = None, server: ServerOption = None
) -> None:
    """List networks (of one data center)."""
    api = Api(server)
    params = {"datacenter_id": api.resolve("datacenters", dc)} if dc else None
    rows = api.call("GET", "/networks", params=params)["networks"]
    table(
        "networks",
        rows,
        ["name", "id", "status", "provider_id", "external_id", "network_type", "mtu"],
    )


@network_app.command("remove")
def network_remove(
    network: str,
    from_provider: Annotated[
        bool, typer.Option("--from-provider", help="Also delete it on the provider.")
    ] = False,
    server: ServerOption = None,
) -> None:
    """Remove a network from the manager (and the provider)."""
    api = Api(server)
    api.call(
        "DELETE",
        f"/networks/{api.resolve('networks', network)}",
        params={"from_provider": "true" if from_provider else "false"},
    )
    console.print(f"network {escape(network)} removed")


# --- profiles --------------------------------------------------------------------------------


@profile_app.command("add")
def profile_add(
    name: str,
    network: Annotated[str, typer.Option(help="Network.")],
    security_group: Annotated[
        list[str] | None,
        typer.Option(help="A group id (repeatable); none given: the provider's default."),
    ] = None,
    no_security_groups: Annotated[
        bool, typer.Option("--no-security-groups", help="No groups at all ([]).")
    ] = False,
    server: ServerOption = None,
) -> None:
    """Add a vNIC profile to a network."""
    if security_group and no_security_groups:
        raise fail("--security-group and --no-security-groups exclude each other")
    api = Api(server)
    groups = [] if no_security_groups else (security_group or None)
    body = {"name": name, "network_id": api.resolve("networks", network), "security_groups": groups}
    p = api.call("POST", "/vnicprofiles", {"vnicprofile": body})["vnicprofile"]
    console.print(f"profile [bold]{escape(p['name'])}[/] added ({p['id']})")


# --- VMs -------------------------------------------------------------------------------------


def _profile(api: Api, ref: str) -> str:
    """A profile id from an id, a profile name, or a network name (its default profile)."""
    found = api.call("GET", "/vnicprofiles", params={"name": ref})["vnicprofiles"]
    if len(found) == 1:
        return str(found[0]["id"])
    return api.resolve("vnicprofiles", ref)


@vm_app.command("create")
def vm_create(
    name: str,
    cluster: Annotated[str, typer.Option(help="Cluster.")],
    nic: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PROFILE (repeatable; a network's default profile has its name)."),
    ] = None,
    server: ServerOption = None,
) -> None:
    """Define a VM with vNICs (MACs from the data center's pool)."""
    api = Api(server)
    nics = []
    for spec in nic or []:
        nic_name, sep, profile = spec.partition("=")
        if not sep:
            raise fail(f"--nic wants NAME=PROFILE, got {spec!r}")
        nics.append({"name": nic_name, "profile_id": _profile(api, profile)})
    vm = api.call(
        "POST",
        "/vms",
        {"vm": {"name": name, "cluster_id": api.resolve("clusters", cluster), "nics": nics}},
    )["vm"]
    console.print(f"VM [bold]{escape(vm['name'])}[/] defined ({vm['id']})")
    table("vNICs", vm["nics"], ["name", "mac", "profile_id"])


def wait_ports(api: Api, vm_id: str, timeout: float) -> None:
    """Progress while the VM's ports become ACTIVE; exit 1 if one is not in time."""
    deadline = time.monotonic() + timeout
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}
        while True:
            nics = [n for n in api.call("GET", f"/vms/{vm_id}/nics")["nics"] if n["port_id"]]
            for n in nics:
                text = f"{n['name']} ({n['mac']}): port {n.get('port_status') or '?'}"
                if n["id"] not in tasks:
                    tasks[n["id"]] = progress.add_task(text, total=1)
                progress.update(
                    tasks[n["id"]],
                    description=text,
                    completed=1 if n.get("port_status") == "ACTIVE" else 0,
                )
            if all(n.get("port_status") == "ACTIVE" for n in nics):
                return
            if time.monotonic() > deadline:
                raise fail(f"ports not ACTIVE after {timeout:g} s")
            time.sleep(0.2)


def run_vm(action: str, vm: str, host: str | None, timeout: float, server: str | None) -> None:
    """Start or migrate (``action``) ``vm``, on ``host`` or where the vmm schedules it, then
    show its ports' progress until they are ACTIVE."""
    api = Api(server)
    vid = api.resolve("vms", vm)
    body: dict[str, Any] = {"wait": False}
    if host:
        body["host_id"] = api.resolve("hosts", host)
    placed = api.call("POST", f"/vms/{vid}/{action}", body)["vm"]
    where = "placed on" if action == "start" else "moving to"
    console.print(f"VM {escape(vm)} {where} [bold]{escape(placed['host'])}[/]")
    wait_ports(api, vid, timeout)


@vm_app.command("start")
def vm_start(
    vm: str,
    host: Annotated[str | None, typer.Option(help="Run on this host.")] = None,
    timeout: TimeoutOption = 30.0,
    server: ServerOption = None,
) -> None:
    """Start a VM: schedule, create its ports, wait until they are ACTIVE."""
    run_vm("start", vm, host, timeout, server)


@vm_app.command("stop")
def vm_stop(vm: str, server: ServerOption = None) -> None:
    """Stop a VM (its ports stay, unbound)."""
    api = Api(server)
    api.call("POST", f"/vms/{api.resolve('vms', vm)}/stop", {})
    console.print(f"VM {escape(vm)} stopped")


@vm_app.command("migrate")
def vm_migrate(
    vm: str,
    host: Annotated[str | None, typer.Option(help="Target host.")] = None,
    timeout: TimeoutOption = 30.0,
    server: ServerOption = None,
) -> None:
    """Migrate a running VM: its port bindings move to the new host."""
    run_vm("migrate", vm, host, timeout, server)


@vm_app.command("delete")
def vm_delete(vm: str, server: ServerOption = None) -> None:
    """Delete a stopped VM and its ports."""
    api = Api(server)
    api.call("DELETE", f"/vms/{api.resolve('vms', vm)}")
    console.print(f"VM {escape(vm)} deleted")


@vm_app.command("list")
def vm_list(server: ServerOption = None) -> None:
    """List VMs."""
    table(
        "VMs",
        Api(server).call("GET", "/vms")["vms"],
        ["name", "id", "status", "host_id", "project_id"],
    )


@vm_app.command("show")
def vm_show(
    vm: str,
    xml: Annotated[
        bool, typer.Option("--xml", help="Print each vNIC's libvirt <interface>.")
    ] = False,
    server: ServerOption = None,
) -> None:
    """Show a VM, its vNICs and their ports."""
    api = Api(server)
    got = api.call("GET", f"/vms/{api.resolve('vms', vm)}")["vm"]
    show(f"VM {got['name']}", got)
    table(
        "vNICs",
        got["nics"],
        ["name", "mac", "plugged", "port_id", "port_status", "binding:host_id"],
    )
    for n in got["nics"] if xml else []:
        console.print(f"{n['name']}: {escape(n.get('libvirt_xml') or '-')}")


# --- vNICs -----------------------------------------------------------------------------------


@nic_app.command("add")
def nic_add(
    vm: str,
    name: str,
    profile: Annotated[str, typer.Option(help="vNIC profile.")],
    mac: Annotated[str | None, typer.Option(help="Default: from the MAC pool.")] = None,
    timeout: TimeoutOption = 30.0,
    server: ServerOption = None,
) -> None:
    """Add a vNIC (hot-plugged on a running VM)."""
    api = Api(server)
    vid = api.resolve("vms", vm)
    body: dict[str, Any] = {"name": name, "profile_id": _profile(api, profile)}
    if mac:
        body["mac"] = mac
    nic = api.call("POST", f"/vms/{vid}/nics", {"nic": body}, params={"wait": "false"})["nic"]
    console.print(f"vNIC {escape(nic['name'])} added ({nic['mac']})")
    if nic["ports"]:
        wait_ports(api, vid, timeout)


@nic_app.command("remove")
def nic_remove(vm: str, name: str, server: ServerOption = None) -> None:
    """Remove a vNIC (hot-unplug on a running VM; its port is deleted)."""
    api = Api(server)
    vid = api.resolve("vms", vm)
    nics = {n["name"]: n["id"] for n in api.call("GET", f"/vms/{vid}/nics")["nics"]}
    if name not in nics:
        raise fail(f"VM {vm} has no vNIC {name}")
    api.call("DELETE", f"/vms/{vid}/nics/{nics[name]}")
    console.print(f"vNIC {escape(name)} removed")
