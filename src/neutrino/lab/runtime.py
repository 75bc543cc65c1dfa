"""``Lab``: bring a namespace lab up, tear it down, say what runs (the CLI's ``lab`` verbs).

``up(hosts, network_nodes)`` checks the tools it needs (``lab.needs``: installs the missing
Debian packages when it can) before making anything, records the plan in ``lab.json``, then
builds (prefix ``lab-`` unless given or ``NEUTRINO_LAB_PREFIX``): the underlay namespace
``<prefix>underlay`` with a bridge, hypervisors ``<prefix>hv1..hvN`` and network nodes
``<prefix>net1..netM`` (controller host names ``hv1``…, ``net1``…) each with ``eth1`` =
198.51.100.<i>/24 into it; with ``external``, the outside world ``<prefix>ext`` (bridge
``br-public``, 203.0.113.1/24) with each network node's ``eth2`` on it; then starts the
supervisor (``neutrino.lab.supervisor``), which runs a controller when none is named by the
``OS_*`` environment (or ``OS_CLOUD`` + clouds.yaml) and one agent per host; it returns once
every agent is registered and alive (network nodes: L2, DHCP and L3 agents) and, with
``external``, the external network exists (flat, physnet ``public``, ``router:external``,
subnet 203.0.113.0/24 without DHCP).

``up(external=True)`` on a running lab (``add_external``) adds the outside world and the
external network, then stops the network nodes' agents: the supervisor restarts them with the
command line made again from the record (``--interface-mappings public:eth2``).

``down()`` (``neutrino.lab.teardown``) works from the record only and is idempotent;
``status()`` (``neutrino.lab.status``) says what runs.

VMs: see ``neutrino.lab.vms``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from neutrino.client import ClientError, Controller, Credentials, Session
from neutrino.lab import netns, teardown
from neutrino.lab import status as lab_status
from neutrino.lab.needs import ensure_tools
from neutrino.lab.netns import LabError
from neutrino.lab.state import HostRecord, LabState, lab_dir, read_json
from neutrino.lab.status import StatusRow
from neutrino.lab.teardown import process_of, stop_process

__all__ = ["Lab", "LabError", "StatusRow", "credentials_from_env"]

UNDERLAY_NET = "198.51.100"
DEFAULT_PREFIX = "lab-"  # namespaces lab-hv1, lab-net1, ...: never a network's name


def default_prefix() -> str:
    return os.environ.get("NEUTRINO_LAB_PREFIX") or DEFAULT_PREFIX


Progress = Callable[[str], None]


def credentials_from_env(env: dict[str, str] | None = None) -> Credentials | None:
    """The controller the ``OS_*`` environment names (or ``OS_CLOUD`` in a clouds.yaml)."""
    e = dict(os.environ if env is None else env)
    if e.get("OS_AUTH_URL"):
        return Credentials.from_env(e)
    cloud = e.get("OS_CLOUD")
    if not cloud:
        return None
    import yaml  # only for OS_CLOUD

    for path in (
        Path("clouds.yaml"),
        Path.home() / ".config/openstack/clouds.yaml",
        Path("/etc/openstack/clouds.yaml"),
    ):
        if path.exists():
            auth = (yaml.safe_load(path.read_text()) or {}).get("clouds", {}).get(cloud, {})
            auth = auth.get("auth") if isinstance(auth, dict) else None
            if auth:
                return Credentials(
                    auth_url=auth["auth_url"],
                    username=auth["username"],
                    password=auth["password"],
                    project_name=auth.get("project_name", "admin"),
                    user_domain_name=auth.get("user_domain_name", "Default"),
                    project_domain_name=auth.get("project_domain_name", "Default"),
                )
    raise LabError(f"OS_CLOUD={cloud} is not in any clouds.yaml")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lab:
    """One lab, identified by its directory (see the module docstring)."""

    def __init__(self, directory: Path | None = None, *, progress: Progress | None = None) -> None:
        self.dir = lab_dir(directory)
        self.progress: Progress = progress or (lambda _msg: None)

    # --- records

    def state(self) -> LabState:
        state = LabState.load(self.dir)
        if state is None:
            raise LabError(f"no lab in {self.dir} (run `neutrino lab up`)")
        return state

    @contextlib.contextmanager
    def controller(self) -> Iterator[Controller]:
        session = Session(self.state().creds)
        try:
            yield Controller(session)
        finally:
            session.close()

    def supervisor_pid(self) -> int | None:
        pid = (
            (self.dir / "supervisor.pid").read_text()
            if (self.dir / "supervisor.pid").exists()
            else None
        )
        return process_of(pid, "neutrino.lab.supervisor")

    # --- up

    def up(
        self,
        hosts: int = 2,
        network_nodes: int = 1,
        *,
        prefix: str | None = None,
        credentials: Credentials | None = None,
        use_env: bool = True,
        timeout: float = 90.0,
        external: bool = False,
    ) -> LabState:
        """Build the lab (see the module docstring). The controller: ``credentials``, else
        the environment's (unless not ``use_env``), else one the lab starts. ``external``:
        also the outside world and the external network (needs a network node)."""
        if hosts < 1 or network_nodes < 0 or hosts + network_nodes > 250:
            raise LabError("want 1..250 hosts in all")
        if external and network_nodes < 1:
            raise LabError("--external needs at least one network node")
        existing_lab = LabState.load(self.dir)
        if existing_lab is not None:
            if external and not existing_lab.external and self.supervisor_pid() is not None:
                return self.add_external(timeout=timeout)
            raise LabError(f"a lab is already recorded in {self.dir} (`neutrino lab down`)")
        ensure_tools(self.progress)
        prefix = default_prefix() if prefix is None else prefix
        creds = credentials or (credentials_from_env() if use_env else None)
        listen = None
        if creds is None:
            listen = f"127.0.0.1:{free_port()}"
            creds = Credentials(
                auth_url=f"http://{listen}/v3",
                username="admin",
                password=secrets.token_urlsafe(18),
                project_name="admin",
            )
        names = [(f"hv{i}", False) for i in range(1, hosts + 1)] + [
            (f"net{j}", True) for j in range(1, network_nodes + 1)
        ]
        state = LabState(
            prefix=prefix,
            underlay=f"{prefix}underlay",
            credentials=creds.__dict__.copy(),
            managed_controller=listen is not None,
            listen=listen,
            hosts=[
                HostRecord(name=n, netns=f"{prefix}{n}", ip=f"{UNDERLAY_NET}.{i}", dhcp=dhcp)
                for i, (n, dhcp) in enumerate(names, start=1)
            ],
            external=f"{prefix}ext" if external else None,
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # dnsmasq (unprivileged) traverses it to its files
        for sub in ("logs", "dhcp", "vms"):
            (self.dir / sub).mkdir(exist_ok=True)
            (self.dir / sub).chmod(0o755)
        state.save(self.dir)
        existing = netns.list_namespaces() & set(state.namespaces())
        if existing:
            raise LabError(f"namespaces already exist: {', '.join(sorted(existing))}")
        self.progress(f"underlay {state.underlay}")
        netns.add_namespace(state.underlay)
        netns.add_underlay(state.underlay)
        for i, host in enumerate(state.hosts, start=1):
            self.progress(
                f"{'network node' if host.dhcp else 'hypervisor'} {host.name}: "
                f"namespace {host.netns}, eth1 {host.ip}/24"
            )
            netns.add_namespace(host.netns)
            netns.plug_host(state.underlay, i, host.netns, f"{host.ip}/24")
        if state.external:
            self.progress(
                f"outside world {state.external}: {netns.EXTERNAL_BRIDGE} {netns.EXTERNAL_GATEWAY}"
            )
            netns.add_namespace(state.external)
            netns.add_external(state.external)
            for i, host in enumerate(state.hosts, start=1):
                if host.dhcp:
                    netns.plug_external(state.external, i, host.netns)
        self.progress("controller " + (f"starting on {listen}" if listen else creds.auth_url))
        log = open(self.dir / "logs" / "supervisor.log", "ab")  # noqa: SIM115 (child keeps it)
        with log:
            sup = subprocess.Popen(
                [sys.executable, "-m", "neutrino.lab.supervisor", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.dir / "supervisor.pid").write_text(str(sup.pid))  # down finds it at once
        self._wait_agents(state, time.monotonic() + timeout)
        if state.external:
            state.external_network_id = self._external_network(state)
            state.save(self.dir)
        return state

    def add_external(self, timeout: float = 90.0) -> LabState:
        """``lab up --external`` on a running lab: the outside world and its network, then
        the network nodes' agents restarted (the supervisor re-reads the record) with the
        ``public`` mapping."""
        state = self.state()
        if not any(h.dhcp for h in state.hosts):
            raise LabError("--external needs at least one network node")
        state.external = f"{state.prefix}ext"
        state.save(self.dir)
        self.progress(
            f"outside world {state.external}: {netns.EXTERNAL_BRIDGE} {netns.EXTERNAL_GATEWAY}"
        )
        netns.add_namespace(state.external)
        netns.add_external(state.external)
        children = read_json(self.dir / "children.json") or {}
        for i, host in enumerate(state.hosts, start=1):
            if host.dhcp:
                netns.plug_external(state.external, i, host.netns)
                pid = process_of(children.get(f"agent-{host.name}", {}).get("pid"), "neutrino")
                if pid is not None:
                    self.progress(f"restarting the agent of {host.name} with public:eth2")
                    stop_process(pid)
        self._wait_mapped(state, time.monotonic() + timeout)
        state.external_network_id = self._external_network(state)
        state.save(self.dir)
        return state

    def _external_network(self, state: LabState) -> str:
        """The flat ``public`` network (``router:external``) with subnet 203.0.113.0/24
        (gateway 203.0.113.1 = the outside world, no DHCP); an existing one is reused."""
        session = Session(state.creds, timeout=10.0)
        try:
            found = session.request(
                "GET",
                "/v2.0/networks",
                params={"name": netns.EXTERNAL_PHYSNET, "router:external": "True"},
            )["networks"]
            if found:
                return str(found[0]["id"])
            self.progress("external network public 203.0.113.0/24")
            net = session.request(
                "POST",
                "/v2.0/networks",
                json={
                    "network": {
                        "name": netns.EXTERNAL_PHYSNET,
                        "router:external": True,
                        "shared": False,
                        "provider:network_type": "flat",
                        "provider:physical_network": netns.EXTERNAL_PHYSNET,
                    }
                },
            )["network"]
            session.request(
                "POST",
                "/v2.0/subnets",
                json={
                    "subnet": {
                        "name": "public-subnet",
                        "network_id": net["id"],
                        "ip_version": 4,
                        "cidr": "203.0.113.0/24",
                        "gateway_ip": "203.0.113.1",
                        "enable_dhcp": False,
                        "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.250"}],
                    }
                },
            )
            return str(net["id"])
        finally:
            session.close()

    def _wait_mapped(self, state: LabState, deadline: float) -> None:
        """Until every network node's L2 agent reports the ``public`` mapping."""
        want = {h.name for h in state.hosts if h.dhcp}
        self.progress("waiting for the network nodes' agents")
        session = Session(state.creds, timeout=5.0)
        try:
            while True:
                with contextlib.suppress(ClientError):
                    agents = session.request(
                        "GET", "/v2.0/agents", params={"agent_type": "L2 agent"}
                    )["agents"]
                    mapped = {
                        a["host"]
                        for a in agents
                        if a.get("alive")
                        and netns.EXTERNAL_PHYSNET
                        in (a.get("configurations") or {}).get("interface_mappings", {})
                    }
                    if want <= mapped:
                        return
                if time.monotonic() > deadline:
                    raise LabError(
                        f"agents of {sorted(want)} did not come back with the "
                        f"external mapping; see {self.dir / 'logs'}"
                    )
                time.sleep(0.2)
        finally:
            session.close()

    def _wait_agents(self, state: LabState, deadline: float) -> None:
        want = {(h.name, "L2 agent") for h in state.hosts} | {
            (h.name, t) for h in state.hosts if h.dhcp for t in ("DHCP agent", "L3 agent")
        }
        session = Session(state.creds, timeout=5.0)
        reported = ""
        started = time.monotonic()
        try:
            while True:
                if self.supervisor_pid() is None and time.monotonic() - started > 3.0:
                    raise LabError(f"the lab supervisor died; see {self.dir / 'logs'}")
                try:
                    agents = session.request("GET", "/v2.0/agents")["agents"]
                except ClientError as exc:
                    if not exc.retryable:
                        raise
                    agents = []
                alive = {(a["host"], a["agent_type"]) for a in agents if a.get("alive")}
                message = f"agents alive: {len(alive & want)}/{len(want)}"
                if message != reported:
                    self.progress(message)
                    reported = message
                if want <= alive:
                    return
                if time.monotonic() > deadline:
                    raise LabError(
                        f"agents not up after the timeout: {sorted(want - alive)}; "
                        f"see {self.dir / 'logs'}"
                    )
                time.sleep(0.2)
        finally:
            session.close()

    # --- down and status

    def down(self) -> list[str]:
        """Remove everything the recorded lab made; what was removed. Idempotent."""
        return teardown.remove(self)

    def status(self) -> list[StatusRow]:
        return lab_status.rows(self)
