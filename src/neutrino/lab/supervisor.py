"""The lab supervisor: one detached process that keeps the lab's controller and agents alive.

``python -m neutrino.lab.supervisor <lab dir>`` reads ``lab.json`` and runs, as children:
the controller (``neutrino serve`` on the recorded loopback address, when the lab started its
own; the agents are only started once it accepts connections), then one ``neutrino agent``
per host (``--netns <ns>``; on network nodes ``--dhcp`` with its dnsmasq dir and ``--l3``,
and with an external network ``--interface-mappings public:eth2``). Every
child logs to ``logs/<name>.log``; ``children.json`` records pid and restarts per child.

A child that exits is restarted (an agent with its command line made again from the record,
so ``lab up --external`` on a running lab only has to stop the network nodes' agents) after
a delay that doubles per quick death (0.5 s up to 10 s;
reset once it ran 30 s), so a crash loop does not spin. SIGTERM/SIGINT stop every child
(SIGTERM, then SIGKILL after 3 s) and end the supervisor; dnsmasq processes are not its
children (the DHCP agent leaves them running across restarts) — ``lab down`` stops those.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from neutrino.lab.netns import EXTERNAL_DEV, EXTERNAL_PHYSNET
from neutrino.lab.state import LabState, write_json

__all__ = ["Child", "agent_argv", "controller_argv", "main"]

STOP_WAIT = 3.0
MAX_DELAY = 10.0
STABLE = 30.0


def neutrino_argv() -> list[str]:
    return [sys.executable, "-m", "neutrino.cli.main"]


def controller_argv(state: LabState, directory: Path) -> list[str]:
    return [
        *neutrino_argv(),
        "serve",
        "--listen",
        str(state.listen),
        "--state-dir",
        str(directory / "controller"),
    ]


def agent_argv(state: LabState, directory: Path, host: str) -> list[str]:
    record = state.host(host)
    argv = [
        *neutrino_argv(),
        "agent",
        "--host",
        record.name,
        "--netns",
        record.netns,
        "--tunnel-ip",
        record.ip,
        "--underlay-dev",
        "eth1",
    ]
    if record.dhcp:  # a network node: DHCP and routers
        argv += ["--dhcp", "--dhcp-state-dir", str(directory / "dhcp" / record.name), "--l3"]
        if state.external:
            argv += ["--interface-mappings", f"{EXTERNAL_PHYSNET}:{EXTERNAL_DEV}"]
    return argv


def credentials_env(state: LabState) -> dict[str, str]:
    c = state.credentials
    return {
        **os.environ,
        "OS_AUTH_URL": c["auth_url"],
        "OS_USERNAME": c["username"],
        "OS_PASSWORD": c["password"],
        "OS_PROJECT_NAME": c["project_name"],
        "OS_USER_DOMAIN_NAME": c["user_domain_name"],
        "OS_PROJECT_DOMAIN_NAME": c["project_domain_name"],
    }


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    delay: float = 0.5
    due: float = 0.0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()


def wait_listening(listen: str, timeout: float, stopping: list[bool]) -> bool:
    host, _, port = listen.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def main(directory: Path) -> int:
    state = LabState.load(directory)
    if state is None:
        print(f"no lab in {directory}", file=sys.stderr)
        return 1
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    env = credentials_env(state)
    # the agents' files (HA routers' keepalived) inside the lab, never a shared state dir
    env["NEUTRINO_STATE_DIR"] = str(directory / "agents")
    stopping: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    (directory / "supervisor.pid").write_text(str(os.getpid()))
    children: list[Child] = []

    def record() -> None:
        write_json(
            directory / "children.json",
            {
                c.name: {"pid": c.proc.pid if c.proc else None, "restarts": c.restarts}
                for c in children
            },
        )

    if state.managed_controller:
        controller = Child(
            "controller",
            controller_argv(state, directory),
            {
                **os.environ,
                "NEUTRINO_ADMIN_PASSWORD": env["OS_PASSWORD"],
                # the vmm in the lab's controller plugs VMs it starts into lab namespaces
                "NEUTRINO_VMM_HOST_PLUG": f"lab:{directory}",
            },
            logs / "controller.log",
        )
        children.append(controller)
        controller.start()
        record()
        wait_listening(str(state.listen), 120.0, stopping)
    for host in state.hosts:
        child = Child(
            f"agent-{host.name}",
            agent_argv(state, directory, host.name),
            env,
            logs / f"agent-{host.name}.log",
        )
        children.append(child)
        child.start()
    record()
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.proc is not None and child.proc.poll() is not None:
                ran = now - child.started
                child.delay = 0.5 if ran > STABLE else min(MAX_DELAY, child.delay * 2)
                child.due = now + child.delay
                print(
                    f"{child.name} exited {child.proc.returncode} after {ran:.1f}s; "
                    f"restarting in {child.delay:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
                child.proc = None
            if child.proc is None and now >= child.due:
                fresh = LabState.load(directory)  # `lab up --external` may have changed it
                if fresh is not None and child.name.startswith("agent-"):
                    child.argv = agent_argv(fresh, directory, child.name.removeprefix("agent-"))
                child.restarts += 1
                child.start()
                record()
        time.sleep(0.2)
    for child in children:
        child.stop()
    deadline = time.monotonic() + STOP_WAIT
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
    (directory / "children.json").unlink(missing_ok=True)
    (directory / "supervisor.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
