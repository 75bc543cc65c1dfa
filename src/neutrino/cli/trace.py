"""``neutrino trace``: why a packet arrives or not, hop by hop, as the controller's model says.

    neutrino trace --from vm1 --to 192.0.2.12 --proto tcp --dport 22
    neutrino trace --from PORT_ID --to 2001:db8::5 --proto icmp
    neutrino trace --from-outside 203.0.113.1 --to 203.0.113.20 --proto icmp

``--from`` takes a lab VM's name (resolved through the lab state, whose controller and
credentials it then uses) or a port id (credentials from the ``OS_*`` variables).
``--from-outside ADDR`` starts outside the model on an external network (``--network``, or the
lab's). The hops print as a table; ``--json`` prints the API's answer. ``--verify`` (an
admin's) also asks the agents of the hosts on the path whether their kernel has what each hop
relies on, and names the first hop where it does not; the same agents send a real probe
packet down the path and say where its fate parts from the model's (the API's
``verify.probe``). When they could not, in a lab the CLI sends the probe itself from the
source VM (``lab.probe``); elsewhere the agents' reason stands. The exit status is 0 when
the packet is delivered or leaves the modelled network, 2 when it is dropped, 4 when
``--verify`` found the kernel differing from the model (or a host did not answer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from neutrino.cli.options import console, fail

COLOURS = {
    "pass": "green",
    "deliver": "bold green",
    "leave": "cyan",
    "nat": "yellow",
    "warn": "yellow",
    "drop": "bold red",
}


def _lab(directory: Path | None) -> Any:
    from neutrino.lab.state import LabState, lab_dir

    return LabState.load(lab_dir(directory))


def _credentials(lab: Any) -> Any:
    from neutrino.client import Credentials

    if lab is not None:
        return lab.creds
    try:
        return Credentials.from_env()
    except KeyError as exc:
        raise fail(
            f"no lab and no credentials: set {exc.args[0]} (and the other OS_* variables)"
        ) from None


def _table(title: str, hops: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("#", "step", "object", "verdict", "why / fix"):
        table.add_column(column, overflow="fold")
    for i, hop in enumerate(hops, start=1):
        colour = COLOURS.get(hop["verdict"], "white")
        why = escape(hop["detail"])
        if hop.get("fix"):
            why += f"\n[bold]fix:[/] {escape(hop['fix'])}"
        table.add_row(
            str(i),
            escape(hop["step"]),
            escape(hop["object"]),
            f"[{colour}]{hop['verdict']}[/]",
            why,
        )
    return table


def trace(
    source: Annotated[
        str | None, typer.Option("--from", metavar="VM|PORT", help="The sending lab VM or port id.")
    ] = None,
    outside: Annotated[
        str | None,
        typer.Option(
            "--from-outside",
            metavar="ADDR",
            help="Start outside the model, from ADDR on an external network.",
        ),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option("--network", metavar="NET", help="The external network of --from-outside."),
    ] = None,
    to: Annotated[str, typer.Option("--to", metavar="ADDR", help="Destination address.")] = "",
    proto: Annotated[str, typer.Option("--proto", help="tcp, udp, icmp, ...")] = "icmp",
    dport: Annotated[int | None, typer.Option("--dport", help="Destination port.")] = None,
    sport: Annotated[int | None, typer.Option("--sport", help="Source port.")] = None,
    icmp_type: Annotated[int | None, typer.Option("--icmp-type")] = None,
    icmp_code: Annotated[int | None, typer.Option("--icmp-code")] = None,
    src_ip: Annotated[
        str | None,
        typer.Option("--src-ip", help="A source address other than the port's (spoofing)."),
    ] = None,
    src_mac: Annotated[str | None, typer.Option("--src-mac")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Cross-check each hop against the agents' kernels (admin)."),
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", metavar="DIR", envvar="NEUTRINO_LAB_DIR", help="Lab state directory."
        ),
    ] = None,
) -> None:
    """Trace one packet through the intended network: each hop, its verdict and why."""
    from neutrino.client import ClientError, Controller, Session

    if not to or (source is None) == (outside is None):
        raise fail("give --to and exactly one of --from and --from-outside")
    lab = _lab(directory)
    if source is not None:
        vm = lab.vms.get(source) if lab is not None else None
        origin: dict[str, Any] = {"port_id": vm.port_id if vm is not None else source}
    else:
        net = network or (lab.external_network_id if lab is not None else None)
        if not net:
            raise fail("--from-outside needs --network (no lab external network)")
        origin = {"network_id": net, "ip_address": outside}
    question = {
        "source": origin,
        "destination": to,
        "protocol": proto,
        "destination_port": dport,
        "source_port": sport,
        "icmp_type": icmp_type,
        "icmp_code": icmp_code,
        "source_ip": src_ip,
        "source_mac": src_mac,
        "verify": verify or None,
    }
    try:
        with Session(_credentials(lab)) as session:
            result = Controller(session).trace(
                **{k: v for k, v in question.items() if v is not None}
            )
    except ClientError as exc:
        raise fail(str(exc)) from None
    if "verify" in result and result["verify"].get("probe", {}).get("verdict") in (
        None,
        "unavailable",
    ):  # the agents could not probe: in a lab, the CLI can still send one itself
        result["verify"]["probe"] = _probe(lab, source, result)
    if as_json:
        typer.echo(json.dumps(result, indent=2))  # plain: rich would wrap long lines
    else:
        what = f"{result['packet'].get('protocol')} to {to}"
        console.print(_table(f"trace {escape(what)}: {result['verdict']}", result["hops"]))
        if result["reply"]:
            console.print(_table("the reply", result["reply"]))
        if "verify" in result:
            _print_verify(result["verify"])
    if result["verdict"] == "dropped":
        raise typer.Exit(2)
    if "verify" in result and (
        result["verify"]["verdict"] != "agrees" or result["verify"]["probe"]["verdict"] == "differs"
    ):
        raise typer.Exit(4)


def _probe(lab: Any, source: str | None, result: dict[str, Any]) -> dict[str, Any]:
    """When the agents' probe was unavailable: a probe the lab sends itself, since it owns
    the namespaces (``lab.probe``); otherwise the agents' reason stands."""
    agents = result["verify"].get("probe") or {}
    if lab is None:
        return agents or {
            "verdict": "unavailable",
            "reason": "no lab: the hosts' namespaces are out of reach (kernel state compared only)",
        }
    from neutrino.lab.probe import probe

    return probe(lab, source, result)


def _print_verify(found: dict[str, Any]) -> None:
    hosts = ", ".join(f"{h} ({state})" for h, state in sorted(found["hosts"].items()))
    if found["verdict"] == "differs":
        console.print(
            f"[bold red]kernel differs[/] at hop {found['hop']} ({escape(found['step'])}, "
            f"{escape(found['object'])}):"
        )
        for line in found["detail"]:
            console.print(f"  {line}", markup=False, soft_wrap=True)
    elif found["verdict"] == "agrees":
        console.print("[green]kernel agrees[/] with every hop")
    else:
        console.print("[yellow]unverified[/]: not every host answered")
    console.print(f"hosts: {escape(hosts) or 'none'}")
    _print_probe(found["probe"])


def _print_probe(found: dict[str, Any]) -> None:
    if found["verdict"] == "unavailable":
        console.print(f"[yellow]no probe[/]: {escape(found['reason'])}; kernel state compared only")
        return
    fate = found["fate"]
    path = " -> ".join(fate["path"]) or "nowhere"
    if found["verdict"] == "differs":
        console.print(
            f"[bold red]probe differs[/] at hop {found['hop']} ({escape(found['step'])}, "
            f"{escape(found['object'])}):"
        )
        for line in found["detail"]:
            console.print(f"  {line}", markup=False, soft_wrap=True)
    else:
        console.print(f"[green]probe agrees[/]: {fate['outcome']}")
    console.print(f"probe path: {escape(path)} ({found['milliseconds']['total']} ms)")
