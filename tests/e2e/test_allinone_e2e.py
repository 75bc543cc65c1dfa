"""The all-in-one (``neutrino serve --agent``, what ``scripts/run.sh`` runs as root), inside a
throwaway namespace standing for the machine: every role on one host. A VM on a tenant network
gets its address from the local dnsmasq; a router with its gateway on the external network
``public`` (the agent's ``nt-public`` uplink) gives it a floating IP that the machine itself
reaches. Then SIGINT to ``serve``: it exits within 3 s (the done-means bound, generous next to
the ~1 s it takes) and, with cleanup on (the default), nothing of the agent remains: no
``qdhcp-``/``qrouter-`` namespace, bridge, VXLAN device, uplink, nft table, dnsmasq or DHCP
file."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import netns as pr_netns

from neutrino.client import Controller, Credentials, Session
from neutrino.domain.hoststate import tap_name
from neutrino.lab import netns
from neutrino.lab.vms import UDHCPC_SCRIPT

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("ping") is None,
    reason="needs busybox (udhcpc), dnsmasq and ping",
)

PASSWORD = "aio-" + uuid.uuid4().hex[:10]
STOP_BOUND = 3.0  # seconds, from the done-means


class InNamespace:
    """API calls from this thread made inside ``ns`` (where the all-in-one listens)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def __enter__(self) -> None:
        pr_netns.pushns(self.ns)

    def __exit__(self, *exc: object) -> None:
        pr_netns.popns()


def dnsmasq_pids(directory: Path) -> list[int]:
    """Live dnsmasq processes whose pid file is under ``directory`` (ours only)."""
    pids = []
    for pid_file in directory.glob("state/dhcp/*/*/pid"):
        text = pid_file.read_text().strip()
        with contextlib.suppress(OSError):
            if (
                text.isdigit()
                and str(pid_file).encode() in Path(f"/proc/{text}/cmdline").read_bytes()
            ):
                pids.append(int(text))
    return pids


@pytest.fixture
def machine() -> Iterator[tuple[str, str, Path, list[str]]]:
    suffix = uuid.uuid4().hex[:6]
    machine, vm = f"aio{suffix}", f"aio{suffix}-vm"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-aio-", dir="/tmp"))
    directory.chmod(0o755)  # dnsmasq (unprivileged) reads its files under it
    netns.add_namespace(machine)
    made: list[str] = []  # the test appends the ids of qdhcp-/qrouter- namespaces to expect
    try:
        yield machine, vm, directory, made
    finally:
        for pid in dnsmasq_pids(directory):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for ns in [*made, vm, machine]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def call(api: Controller, method: str, path: str, body: Any = None) -> Any:
    return api.session.request(method, path, json=body)


def lease_in(vm_ns: str, directory: Path) -> dict[str, str]:
    script = directory / "udhcpc.script"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    dump = directory / "lease"
    for _ in range(10):  # the DHCP host entry reaches dnsmasq asynchronously
        netns.exec_in(
            vm_ns,
            [
                "busybox",
                "udhcpc",
                "-i",
                "eth0",
                "-f",
                "-q",
                "-n",
                "-t",
                "3",
                "-T",
                "1",
                "-O",
                "mtu",
                "-s",
                str(script),
            ],
            capture_output=True,
            timeout=30,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "UDHCPC_ENV_DUMP": str(dump)},
        )
        if dump.with_name("lease.bound").exists():
            break
    return dict(
        line.split("=", 1)
        for line in dump.with_name("lease.bound").read_text().splitlines()
        if "=" in line
    )


def pings(ns: str, address: str) -> bool:
    return (
        subprocess.run(
            ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", address], capture_output=True
        ).returncode
        == 0
    )


def kernel_leftovers(ns: str, directory: Path, made: list[str]) -> list[str]:
    out = []
    links = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(("brq", "vxlan-", "nt-", "ntb-")):
            out.append(f"device {name}")
    tables = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True, text=True
    ).stdout
    out += [f"nft {t}" for t in tables.splitlines() if t.endswith(" neutrino")]
    present = netns.list_namespaces()
    out += [f"namespace {n}" for n in made if n in present]
    out += [f"dnsmasq {pid}" for pid in dnsmasq_pids(directory)]
    if (directory / "state" / "dhcp").exists():
        out.append(f"files {list((directory / 'state' / 'dhcp').rglob('*'))}")
    return out


def test_all_in_one_routes_a_floating_ip_and_stops_clean(
    machine: tuple[str, str, Path, list[str]],
) -> None:
    ns, vm_ns, directory, made = machine
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NEUTRINO_"))}
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "neutrino.cli.main",
            "serve",
            "--agent",
            "--agent-host",
            "aio",
            "--listen",
            "127.0.0.1:9696",
            "--state-dir",
            str(directory / "state"),
            "--admin-password",
            PASSWORD,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        creds = Credentials(
            auth_url="http://127.0.0.1:9696/v3",
            username="admin",
            password=PASSWORD,
            project_name="admin",
        )
        with InNamespace(ns):
            api = Controller(Session(creds))
            deadline = time.monotonic() + 60
            while True:  # the server and then the agent's registration
                try:
                    agents = call(api, "GET", "/v2.0/agents")["agents"]
                except Exception:  # not listening yet
                    agents = []
                if {a["agent_type"] for a in agents if a["host"] == "aio" and a["alive"]} >= {
                    "L2 agent",
                    "DHCP agent",
                    "L3 agent",
                }:
                    break
                assert time.monotonic() < deadline, "agents never registered"
                time.sleep(0.3)
            public = api.list_networks(name="public")
            assert len(public) == 1 and public[0]["router:external"] is True
            net = api.create_network(name="aio")
            sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
            router = call(
                api,
                "POST",
                "/v2.0/routers",
                {
                    "router": {
                        "name": "r1",
                        "external_gateway_info": {"network_id": public[0]["id"]},
                    }
                },
            )
            rid = router["router"]["id"]
            call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
            made += [f"qdhcp-{net['id']}", f"qrouter-{rid}"]
            port = api.create_port(
                net["id"], device_owner="compute:aio", device_id="vm1", **{"binding:host_id": "aio"}
            )
            default_sg = call(api, "GET", "/v2.0/security-groups?name=default")
            sg_id = next(
                g for g in default_sg["security_groups"] if g["project_id"] == port["project_id"]
            )["id"]
            call(
                api,
                "POST",
                "/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": sg_id,
                        "direction": "ingress",
                        "protocol": "icmp",
                    }
                },
            )
        assert port["binding:vif_type"] == "bridge"

        netns.add_namespace(vm_ns)
        netns.plug_vm(ns, tap_name(port["id"]), vm_ns, port["mac_address"], net["mtu"])
        with InNamespace(ns):
            assert api.wait_port(port["id"], timeout=30)["status"] == "ACTIVE"
        lease = lease_in(vm_ns, directory)
        assert lease["ip"] == port["fixed_ips"][0]["ip_address"]
        assert lease["router"].split()[0] == "192.0.2.1" and lease["mtu"] == "1450"

        with InNamespace(ns):
            fip = call(
                api,
                "POST",
                "/v2.0/floatingips",
                {"floatingip": {"floating_network_id": public[0]["id"], "port_id": port["id"]}},
            )["floatingip"]
        address = fip["floating_ip_address"]
        deadline = time.monotonic() + 20
        while not pings(ns, address):  # the machine (nt-public, 203.0.113.1) reaches the VM
            assert time.monotonic() < deadline, f"floating IP {address} not reachable"
        assert pings(vm_ns, "203.0.113.1")  # and the VM the machine's side (SNAT)
        assert kernel_leftovers(ns, directory, made) != []  # built: the check can fail
    except BaseException:
        os.killpg(server.pid, signal.SIGKILL)
        print(server.communicate(timeout=30)[0].decode(errors="replace")[-4000:])
        raise

    started = time.monotonic()
    server.send_signal(signal.SIGINT)  # serve only: it must stop its agent itself
    server.wait(timeout=30)
    took = time.monotonic() - started
    out, _ = server.communicate(timeout=30)
    text = out.decode(errors="replace")
    print(f"serve stopped in {took:.2f} s")
    assert took < STOP_BOUND, text[-3000:]
    assert "Local agent: host aio" in text, text[-2000:]
    assert "cleanup: removed" in text, text[-3000:]
    assert kernel_leftovers(ns, directory, made) == [], text[-3000:]
    for pid in Path("/proc").iterdir():  # the agent did not outlive serve
        with contextlib.suppress(OSError):
            cmdline = (pid / "cmdline").read_bytes()
            assert not (
                b"neutrino.cli.main\0agent" in cmdline
                and PASSWORD.encode() in (pid / "environ").read_bytes()
            ), f"agent {pid.name} outlived serve"

    # The other choice: --agent-keep leaves the data plane up when serve stops (the agent
    # rebuilds it from the same database first), and `neutrino agent cleanup` removes it.
    kept = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "neutrino.cli.main",
            "serve",
            "--agent",
            "--agent-keep",
            "--agent-host",
            "aio",
            "--listen",
            "127.0.0.1:9696",
            "--state-dir",
            str(directory / "state"),
            "--admin-password",
            PASSWORD,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (set(made) <= netns.list_namespaces() and dnsmasq_pids(directory)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        kept.send_signal(signal.SIGINT)
        out, _ = kept.communicate(timeout=30)
    text = out.decode(errors="replace")
    assert set(made) <= netns.list_namespaces(), f"not rebuilt: {text[-4000:]}"
    assert "leaving" not in text and "stays up" in text, text[-3000:]
    left = kernel_leftovers(ns, directory, made)
    assert any(x.startswith("namespace qrouter-") for x in left), left
    assert any(x.startswith("dnsmasq") for x in left) and "device nt-public" in left, left
    cleanup = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "neutrino.cli.main",
            "agent",
            "cleanup",
            "--host",
            "aio",
        ],
        env={**env, "NEUTRINO_STATE_DIR": str(directory / "state")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert "agent cleanup on aio" in cleanup.stdout
    assert kernel_leftovers(ns, directory, made) == [], cleanup.stdout
