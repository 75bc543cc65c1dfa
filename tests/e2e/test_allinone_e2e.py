"""The all-in-one (``neutrino serve --agent``, what ``scripts/run.sh`` runs as root), inside a
throwaway namespace standing for the machine: a port bound to the local agent's host goes
ACTIVE when a VM plugs its tap, and the VM gets its address from the local dnsmasq; stopping
``serve`` stops the agent too."""

from __future__ import annotations

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

import pytest
from pyroute2 import netns as pr_netns

from neutrino.client import Controller, Credentials, Session
from neutrino.domain.hoststate import tap_name
from neutrino.lab import netns
from neutrino.lab.vms import UDHCPC_SCRIPT

pytestmark = pytest.mark.skipif(shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
                                reason="needs busybox (udhcpc) and dnsmasq")

PASSWORD = "aio-" + uuid.uuid4().hex[:10]


class InNamespace:
    """API calls from this thread made inside ``ns`` (where the all-in-one listens)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def __enter__(self) -> None:
        pr_netns.pushns(self.ns)

    def __exit__(self, *exc: object) -> None:
        pr_netns.popns()


@pytest.fixture
def machine() -> Iterator[tuple[str, str, Path]]:
    suffix = uuid.uuid4().hex[:6]
    machine, vm = f"aio{suffix}", f"aio{suffix}-vm"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-aio-", dir="/tmp"))
    directory.chmod(0o755)  # dnsmasq (unprivileged) reads its files under it
    netns.add_namespace(machine)
    try:
        yield machine, vm, directory
    finally:
        for ns in (vm, machine):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        # the DHCP agent leaves dnsmasq and qdhcp-<net> running across restarts (by design)
        subprocess.run(["pkill", "-f", f"dnsmasq.*{directory}"], capture_output=True)
        for net_file in (directory / "dhcp").glob("*"):
            subprocess.run(["ip", "netns", "del", f"qdhcp-{net_file.name}"],
                           capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def test_serve_with_agent_wires_a_local_vm(machine: tuple[str, str, Path]) -> None:
    ns, vm_ns, directory = machine
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NEUTRINO_"))},
           "NEUTRINO_AGENT_DHCP_STATE_DIR": str(directory / "dhcp")}
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "neutrino.cli.main", "serve",
         "--agent", "--agent-host", "aio", "--listen", "127.0.0.1:9696",
         "--state-dir", str(directory / "state"), "--admin-password", PASSWORD],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        creds = Credentials(auth_url="http://127.0.0.1:9696/v3", username="admin",
                            password=PASSWORD, project_name="admin")
        with InNamespace(ns):
            api = Controller(Session(creds))
            deadline = time.monotonic() + 60
            while True:  # the server and then the agent's registration
                try:
                    agents = api.session.request("GET", "/v2.0/agents")["agents"]
                except Exception:  # not listening yet
                    agents = []
                if {a["agent_type"] for a in agents if a["host"] == "aio"} >= {
                        "L2 agent", "DHCP agent"}:
                    break
                assert time.monotonic() < deadline, "agent never registered"
                time.sleep(0.3)
            net = api.create_network(name="aio")
            api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
            port = api.create_port(net["id"], device_owner="compute:aio", device_id="vm1",
                                   **{"binding:host_id": "aio"})
        assert port["binding:vif_type"] == "bridge"

        netns.add_namespace(vm_ns)
        netns.plug_vm(ns, tap_name(port["id"]), vm_ns, port["mac_address"], net["mtu"])
        with InNamespace(ns):
            event = api.wait_port(port["id"], timeout=30)
        assert event["status"] == "ACTIVE"

        script = directory / "udhcpc.script"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
        dump = directory / "lease"
        for _ in range(10):  # the DHCP host entry reaches dnsmasq asynchronously
            netns.exec_in(vm_ns, ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t",
                                  "3", "-T", "1", "-O", "mtu", "-s", str(script)],
                          capture_output=True, timeout=30,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                               "UDHCPC_ENV_DUMP": str(dump)})
            if dump.with_name("lease.bound").exists():
                break
        lease = dict(line.split("=", 1) for line in
                     dump.with_name("lease.bound").read_text().splitlines() if "=" in line)
        assert lease["ip"] == port["fixed_ips"][0]["ip_address"]
        assert lease["router"].split()[0] == "192.0.2.1" and lease["mtu"] == "1450"
        bridges = subprocess.run(["ip", "-n", ns, "-o", "link", "show", "type", "bridge"],
                                 capture_output=True, text=True, check=True).stdout
        assert f"brq{net['id'][:11]}" in bridges
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    text = out.decode(errors="replace")
    assert "Local agent: host aio" in text, text[-2000:]
    agents_left = subprocess.run(["pgrep", "-f", f"--netns {ns}|--host aio"],
                                 capture_output=True, text=True).stdout.split()
    assert agents_left == [], "the local agent outlived serve"
