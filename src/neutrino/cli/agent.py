"""``neutrino agent``: run the L2 host agent in the foreground; ``neutrino agent check``:
list how this host's kernel differs from its intended state, changing nothing.

Controller credentials come from the usual ``OS_*`` environment (OS_AUTH_URL, OS_USERNAME,
OS_PASSWORD, OS_PROJECT_NAME, ...); the flags configure this host. The agent runs until
interrupted; an unexpected error ends it with a non-zero status (its supervisor restarts it).
``check`` exits 0 when the kernel matches, 3 when it lists differences.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from neutrino.cli.options import fail

app = typer.Typer(help="The host agent (run it, or check its host for drift).")

HostOption = Annotated[str | None, typer.Option(
    "--host", metavar="NAME", help="Host name the controller binds ports to.")]
TunnelOption = Annotated[str | None, typer.Option(
    "--tunnel-ip", metavar="IP", help="This host's VXLAN tunnel endpoint.")]
NetnsOption = Annotated[str | None, typer.Option(
    "--netns", metavar="NS", help="The hypervisor that is this network namespace (the lab).")]


@app.command()
def check(host: HostOption = None, tunnel_ip: TunnelOption = None, netns: NetnsOption = None,
          underlay_dev: Annotated[str | None, typer.Option("--underlay-dev")] = None,
          mappings: Annotated[str | None, typer.Option("--interface-mappings")] = None,
          ) -> None:
    """List every difference between this host's kernel and its intended state (L2)."""
    from neutrino.agent.check import check as drift_check
    from neutrino.agent.main import AgentSettings
    from neutrino.cli.options import console
    from neutrino.client import ClientError

    try:
        settings = AgentSettings.from_env(host=host, tunnel_ip=tunnel_ip, netns=netns,
                                          underlay_dev=underlay_dev,
                                          interface_mappings=mappings)
        found = drift_check(settings)
    except KeyError as exc:
        raise fail(f"missing setting {exc.args[0]} (flag or environment variable)") from None
    except (ValueError, ClientError) as exc:
        raise fail(str(exc)) from None
    for drift in found:
        console.print(str(drift), markup=False)
    console.print(f"{len(found)} difference(s) on {settings.host}", markup=False)
    if found:
        raise typer.Exit(3)


@app.callback(invoke_without_command=True)
def agent(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="NAME", help="Host name the controller binds ports to.")] = None,
    tunnel_ip: Annotated[str | None, typer.Option(
        "--tunnel-ip", metavar="IP", help="This host's VXLAN tunnel endpoint.")] = None,
    netns: Annotated[str | None, typer.Option(
        "--netns", metavar="NS",
        help="Manage the hypervisor that is this network namespace (the lab).")] = None,
    underlay_dev: Annotated[str | None, typer.Option(
        "--underlay-dev", metavar="DEV", help="Device carrying VXLAN (default eth1).")] = None,
    mappings: Annotated[str | None, typer.Option(
        "--interface-mappings", metavar="PHYSNET:DEV,...",
        help="Physical networks of flat networks and their interfaces.")] = None,
    resync: Annotated[float | None, typer.Option(
        "--resync", metavar="SECONDS", help="Full resync period (default 30).")] = None,
    dhcp: Annotated[bool, typer.Option(
        "--dhcp", help="DHCP role: also register a DHCP agent and run dnsmasq per network.")
    ] = False,
    dhcp_state_dir: Annotated[Path | None, typer.Option(
        "--dhcp-state-dir", metavar="DIR",
        help="dnsmasq files (default /var/lib/neutrino/dhcp/<host>; must not be 0700).")
    ] = None,
    l3: Annotated[bool, typer.Option(
        "--l3", help="L3 role: also register an L3 agent and host routers (qrouter- netns).")
    ] = False,
    security_groups: Annotated[bool, typer.Option(
        "--security-groups/--no-security-groups",
        help="Enforce security groups and anti-spoofing with nftables (default on).")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the host agent (wires this host's ports; credentials from OS_* variables)."""
    if ctx.invoked_subcommand is not None:
        return
    from neutrino.agent.main import Agent, AgentSettings

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = AgentSettings.from_env(host=host, tunnel_ip=tunnel_ip, netns=netns,
                                          underlay_dev=underlay_dev,
                                          interface_mappings=mappings,
                                          resync_interval=resync, dhcp=dhcp or None,
                                          dhcp_state_dir=dhcp_state_dir, l3=l3 or None,
                                          security_groups=security_groups)
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
