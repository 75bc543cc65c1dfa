"""Floating IP port forwarding end to end (issue 15, done-means "port forwarding"): a lab with
two hypervisors, a network node and the outside world. One floating IP, no port of its own:
tcp 8080 reaches vm1's port 80, tcp 8081 vm2's port 80 and udp 5353 vm2's port 53, VMs on two
hypervisors; removing the 8081 forwarding cuts a connection established through it (its
conntrack entries go) while 8080 keeps working on the same address; the last forwarding's
removal takes the address off the router."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from neutrino.lab import Lab, create_vm
from neutrino.lab.netns import list_namespaces
from tests.e2e.test_l3_e2e import call, until
from tests.e2e.test_lab_e2e import leftovers

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("socat") is None
    or shutil.which("conntrack") is None,
    reason="needs busybox (udhcpc), dnsmasq, socat and conntrack",
)

# A client in the outside namespace: connect, exchange one line, say so, wait for a line on
# stdin, then try a second exchange and print what became of it.
HOLD = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("r")
greeting = f.readline().strip()
s.sendall(b"one\\n")
print("first", greeting, f.readline().strip(), flush=True)
sys.stdin.readline()
s.settimeout(4)
try:
    s.sendall(b"two\\n")
    line = f.readline()
    print("second", line.strip() if line else "closed", flush=True)
except ConnectionResetError:
    print("second reset", flush=True)
except OSError as exc:
    print("second", type(exc).__name__, flush=True)
"""


def serve(ns: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, "socat", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ask(ns: str, target: str) -> str:
    """One request from ``ns`` (``TCP:ip:port`` or ``UDP:ip:port``); the answer's first line."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "socat", "-T2", "-", f"{target}"],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""


def _open_group(api: Any) -> None:
    """Let tcp/80 and udp/53 in from anywhere (the default group admits only its members)."""
    for group in call(api, "GET", "/v2.0/security-groups?name=default")["security_groups"]:
        for proto, port in (("tcp", 80), ("udp", 53)):
            call(
                api,
                "POST",
                "/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": group["id"],
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        "protocol": proto,
                        "port_range_min": port,
                        "port_range_max": port,
                        "remote_ip_prefix": "0.0.0.0/0",
                    }
                },
            )


def _forward(api: Any, fip_id: str, port: dict[str, Any], proto: str, ext: int, to: int) -> Any:
    return call(
        api,
        "POST",
        f"/v2.0/floatingips/{fip_id}/port_forwardings",
        {
            "port_forwarding": {
                "protocol": proto,
                "internal_port_id": port["id"],
                "internal_ip_address": port["fixed_ips"][0]["ip_address"],
                "internal_port": to,
                "external_port": ext,
            }
        },
    )["port_forwarding"]


def conntrack_ports(ns: str, address: str) -> set[int]:
    """The original destination ports of the connections to ``address`` in ``ns``."""
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "conntrack", "-L", "-d", address],
        capture_output=True,
        text=True,
    ).stdout
    ports = set()
    for line in out.splitlines():
        fields = [f for f in line.split() if f.startswith("dport=")]
        if fields:
            ports.add(int(fields[0].split("=")[1]))
    return ports


def test_two_vms_behind_one_floating_ip_and_removal_cuts(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60, external=True
    )
    ext_ns, ext_net = state.external, state.external_network_id
    assert ext_ns is not None and ext_net is not None
    with lab.controller() as api:
        net = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
        rid = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r1", "external_gateway_info": {"network_id": ext_net}}},
        )["router"]["id"]
        call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        _open_group(api)
        fip = call(
            api, "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": ext_net}}
        )["floatingip"]
    address = fip["floating_ip_address"]
    qrouter = f"qrouter-{rid}-{prefix}net1"
    vm1, _ = create_vm(lab, "vm1", "hv1", network=net["id"])
    vm2, _ = create_vm(lab, "vm2", "hv2", network=net["id"])
    servers = [
        serve(vm1.netns, "TCP-LISTEN:80,reuseaddr,fork", "SYSTEM:echo vm1; cat"),
        serve(vm2.netns, "TCP-LISTEN:80,reuseaddr,fork", "SYSTEM:echo vm2; cat"),
        serve(vm2.netns, "UDP-RECVFROM:53,fork", "SYSTEM:echo vm2-udp"),
    ]
    try:
        until("router namespace", lambda: qrouter in list_namespaces())
        with lab.controller() as api:
            port1 = call(api, "GET", f"/v2.0/ports/{vm1.port_id}")["port"]
            port2 = call(api, "GET", f"/v2.0/ports/{vm2.port_id}")["port"]
            started = time.monotonic()
            _forward(api, fip["id"], port1, "tcp", 8080, 80)
            until("tcp 8080 -> vm1:80", lambda: ask(ext_ns, f"TCP:{address}:8080") == "vm1")
            took = (time.monotonic() - started) * 1000
            print(f"port forwarding create -> first connection through it: {took:.0f} ms")
            pf2 = _forward(api, fip["id"], port2, "tcp", 8081, 80)
            _forward(api, fip["id"], port2, "udp", 5353, 53)
        until("tcp 8081 -> vm2:80", lambda: ask(ext_ns, f"TCP:{address}:8081") == "vm2")
        until("udp 5353 -> vm2:53", lambda: ask(ext_ns, f"UDP:{address}:5353") == "vm2-udp")
        assert ask(ext_ns, f"TCP:{address}:8080") == "vm1"
        with lab.controller() as api:
            until(
                "floating IP ACTIVE",
                lambda: (
                    call(api, "GET", f"/v2.0/floatingips/{fip['id']}")["floatingip"]["status"]
                    == "ACTIVE"
                ),
            )

        # an established connection through 8081, then the forwarding goes
        client = subprocess.Popen(
            ["ip", "netns", "exec", ext_ns, "python3", "-c", HOLD, address, "8081"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None and client.stdin is not None
        assert client.stdout.readline().strip() == "first vm2 one"  # alive, echoing
        assert 8081 in conntrack_ports(qrouter, address)
        with lab.controller() as api:
            call(api, "DELETE", f"/v2.0/floatingips/{fip['id']}/port_forwardings/{pf2['id']}")
        until("8081 conntrack gone", lambda: 8081 not in conntrack_ports(qrouter, address))
        client.stdin.write("go\n")
        client.stdin.flush()
        second = client.stdout.readline().strip()
        client.wait(10)
        assert second in ("second reset", "second closed", "second TimeoutError"), second
        print(f"established connection after removal: {second}")
        assert ask(ext_ns, f"TCP:{address}:8081") == ""  # nothing forwards it any more
        assert ask(ext_ns, f"TCP:{address}:8080") == "vm1"  # the other one still does

        # the last forwardings go: the address leaves the router
        with lab.controller() as api:
            for pf in call(api, "GET", f"/v2.0/floatingips/{fip['id']}/port_forwardings")[
                "port_forwardings"
            ]:
                call(api, "DELETE", f"/v2.0/floatingips/{fip['id']}/port_forwardings/{pf['id']}")
            assert (
                call(api, "GET", f"/v2.0/floatingips/{fip['id']}")["floatingip"]["router_id"]
                is None
            )

        def on_gateway() -> bool:
            out = subprocess.run(
                ["ip", "-n", qrouter, "-o", "addr"], capture_output=True, text=True
            ).stdout
            return f"{address}/32" in out

        until("address off the gateway", lambda: not on_gateway())
        assert ask(ext_ns, f"TCP:{address}:8080") == ""
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(5)
    lab.down()
    assert leftovers(directory, prefix) == ([], [])
