"""``neutrino agent``: run the host agent in the foreground; ``neutrino agent cleanup``;
``neutrino agent check``: list how this host's kernel differs from its intended state,
changing nothing.

Controller credentials come from the usual ``OS_*`` environment (OS_AUTH_URL, OS_USERNAME,
OS_PASSWORD, OS_PROJECT_NAME, ...); the flags configure this host. The agent runs until
interrupted; an unexpected error ends it with a non-zero status (its supervisor restarts it).
When it stops it leaves the data plane running (VMs keep their network) unless
``--cleanup-on-exit``; ``neutrino agent cleanup`` removes everything an agent of this host
built (``agent.teardown``); ``check`` exits 0 when the kernel matches, 3 when it lists
differences.

A clean stop ends the process with ``os._exit`` once the logs are flushed: nothing is left to
finalize (kernel work done, sockets closed), and interpreter teardown of pyroute2 and friends
costs about a second on a busy machine, which the all-in-one's stop would wait for.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from neutrino.cli.options import console, fail

app = typer.Typer(
    help="The host agent: wires this host's ports (run as root).", invoke_without_command=True
)

HostOption = Annotated[
    str | None,
    typer.Option("--host", metavar="NAME", help="Host name the controller binds ports to."),
]
NetnsOption = Annotated[
    str | None,
    typer.Option(
        "--netns",
        metavar="NS",
        help="Manage the hypervisor that is this network namespace (the lab).",
    ),
]
DhcpDirOption = Annotated[
    Path | None,
    typer.Option(
        "--dhcp-state-dir",
        metavar="DIR",
        help="dnsmasq files (default <state dir>/dhcp/<host>; must not be 0700).",
    ),
]
LocalExternalOption = Annotated[
    str | None,
    typer.Option(
        "--local-external",
        metavar="PHYSNET:IP/PREFIX",
        help="Make a veth pair nt-PHYSNET (this host, holding IP/PREFIX) <-> ntb-PHYSNET "
        "(mapped to PHYSNET): a flat external network on a machine without a spare NIC.",
    ),
]
TunnelOption = Annotated[
    str | None, typer.Option("--tunnel-ip", metavar="IP", help="This host's VXLAN tunnel endpoint.")
]


@app.command()
def check(
    host: HostOption = None,
    tunnel_ip: TunnelOption = None,
    netns: NetnsOption = None,
    underlay_dev: Annotated[str | None, typer.Option("--underlay-dev")] = None,
    mappings: Annotated[str | None, typer.Option("--interface-mappings")] = None,
    dhcp: Annotated[bool, typer.Option("--dhcp", help="Check the DHCP role too.")] = False,
    dhcp_state_dir: DhcpDirOption = None,
    l3: Annotated[bool, typer.Option("--l3", help="Check the L3 role too.")] = False,
    security_groups: Annotated[
        bool,
        typer.Option(
            "--security-groups/--no-security-groups",
            help="Check the nft security-group tables (default on, as the agent).",
        ),
    ] = True,
) -> None:
    """List every difference between this host's kernel and its intended state: devices,
    FDB and neighbour entries, nft tables and sets, dnsmasq (``--dhcp``), routers (``--l3``)."""
    from neutrino.agent.check import check as drift_check
    from neutrino.agent.main import AgentSettings
    from neutrino.client import ClientError

    try:
        settings = AgentSettings.from_env(
            host=host,
            tunnel_ip=tunnel_ip,
            netns=netns,
            underlay_dev=underlay_dev,
            interface_mappings=mappings,
            dhcp=dhcp or None,
            dhcp_state_dir=dhcp_state_dir,
            l3=l3 or None,
            security_groups=security_groups,
        )
        found = drift_check(settings)
    except KeyError as exc:
        raise fail(f"missing setting {exc.args[0]} (flag or environment variable)") from None
    except (ValueError, ClientError) as exc:
        raise fail(str(exc)) from None
    for drift in found:
        console.print(str(drift), markup=False, soft_wrap=True)  # one line each: grep-able
    console.print(f"{len(found)} difference(s) on {settings.host}", markup=False)
    if found:
        raise typer.Exit(3)


@app.callback()
def agent(
    ctx: typer.Context,
    host: HostOption = None,
    tunnel_ip: Annotated[
        str | None,
        typer.Option("--tunnel-ip", metavar="IP", help="This host's VXLAN tunnel endpoint."),
    ] = None,
    netns: NetnsOption = None,
    underlay_dev: Annotated[
        str | None,
        typer.Option("--underlay-dev", metavar="DEV", help="Device carrying VXLAN (default eth1)."),
    ] = None,
    mappings: Annotated[
        str | None,
        typer.Option(
            "--interface-mappings",
            metavar="PHYSNET:DEV,...",
            help="Physical networks of flat networks and their interfaces.",
        ),
    ] = None,
    resync: Annotated[
        float | None,
        typer.Option("--resync", metavar="SECONDS", help="Full resync period (default 30)."),
    ] = None,
    dhcp: Annotated[
        bool,
        typer.Option(
            "--dhcp", help="DHCP role: also register a DHCP agent and run dnsmasq per network."
        ),
    ] = False,
    dhcp_state_dir: DhcpDirOption = None,
    l3: Annotated[
        bool,
        typer.Option(
            "--l3", help="L3 role: also register an L3 agent and host routers (qrouter- netns)."
        ),
    ] = False,
    security_groups: Annotated[
        bool,
        typer.Option(
            "--security-groups/--no-security-groups",
            help="Enforce security groups and anti-spoofing with nftables (default on).",
        ),
    ] = True,
    local_external: LocalExternalOption = None,
    cleanup_on_exit: Annotated[
        bool,
        typer.Option(
            "--cleanup-on-exit/--keep-on-exit",
            help="On stop, remove what the agent built (default: keep it, VMs stay connected).",
        ),
    ] = False,
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            "--metrics-listen",
            metavar="HOST:PORT",
            help="Serve the agent's Prometheus metrics there (default: off).",
        ),
    ] = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object a line.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the host agent (wires this host's ports; credentials from OS_* variables)."""
    if ctx.invoked_subcommand is not None:
        return
    from neutrino.agent.main import Agent, AgentSettings
    from neutrino.common import logs

    logs.configure(logging.DEBUG if verbose else logging.INFO, json=log_json)
    try:
        settings = AgentSettings.from_env(
            host=host,
            tunnel_ip=tunnel_ip,
            netns=netns,
            underlay_dev=underlay_dev,
            interface_mappings=mappings,
            resync_interval=resync,
            dhcp=dhcp or None,
            dhcp_state_dir=dhcp_state_dir,
            l3=l3 or None,
            security_groups=security_groups,
            local_external=local_external,
            cleanup_on_exit=cleanup_on_exit,
            metrics_listen=metrics_listen,
        )
    except KeyError as exc:
        raise fail(f"missing setting {exc.args[0]} (flag or environment variable)") from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    running = Agent(settings)
    signal.signal(signal.SIGTERM, lambda *_: running.stop(join=False))
    try:
        running.run()
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command()
def cleanup(
    host: HostOption = None,
    netns: NetnsOption = None,
    dhcp_state_dir: DhcpDirOption = None,
    local_external: Annotated[
        str,
        typer.Option(
            "--local-external",
            metavar="PHYSNET",
            help="The physnet whose veth uplink to delete (the all-in-one's: public).",
        ),
    ] = "public",
) -> None:
    """Remove everything an agent of this host built: dnsmasq, qdhcp-/qrouter- namespaces,
    bridges, VXLAN devices, nft tables, the external veth pair, DHCP files (needs root)."""
    from neutrino.agent.dataplane.netlink import NetlinkKernel
    from neutrino.agent.main import AgentSettings
    from neutrino.agent.teardown import TeardownError, teardown

    # cleanup talks to no controller: placeholder credentials and tunnel address
    env = {
        "NEUTRINO_AGENT_TUNNEL_IP": "0.0.0.0",
        "OS_AUTH_URL": "http://unused/v3",
        "OS_USERNAME": "unused",
        "OS_PASSWORD": "unused",
        "OS_PROJECT_NAME": "unused",
        **{
            k: v
            for k, v in os.environ.items()
            if k.startswith("NEUTRINO_") and k != "NEUTRINO_AGENT_INTERFACE_MAPPINGS"
        },
    }
    settings = AgentSettings.from_env(
        env,
        host=host,
        netns=netns,
        dhcp_state_dir=dhcp_state_dir,
        local_external=f"{local_external.partition(':')[0]}:0.0.0.0/32",
    )
    with NetlinkKernel(settings.netns) as kernel:
        try:
            removed = teardown(settings, kernel)
        except TeardownError as exc:
            raise fail(f"cleanup incomplete: {exc}") from None
    for item in removed:
        console.print(f"  removed {item}")
    console.print(f"[bold]agent cleanup[/] on {settings.host}: removed {len(removed)} objects")
