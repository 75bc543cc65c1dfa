"""DHCP data plane in throwaway namespaces: our dnsmasq in ``qdhcp-<net>`` serves a "VM"
(busybox udhcpc) its fixed IP, gateway, DNS server and MTU; a changed host entry takes effect
without restarting dnsmasq; teardown leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from neutrino.agent.dataplane.dhcp import DhcpManager
from neutrino.agent.dhcp_calc import desired_dhcp
from neutrino.domain.hoststate import (
    DhcpEntry,
    DhcpNetwork,
    FixedIp,
    HostState,
    NetworkState,
    PortState,
    SubnetState,
    bridge_name,
)
from tests.kernel.lab import NetnsLab, run

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(
    BUSYBOX is None or shutil.which("dnsmasq") is None, reason="needs busybox (udhcpc) and dnsmasq"
)

SCRIPT = """#!/bin/sh
env | sort > "$DUMP.$1"
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
"""
VM_MAC = "fa:16:3e:00:00:11"
DHCP_MAC = "fa:16:3e:00:00:02"


def host_state(net_id: str, dhcp_port: str, vm_ip: str) -> HostState:
    subnet = SubnetState(
        id="sub4", cidr="192.0.2.0/24", ip_version=4, gateway_ip="192.0.2.1", enable_dhcp=True
    )
    port = PortState(
        id=dhcp_port,
        network_id=net_id,
        mac_address=DHCP_MAC,
        fixed_ips=(FixedIp("sub4", "192.0.2.2"),),
        admin_state_up=True,
        device_owner="network:dhcp",
    )
    entry = DhcpEntry(port_id="vmport", mac_address=VM_MAC, fixed_ips=(FixedIp("sub4", vm_ip),))
    return HostState(
        host="hv",
        revision=1,
        networks=(
            NetworkState(
                id=net_id,
                network_type="vxlan",
                segmentation_id=1001,
                physical_network=None,
                mtu=1450,
                subnets=(subnet,),
            ),
        ),
        ports=(port,),
        dhcp=(DhcpNetwork(network_id=net_id, port=port, entries=(entry,)),),
    )


def udhcpc(vm: str, script: Path, dump: Path) -> dict[str, str]:
    env = {**os.environ, "DUMP": str(dump)}
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            vm,
            str(BUSYBOX),
            "udhcpc",
            "-i",
            "eth0",
            "-f",
            "-q",
            "-n",
            "-t",
            "5",
            "-T",
            "1",
            "-O",
            "mtu",
            "-s",
            str(script),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bound = Path(f"{dump}.bound").read_text()
    return dict(line.split("=", 1) for line in bound.splitlines() if "=" in line)


def hypervisor_with_vm(
    lab: NetnsLab, manager: DhcpManager, net_id: str, *, vm_ipv6: bool
) -> tuple[str, str]:
    """A hypervisor namespace with the network's bridge and a VM's tap in it (the VM's eth0
    left down), and the manager pointed at it: (hypervisor, VM) namespaces."""
    hv = lab.ns("hv", ipv6=False)
    vm = lab.ns("vm", ipv6=vm_ipv6)
    bridge = bridge_name(net_id)
    run("ip", "-n", hv, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0")
    run("ip", "-n", hv, "link", "set", bridge, "up")
    run(
        "ip",
        "link",
        "add",
        "tapvm",
        "netns",
        hv,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        vm,
        "address",
        VM_MAC,
    )
    run("ip", "-n", hv, "link", "set", "tapvm", "master", bridge, "mtu", "1450", "up")
    manager.netns = hv  # the hypervisor namespace that holds the bridge
    return hv, vm


@pytest.fixture
def qdhcp() -> Iterator[tuple[str, DhcpManager]]:
    """A random network id and a manager whose state dir dnsmasq (which drops root to
    nobody) can traverse; dnsmasq, the namespace and the directory go at teardown."""
    net_id = str(uuid.uuid4())
    state_dir = Path(tempfile.mkdtemp(prefix="neutrino-dhcp-", dir="/tmp"))
    state_dir.chmod(0o755)
    manager = DhcpManager(state_dir)
    try:
        yield net_id, manager
    finally:
        try:
            manager.teardown(net_id)
        finally:
            subprocess.run(["ip", "netns", "del", f"qdhcp-{net_id}"], capture_output=True)
            shutil.rmtree(state_dir, ignore_errors=True)


def test_vm_gets_its_fixed_ip_gateway_dns_and_mtu(
    lab: NetnsLab, tmp_path: Path, qdhcp: tuple[str, DhcpManager]
) -> None:
    net_id, manager = qdhcp
    hv, vm = hypervisor_with_vm(lab, manager, net_id, vm_ipv6=False)
    run("ip", "-n", vm, "link", "set", "eth0", "up")
    dhcp_port = "d1d2d3d4-dddd-4ddd-8ddd-0000000000d0"
    script = tmp_path / "udhcpc.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)

    report = manager.apply(desired_dhcp(host_state(net_id, dhcp_port, "192.0.2.11")))
    assert report.applied == [net_id] and not report.failed
    pid = manager.running_pid(net_id)
    assert pid is not None
    lease = udhcpc(vm, script, tmp_path / "env1")
    assert lease["ip"] == "192.0.2.11"
    assert lease["router"].split() == ["192.0.2.1"]
    assert lease["dns"].split() == ["192.0.2.2"]
    assert lease["mtu"] == "1450"
    assert "192.0.2.11/24" in run("ip", "-n", vm, "-4", "addr", "show", "dev", "eth0")
    assert "mtu 1450" in run("ip", "-n", vm, "link", "show", "eth0")
    assert "default via 192.0.2.1" in run("ip", "-n", vm, "route")

    # idempotent: same desired state, same dnsmasq, nothing recreated
    index = run("ip", "-n", hv, "-o", "link", "show", f"tap{dhcp_port[:11]}").split(":")[0]
    assert manager.apply(desired_dhcp(host_state(net_id, dhcp_port, "192.0.2.11"))).applied
    assert manager.running_pid(net_id) == pid
    assert run("ip", "-n", hv, "-o", "link", "show", f"tap{dhcp_port[:11]}").split(":")[0] == index

    # a changed host entry is a SIGHUP, not a restart, and takes effect
    manager.apply(desired_dhcp(host_state(net_id, dhcp_port, "192.0.2.12")))
    assert manager.running_pid(net_id) == pid
    lease = udhcpc(vm, script, tmp_path / "env2")
    assert lease["ip"] == "192.0.2.12"

    # a manager in a new agent process adopts the running dnsmasq
    again = DhcpManager(manager.state_dir, netns=hv)
    again.apply(desired_dhcp(host_state(net_id, dhcp_port, "192.0.2.12")))
    assert again.running_pid(net_id) == pid

    # teardown: nothing left
    report = manager.apply({})
    assert report.removed == [net_id]
    assert (
        not Path(f"/proc/{pid}").exists()
        or "dnsmasq" not in Path(f"/proc/{pid}/cmdline").read_text()
    )
    assert f"qdhcp-{net_id}" not in run("ip", "netns", "list")
    assert f"tap{dhcp_port[:11]}" not in run("ip", "-n", hv, "link")
    assert not (manager.state_dir / net_id).exists()


def test_slaac_subnet_vm_takes_its_eui64_address_from_our_router_advertisements(
    lab: NetnsLab, qdhcp: tuple[str, DhcpManager]
) -> None:
    net_id, manager = qdhcp
    _, vm = hypervisor_with_vm(lab, manager, net_id, vm_ipv6=True)
    dhcp_port = "d1d2d3d4-dddd-4ddd-8ddd-0000000000d6"
    subnet = SubnetState(
        id="sub6",
        cidr="2001:db8:1::/64",
        ip_version=6,
        gateway_ip="2001:db8:1::1",
        enable_dhcp=True,
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    port = PortState(
        id=dhcp_port,
        network_id=net_id,
        mac_address=DHCP_MAC,
        fixed_ips=(FixedIp("sub6", "2001:db8:1:0:f816:3eff:fe00:2"),),
        admin_state_up=True,
        device_owner="network:dhcp",
    )
    entry = DhcpEntry(
        port_id="vmport",
        mac_address=VM_MAC,
        fixed_ips=(FixedIp("sub6", "2001:db8:1:0:f816:3eff:fe00:11"),),
    )
    state = HostState(
        host="hv",
        revision=1,
        networks=(
            NetworkState(
                id=net_id,
                network_type="vxlan",
                segmentation_id=1001,
                physical_network=None,
                mtu=1450,
                subnets=(subnet,),
            ),
        ),
        ports=(port,),
        dhcp=(DhcpNetwork(network_id=net_id, port=port, entries=(entry,)),),
    )
    report = manager.apply(desired_dhcp(state))
    assert report.applied == [net_id] and not report.failed

    run("ip", "-n", vm, "link", "set", "eth0", "up")  # sends router solicitations
    deadline = time.monotonic() + 20
    while "2001:db8:1:0:f816:3eff:fe00:11/64" not in (
        addrs := run("ip", "-n", vm, "-6", "addr", "show", "dev", "eth0")
    ):
        assert time.monotonic() < deadline, f"no SLAAC address: {addrs}"
        time.sleep(0.2)
    # the RA's MTU option sets the IPv6 MTU of the link (the tap side is 1500 here)
    assert (
        run("ip", "netns", "exec", vm, "sysctl", "-n", "net.ipv6.conf.eth0.mtu").strip() == "1450"
    )


def named_state(net_id: str, dhcp_port: str, names: dict[str, str]) -> HostState:
    """``host_state`` under the domain ``example.org.`` with the VM's port named
    ``names["vm"]`` and a second port, never leased, named ``names["db"]`` (192.0.2.12)."""
    state = host_state(net_id, dhcp_port, "192.0.2.11")
    served = state.dhcp[0]
    vm = replace(served.entries[0], dns_name=names["vm"])
    db = DhcpEntry(
        port_id="dbport",
        mac_address="fa:16:3e:00:00:12",
        fixed_ips=(FixedIp("sub4", "192.0.2.12"),),
        dns_name=names["db"],
    )
    named = replace(served, entries=(vm, db), dns_domain="example.org.")
    return replace(state, dhcp=(named,))


def lookup(vm: str, name: str, server: str) -> str:
    """busybox nslookup of ``name`` at ``server`` from inside the VM: its output."""
    done = subprocess.run(
        ["ip", "netns", "exec", vm, str(BUSYBOX), "nslookup", name, server],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return done.stdout + done.stderr


def test_vm_lease_carries_its_name_and_dnsmasq_answers_port_names(
    lab: NetnsLab, tmp_path: Path, qdhcp: tuple[str, DhcpManager]
) -> None:
    """Ports' DNS names reach dnsmasq: the VM's lease holds its hostname and the domain, and
    a DNS query at the DHCP port's address resolves every port's name on the network (its
    own and one never leased); a renamed port answers under its new name after a SIGHUP."""
    net_id, manager = qdhcp
    _, vm = hypervisor_with_vm(lab, manager, net_id, vm_ipv6=False)
    run("ip", "-n", vm, "link", "set", "eth0", "up")
    dhcp_port = "d1d2d3d4-dddd-4ddd-8ddd-0000000000d7"
    script = tmp_path / "udhcpc.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)

    cfg = desired_dhcp(named_state(net_id, dhcp_port, {"vm": "web-1", "db": "db-1"}))
    assert "--domain=example.org" in manager.command(cfg[net_id])
    assert manager.apply(cfg).applied == [net_id]
    pid = manager.running_pid(net_id)
    lease = udhcpc(vm, script, tmp_path / "env")
    assert lease["ip"] == "192.0.2.11"
    assert lease["hostname"] == "web-1"
    assert lease["domain"] == "example.org"

    for name, address in (("web-1.example.org", "192.0.2.11"), ("db-1.example.org", "192.0.2.12")):
        answer = lookup(vm, name, "192.0.2.2")
        assert address in answer.split("Name:")[-1], answer

    # a rename (a port update) is a rewritten addn-hosts file and a SIGHUP, no restart
    manager.apply(desired_dhcp(named_state(net_id, dhcp_port, {"vm": "web-1", "db": "db-2"})))
    assert manager.running_pid(net_id) == pid
    assert "192.0.2.12" in lookup(vm, "db-2.example.org", "192.0.2.2").split("Name:")[-1]
    gone = lookup(vm, "db-1.example.org", "192.0.2.2")
    assert "192.0.2.12" not in gone.split("Name:")[-1], gone
