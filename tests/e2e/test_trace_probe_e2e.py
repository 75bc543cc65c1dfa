"""The probe of ``trace --verify``: a real packet finds hand-made faults and names the hop.

The probe is asked through the API (``POST /neutrino/v1/trace`` with ``"verify": true``), so
the agents send and follow it (``agent.probe_responder``), not the lab CLI (one CLI call at
the end shows the CLI printing the agents' probe). A lab with two hypervisors and a network
node (routers), agents whose periodic resync is an hour away (nothing repairs a fault while
the test looks). vm1 (hv1, blue) reaches vm2 (hv2,
green) through router r1 on the network node, and r1 routes 198.51.100.0/24 via vm2. On the
converged lab the probe is delivered to vm2's tap and agrees with the model; then, one at a
time, a fault is made by hand and undone: an nft set element deleted (vm1's address in
``p_ip4`` on hv1: dropped by the anti-spoofing chain), an FDB entry removed (vm2's MAC on the
network node's VXLAN device: flooded after the router to every VTEP of green, the L2 hop to
green; vm3 on hv1 makes a second one), a route deleted in
the router's namespace (lost in the router, the route hop). Each time the drift check of the
faulty host lists exactly that fault (the probe leaves nothing behind), and vm2 never sees a
probe (a counter of the probe's payload in vm2's namespace, itself shown to count). IPv6
too: vm1 to vm2's IPv6 address through r1 (the flow label is the mark), delivered, and
dropped at the anti-spoofing hop when vm1's address leaves ``p_ip6``; to blue's DHCP
server, answered in its ``qdhcp-`` namespace (no dnsmasq sees it). No ``nprobe`` table or
``npi`` injection device is left on any host.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neutrino.cli.main import app
from neutrino.domain.hoststate import tap_name
from neutrino.domain.trace.probe import Place
from neutrino.domain.trace.probe_packet import ProbePacket
from neutrino.lab import Lab, create_vm
from neutrino.lab.netns import list_namespaces
from neutrino.lab.probe import places_of
from tests.e2e.test_drift_verify_e2e import _check, _out, _sh
from tests.e2e.test_l3_e2e import call, ipv6_by_hand, ping, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
    reason="needs busybox (udhcpc) and dnsmasq",
)

runner = CliRunner()
OUTSIDE = "198.51.100.0/24"
# the probe's payload starts "neutrino" (domain/trace/probe_packet.MAGIC), after ICMP's 8 bytes
SEEN = (
    "add table inet seen { chain pre { type filter hook prerouting priority -500; "
    f"@th,64,64 0x{b'neutrino'.hex()} counter; }}; }}"
)


def _cli_probe(directory: Path, dst: str, *more: str) -> dict[str, Any]:
    args = ["trace", "--from", "vm1", "--to", dst, "--verify", "--json", "--dir", str(directory)]
    done = runner.invoke(app, [*args, *more])
    assert done.exit_code in (0, 2, 4), done.output
    found: dict[str, Any] = json.loads(done.output)["verify"]["probe"]
    return found


def _api_probe(lab: Lab, port_id: str, dst: str, **more: Any) -> dict[str, Any]:
    """The probe of one trace asked through the API: the agents send and follow it."""
    with lab.controller() as api:
        t = api.trace(
            source={"port_id": port_id},
            destination=dst,
            verify=True,
            **{"protocol": "icmp", **more},
        )
    found: dict[str, Any] = t["verify"]["probe"]
    return found


def _seen(vm_ns: str) -> int:
    listing = _out("ip", "netns", "exec", vm_ns, "nft", "list", "table", "inet", "seen")
    return int(listing.split("counter packets ")[1].split()[0])


def _leftovers(places: list[Any]) -> list[str]:
    return [
        f"{p.netns}: {line}"
        for p in places
        for line in _out("ip", "netns", "exec", p.netns, "nft", "list", "tables").splitlines()
        if "nprobe" in line
    ] + [
        f"{p.netns}: {line}"
        for p in places
        for line in _out("ip", "-n", p.netns, "-o", "link").splitlines()
        if ": npi" in line or ": npj" in line
    ]


def test_probe_names_the_hop_of_each_fault(
    lab_dir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, prefix = lab_dir
    monkeypatch.setenv("NEUTRINO_AGENT_RESYNC_INTERVAL", "3600")
    lab = Lab(directory)
    state = lab.up(hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60)
    node = next(h for h in state.hosts if h.dhcp)
    hv1 = state.host("hv1")
    with lab.controller() as api:
        blue = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        sub_b = api.create_subnet(blue["id"], "192.0.2.0/25", gateway_ip="192.0.2.1")
        sub_g = api.create_subnet(green["id"], "192.0.2.128/25", gateway_ip="192.0.2.129")
        six_b = api.create_subnet(blue["id"], "2001:db8:b::/64", ip_version=6, enable_dhcp=False)
        six_g = api.create_subnet(green["id"], "2001:db8:9::/64", ip_version=6, enable_dhcp=False)
        rid = call(api, "POST", "/v2.0/routers", {"router": {"name": "r1"}})["router"]["id"]
        for sub in (sub_b, sub_g, six_b, six_g):
            call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        default = next(
            g for g in api.session.request("GET", "/v2.0/security-groups")["security_groups"]
            if g["name"] == "default"
        )  # fmt: skip
        rule = {"direction": "ingress", "protocol": "icmp", "security_group_id": default["id"]}
        call(api, "POST", "/v2.0/security-group-rules", {"security_group_rule": rule})
        rule6 = {**rule, "protocol": "ipv6-icmp", "ethertype": "IPv6"}
        call(api, "POST", "/v2.0/security-group-rules", {"security_group_rule": rule6})
    vm1, lease1 = create_vm(lab, "vm1", "hv1", network=blue["id"])
    vm2, lease2 = create_vm(lab, "vm2", "hv2", network=green["id"])
    create_vm(lab, "vm3", "hv1", network=green["id"])  # a second VTEP on green for floods
    with lab.controller() as api:
        routes = [{"destination": OUTSIDE, "nexthop": lease2.ip}]
        call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"routes": routes}})
        six2 = ipv6_by_hand(api, vm2, gateway=six_g["gateway_ip"])  # answers the router's ND
        six1 = next(
            f["ip_address"]
            for f in api.get_port(vm1.port_id)["fixed_ips"]
            if ":" in f["ip_address"]
        )  # vm1 itself needs none: the agent writes the probe into its tap
    until("vm1 reaches vm2 through r1", lambda: ping(vm1.netns, lease2.ip), timeout=30)
    router_ns = f"qrouter-{rid}-{node.netns}"
    until(
        "the extra route in the router",
        lambda: OUTSIDE.split("/")[0] in _out("ip", "-n", router_ns, "route"),
        timeout=20,
    )
    until("a converged lab", lambda: not any(_check(lab, directory, h.name) for h in state.hosts))
    _sh("ip", "netns", "exec", vm2.netns, "nft", SEEN)
    places = places_of(lab.state())
    assert {(p.role, p.label) for p in places} >= {("host", "hv1"), ("router", rid)}
    served = [n for n in list_namespaces() if n.startswith("qdhcp-") and n.endswith(node.netns)]
    assert served  # the agents' probe watches these too: none may keep a table either
    places += [Place(n, "dhcp", n) for n in served]

    found = _api_probe(lab, vm1.port_id, lease2.ip)
    assert found["verdict"] == "agrees", found
    assert found["sent_from"] == f"host hv1 ({tap_name(vm1.port_id)}'s ingress)", found
    assert found["fate"]["outcome"] == "delivered", found
    assert found["fate"]["device"] == tap_name(vm2.port_id), found
    assert found["fate"]["path"][:2] == ["host hv1", f"host {node.name}"], found
    # TCP and UDP too: a wrong checksum would be conntrack-invalid, and dropped as such
    for proto in ("tcp", "udp"):
        found = _api_probe(lab, vm1.port_id, lease2.ip, protocol=proto, destination_port=22)
        assert (found["verdict"], found["fate"]["outcome"]) == ("agrees", "delivered"), found

    # an nft set element deleted by hand: the anti-spoofing chain drops the probe
    tap1 = tap_name(vm1.port_id)
    element = f'"{tap1}" . {vm1.mac} . {lease1.ip}'
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"delete element bridge neutrino p_ip4 {{ {element} }}",
    )
    found = _api_probe(lab, vm1.port_id, lease2.ip)
    assert (found["verdict"], found.get("step")) == ("differs", "anti-spoofing"), found
    assert found["fate"]["outcome"] == "dropped", found
    assert found["fate"]["rule"].startswith("bridge neutrino spoof_ip4"), found
    assert found["fate"]["where"] == "host hv1", found
    assert _check(lab, directory, "hv1") == [
        f"missing nft bridge p_ip4 {tap1} . {vm1.mac} . {lease1.ip}"
    ]
    assert _check(lab, directory, "hv2") == [] and _check(lab, directory, node.name) == []
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"add element bridge neutrino p_ip4 {{ {element} }}",
    )

    # an FDB entry removed: the network node floods the probe to every VTEP on green (hv1
    # and hv2) instead of sending it to vm2's; the L2 hop to green
    vni = green["provider:segmentation_id"]
    fdb = [vm2.mac, "dev", f"vxlan-{vni}", "dst", state.host("hv2").ip]
    _sh("ip", "netns", "exec", node.netns, "bridge", "fdb", "del", *fdb)
    found = _api_probe(lab, vm1.port_id, lease2.ip)
    assert (found["verdict"], found.get("step")) == ("differs", "L2"), found
    assert green["id"] in found["object"], found
    assert found["fate"]["outcome"] == "flooded", found
    assert sorted(found["fate"]["device"].split(", ")) == ["hv1", "hv2"], found
    assert found["fate"]["path"][:4] == [
        "host hv1", f"host {node.name}", f"router {rid}", f"host {node.name}"
    ], found  # fmt: skip
    assert _check(lab, directory, node.name) == [
        f"missing fdb vxlan-{vni} {vm2.mac} dst {state.host('hv2').ip}"
    ]
    _sh("ip", "netns", "exec", node.netns, "bridge", "fdb", "append", *fdb, "self", "permanent")

    # a route deleted in the router's namespace: lost in the router, the route hop
    found = _api_probe(lab, vm1.port_id, "198.51.100.7")
    assert found["verdict"] == "agrees", found
    _sh("ip", "-n", router_ns, "route", "del", OUTSIDE)
    found = _api_probe(lab, vm1.port_id, "198.51.100.7")
    assert (found["verdict"], found.get("step")) == ("differs", "route"), found
    assert (found["fate"]["outcome"], found["fate"]["where"]) == ("lost", f"router {rid}"), found
    assert _check(lab, directory, node.name) == [
        f"missing router {rid} route {OUTSIDE} via {lease2.ip}"
    ]
    _sh("ip", "-n", router_ns, "route", "add", OUTSIDE, "via", lease2.ip, "proto", "static")
    assert _api_probe(lab, vm1.port_id, lease2.ip)["verdict"] == "agrees"

    # IPv6 through r1: delivered to vm2's tap; vm1's address out of p_ip6: anti-spoofing
    found = _api_probe(lab, vm1.port_id, six2)
    assert (found["verdict"], found["fate"]["outcome"]) == ("agrees", "delivered"), found
    assert found["fate"]["device"] == tap_name(vm2.port_id), found
    assert found["match"].startswith("ip6 flowlabel "), found
    element6 = f'"{tap1}" . {vm1.mac} . {six1}'
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"delete element bridge neutrino p_ip6 {{ {element6} }}",
    )
    found = _api_probe(lab, vm1.port_id, six2)
    assert (found["verdict"], found.get("step")) == ("differs", "anti-spoofing"), found
    assert found["fate"]["rule"].startswith("bridge neutrino spoof_ip6"), found
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"add element bridge neutrino p_ip6 {{ {element6} }}",
    )
    assert _api_probe(lab, vm1.port_id, six2)["verdict"] == "agrees"

    # the DHCP server's address on blue: answered in the network node's qdhcp- namespace
    with lab.controller() as api:
        dhcp_port = next(
            p for p in api.session.request("GET", f"/v2.0/ports?network_id={blue['id']}")["ports"]
            if p["device_owner"] == "network:dhcp"
        )  # fmt: skip
    dhcp_ip = next(f["ip_address"] for f in dhcp_port["fixed_ips"] if ":" not in f["ip_address"])
    found = _api_probe(lab, vm1.port_id, dhcp_ip)
    assert (found["verdict"], found["fate"]["outcome"]) == ("agrees", "answered"), found
    assert found["fate"]["where"] == f"dhcp {blue['id']}", found

    # the CLI prints what the agents found (no probe of its own when theirs is available)
    cli = _cli_probe(directory, lease2.ip)
    assert (cli["verdict"], cli["sent_from"]) == ("agrees", found["sent_from"]), cli

    # nothing left behind, and vm2 never saw a probe (while its counter does count one)
    assert _leftovers(places) == []
    assert _seen(vm2.netns) == 0
    stray = ProbePacket(lease1.ip, lease2.ip, "icmp", mark=7)
    _send_plain(vm1.netns, stray)
    until("vm2 counts a probe-shaped packet", lambda: _seen(vm2.netns) == 1)
    lab.down()


def _send_plain(vm_ns: str, packet: ProbePacket) -> None:
    """``packet`` from ``vm_ns`` through its own kernel, with no probe tables anywhere."""
    import socket

    from neutrino.agent.dataplane.netns import inside

    with inside(vm_ns), socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        s.sendto(packet.ip(), (packet.dst, 0))
