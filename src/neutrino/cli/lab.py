"""``neutrino lab``: a namespace lab on this machine (hypervisors, agents, VMs); needs root.

    neutrino lab up --hosts 2 --network-nodes 1     # underlay, hv1 hv2 net1, agents
    neutrino lab vm create vm1 --host hv1 --network NET
    neutrino lab exec vm1 -- ping -c 3 192.0.2.12
    neutrino lab status
    neutrino lab down

The lab directory (``--dir``, ``NEUTRINO_LAB_DIR``, default /run/neutrino-lab) records what
was made; ``down`` removes all of it. The work itself lives in ``neutrino.lab``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from neutrino.cli.options import console, fail

app = typer.Typer(help="A namespace lab: hypervisors, agents and VMs on this machine.",
                  no_args_is_help=True)
vm_app = typer.Typer(help="VMs: namespaces plugged into ports, addressed by DHCP.",
                     no_args_is_help=True)
app.add_typer(vm_app, name="vm")

T = TypeVar("T")

DirOption = Annotated[Path | None, typer.Option(
    "--dir", metavar="DIR", envvar="NEUTRINO_LAB_DIR",
    help="Lab state directory (default /run/neutrino-lab).")]


@contextmanager
def working(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner showing the current step; each finished step printed with a check mark."""
    steps: list[str] = []
    with console.status(f"[bold]{escape(title)}[/]") as spinner:
        def progress(message: str) -> None:
            if steps:
                console.print(f"  [green]✓[/] {escape(steps[-1])}")
            steps.append(message)
            spinner.update(f"[bold]{escape(title)}[/] {escape(message)}")

        try:
            yield progress
        except Exception:
            if steps:
                console.print(f"  [red]✗[/] {escape(steps[-1])}")
            raise
    if steps:
        console.print(f"  [green]✓[/] {escape(steps[-1])}")


def _run(title: str, action: Callable[[Callable[[str], None]], T]) -> T:
    from neutrino.client import ClientError
    from neutrino.lab import LabError

    try:
        with working(title) as progress:
            return action(progress)
    except (LabError, ClientError) as exc:
        raise fail(str(exc)) from None


@app.command()
def up(
    hosts: Annotated[int, typer.Option("--hosts", min=1, help="Hypervisors hv1..hvN.")] = 2,
    network_nodes: Annotated[int, typer.Option(
        "--network-nodes", min=0,
        help="Network nodes net1..netM (they serve DHCP and host routers).")] = 1,
    prefix: Annotated[str, typer.Option(
        "--prefix", help="Prefix of the lab's namespace names.")] = "",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 90.0,
    external: Annotated[bool, typer.Option(
        "--external", help="Also the outside world (ext namespace, 203.0.113.1) and the "
        "external network 'public' (flat, 203.0.113.0/24) on the network nodes.")] = False,
    directory: DirOption = None,
) -> None:
    """Build the lab: underlay, hypervisor namespaces, controller (unless OS_* names one),
    one supervised agent per hypervisor."""
    from neutrino.lab import Lab, LabState

    def action(progress: Callable[[str], None]) -> LabState:
        return Lab(directory, progress=progress).up(hosts, network_nodes, prefix=prefix,
                                                     timeout=timeout, external=external)

    _run("lab up", action)
    lab = Lab(directory)
    state = lab.state()
    console.print(f"[bold green]lab up[/] in {lab.dir}: "
                  f"{', '.join(h.name for h in state.hosts)}; controller {state.creds.auth_url}")
    if state.managed_controller:
        # The password stays in lab.json (0600); the line reads it from there.
        read_password = (f"python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))"
                         f"[\"credentials\"][\"password\"])' {lab.dir / 'lab.json'}")
        console.print(f"  export OS_AUTH_URL={state.creds.auth_url} OS_USERNAME=admin "
                      f"OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default "
                      f"OS_PROJECT_DOMAIN_NAME=Default OS_PASSWORD=$({read_password})",
                      soft_wrap=True)


@app.command()
def down(directory: DirOption = None) -> None:
    """Remove every namespace, device and process the lab made (safe to repeat)."""
    from neutrino.lab import Lab

    removed = _run("lab down", lambda progress: Lab(directory, progress=progress).down())
    console.print(f"[bold]lab down[/]: removed {len(removed)} objects")


@app.command()
def status(directory: DirOption = None) -> None:
    """Show the lab's controller, hosts (agents) and VMs."""
    from neutrino.lab import Lab, LabError

    try:
        rows = Lab(directory).status()
    except LabError as exc:
        raise fail(str(exc)) from None
    table = Table(title="neutrino lab")
    for column in ("kind", "name", "namespace", "detail", "state"):
        table.add_column(column)
    for row in rows:
        color = "green" if row.state in ("up", "running", "reachable", "ACTIVE") else "yellow"
        table.add_row(row.kind, row.name, row.namespace, escape(row.detail),
                      f"[{color}]{escape(row.state)}[/]")
    console.print(table)


@vm_app.command("create")
def vm_create(
    name: Annotated[str, typer.Argument(help="VM name (its namespace is <prefix><name>).")],
    host: Annotated[str, typer.Option("--host", help="Hypervisor, e.g. hv1.")],
    port: Annotated[str | None, typer.Option("--port", metavar="PORT_ID")] = None,
    network: Annotated[str | None, typer.Option(
        "--network", metavar="NET", help="Create a port on this network (id or name).")] = None,
    timeout: Annotated[float, typer.Option("--timeout")] = 30.0,
    directory: DirOption = None,
) -> None:
    """Plug a VM namespace into a port on HOST and get its address by DHCP."""
    from neutrino.lab import Lab, Lease, VmRecord, create_vm

    if (port is None) == (network is None):
        raise fail("give exactly one of --port and --network")

    def action(progress: Callable[[str], None]) -> tuple[VmRecord, Lease]:
        return create_vm(Lab(directory, progress=progress), name, host, port_id=port,
                         network=network, timeout=timeout)

    vm, lease = _run(f"vm {name}", action)
    console.print(f"[bold green]{escape(name)}[/] on {vm.host}: port {vm.port_id}, "
                  f"{lease.ip or 'no DHCP'}"
                  + (f"/{lease.mask} via {lease.router} mtu {lease.mtu}" if lease.ip else ""))


@vm_app.command("delete")
def vm_delete(name: Annotated[str, typer.Argument()], directory: DirOption = None) -> None:
    """Delete a VM (its namespace, and its port if the lab created it)."""
    from neutrino.lab import Lab, delete_vm

    if not _run(f"vm {name}", lambda progress: delete_vm(Lab(directory, progress=progress),
                                                         name)):
        raise fail(f"no VM {name}")


@app.command("exec", context_settings={"allow_extra_args": True,
                                       "ignore_unknown_options": True})
def exec_(
    name: Annotated[str, typer.Argument(help="VM name.")],
    command: Annotated[list[str], typer.Argument(help="Command (after --).")],
    directory: DirOption = None,
) -> None:
    """Run a command inside a VM: neutrino lab exec vm1 -- ip addr."""
    from neutrino.lab import Lab, LabError, exec_vm

    try:
        done = exec_vm(Lab(directory), name, command)
    except LabError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(done.returncode)
