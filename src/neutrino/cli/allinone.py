"""The all-in-one's local agent: ``neutrino serve --agent`` wires ports bound to this host.

``serve`` starts ``neutrino agent`` as a child process (the agent is the only code that
writes to the kernel, and it runs as its own process in every deployment) with:

* the admin credentials of this controller, pointed at its loopback address;
* host name ``--agent-host`` (default: this machine's name) — ports with that
  ``binding:host_id`` are wired here;
* VXLAN tunnel endpoint 127.0.0.1 on ``lo``: a single host has no remote VTEPs, yet tenant
  networks stay VXLAN networks, as they would be on a multi-host install;
* the DHCP role (dnsmasq per network in ``qdhcp-<net>``; files under
  ``NEUTRINO_AGENT_DHCP_STATE_DIR`` or /var/lib/neutrino/dhcp/<host>).

The child dies with ``serve``: it is terminated when the server stops and gets SIGTERM from
the kernel if ``serve`` is killed outright (``PR_SET_PDEATHSIG``). It needs root; without it
``serve --agent`` refuses to start rather than run a controller whose ports never go ACTIVE.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

from neutrino.cli.admin import ADMIN_DOMAIN, ADMIN_PROJECT, ADMIN_USER

__all__ = ["LocalAgent", "agent_env"]

PR_SET_PDEATHSIG = 1
WILDCARDS = ("", "0.0.0.0", "::")


def agent_env(listen_host: str, port: int, password: str) -> dict[str, str]:
    """The child's environment: this controller's admin, reached over loopback."""
    host = "127.0.0.1" if listen_host in WILDCARDS else listen_host
    if ":" in host:
        host = f"[{host}]"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=f"http://{host}:{port}/v3", OS_USERNAME=ADMIN_USER,
               OS_PASSWORD=password, OS_PROJECT_NAME=ADMIN_PROJECT,
               OS_USER_DOMAIN_NAME=ADMIN_DOMAIN, OS_PROJECT_DOMAIN_NAME=ADMIN_DOMAIN)
    return env


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalAgent:
    """The child agent process of an all-in-one ``serve``."""

    def __init__(self, host: str, env: dict[str, str], *, tunnel_ip: str = "127.0.0.1",
                 underlay_dev: str = "lo") -> None:
        self.host = host
        self.argv = [sys.executable, "-m", "neutrino.cli.main", "agent", "--host", host,
                     "--tunnel-ip", tunnel_ip, "--underlay-dev", underlay_dev, "--dhcp"]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
