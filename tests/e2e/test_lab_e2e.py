"""The lab end to end: ``neutrino.lab`` builds two hypervisors and a network node (namespaces,
a lab-started controller, supervised agent processes); VMs get their fixed IPs, gateway, DNS
server and MTU 1450 from our dnsmasq, ping each other across VXLAN, two networks with the same
CIDR and the same IPs stay apart, and ``lab down`` leaves no namespace and no process. The
CLI (``neutrino lab up/status/down`` as subprocesses) is exercised on a smaller lab."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neutrino.lab import Lab, create_vm, exec_vm
from neutrino.lab.netns import list_namespaces

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
    reason="needs busybox (udhcpc, ping) and dnsmasq",
)


def leftovers(directory: Path, prefix: str) -> tuple[list[str], list[str]]:
    """Namespaces and processes that still name this lab."""
    spaces = sorted(
        n
        for n in list_namespaces()
        if n.startswith(prefix) or (n.startswith("qdhcp-") and f"-{prefix}" in n)
    )
    procs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline or f"--netns {prefix}" in cmdline:
            procs.append(f"{entry.name}: {cmdline}")
    return spaces, procs


def ping(lab: Lab, vm: str, ip: str) -> bool:
    done = exec_vm(lab, vm, ["busybox", "ping", "-c", "2", "-W", "2", ip], capture_output=True)
    return done.returncode == 0


def neighbour_mac(lab: Lab, vm: str, ip: str) -> str:
    out = exec_vm(lab, vm, ["ip", "neigh", "show", ip], capture_output=True).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


def test_dhcp_ping_isolation_and_clean_down(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    started = time.monotonic()
    lab = Lab(directory)
    lab.up(hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60)
    assert {h.name: h.dhcp for h in lab.state().hosts} == {"hv1": False, "hv2": False, "net1": True}
    with lab.controller() as api:
        net_a = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        api.create_subnet(
            net_a["id"],
            "192.0.2.0/24",
            gateway_ip="192.0.2.1",
            allocation_pools=[{"start": "192.0.2.10", "end": "192.0.2.100"}],
        )

    vm1, lease1 = create_vm(lab, "vm1", "hv1", network=net_a["id"])
    vm2, lease2 = create_vm(lab, "vm2", "hv2", network="blue")
    with lab.controller() as api:
        ports = {vm.name: api.get_port(vm.port_id) for vm in (vm1, vm2)}
        (dhcp_port,) = api.list_ports(network_id=net_a["id"], device_owner="network:dhcp")
    assert dhcp_port["binding:host_id"] == "net1" and dhcp_port["status"] == "ACTIVE"
    dhcp_ip = dhcp_port["fixed_ips"][0]["ip_address"]
    for vm, lease in ((vm1, lease1), (vm2, lease2)):
        assert lease.ip == ports[vm.name]["fixed_ips"][0]["ip_address"]
        assert (lease.mask, lease.router, lease.dns, lease.mtu) == (
            "24",
            "192.0.2.1",
            (dhcp_ip,),
            1450,
        )
        assert ports[vm.name]["status"] == "ACTIVE"
        link = exec_vm(lab, vm.name, ["ip", "link", "show", "eth0"], capture_output=True).stdout
        assert "mtu 1450" in link
        route = exec_vm(lab, vm.name, ["ip", "route"], capture_output=True).stdout
        assert "default via 192.0.2.1" in route
    assert ping(lab, "vm1", lease2.ip) and ping(lab, "vm2", lease1.ip)

    # a second network, same CIDR, the same IPs mirrored: hv1 holds vm1 (blue, .a) next to
    # vm3 (red, the IP of vm2); each network only ever reaches its own VMs
    with lab.controller() as api:
        net_b = api.create_network(name="red", **{"provider:network_type": "vxlan"})
        # red's own DHCP port allocates from a pool apart from blue's addresses, so
        # the mirrored explicit IPs below are free in red
        api.create_subnet(
            net_b["id"],
            "192.0.2.0/24",
            gateway_ip="192.0.2.1",
            allocation_pools=[{"start": "192.0.2.200", "end": "192.0.2.220"}],
        )
        p3 = api.create_port(net_b["id"], fixed_ips=[{"ip_address": lease2.ip}])
        p4 = api.create_port(net_b["id"], fixed_ips=[{"ip_address": lease1.ip}])
    vm3, lease3 = create_vm(lab, "vm3", "hv1", port_id=p3["id"])
    vm4, lease4 = create_vm(lab, "vm4", "hv2", port_id=p4["id"])
    assert (lease3.ip, lease4.ip) == (lease2.ip, lease1.ip)
    assert ping(lab, "vm1", lease2.ip) and neighbour_mac(lab, "vm1", lease2.ip) == vm2.mac
    assert ping(lab, "vm3", lease4.ip) and neighbour_mac(lab, "vm3", lease4.ip) == vm4.mac
    assert ping(lab, "vm4", lease3.ip) and neighbour_mac(lab, "vm4", lease3.ip) == vm3.mac

    rows = {(r.kind, r.name): r for r in lab.status()}
    assert rows[("host", "net1")].state == "up" and "DHCP agent" in rows[("host", "net1")].detail
    assert rows[("vm", "vm3")].state == "ACTIVE"

    lab.down()
    assert leftovers(directory, prefix) == ([], [])
    assert lab.down() == []  # idempotent
    assert time.monotonic() - started < 90


def test_cli_up_status_down(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["NEUTRINO_LAB_DIR"] = str(directory)

    def neutrino(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "neutrino.cli.main", "lab", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    up = neutrino(
        "up", "--hosts", "1", "--network-nodes", "1", "--prefix", prefix, "--timeout", "60"
    )
    assert up.returncode == 0, up.stdout + up.stderr
    assert "lab up" in up.stdout
    assert {f"{prefix}hv1", f"{prefix}net1", f"{prefix}underlay"} <= list_namespaces()
    status = neutrino("status")
    assert status.returncode == 0 and "hv1" in status.stdout and "net1" in status.stdout
    # the supervisor restarts an agent that dies
    children = json.loads((directory / "children.json").read_text())
    os.kill(children["agent-hv1"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while json.loads((directory / "children.json").read_text())["agent-hv1"]["restarts"] < 1:
        assert time.monotonic() < deadline, "agent not restarted"
        time.sleep(0.1)
    again = neutrino("up", "--hosts", "1")
    assert again.returncode != 0 and "already" in again.stderr
    for _ in range(2):  # idempotent
        down = neutrino("down")
        assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers(directory, prefix) == ([], [])


def link_indexes(namespace: str) -> dict[str, int]:
    """name -> ifindex of the devices neutrino owns in a hypervisor namespace."""
    out = subprocess.run(
        ["ip", "-n", namespace, "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        index, name = line.split(":", 2)[:2]
        name = name.strip().split("@")[0]
        if name.startswith(("brq", "vxlan-", "tap")):
            found[name] = int(index)
    return found


def restart_agent(directory: Path, name: str) -> None:
    """SIGKILL a lab agent and wait until its supervisor has started it again."""
    children = json.loads((directory / "children.json").read_text())
    before = children[name]["restarts"]
    os.kill(children[name]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while json.loads((directory / "children.json").read_text())[name]["restarts"] <= before:
        assert time.monotonic() < deadline, f"{name} not restarted"
        time.sleep(0.05)


def test_agent_restart_loses_no_packets_and_a_deleted_bridge_comes_back(
    lab_dir: tuple[Path, str],
) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    lab.up(hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60)
    with lab.controller() as api:
        net = api.create_network(name="steady", **{"provider:network_type": "vxlan"})
        api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
    vm1, _ = create_vm(lab, "vm1", "hv1", network=net["id"])
    _, lease2 = create_vm(lab, "vm2", "hv2", network=net["id"])
    hv1, hv2 = f"{prefix}hv1", f"{prefix}hv2"
    devices = {hv1: link_indexes(hv1), hv2: link_indexes(hv2)}
    assert len(devices[hv1]) == 3 and len(devices[hv2]) == 3  # bridge, vxlan, tap on each

    # 100 pps for 6 s while both agents are killed and restarted by the supervisor
    pinger = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            vm1.netns,
            "ping",
            "-q",
            "-i",
            "0.01",
            "-c",
            "600",
            "-W",
            "1",
            lease2.ip,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)
    restart_agent(directory, "agent-hv1")
    restart_agent(directory, "agent-hv2")
    out, _ = pinger.communicate(timeout=30)
    assert " 600 received" in out, out  # "600 packets transmitted, 600 received, 0% loss"
    time.sleep(2.0)  # the restarted agents have made their first rounds
    assert {hv1: link_indexes(hv1), hv2: link_indexes(hv2)} == devices  # nothing recreated

    # a tenant bridge deleted by hand is rebuilt (link watcher wake, no resync wait)
    bridge = next(n for n in devices[hv2] if n.startswith("brq"))
    subprocess.run(["ip", "-n", hv2, "link", "del", bridge], check=True)
    deadline = time.monotonic() + 10
    while bridge not in link_indexes(hv2):
        assert time.monotonic() < deadline, "bridge not repaired"
        time.sleep(0.1)
    assert ping(lab, "vm1", lease2.ip)
