"""The all-in-one's local agent: ``neutrino serve --agent`` runs every role on this machine.

``serve`` starts ``neutrino agent`` as a child process (the agent is the only code that
writes to the kernel, and it runs as its own process in every deployment) with:

* the admin credentials of this controller, pointed at its loopback address;
* host name ``--agent-host`` (default: this machine's name) — ports with that
  ``binding:host_id`` are wired here;
* VXLAN tunnel endpoint 127.0.0.1 on ``lo``: a single host has no remote VTEPs, yet tenant
  networks stay VXLAN networks, as they would be on a multi-host install;
* the DHCP role (dnsmasq per network in ``qdhcp-<net>``; files under
  ``<state dir>/dhcp/<host>``), the L3 role (``qrouter-<id>`` namespaces) and security groups;
* the external network's uplink: a veth pair ``nt-public`` (this host's end, holding
  203.0.113.1/24) <-> ``ntb-public`` (the flat physnet ``public``), so routers get a gateway
  and the host reaches floating IPs. Before serving, ``ensure_public_network`` creates the
  external network ``public`` (flat, physnet ``public``, ``router:external``, subnet
  203.0.113.0/24 without DHCP, gateway 203.0.113.1, pool .10-.250) unless a network of that
  name exists.

Stopping: a SIGINT/SIGTERM to ``serve`` terminates the agent at once (``terminate``, through
the app's exit hooks) while the server drains; with ``cleanup`` (the default) the agent then
removes everything it built, else it leaves the data plane running and says so. The child
also gets SIGTERM from the kernel if ``serve`` dies outright (``PR_SET_PDEATHSIG``). It needs
root; without it ``serve --agent`` refuses to start rather than run a controller whose ports
never go ACTIVE.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from neutrino.cli.admin import ADMIN_DOMAIN, ADMIN_PROJECT, ADMIN_USER

if TYPE_CHECKING:
    from neutrino.service.container import Services

__all__ = ["EXTERNAL", "LocalAgent", "agent_env", "ensure_public_network"]

PR_SET_PDEATHSIG = 1
WILDCARDS = ("", "0.0.0.0", "::")
EXTERNAL = {
    "name": "public",
    "physnet": "public",
    "cidr": "203.0.113.0/24",
    "gateway": "203.0.113.1",
    "pool": ("203.0.113.10", "203.0.113.250"),
}


def agent_env(listen_host: str, port: int, password: str) -> dict[str, str]:
    """The child's environment: this controller's admin, reached over loopback."""
    host = "127.0.0.1" if listen_host in WILDCARDS else listen_host
    if ":" in host:
        host = f"[{host}]"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=f"http://{host}:{port}/v3",
        OS_USERNAME=ADMIN_USER,
        OS_PASSWORD=password,
        OS_PROJECT_NAME=ADMIN_PROJECT,
        OS_USER_DOMAIN_NAME=ADMIN_DOMAIN,
        OS_PROJECT_DOMAIN_NAME=ADMIN_DOMAIN,
    )
    return env


def ensure_public_network(services: Services) -> tuple[str, bool]:
    """The external network ``public`` (see the module docstring): (id, created now)."""
    from neutrino.cli.admin import admin_project_id
    from neutrino.domain.listing import ListQuery
    from neutrino.service.context import RequestContext

    project = admin_project_id(services)
    ctx = RequestContext(
        user_id="", project_id=project, roles=frozenset({"admin"}), project_name=ADMIN_PROJECT
    )
    found = services.networks.search(ctx, ListQuery(filters={"name": [EXTERNAL["name"]]}))
    if found:
        return str(found[0]["id"]), False
    net = services.networks.create(
        ctx,
        {
            "name": EXTERNAL["name"],
            "router:external": True,
            "shared": False,
            "provider:network_type": "flat",
            "provider:physical_network": EXTERNAL["physnet"],
        },
    )
    start, end = EXTERNAL["pool"]
    services.subnets.create(
        ctx,
        {
            "name": "public-subnet",
            "network_id": net["id"],
            "ip_version": 4,
            "cidr": EXTERNAL["cidr"],
            "gateway_ip": EXTERNAL["gateway"],
            "enable_dhcp": False,
            "allocation_pools": [{"start": start, "end": end}],
        },
    )
    return str(net["id"]), True


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalAgent:
    """The child agent process of an all-in-one ``serve``."""

    def __init__(
        self,
        host: str,
        env: dict[str, str],
        *,
        tunnel_ip: str = "127.0.0.1",
        underlay_dev: str = "lo",
        cleanup: bool = True,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.cleanup = cleanup
        gateway = f"{EXTERNAL['gateway']}/{str(EXTERNAL['cidr']).split('/')[1]}"
        self.argv = [
            sys.executable,
            "-m",
            "neutrino.cli.main",
            "agent",
            "--host",
            host,
            "--tunnel-ip",
            tunnel_ip,
            "--underlay-dev",
            underlay_dev,
            "--dhcp",
            "--l3",
            "--local-external",
            f"{EXTERNAL['physnet']}:{gateway}",
            "--cleanup-on-exit" if cleanup else "--keep-on-exit",
            *extra,
        ]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )

    def terminate(self) -> None:
        """Ask the agent to stop (it tears down or not, see ``cleanup``); do not wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
