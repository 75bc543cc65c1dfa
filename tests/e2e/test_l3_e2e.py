"""Routers end to end (issue 5, done-means 1-4): a lab with two hypervisors, a network node
(L2 + DHCP + L3 agents) and the outside world (``lab up --external``). Two subnets on two
networks joined by a router: VMs on different hypervisors ping across subnets; a VM without a
floating IP reaches the outside, which sees the router's gateway IP; with a floating IP the
outside reaches the VM (ICMP, tcp/22) and sees the floating IP as its source, a VM of the same
network reaches it (hairpin), and after disassociation it is dead and SNAT is back; removing an
interface or the gateway cleans the router's namespace, deleting the router removes it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neutrino.client import ClientError
from neutrino.lab import Lab, create_vm
from neutrino.lab.netns import list_namespaces
from tests.e2e.test_lab_e2e import leftovers

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("socat") is None,
    reason="needs busybox (udhcpc), dnsmasq and socat",
)

EXT_HOST = "203.0.113.1"


def until(what: str, check: Callable[[], bool], timeout: float = 15.0) -> float:
    """Poll ``check`` until true; the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def ping(ns: str, ip: str, count: int = 1) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", str(count), "-W", "1", ip], capture_output=True
    )
    return done.returncode == 0


def ipv6_by_hand(api: Any, vm: Any, gateway: str | None = None) -> str:
    """Configure the VM's IPv6 fixed IP on its eth0 as an image would where the subnet has no
    DHCPv6 or RA modes (the lab's VMs start with IPv6 off), and a default route via
    ``gateway`` if given; returns the address."""
    port = api.get_port(vm.port_id)
    address = next(f["ip_address"] for f in port["fixed_ips"] if ":" in f["ip_address"])
    sysctl = ["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=0"]
    subprocess.run(["ip", "netns", "exec", vm.netns, *sysctl], check=True)
    commands = [["addr", "add", f"{address}/64", "dev", "eth0", "nodad"]]
    if gateway:
        commands.append(["-6", "route", "add", "default", "via", gateway])
    for cmd in commands:
        subprocess.run(["ip", "-n", vm.netns, *cmd], check=True)
    return str(address)


class Listener:
    """``socat`` in ``ns`` on tcp ``port`` answering each connection with its peer address."""

    def __init__(self, ns: str, port: int) -> None:
        self.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "socat",
                f"TCP-LISTEN:{port},reuseaddr,fork",
                "SYSTEM:echo src=$SOCAT_PEERADDR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def seen(ns: str, ip: str, port: int) -> str:
    """The source address the listener at ``ip:port`` saw for a connection from ``ns``."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "socat", "-T2", "-", f"TCP:{ip}:{port},connect-timeout=2"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout.strip().removeprefix("src=")


def call(api: Any, method: str, path: str, body: Any = None) -> Any:
    return api.session.request(method, path, json=body)


def test_router_snat_floating_ip_and_cleanup(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60, external=True
    )
    ext_ns, ext_net = state.external, state.external_network_id
    assert ext_ns is not None and ext_net is not None
    with lab.controller() as api:
        agents = call(api, "GET", "/v2.0/agents?agent_type=L3 agent")["agents"]
        assert [(a["host"], a["alive"]) for a in agents] == [("net1", True)]
        blue = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        sub_b = api.create_subnet(blue["id"], "192.0.2.0/25", gateway_ip="192.0.2.1")
        sub_g = api.create_subnet(green["id"], "192.0.2.128/25", gateway_ip="192.0.2.129")
        router = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r1", "external_gateway_info": {"network_id": ext_net}}},
        )["router"]
        rid = router["id"]
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        for sub in (sub_b, sub_g):
            call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        _allow_inbound(api)
    qrouter = f"qrouter-{rid}-{prefix}net1"
    vm1, lease1 = create_vm(lab, "vm1", "hv1", network=blue["id"])
    vm2, lease2 = create_vm(lab, "vm2", "hv2", network=green["id"])
    vm3, _lease3 = create_vm(lab, "vm3", "hv2", network=blue["id"])
    assert lease1.router == "192.0.2.1" and lease2.router == "192.0.2.129"
    until("router namespace", lambda: qrouter in list_namespaces())
    with lab.controller() as api:
        until(
            "router ports ACTIVE",
            lambda: {p["status"] for p in api.list_ports(device_id=rid)} == {"ACTIVE"},
        )
        assert {p["binding:host_id"] for p in api.list_ports(device_id=rid)} == {"net1"}

    listeners = [Listener(ext_ns, 8080), Listener(vm1.netns, 22)]
    try:
        # 1. across subnets and hypervisors, through the router on net1
        until("vm1 -> vm2 across subnets", lambda: ping(vm1.netns, lease2.ip))
        assert ping(vm2.netns, lease1.ip)
        # 2. SNAT: the outside sees the gateway IP; it cannot reach the fixed IP
        until("vm2 -> outside", lambda: ping(vm2.netns, EXT_HOST))
        assert seen(vm2.netns, EXT_HOST, 8080) == gw_ip
        assert seen(vm1.netns, EXT_HOST, 8080) == gw_ip
        assert not ping(ext_ns, lease1.ip)
        # 3. floating IP (when the floating IP API is there)
        fip = _associate(lab, ext_net, vm1.port_id)
        if fip is not None:
            address = fip["floating_ip_address"]
            took = until("outside -> FIP", lambda: ping(ext_ns, address), timeout=10)
            print(f"FIP associate -> reachable: {took * 1000:.0f} ms")
            assert seen(ext_ns, address, 22) == EXT_HOST  # tcp/22, source preserved
            assert seen(vm1.netns, EXT_HOST, 8080) == address  # 1:1 SNAT
            assert seen(vm2.netns, EXT_HOST, 8080) == gw_ip
            assert seen(vm3.netns, address, 22) == "192.0.2.1"  # hairpin via qr- IP
            with lab.controller() as api:
                call(
                    api, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}
                )
            until("FIP dead", lambda: not ping(ext_ns, address), timeout=10)
            until("SNAT back", lambda: seen(vm1.netns, EXT_HOST, 8080) == gw_ip)
    finally:
        for listener in listeners:
            listener.close()

    # 4. removing an interface / the gateway cleans the namespace; deleting the router
    def links() -> str:
        return subprocess.run(
            ["ip", "-n", qrouter, "-o", "link"], capture_output=True, text=True
        ).stdout

    with lab.controller() as api:
        green_port = api.list_ports(device_id=rid, network_id=green["id"])[0]["id"]
        call(api, "PUT", f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": sub_g["id"]})
        until("qr- of green removed", lambda: f"qr-{green_port[:11]}" not in links())
        assert not ping(vm1.netns, lease2.ip)
        call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"external_gateway_info": {}}})
        until("qg- removed", lambda: "qg-" not in links())
        assert (
            "default"
            not in subprocess.run(
                ["ip", "-n", qrouter, "route"], capture_output=True, text=True
            ).stdout
        )
        call(api, "PUT", f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": sub_b["id"]})
        call(api, "DELETE", f"/v2.0/routers/{rid}")
    until("router namespace removed", lambda: qrouter not in list_namespaces())

    lab.down()
    assert leftovers(directory, prefix) == ([], [])
    assert not [n for n in list_namespaces() if n.startswith("qrouter-") and prefix in n]


def _allow_inbound(api: Any) -> None:
    """Open the default group to ICMP and tcp/22 from anywhere (done-means 3: "when the
    security group allows"); nothing to do without the security-group API."""
    try:
        groups = call(api, "GET", "/v2.0/security-groups?name=default")["security_groups"]
    except ClientError:
        return
    for group in groups:
        for rule in (
            {"protocol": "icmp"},
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
        ):
            try:
                call(
                    api,
                    "POST",
                    "/v2.0/security-group-rules",
                    {
                        "security_group_rule": {
                            "security_group_id": group["id"],
                            "direction": "ingress",
                            "ethertype": "IPv4",
                            "remote_ip_prefix": "0.0.0.0/0",
                            **rule,
                        }
                    },
                )
            except ClientError:
                continue


def _associate(lab: Lab, ext_net: str, port_id: str) -> dict[str, Any] | None:
    """A floating IP on ``ext_net`` associated with the port; None without the API."""
    with lab.controller() as api:
        try:
            return call(
                api,
                "POST",
                "/v2.0/floatingips",
                {
                    "floatingip": {  # type: ignore
                        "floating_network_id": ext_net,
                        "port_id": port_id,
                    }
                },
            )["floatingip"]
        except ClientError as exc:
            if getattr(exc, "status", None) == 404 or "404" in str(exc):
                return None
            raise


def test_router_moves_when_its_l3_agent_is_disabled(lab_dir: tuple[Path, str]) -> None:
    """Two network nodes: disabling the hosting L3 agent moves the router to the other one
    (the agent-down path is the same, after the 75 s down time); the old namespace goes."""
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=1, network_nodes=2, prefix=prefix, use_env=False, timeout=60, external=True
    )
    with lab.controller() as api:
        net = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
        rid = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"external_gateway_info": {"network_id": state.external_network_id}}},
        )["router"]["id"]
        call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        first = api.list_ports(device_id=rid)[0]["binding:host_id"]
    other = "net2" if first == "net1" else "net1"
    vm1, _ = create_vm(lab, "vm1", "hv1", network=net["id"])
    until("vm1 -> outside", lambda: ping(vm1.netns, EXT_HOST))
    # 100 pps for 8 s across the move: the lost packets measure the outage
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
            "800",
            "-W",
            "1",
            EXT_HOST,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)
    with lab.controller() as api:
        agent = call(api, "GET", f"/v2.0/agents?agent_type=L3 agent&host={first}")["agents"][0]
        call(api, "PUT", f"/v2.0/agents/{agent['id']}", {"agent": {"admin_state_up": False}})
        assert {p["binding:host_id"] for p in api.list_ports(device_id=rid)} == {other}
    out, _ = pinger.communicate(timeout=30)
    received = int(out.split(" received")[0].rsplit(",", 1)[-1].strip())
    print(
        f"router moved {first} -> {other}: {800 - received} of 800 pings lost "
        f"(~{(800 - received) * 10} ms outage)"
    )
    assert received > 400, out
    until(
        "old namespace removed", lambda: f"qrouter-{rid}-{prefix}{first}" not in list_namespaces()
    )
    assert f"qrouter-{rid}-{prefix}{other}" in list_namespaces()
    assert ping(vm1.netns, EXT_HOST)
