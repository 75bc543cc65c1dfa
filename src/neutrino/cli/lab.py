"""``neutrino lab``: a namespace lab on this machine (hypervisors, agents, VMs); needs root.

    neutrino lab up --hosts 2 --network-nodes 1     # underlay, hv1 hv2 net1, agents
    eval "$(neutrino lab env)"                      # OS_* of the lab's controller
    neutrino lab vm create vm1 --host hv1 --network NET
    neutrino lab exec vm1 -- busybox ping -c 3 $(neutrino lab vm ip vm2)
    neutrino lab status
    neutrino lab down

The lab directory (``--dir``, ``NEUTRINO_LAB_DIR``, default /run/neutrino-lab) records what
was made; ``down`` removes all of it. Namespaces are named ``<prefix><name>`` with prefix
``lab-`` (``--prefix`` or ``NEUTRINO_LAB_PREFIX``): ``lab-hv1``, ``lab-net1``, ``lab-vm1``.
The work itself lives in ``neutrino.lab``.
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

app = typer.Typer(
    help="A namespace lab: hypervisors, agents and VMs on this machine.", no_args_is_help=True
)
vm_app = typer.Typer(
    help="VMs: namespaces plugged into ports, addressed by DHCP.", no_args_is_help=True
)
app.add_typer(vm_app, name="vm")

T = TypeVar("T")

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        metavar="DIR",
        envvar="NEUTRINO_LAB_DIR",
        help="Lab state directory (default /run/neutrino-lab).",
    ),
]


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
    network_nodes: Annotated[
        int,
        typer.Option(
            "--network-nodes",
            min=0,
            help="Network nodes net1..netM (they serve DHCP and host routers).",
        ),
    ] = 1,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            envvar="NEUTRINO_LAB_PREFIX",
            help="Prefix of the lab's namespace names (default lab-).",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 90.0,
    external: Annotated[
        bool,
        typer.Option(
            "--external",
            help="Also the outside world (ext namespace, 203.0.113.1) and the "
            "external network 'public' (flat, 203.0.113.0/24) on the network nodes; on a "
            "running lab, adds them.",
        ),
    ] = False,
    directory: DirOption = None,
) -> None:
    """Build the lab: underlay, hypervisor namespaces, controller (unless OS_* names one),
    one supervised agent per hypervisor."""
    from neutrino.lab import Lab, LabState

    def action(progress: Callable[[str], None]) -> LabState:
        return Lab(directory, progress=progress).up(
            hosts, network_nodes, prefix=prefix, timeout=timeout, external=external
        )

    _run("lab up", action)
    lab = Lab(directory)
    state = lab.state()
    console.print(
        f"[bold green]lab up[/] in {lab.dir}: "
        f"{', '.join(h.name for h in state.hosts)}; controller {state.creds.auth_url}"
        + (f"; external network public, outside world {state.external}" if state.external else "")
    )
    if state.managed_controller:
        console.print('  use it:  eval "$(neutrino lab env)"', soft_wrap=True)


@app.command()
def env(directory: DirOption = None) -> None:
    """Print the export lines of the lab's controller credentials (eval "$(neutrino lab env)")."""
    import shlex

    from neutrino.lab import Lab, LabError

    try:
        creds = Lab(directory).state().creds
    except LabError as exc:
        raise fail(str(exc)) from None
    values = {
        "OS_AUTH_URL": creds.auth_url,
        "OS_USERNAME": creds.username,
        "OS_PASSWORD": creds.password,
        "OS_PROJECT_NAME": creds.project_name,
        "OS_USER_DOMAIN_NAME": creds.user_domain_name,
        "OS_PROJECT_DOMAIN_NAME": creds.project_domain_name,
        "OS_IDENTITY_API_VERSION": "3",
    }
    print("unset OS_CLOUD")
    for key, value in values.items():
        print(f"export {key}={shlex.quote(value)}")


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
        table.add_row(
            row.kind,
            row.name,
            row.namespace,
            escape(row.detail),
            f"[{color}]{escape(row.state)}[/]",
        )
    console.print(table)


@vm_app.command("create")
def vm_create(
    name: Annotated[str, typer.Argument(help="VM name (its namespace is <prefix><name>).")],
    host: Annotated[str, typer.Option("--host", help="Hypervisor, e.g. hv1.")],
    port: Annotated[str | None, typer.Option("--port", metavar="PORT_ID")] = None,
    network: Annotated[
        str | None,
        typer.Option(
            "--network", metavar="NET", help="Create a port on this network (id or name)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout")] = 30.0,
    directory: DirOption = None,
) -> None:
    """Plug a VM namespace into a port on HOST and get its address by DHCP."""
    from neutrino.lab import Lab, Lease, VmRecord, create_vm

    if (port is None) == (network is None):
        raise fail("give exactly one of --port and --network")

    def action(progress: Callable[[str], None]) -> tuple[VmRecord, Lease]:
        return create_vm(
            Lab(directory, progress=progress),
            name,
            host,
            port_id=port,
            network=network,
            timeout=timeout,
        )

    vm, lease = _run(f"vm {name}", action)
    console.print(
        f"[bold green]{escape(name)}[/] on {vm.host}: port {vm.port_id}, "
        f"{lease.ip or 'no DHCP'}"
        + (f"/{lease.mask} via {lease.router} mtu {lease.mtu}" if lease.ip else "")
    )


@vm_app.command("delete")
def vm_delete(name: Annotated[str, typer.Argument()], directory: DirOption = None) -> None:
    """Delete a VM (its namespace, and its port if the lab created it)."""
    from neutrino.lab import Lab, delete_vm

    if not _run(f"vm {name}", lambda progress: delete_vm(Lab(directory, progress=progress), name)):
        raise fail(f"no VM {name}")


@vm_app.command("ip")
def vm_ip(
    name: Annotated[str, typer.Argument(help="VM name.")], directory: DirOption = None
) -> None:
    """Print the VM's IPv4 address (for scripts: ping $(neutrino lab vm ip vm2))."""
    from neutrino.lab import Lab, LabError
    from neutrino.lab.vms import vm_address

    try:
        print(vm_address(Lab(directory), name))
    except LabError as exc:
        raise fail(str(exc)) from None


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    name: Annotated[str, typer.Argument(help="VM name, or ext (the outside world).")],
    command: Annotated[list[str], typer.Argument(help="Command (after --).")],
    directory: DirOption = None,
) -> None:
    """Run a command inside a VM (or ext): neutrino lab exec vm1 -- ip addr."""
    from neutrino.lab import Lab, LabError, exec_vm

    try:
        done = exec_vm(Lab(directory), name, command)
    except LabError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(done.returncode)
