"""Security groups in a real kernel: calc's ruleset applied by the nft manager in throwaway
hypervisor namespaces (two hosts over VXLAN, wired by the real L2 manager), checked with real
traffic (ping, TCP and raw ARP from the "VM" namespaces).

Hosts: hv1 (vm1 .11, vm2 .12, vm5 .15 observer without port security) and hv2 (vm3 .20,
vm4 .14 "external", without port security), one VXLAN network 192.0.2.0/24 (and
2001:db8:a::/64 for the hv1 VMs: IPv6 across hosts is not resolved by L2 yet). Each test
sets the desired state of both hosts (ports, groups, rules) and applies it as the agent would.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from pyroute2 import netns as pr_netns
from pyroute2.conntrack import Conntrack

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.l2 import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.dataplane.nft import NftError, NftManager, NftReport
from neutrino.agent.model import AgentConfig
from neutrino.agent.sg_calc import compute_sg
from neutrino.agent.sg_nft import shape_of
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
    tap_name,
)
from neutrino.domain.sgstate import AddressPair, RemoteGroup, RuleState, SecurityGroupState
from tests.agent.test_sg_calc import EGRESS, P1, P2, G, port, state
from tests.kernel.lab import NetnsLab, run, sysctl

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
VNI = 1001
DEFAULT, WEB, MEMBERS = (
    "d0000000-0000-4000-8000-00000000000d",
    "e0000000-0000-4000-8000-00000000000e",
    "f0000000-0000-4000-8000-00000000000f",
)
ALLOW_EGRESS = (RuleState("r-e4", "egress", "IPv4"), RuleState("r-e6", "egress", "IPv6"))
DEFAULT_RULES = (
    *ALLOW_EGRESS,
    RuleState("r-i4", "ingress", "IPv4", remote_group_id=DEFAULT),
    RuleState("r-i6", "ingress", "IPv6", remote_group_id=DEFAULT),
)
ICMP = RuleState("r-icmp", "ingress", "IPv4", "icmp", remote_ip_prefix="192.0.2.0/28")
SSH = RuleState("r-ssh", "ingress", "IPv4", "tcp", 22, 22, remote_ip_prefix="192.0.2.0/28")


@dataclass(frozen=True)
class Vm:
    role: str
    hv: str
    port_id: str
    mac: str
    ip: str
    groups: tuple[str, ...] = ()
    secure: bool = True
    pairs: tuple[AddressPair, ...] = ()
    ip6: str | None = None  # same-host IPv6 only: remote IPv6 is not resolved yet (calc.py)
    owner: str = ""  # device_owner
    system: bool = False  # made by the controller itself (DHCP, router): never filtered

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


VMS = {
    "vm1": Vm(
        "vm1",
        "hv1",
        "a1000000-0000-4000-8000-000000000001",
        "fa:16:3e:00:00:11",
        "192.0.2.11",
        (DEFAULT,),
        ip6="2001:db8:a::11",
    ),
    "vm2": Vm(
        "vm2",
        "hv1",
        "a2000000-0000-4000-8000-000000000002",
        "fa:16:3e:00:00:12",
        "192.0.2.12",
        (DEFAULT,),
        ip6="2001:db8:a::12",
    ),
    "vm5": Vm(
        "vm5",
        "hv1",
        "a5000000-0000-4000-8000-000000000005",
        "fa:16:3e:00:00:15",
        "192.0.2.15",
        (),
        secure=False,
        ip6="2001:db8:a::15",
    ),
    "vm3": Vm(
        "vm3",
        "hv2",
        "a3000000-0000-4000-8000-000000000003",
        "fa:16:3e:00:00:20",
        "192.0.2.20",
        (DEFAULT,),
    ),
    "vm4": Vm(
        "vm4",
        "hv2",
        "a4000000-0000-4000-8000-000000000004",
        "fa:16:3e:00:00:14",
        "192.0.2.14",
        (),
        secure=False,
    ),
}
VTEPS = {"hv1": "198.51.100.1", "hv2": "198.51.100.2"}


def host_state(
    hv: str,
    vms: dict[str, Vm],
    groups: dict[str, tuple[RuleState, ...]],
    revision: int = 1,
    stateless: frozenset[str] = frozenset(),
) -> HostState:
    """What the controller would send ``hv`` (remote members computed as it does); the groups
    named in ``stateless`` are ``stateful: false``."""

    def port(vm: Vm) -> PortState:
        ips = (FixedIp("s4", vm.ip), *((FixedIp("s6", vm.ip6),) if vm.ip6 else ()))
        return PortState(
            vm.port_id,
            NET,
            vm.mac,
            ips,
            True,
            device_owner=vm.owner,
            system_owned=vm.system,
            port_security_enabled=vm.secure,
            security_groups=vm.groups,
            allowed_address_pairs=vm.pairs,
        )

    local = [v for v in vms.values() if v.hv == hv]
    remote = [v for v in vms.values() if v.hv != hv]
    used = sorted({g for v in local for g in v.groups})
    remote_ids = sorted({r.remote_group_id for g in used for r in groups[g] if r.remote_group_id})
    members = {
        g: tuple(
            sorted(
                {a for v in vms.values() if g in v.groups for a in (v.ip, v.ip6) if a}
                | {p.ip_address for v in vms.values() if g in v.groups for p in v.pairs}
            )
        )
        for g in remote_ids
    }
    return HostState(
        host=hv,
        revision=revision,
        tunnel_ip=VTEPS[hv],
        networks=(NetworkState(NET, "vxlan", VNI, None, 1450),),
        ports=tuple(port(v) for v in sorted(local, key=lambda v: v.port_id)),
        l2pop=(
            L2Pop(
                NET,
                tuple(sorted({VTEPS[v.hv] for v in remote})),
                tuple(
                    RemotePort(v.port_id, v.mac, (v.ip,), VTEPS[v.hv])
                    for v in sorted(remote, key=lambda v: v.port_id)
                ),
            ),
        ),
        security_groups=tuple(SecurityGroupState(g, g not in stateless, groups[g]) for g in used),
        remote_groups=tuple(RemoteGroup(g, members[g]) for g in remote_ids),
    )


class World:
    def __init__(self, lab: NetnsLab) -> None:
        self.lab = lab
        self.hvs = lab.underlay(["hv1", "hv2"])
        self.ns = {}
        for vm in VMS.values():
            self.ns[vm.role] = lab.vm(vm.role, self.hvs[vm.hv], vm.tap, vm.mac, vm.ip + "/24")
            if vm.ip6:
                sysctl(self.ns[vm.role], "net/ipv6/conf/eth0/disable_ipv6", "0")
                run(
                    "ip",
                    "-n",
                    self.ns[vm.role],
                    "addr",
                    "add",
                    vm.ip6 + "/64",
                    "dev",
                    "eth0",
                    "nodad",
                )
        self.kernels = {hv: NetlinkKernel(ns) for hv, ns in self.hvs.items()}
        self.nft = {hv: NftManager(ns) for hv, ns in self.hvs.items()}
        self.revision = 0

    def apply(
        self,
        vms: dict[str, Vm],
        groups: dict[str, tuple[RuleState, ...]],
        stateless: frozenset[str] = frozenset(),
    ) -> dict[str, NftReport]:
        self.revision += 1
        reports = {}
        for hv in self.hvs:
            state = host_state(hv, vms, groups, self.revision, stateless)
            config = AgentConfig(local_ip=VTEPS[hv], underlay_dev="eth1")
            L2Manager(self.kernels[hv]).apply(compute_l2(state, config))
            reports[hv] = self.nft[hv].apply(compute_sg(state))
        return reports

    def close(self) -> None:
        for kernel in self.kernels.values():
            kernel.close()

    def ping(self, src: str, dst_ip: str, source: str | None = None, count: int = 1) -> bool:
        args = [
            "ip",
            "netns",
            "exec",
            self.ns[src],
            "ping",
            *(["-6"] if ":" in dst_ip else []),
            "-c",
            str(count),
            "-i",
            "0.2",
            "-W",
            "1",
            "-q",
            *(["-I", source] if source else []),
            dst_ip,
        ]
        return subprocess.run(args, capture_output=True).returncode == 0


def _socket(
    ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    pr_netns.pushns(ns)
    try:
        return socket.socket(family, kind, proto)
    finally:
        pr_netns.popns()


@contextlib.contextmanager
def tcp_server(ns: str, ip: str, port: int) -> Iterator[None]:
    server = _socket(ns)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((ip, port))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        server.close()


def tcp_ok(ns: str, ip: str, port: int) -> bool:
    client = _socket(ns)
    client.settimeout(1.5)
    try:
        client.connect((ip, port))
        return client.recv(16) == b"hello"
    except OSError:
        return False
    finally:
        client.close()


def send_arp_reply(
    ns: str, sender_mac: str, sender_ip: str, target_mac: str, target_ip: str
) -> None:
    """A forged ARP reply ("sender_ip is at sender_mac") out of eth0 of ``ns``."""
    sock = _socket(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    try:
        sock.bind(("eth0", 0))
        smac, tmac = (
            bytes.fromhex(sender_mac.replace(":", "")),
            bytes.fromhex(target_mac.replace(":", "")),
        )
        frame = (
            tmac
            + smac
            + b"\x08\x06"
            + b"\x00\x01\x08\x00\x06\x04\x00\x02"
            + smac
            + socket.inet_aton(sender_ip)
            + tmac
            + socket.inet_aton(target_ip)
        )
        for _ in range(3):
            sock.send(frame)
            time.sleep(0.05)
    finally:
        sock.close()


def ct_id(ns: str, src: str, dst: str) -> int | None:
    """The id of the conntrack entry ``src`` -> ``dst`` in ``ns`` (None if there is none)."""
    pr_netns.pushns(ns)
    try:
        ct = Conntrack()
        ct.count()  # the socket opens here, inside the namespace
    finally:
        pr_netns.popns()
    try:
        for entry in ct.dump_entries():
            if (entry.tuple_orig.saddr, entry.tuple_orig.daddr) == (src, dst):
                return int(entry.id)
        return None
    finally:
        ct.close()


def neigh_mac(ns: str, ip: str) -> str:
    out = run("ip", "-n", ns, "neigh", "show", ip).split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    lab = NetnsLab()
    made = None
    try:
        made = World(lab)
        yield made
    finally:
        if made is not None:
            made.close()
        lab.cleanup()


DEFAULT_ONLY = {DEFAULT: DEFAULT_RULES}


def test_default_group_members_talk_replies_return_strangers_dropped(world: World) -> None:
    world.apply(VMS, DEFAULT_ONLY)
    assert world.ping("vm1", "192.0.2.20", count=2)  # member -> member across VXLAN
    assert world.ping("vm3", "192.0.2.12", count=2)
    assert world.ping("vm1", "192.0.2.12", count=2)  # same host: egress and ingress both run
    assert world.ping("vm1", "192.0.2.14", count=2)  # outbound to a stranger: replies return
    assert not world.ping("vm4", "192.0.2.11")  # unsolicited from a non-member: dropped
    with tcp_server(world.ns["vm4"], "192.0.2.14", 8080):
        assert tcp_ok(world.ns["vm1"], "192.0.2.14", 8080)
    with tcp_server(world.ns["vm1"], "192.0.2.11", 8080):
        assert not tcp_ok(world.ns["vm4"], "192.0.2.11", 8080)
        assert tcp_ok(world.ns["vm3"], "192.0.2.11", 8080)
    zones = run(
        "ip", "netns", "exec", world.hvs["hv1"], "nft", "list", "map", "inet", "neutrino", "br_zone"
    )
    assert "brq3f1c2d9e-aa" in zones
    flags = run("ip", "-d", "-n", world.hvs["hv1"], "link", "show", "brq3f1c2d9e-aa")
    assert "nf_call_iptables 1" in flags and "nf_call_ip6tables 1" in flags
    underlay = run(
        "ip",
        "netns",
        "exec",
        world.hvs["hv1"],
        "sysctl",
        "-n",
        "net.bridge.bridge-nf-call-iptables",
    )
    assert underlay.strip() == "0"


def test_remote_cidr_rule_admits_exactly_tcp22_and_icmp(world: World) -> None:
    vms = {**VMS, "vm1": replace(VMS["vm1"], groups=(WEB,))}
    world.apply(vms, {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, ICMP, SSH)})
    with (
        tcp_server(world.ns["vm1"], "192.0.2.11", 22),
        tcp_server(world.ns["vm1"], "192.0.2.11", 8080),
    ):
        assert world.ping("vm2", "192.0.2.11", count=2)  # .12 is inside 192.0.2.0/28
        assert world.ping("vm4", "192.0.2.11", count=2)  # .14 too, across VXLAN
        assert tcp_ok(world.ns["vm4"], "192.0.2.11", 22)
        assert not tcp_ok(world.ns["vm4"], "192.0.2.11", 8080)  # no rule for 8080
        assert not world.ping("vm3", "192.0.2.11")  # .20 is outside the CIDR
        assert not tcp_ok(world.ns["vm3"], "192.0.2.11", 22)


def test_remote_group_follows_membership(world: World) -> None:
    remote = RuleState("r-m", "ingress", "IPv4", remote_group_id=MEMBERS)
    groups = {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, remote), MEMBERS: ALLOW_EGRESS}
    vms = {**VMS, "vm1": replace(VMS["vm1"], groups=(WEB,))}
    world.apply(vms, groups)
    assert not world.ping("vm3", "192.0.2.11")
    joined = {**vms, "vm3": replace(VMS["vm3"], groups=(DEFAULT, MEMBERS))}
    world.apply(joined, groups)
    assert world.ping("vm3", "192.0.2.11", count=2)
    world.apply(vms, groups)  # left again: its running flow is cut too
    assert not world.ping("vm3", "192.0.2.11")


def test_anti_spoofing_pairs_and_port_security(world: World) -> None:
    world.apply(VMS, DEFAULT_ONLY)
    vm1 = world.ns["vm1"]
    # the destination is vm5 on the same host: across VXLAN the l2pop proxy answers ARP only
    # for known ports, so a pair address would never resolve there
    assert world.ping("vm1", "192.0.2.15")
    run("ip", "-n", vm1, "addr", "add", "192.0.2.99/32", "dev", "eth0")
    try:
        assert not world.ping("vm1", "192.0.2.15", source="192.0.2.99")  # foreign source IP
        world.apply(
            {
                **VMS,
                "vm1": replace(VMS["vm1"], pairs=(AddressPair("192.0.2.96/30", VMS["vm1"].mac),)),
            },
            DEFAULT_ONLY,
        )
        assert world.ping("vm1", "192.0.2.15", source="192.0.2.99", count=2)  # pair passes
        world.apply(VMS, DEFAULT_ONLY)
        assert not world.ping("vm1", "192.0.2.15", source="192.0.2.99")
        world.apply({**VMS, "vm1": replace(VMS["vm1"], secure=False, groups=())}, DEFAULT_ONLY)
        assert world.ping("vm1", "192.0.2.15", source="192.0.2.99", count=2)  # unfiltered
    finally:
        run("ip", "-n", vm1, "addr", "del", "192.0.2.99/32", "dev", "eth0")
    world.apply(VMS, DEFAULT_ONLY)
    # forged MAC
    run("ip", "-n", vm1, "link", "set", "eth0", "address", "fa:16:3e:00:00:99")
    try:
        run("ip", "-n", world.ns["vm4"], "neigh", "flush", "all")
        assert not world.ping("vm1", "192.0.2.14")
    finally:
        run("ip", "-n", vm1, "link", "set", "eth0", "address", VMS["vm1"].mac)
    # ARP reply claiming vm2's IP, sent to the observer vm5 (which knows vm2's real MAC)
    vm5 = world.ns["vm5"]
    world.ping("vm5", "192.0.2.12")  # resolves .12 (ARP is allowed even though ping is not)
    assert neigh_mac(vm5, "192.0.2.12") == VMS["vm2"].mac
    time.sleep(1.1)  # past the neighbour locktime, so a reply that got through would count
    send_arp_reply(vm1, VMS["vm1"].mac, "192.0.2.12", VMS["vm5"].mac, VMS["vm5"].ip)
    time.sleep(0.2)
    assert neigh_mac(vm5, "192.0.2.12") == VMS["vm2"].mac
    # the same reply from vm1 without port security does poison the cache (the control)
    world.apply({**VMS, "vm1": replace(VMS["vm1"], secure=False, groups=())}, DEFAULT_ONLY)
    send_arp_reply(vm1, VMS["vm1"].mac, "192.0.2.12", VMS["vm5"].mac, VMS["vm5"].ip)
    time.sleep(0.2)
    assert neigh_mac(vm5, "192.0.2.12") == VMS["vm1"].mac
    run("ip", "-n", vm5, "neigh", "flush", "all")


def test_a_claimed_network_owner_is_filtered_only_system_ports_are_not(world: World) -> None:
    """A port that only claims ``device_owner: network:dhcp`` (made through the API) keeps its
    anti-spoofing: a foreign source address is dropped. The controller's own DHCP port
    (``system_owned``) goes unfiltered, as Neutron's trusted ports do."""
    claimed = replace(VMS["vm1"], owner="network:dhcp")
    world.apply({**VMS, "vm1": claimed}, DEFAULT_ONLY)
    vm1 = world.ns["vm1"]
    assert world.ping("vm1", "192.0.2.15")
    run("ip", "-n", vm1, "addr", "add", "192.0.2.99/32", "dev", "eth0")
    try:
        assert not world.ping("vm1", "192.0.2.15", source="192.0.2.99")
        world.apply({**VMS, "vm1": replace(claimed, system=True)}, DEFAULT_ONLY)
        assert world.ping("vm1", "192.0.2.15", source="192.0.2.99", count=2)  # the control
    finally:
        run("ip", "-n", vm1, "addr", "del", "192.0.2.99/32", "dev", "eth0")
    world.apply(VMS, DEFAULT_ONLY)


def test_no_security_group_allows_nothing_but_arp(world: World) -> None:
    world.apply({**VMS, "vm1": replace(VMS["vm1"], groups=())}, DEFAULT_ONLY)
    assert not world.ping("vm1", "192.0.2.14")
    assert not world.ping("vm2", "192.0.2.11")
    run("ip", "-n", world.ns["vm4"], "neigh", "flush", "all")
    world.ping("vm4", "192.0.2.11")
    assert neigh_mac(world.ns["vm4"], "192.0.2.11") == VMS["vm1"].mac  # ARP still answered


def test_deleting_a_rule_stops_a_running_ping_within_a_second(
    world: World, tmp_path: object
) -> None:
    vms = {**VMS, "vm1": replace(VMS["vm1"], groups=(WEB,))}
    world.apply(vms, {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, ICMP, SSH)})
    ping = subprocess.Popen(
        ["ip", "netns", "exec", world.ns["vm2"], "ping", "-i", "0.05", "-w", "6", "192.0.2.11"],
        stdout=subprocess.PIPE,
        text=True,
    )
    replies: list[float] = []

    def read() -> None:
        assert ping.stdout is not None
        for line in ping.stdout:
            if "bytes from" in line:
                replies.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(1.0)
        assert len(replies) > 5  # running
        removed = time.monotonic()
        reports = world.apply(vms, {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, SSH)})
        assert reports["hv1"].deleted_flows >= 1  # the ping's conntrack entry
        time.sleep(1.5)
        late = [t for t in replies if t > removed + 1.0]
        assert not late, f"{len(late)} replies more than 1 s after the rule went"
    finally:
        ping.kill()
        ping.wait()
        reader.join(2)


def test_ipv6_members_replies_strangers_and_spoofing(world: World) -> None:
    world.apply(VMS, DEFAULT_ONLY)
    vm1 = world.ns["vm1"]
    # ND from link-local addresses passes the anti-spoofing (EUI-64 of the port's MAC)
    assert world.ping("vm1", "2001:db8:a::12", count=2)  # members, same host
    assert world.ping("vm1", "2001:db8:a::15", count=2)  # outbound: the reply comes back
    assert not world.ping("vm5", "2001:db8:a::11")  # unsolicited from a non-member
    run("ip", "-n", vm1, "addr", "add", "2001:db8:a::99/128", "dev", "eth0", "nodad")
    try:
        assert not world.ping("vm1", "2001:db8:a::15", source="2001:db8:a::99")
        world.apply(
            {
                **VMS,
                "vm1": replace(VMS["vm1"], pairs=(AddressPair("2001:db8:a::99", VMS["vm1"].mac),)),
            },
            DEFAULT_ONLY,
        )
        assert world.ping("vm1", "2001:db8:a::15", source="2001:db8:a::99", count=2)
    finally:
        run("ip", "-n", vm1, "addr", "del", "2001:db8:a::99/128", "dev", "eth0")


def test_manager_owns_only_its_tables_and_a_refused_ruleset_changes_nothing(lab: NetnsLab) -> None:
    ns = lab.ns("own", ipv6=False)
    subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"],
        check=True,
        text=True,
        input="table inet other {\n chain c {\n type filter hook forward priority 0;"
        "\n counter\n }\n}\n",
    )
    manager = NftManager(ns)
    state = host_state("hv1", VMS, DEFAULT_ONLY)
    good = compute_sg(state)
    assert manager.apply(good).changes
    tables = run("ip", "netns", "exec", ns, "nft", "list", "tables").split("\n")
    assert {"table inet other", "table inet neutrino", "table bridge neutrino"} <= set(tables)
    assert manager.apply(good).changes == []  # unchanged: nothing loaded
    before = run("ip", "netns", "exec", ns, "nft", "list", "table", "bridge", "neutrino")
    layout = tuple(
        p.replace("jump anti_spoof", "jump no_such_chain") if isinstance(p, str) else p
        for p in good.layout
    )
    broken = replace(good, layout=layout, shape=shape_of(layout))
    assert "jump no_such_chain" in broken.text
    with pytest.raises(NftError):
        manager.apply(broken)
    assert run("ip", "netns", "exec", ns, "nft", "list", "table", "bridge", "neutrino") == before
    # someone deletes our table: the next full apply (the resync) restores it
    run("ip", "netns", "exec", ns, "nft", "delete", "table", "bridge", "neutrino")
    assert manager.apply(good).changes
    assert "table bridge neutrino" in run("ip", "netns", "exec", ns, "nft", "list", "tables")
    assert "table inet other" in run("ip", "netns", "exec", ns, "nft", "list", "tables")


def test_restart_keeps_allowed_flows_and_cuts_what_was_removed_meanwhile(world: World) -> None:
    vms = {**VMS, "vm1": replace(VMS["vm1"], groups=(WEB,))}
    world.apply(vms, {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, ICMP, SSH)})
    pings = {
        name: subprocess.Popen(
            ["ip", "netns", "exec", world.ns[src], "ping", "-i", "0.05", "-w", "5", dst],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, src, dst in (
            ("removed", "vm2", "192.0.2.11"),  # ICMP rule goes
            ("allowed", "vm1", "192.0.2.15"),
        )
    }  # egress stays
    replies: dict[str, list[float]] = {name: [] for name in pings}

    def read(name: str) -> None:
        out = pings[name].stdout
        assert out is not None
        replies[name].extend(time.monotonic() for line in out if "bytes from" in line)

    readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in pings]
    for reader in readers:
        reader.start()
    try:
        time.sleep(1.0)
        assert all(len(r) > 5 for r in replies.values())
        kept = ct_id(world.hvs["hv1"], "192.0.2.11", "192.0.2.15")
        assert kept is not None
        # the agent restarts (a fresh manager) after the ICMP rule was deleted
        world.nft["hv1"] = NftManager(world.hvs["hv1"])
        restarted = time.monotonic()
        reports = world.apply(vms, {**DEFAULT_ONLY, WEB: (*ALLOW_EGRESS, SSH)})
        assert reports["hv1"].deleted_flows >= 1
        time.sleep(1.5)
        assert not [t for t in replies["removed"] if t > restarted + 1.0]
        assert len([t for t in replies["allowed"] if t > restarted + 0.5]) > 10
        assert ct_id(world.hvs["hv1"], "192.0.2.11", "192.0.2.15") == kept  # not recreated
    finally:
        for proc in pings.values():
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(2)


def test_element_deltas_leave_the_kernel_as_a_full_load_would(lab: NetnsLab) -> None:
    groups = (SecurityGroupState(G, True, EGRESS),)
    one = compute_sg(state((port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),), groups))
    two = compute_sg(
        state(
            (
                port(P1, "192.0.2.11", "fa:16:3e:00:00:11"),
                port(P2, "192.0.2.12", "fa:16:3e:00:00:12"),
            ),
            groups,
        )
    )
    stepwise, direct = lab.ns("a", ipv6=False), lab.ns("b", ipv6=False)
    incremental = NftManager(stepwise)
    incremental.apply(one)
    report = incremental.apply(two)
    assert any(c.startswith("nft elements") for c in report.changes), report.changes
    NftManager(direct).apply(two)

    def elements(ns: str, name: str) -> list[str]:
        out = (
            run("ip", "netns", "exec", ns, "nft", "-j", "list", "set", "bridge", "neutrino", name)
            if not name.startswith("port_")
            else run(
                "ip", "netns", "exec", ns, "nft", "-j", "list", "map", "bridge", "neutrino", name
            )
        )
        found = [obj for obj in json.loads(out)["nftables"] if "set" in obj or "map" in obj]
        body = found[0].get("set") or found[0]["map"]
        return sorted(json.dumps(e, sort_keys=True) for e in body.get("elem", []))

    for name in ("p_mac", "p_ip4", "p_ip6", "port_in", "port_out"):
        assert elements(stepwise, name) == elements(direct, name), name
    assert len(elements(stepwise, "p_mac")) == 2

    back = incremental.apply(one)  # the port leaves: elements deleted
    assert any(c.startswith("nft elements") for c in back.changes)
    assert len(elements(stepwise, "p_mac")) == 1
