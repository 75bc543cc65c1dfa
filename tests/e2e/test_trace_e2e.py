"""The trace against real traffic (issue 16, done-means 1): a lab with two hypervisors, a
network node (L2 + DHCP + L3) and the outside world; for each scenario the controller's trace
says delivered/left or dropped (and why), and real packets (ping, tcp through socat) in the
lab's VMs must do the same.

World: networks blue 192.0.2.0/25 and green 192.0.2.128/25 joined by router r1 (gateway on the
lab's external network, SNAT on). VMs: vm1 (hv1, blue; groups default + web), vm2 (hv2, green;
default), vm3 (hv1, blue; group solo: egress only). Each scenario changes the model through the
API, then compares: the kernel converges within a few seconds, so the real check is polled
until it agrees with the trace (a timeout is a disagreement) and must still agree a second
later (a stale kernel that agreed by chance would not last)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neutrino.lab import Lab, create_vm
from tests.e2e.test_l3_e2e import EXT_HOST, Listener, call, ipv6_by_hand, ping, seen, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("socat") is None,
    reason="needs busybox (udhcpc), dnsmasq and socat",
)

PASSES = ("delivered", "left")


class Checker:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.results: list[tuple[str, str, bool]] = []

    def trace(self, **question: Any) -> dict[str, Any]:
        with self.lab.controller() as api:
            return api.trace(**question)  # type: ignore[no-any-return]

    def agree(
        self,
        name: str,
        question: dict[str, Any],
        real: Callable[[], bool],
        expect: str,
        reason: str,
    ) -> dict[str, Any]:
        """The trace's verdict is ``expect`` (``dropped`` also when only the answer is
        lost), its deciding hop mentions ``reason``, and real traffic (a round trip) does the
        same: polled until it agrees, then checked once more."""
        t = self.trace(**question)
        hops = t["hops"] + t["reply"]
        text = " | ".join(f"{h['step']}:{h['verdict']}:{h['object']}:{h['detail']}" for h in hops)
        passes = t["verdict"] in PASSES and t["reply_verdict"] != "dropped"
        assert passes == (expect in PASSES), f"{name}: trace says {t['verdict']}: {text}"
        if passes:
            assert t["verdict"] == expect, f"{name}: trace says {t['verdict']}: {text}"
        # a drop is decided by its hop; a pass by the rules, routes and NAT along the way
        decisive = [h for h in hops if h["verdict"] == "drop"] or hops
        assert any(reason in f"{h['object']} {h['detail']}" for h in decisive), (
            f"{name}: no deciding hop names {reason!r}: {text}"
        )
        until(
            f"{name}: real traffic {'passes' if passes else 'is dropped'}",
            lambda: real() == passes,
            timeout=12,
        )
        time.sleep(1.0)
        assert real() == passes, f"{name}: real traffic changed its mind"
        self.results.append((name, t["verdict"], passes))
        return t


def _group(api: Any, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    group = call(api, "POST", "/v2.0/security-groups", {"security_group": {"name": name}})[
        "security_group"
    ]
    for old in group["security_group_rules"]:
        call(api, "DELETE", f"/v2.0/security-group-rules/{old['id']}")
    for rule in rules:
        call(
            api,
            "POST",
            "/v2.0/security-group-rules",
            {
                "security_group_rule": {
                    "security_group_id": group["id"],
                    "ethertype": "IPv4",
                    **rule,
                }
            },
        )
    return group


def test_trace_agrees_with_real_traffic(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60, external=True
    )
    ext_ns, ext_net = state.external, state.external_network_id
    assert ext_ns is not None and ext_net is not None
    with lab.controller() as api:
        blue = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        sub_b = api.create_subnet(blue["id"], "192.0.2.0/25", gateway_ip="192.0.2.1")
        sub_g = api.create_subnet(green["id"], "192.0.2.128/25", gateway_ip="192.0.2.129")
        api.create_subnet(blue["id"], "2001:db8:1::/64", ip_version=6, enable_dhcp=False)
        router = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r1", "external_gateway_info": {"network_id": ext_net}}},
        )["router"]
        rid = router["id"]
        for sub in (sub_b, sub_g):
            call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        web = _group(
            api,
            "web",
            [
                {
                    "direction": "ingress",
                    "protocol": "tcp",
                    "port_range_min": 22,
                    "port_range_max": 22,
                    "remote_ip_prefix": "192.0.2.128/25",
                }
            ],
        )
        solo = _group(api, "solo", [{"direction": "egress"}])
        default = call(api, "GET", "/v2.0/security-groups?name=default")["security_groups"]
        default_id = next(g["id"] for g in default if g["project_id"] == router["project_id"])
    vm1, lease1 = create_vm(lab, "vm1", "hv1", network=blue["id"])
    vm2, lease2 = create_vm(lab, "vm2", "hv2", network=green["id"])
    vm3, lease3 = create_vm(lab, "vm3", "hv1", network=blue["id"])
    with lab.controller() as api:
        api.update_port(vm1.port_id, security_groups=[default_id, web["id"]])
        api.update_port(vm3.port_id, security_groups=[solo["id"]])
        until(
            "router ports ACTIVE",
            lambda: {p["status"] for p in api.list_ports(device_id=rid)} == {"ACTIVE"},
            timeout=30,
        )
        six = {vm.name: ipv6_by_hand(api, vm) for vm in (vm1, vm3)}
    ip1, ip2, ip3 = lease1.ip, lease2.ip, lease3.ip
    c = Checker(lab)

    def q(vm: Any, dst: str, **packet: Any) -> dict[str, Any]:
        return {"source": {"port_id": vm.port_id}, "destination": dst, **packet}

    def tcp(ns: str, dst: str, port: int) -> Callable[[], bool]:
        return lambda: seen(ns, dst, port) != ""

    listeners = [Listener(vm1.netns, 22), Listener(vm1.netns, 80), Listener(ext_ns, 8080)]
    try:
        # groups, same network, both directions and both verdicts
        c.agree(
            "same net, member to member across subnets",
            q(vm2, ip1, protocol="icmp"),
            lambda: ping(vm2.netns, ip1),
            "delivered",
            default_id,
        )
        c.agree(
            "tcp/22 allowed by web from green",
            q(vm2, ip1, protocol="tcp", destination_port=22),
            tcp(vm2.netns, ip1, 22),
            "delivered",
            "group",
        )
        c.agree(
            "ingress refused: solo is no member of default",
            q(vm3, ip1, protocol="icmp"),
            lambda: ping(vm3.netns, ip1),
            "dropped",
            "no ingress rule allows icmp",
        )
        c.agree(
            "tcp/80 refused from a non-member",
            q(vm3, ip1, protocol="tcp", destination_port=80),
            tcp(vm3.netns, ip1, 80),
            "dropped",
            "no ingress rule allows tcp/80",
        )
        c.agree(
            "ingress refused the other way: solo has no ingress rule",
            q(vm1, ip3, protocol="icmp"),
            lambda: ping(vm1.netns, ip3),
            "dropped",
            "group solo",
        )
        c.agree(
            "IPv6: refused by solo's missing ingress rule",
            q(vm1, six["vm3"], protocol="icmp"),
            lambda: ping(vm1.netns, six["vm3"]),
            "dropped",
            "no ingress rule allows ipv6-icmp",
        )
        # cross-subnet through the router, and SNAT out
        c.agree(
            "cross-subnet through r1",
            q(vm1, ip2, protocol="icmp"),
            lambda: ping(vm1.netns, ip2),
            "delivered",
            "192.0.2.128/25",
        )
        c.agree(
            "SNAT out to the outside",
            q(vm2, EXT_HOST, protocol="icmp"),
            lambda: ping(vm2.netns, EXT_HOST),
            "left",
            "SNAT",
        )
        # egress refused: a group without egress rules
        with lab.controller() as api:
            mute = _group(api, "mute", [])
            api.update_port(vm3.port_id, security_groups=[mute["id"]])
        c.agree(
            "egress refused: mute has no egress rule",
            q(vm3, EXT_HOST, protocol="icmp"),
            lambda: ping(vm3.netns, EXT_HOST),
            "dropped",
            "no egress rule allows icmp",
        )
        # remote-group membership: vm3 joins default, then leaves it
        with lab.controller() as api:
            api.update_port(vm3.port_id, security_groups=[default_id])
        c.agree(
            "remote group: vm3 joined default",
            q(vm3, ip1, protocol="icmp"),
            lambda: ping(vm3.netns, ip1),
            "delivered",
            default_id,
        )
        c.agree(
            "IPv6: remote group admits vm3",
            q(vm3, six["vm1"], protocol="icmp"),
            lambda: ping(vm3.netns, six["vm1"]),
            "delivered",
            default_id,
        )
        with lab.controller() as api:
            api.update_port(vm3.port_id, security_groups=[solo["id"]])
        c.agree(
            "remote group: vm3 left default",
            q(vm3, ip1, protocol="icmp"),
            lambda: ping(vm3.netns, ip1),
            "dropped",
            "no ingress rule allows icmp",
        )
        # spoofed source, then the same address as an allowed address pair
        spoof = "192.0.2.100"
        subprocess.run(
            ["ip", "-n", vm1.netns, "addr", "add", f"{spoof}/25", "dev", "eth0"], check=True
        )

        def from_spoof() -> bool:
            done = subprocess.run(
                ["ip", "netns", "exec", vm1.netns, "ping", "-c", "1", "-W", "1", "-I", spoof, ip2],
                capture_output=True,
            )
            return done.returncode == 0

        c.agree(
            "spoofed source",
            q(vm1, ip2, protocol="icmp", source_ip=spoof),
            from_spoof,
            "dropped",
            f"source address {spoof} is not an address of the port",
        )
        with lab.controller() as api:
            api.update_port(vm1.port_id, allowed_address_pairs=[{"ip_address": spoof}])
            api.update_port(vm3.port_id, security_groups=[default_id])

        def pair_to_vm3() -> bool:
            done = subprocess.run(
                ["ip", "netns", "exec", vm1.netns, "ping", "-c", "1", "-W", "1", "-I", spoof, ip3],
                capture_output=True,
            )
            return done.returncode == 0

        c.agree(
            "allowed address pair, same host",
            q(vm3, spoof, protocol="icmp"),
            lambda: ping(vm3.netns, spoof),
            "delivered",
            default_id,
        )
        c.agree(
            "allowed address pair as source, same host",
            q(vm1, ip3, protocol="icmp", source_ip=spoof),
            pair_to_vm3,
            "delivered",
            default_id,
        )
        c.agree(
            "one-address allowed address pair across hosts: announced by l2population",
            q(vm1, ip2, protocol="icmp", source_ip=spoof),
            from_spoof,
            "delivered",
            default_id,
        )
        with lab.controller() as api:  # the same address, now through a CIDR pair
            api.update_port(vm1.port_id, allowed_address_pairs=[{"ip_address": f"{spoof}/28"}])

        def from_spoof_anew() -> bool:
            """The answer comes back through r1, which resolved the address in the step
            above and would keep it (its unicast probes reach vm1): each try forgets it, as a
            router meeting the address for the first time."""
            for ns in subprocess.run(
                ["ip", "netns", "list"], capture_output=True, text=True, check=True
            ).stdout.split():
                if ns.startswith(f"qrouter-{rid}"):
                    subprocess.run(["ip", "-n", ns, "neigh", "flush", spoof], check=True)
            return from_spoof()

        c.agree(
            "allowed address pair CIDR across hosts: the answer finds no neighbour entry",
            q(vm1, ip2, protocol="icmp", source_ip=spoof),
            from_spoof_anew,
            "dropped",
            "l2population",
        )
        # port security off on vm3: unfiltered out, and vm1 still refuses it
        with lab.controller() as api:
            api.update_port(vm3.port_id, security_groups=[], port_security_enabled=False)
        c.agree(
            "port security off: in",
            q(vm1, ip3, protocol="icmp"),
            lambda: ping(vm1.netns, ip3),
            "delivered",
            "port security is disabled",
        )
        c.agree(
            "port security off: out, refused by vm1",
            q(vm3, ip1, protocol="tcp", destination_port=80),
            tcp(vm3.netns, ip1, 80),
            "dropped",
            "no ingress rule allows tcp/80",
        )
        # admin-down port and router
        with lab.controller() as api:
            api.update_port(vm3.port_id, admin_state_up=False)
        c.agree(
            "admin-down port",
            q(vm1, ip3, protocol="icmp"),
            lambda: ping(vm1.netns, ip3),
            "dropped",
            "admin down",
        )
        with lab.controller() as api:
            api.update_port(vm3.port_id, admin_state_up=True)
            call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"admin_state_up": False}})
        c.agree(
            "admin-down router",
            q(vm1, ip2, protocol="icmp"),
            lambda: ping(vm1.netns, ip2),
            "dropped",
            "admin down",
        )
        with lab.controller() as api:
            call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"admin_state_up": True}})
        c.agree(
            "router back up",
            q(vm1, ip2, protocol="icmp"),
            lambda: ping(vm1.netns, ip2),
            "delivered",
            "192.0.2.128/25",
        )
        # floating IP in: refused by default, then admitted by a rule in web
        with lab.controller() as api:
            fip = call(
                api,
                "POST",
                "/v2.0/floatingips",
                {"floatingip": {"floating_network_id": ext_net, "port_id": vm1.port_id}},
            )["floatingip"]
        address = fip["floating_ip_address"]
        outside = {
            "source": {"network_id": ext_net, "ip_address": EXT_HOST},
            "destination": address,
        }
        c.agree(
            "floating IP in, refused by the groups",
            {**outside, "protocol": "icmp"},
            lambda: ping(ext_ns, address),
            "dropped",
            "no ingress rule allows icmp",
        )
        with lab.controller() as api:
            call(
                api,
                "POST",
                "/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": web["id"],
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        "protocol": "icmp",
                        "remote_ip_prefix": "203.0.113.0/24",
                    }
                },
            )
        t = c.agree(
            "floating IP in, admitted by web",
            {**outside, "protocol": "icmp"},
            lambda: ping(ext_ns, address),
            "delivered",
            "web",
        )
        assert any(h["step"] == "NAT" and f"DNAT {address}" in h["detail"] for h in t["hops"])
        # port forwardings: a second floating IP forwards tcp/2222 to vm1's 22 (which web
        # now admits from outside) and tcp/8081 to its 80 (which nothing admits); vm1's own
        # floating IP goes first (a port with one takes no forwarding)
        with lab.controller() as api:
            call(api, "DELETE", f"/v2.0/floatingips/{fip['id']}")
            held = call(
                api, "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": ext_net}}
            )["floatingip"]
            forwardings = [
                call(
                    api,
                    "POST",
                    f"/v2.0/floatingips/{held['id']}/port_forwardings",
                    {
                        "port_forwarding": {
                            "protocol": "tcp",
                            "internal_ip_address": ip1,
                            "internal_port_id": vm1.port_id,
                            "external_port": external,
                            "internal_port": internal,
                        }
                    },
                )["port_forwarding"]
                for external, internal in ((2222, 22), (8081, 80))
            ]
            call(
                api,
                "POST",
                "/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": web["id"],
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        "protocol": "tcp",
                        "port_range_min": 22,
                        "port_range_max": 22,
                        "remote_ip_prefix": "203.0.113.0/24",
                    }
                },
            )
        held_ip = held["floating_ip_address"]
        to_held = {"source": outside["source"], "destination": held_ip, "protocol": "tcp"}
        t = c.agree(
            "port forwarding in: tcp/2222 to vm1's 22",
            {**to_held, "destination_port": 2222},
            tcp(ext_ns, held_ip, 2222),
            "delivered",
            "(port forwarding)",
        )
        assert any(f"-> {ip1}:22 (port forwarding)" in h["detail"] for h in t["hops"])
        c.agree(
            "port forwarding in, refused by the groups: tcp/8081 to vm1's 80",
            {**to_held, "destination_port": 8081},
            tcp(ext_ns, held_ip, 8081),
            "dropped",
            "no ingress rule allows tcp/80",
        )
        c.agree(
            "no port forwarding for tcp/2223: the router refuses it",
            {**to_held, "destination_port": 2223},
            tcp(ext_ns, held_ip, 2223),
            "dropped",
            "no port forwarding",
        )
        # missing route: without its gateway the router has no way out
        with lab.controller() as api:
            for pf in forwardings:
                call(api, "DELETE", f"/v2.0/floatingips/{held['id']}/port_forwardings/{pf['id']}")
            call(api, "DELETE", f"/v2.0/floatingips/{held['id']}")
            call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"external_gateway_info": {}}})
        c.agree(
            "missing route",
            q(vm2, EXT_HOST, protocol="icmp"),
            lambda: ping(vm2.netns, EXT_HOST),
            "dropped",
            "has no route to",
        )
    finally:
        for listener in listeners:
            listener.close()
        for name, verdict, real in c.results:
            print(
                f"agree: {name}: trace {verdict}, round trip "
                f"{'passes' if real else 'dropped'} in trace and lab"
            )
    assert len(c.results) >= 27
    lab.down()
