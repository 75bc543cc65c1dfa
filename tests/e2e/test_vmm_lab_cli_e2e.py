"""``neutrino vmm`` against the lab's own controller, as a user drives it from the README.

``lab up`` starts its controller with ``vmm_host_plug = lab:<dir>``, so the vmm in that
server plugs the VMs it starts into the lab (``neutrino.lab.vmmplug``: a namespace per vNIC,
veth-paired to the port's tap on the chosen hypervisor). Through the CLI only: the lab's
controller as its own provider, a data center, a cluster of the two hypervisors, a network
created on the provider, two VMs started → their ports ACTIVE on the provider and each vNIC's
namespace holding the vNIC's MAC; traffic between the two VMs (each configured with its
port's address, as an image without DHCP would be); stop takes the namespace away and
unbinds the port, delete removes the port; ``lab down`` removes the namespace of a VM left
running.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neutrino.cli.main import app
from neutrino.lab import Lab
from neutrino.lab.netns import list_namespaces
from neutrino.lab.supervisor import credentials_env
from tests.e2e.test_l3_e2e import ping, until

pytestmark = pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")

runner = CliRunner()


def _vmm(lab: Lab, *args: str, code: int = 0) -> str:
    env = {**credentials_env(lab.state()), "COLUMNS": "200"}
    done = runner.invoke(app, ["vmm", *args], env=env)
    assert done.exit_code == code, done.output
    return " ".join(done.output.split())


def _link(ns: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, "-o", "link", "show", "eth0"], capture_output=True, text=True
    ).stdout


def test_vm_start_through_the_cli_plugs_the_lab(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(hosts=2, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
    url = f"http://{state.listen}"
    _vmm(
        lab, "provider", "add", "lab", "--url", url, "--auth-url", f"{url}/v3",
        "--username", "admin", "--password-env", "OS_PASSWORD",
    )  # fmt: skip
    assert _vmm(lab, "provider", "test", "lab").startswith("ok:")
    _vmm(lab, "dc", "add", "dc1")
    _vmm(lab, "cluster", "add", "c1", "--dc", "dc1")
    for host in ("hv1", "hv2"):
        _vmm(lab, "host", "add", host, "--cluster", "c1", "--provider-host", host)
    _vmm(
        lab, "network", "create", "red", "--provider", "lab", "--dc", "dc1",
        "--subnet", "192.0.2.0/24,gateway=192.0.2.1,dhcp=false",
    )  # fmt: skip
    addresses = {}
    with lab.controller() as api:
        for vm in ("web", "db"):
            _vmm(lab, "vm", "create", vm, "--cluster", "c1", "--nic", "eth0=red")
            out = _vmm(lab, "vm", "start", vm)
            assert "port ACTIVE" in out, out
            ns = f"{prefix}{vm}-eth0"
            assert ns in list_namespaces(), f"{vm}: no namespace {ns}"
            (port,) = [
                p for p in api.list_ports(device_owner="compute:neutrino")
                if p["mac_address"] in _link(ns)
            ]  # fmt: skip
            assert port["status"] == "ACTIVE" and port["binding:host_id"] in ("hv1", "hv2")
            address = port["fixed_ips"][0]["ip_address"]
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"])
            addresses[vm] = (ns, address, port["id"])
    web, db = addresses["web"], addresses["db"]
    until("web reaches db", lambda: ping(web[0], db[1]), timeout=20)
    assert ping(db[0], web[1])

    _vmm(lab, "vm", "stop", "web")
    assert web[0] not in list_namespaces()
    with lab.controller() as api:
        port = api.get_port(web[2])  # kept for the next start, bound nowhere
        assert (port["binding:host_id"], port["status"]) == ("", "DOWN"), port
        _vmm(lab, "vm", "delete", "web")
        assert web[2] not in {p["id"] for p in api.list_ports()}
    lab.down()  # db still runs: its namespace goes with the lab
    assert db[0] not in list_namespaces()
