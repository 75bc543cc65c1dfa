#!/usr/bin/env python3
"""Security-group figures: ruleset load at scale, rule change → enforcement, throughput.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
``load`` (issue 4's "nft ruleset load for 1,000 ports / 10 groups"): a synthetic host state
with ``--ports`` ports on 5 VXLAN networks, each port in one of ``--groups`` groups (5 rules
each: egress v4/v6, ingress tcp/22 and icmp from a CIDR, ingress from the group itself as a
remote group), one allowed address pair per port. In a fresh namespace: ``calc``
(``compute_sg``), ``cold`` (first ``NftManager.apply``: both tables), ``noop`` (the same state
again: skipped after one ``nft list tables``), ``rule`` (one rule removed: the whole ruleset
replaced atomically, conntrack cleanup included) and ``member`` (a port added to a remote
group); median of ``--rounds``. ``--nft process`` loads through an ``nft -f -`` process per
load instead of libnftables in-process (``dataplane.nftables``), to compare the two.

``nft-call``: one element change (a port binding's share of the nft step) through
libnftables in-process and through an ``nft -f -`` process, alternated call by call
(``--nft-calls`` each) so both see the same load; p50/p90 per call.

``enforce`` ("time from a rule change to enforcement on the host, p50/p99"): one hypervisor
namespace, two VMs on one bridge wired by the real L2 manager, the target in a group without
ICMP. Each round adds an ICMP rule — ``apply`` is host state in → calc → nft applied, and
``first_reply`` is until a ping from the other VM (one echo every 5 ms) gets its first
answer — then removes it with that ping running: ``cut`` is until the last answer (conntrack
cleanup included).

``api`` (the same through the whole system): a ``neutrino lab`` with its own controller and
one supervised agent; a VM in the default group and a peer without port security on hv1.
Each round ``POST``s a rule admitting ICMP from the peer while the peer pings every 5 ms:
``rule_add`` is POST → first reply; one second later the rule is ``DELETE``d:
``rule_delete_cut`` is DELETE → last reply (conntrack cleanup included).

``iperf`` ("VM→VM across VXLAN with and without groups"): two hypervisors over a VXLAN
underlay, one VM each; iperf3 (one TCP stream, ``--seconds``) first without filtering (port
security off, br_netfilter off), with br_netfilter and conntrack on but no port filtering
(``conntrack``: the inet table only, what stateful tracking costs by itself), and with both
ports in the default group; the three
interleaved ``--iperf-repeats`` times (best and median reported: on a shared machine the best
run is the least disturbed). Skipped when iperf3 is not installed.

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/sg.py [--ports 1000] [--groups 10] [--enforce-rounds 30]
        [--nft library|process]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.dataplane.nft import NftManager
from neutrino.agent.model import AgentConfig
from neutrino.agent.sg_calc import compute_sg
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
from neutrino.lab import Lab
from neutrino.lab import netns as labns

EGRESS = (RuleState("e4", "egress", "IPv4"), RuleState("e6", "egress", "IPv6"))
ICMP = RuleState("icmp", "ingress", "IPv4", "icmp", remote_ip_prefix="192.0.2.0/24")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sh(*cmd: str, check: bool = True) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")
    return done.stdout


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@contextmanager
def namespaces() -> Iterator[Callable[[str], str]]:
    """``make(role)`` creates namespace ``ntsgb<rand>-<role>`` (lo up, no IPv6 on new
    devices); all of them are deleted on exit."""
    suffix = uuid.uuid4().hex[:6]
    made: list[str] = []

    def make(role: str) -> str:
        name = f"ntsgb{suffix}-{role}"
        sh("ip", "netns", "add", name)
        made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        return name

    try:
        yield make
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


# --- load ------------------------------------------------------------------------------------


def synthetic(ports: int, groups: int) -> HostState:
    nets = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(1, 6)]
    gids = [f"{g:08x}-1111-4000-8000-{g:012x}" for g in range(1, groups + 1)]
    defs = tuple(
        SecurityGroupState(
            g,
            True,
            (
                *EGRESS,
                ICMP,
                RuleState("ssh", "ingress", "IPv4", "tcp", 22, 22, "203.0.113.0/24"),
                RuleState("rg", "ingress", "IPv4", remote_group_id=g),
            ),
        )
        for g in gids
    )
    items = []
    for i in range(ports):
        ip = f"10.{i // 250}.{i % 250}.{10 + i % 200}"  # synthetic, never on a wire
        items.append(
            PortState(
                f"{i:08x}-2222-4000-8000-{i:012x}",
                nets[i % len(nets)],
                f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                (FixedIp("s", ip),),
                True,
                port_security_enabled=True,
                security_groups=(gids[i % groups],),
                allowed_address_pairs=(
                    AddressPair(
                        f"198.18.{i // 250}.{i % 250}/32",
                        f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    ),
                ),
            )
        )
    members = tuple(
        RemoteGroup(
            g,
            tuple(sorted({p.fixed_ips[0].ip_address for p in items if p.security_groups[0] == g})),
        )
        for g in gids
    )
    return HostState(
        "bench",
        1,
        networks=tuple(NetworkState(n, "vxlan", 1000 + k, None, 1450) for k, n in enumerate(nets)),
        ports=tuple(items),
        security_groups=defs,
        remote_groups=members,
    )


def bench_load(ports: int, groups: int, rounds: int, nft: str = "library") -> dict[str, Any]:
    base = synthetic(ports, groups)
    fewer = replace(
        base,
        security_groups=(
            replace(base.security_groups[0], rules=base.security_groups[0].rules[:-1]),
            *base.security_groups[1:],
        ),
    )
    grown = replace(
        base,
        remote_groups=(
            replace(
                base.remote_groups[0], addresses=(*base.remote_groups[0].addresses, "10.99.0.1")
            ),
            *base.remote_groups[1:],
        ),
    )
    out: dict[str, list[float]] = {k: [] for k in ("calc", "cold", "noop", "rule", "member")}
    for _ in range(rounds):
        with namespaces() as make:
            manager = NftManager(make("load"), in_process=nft == "library")
            t = time.perf_counter()
            ruleset = compute_sg(base)
            out["calc"].append(time.perf_counter() - t)
            for key, rs in (
                ("cold", ruleset),
                ("noop", ruleset),
                ("rule", compute_sg(fewer)),
                ("member", compute_sg(grown)),
            ):
                t = time.perf_counter()
                manager.apply(rs)
                out[key].append(time.perf_counter() - t)
            manager.close()
    result: dict[str, Any] = {k: ms(statistics.median(v)) for k, v in out.items()}
    result.update(
        ports=ports,
        groups=groups,
        rounds=rounds,
        ruleset_bytes=len(compute_sg(base).text),
        nft=nft,
    )
    return result


def bench_nft_call(calls: int) -> dict[str, Any]:
    """One element change (what a port binding costs the agent's nft step) through
    libnftables in-process and through an ``nft -f -`` process, alternated call by call in one
    namespace so both see the same machine load; median and p90 per call."""
    from neutrino.agent.dataplane.nftables import Nft

    table = "table inet ntbench"
    out: dict[str, list[float]] = {"library": [], "process": []}
    with namespaces() as make:
        ns = make("nftcall")
        modes = {"library": Nft(ns), "process": Nft(ns, in_process=False)}
        modes["library"].run(f"{table} {{\n set s {{ type ipv4_addr; }}\n}}\n")
        for i in range(calls):
            for mode, nft in modes.items():
                verb = "add" if i % 2 == 0 else "delete"
                t = time.perf_counter()
                net = "192.0.2" if mode == "library" else "198.51.100"
                nft.run(f"{verb} element inet ntbench s {{ {net}.{i // 2 % 200 + 1} }}\n")
                out[mode].append(time.perf_counter() - t)
        modes["library"].close()
    return {
        mode: {"p50_ms": ms(statistics.median(v)), "p90_ms": ms(sorted(v)[int(len(v) * 0.9)])}
        for mode, v in out.items()
    } | {"calls": calls}


# --- a small lab -----------------------------------------------------------------------------

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
VTEPS = {"hv1": "198.51.100.1", "hv2": "198.51.100.2"}


def vm_port(n: int, groups: tuple[str, ...], secure: bool = True) -> PortState:
    return PortState(
        f"b{n:07x}-0000-4000-8000-{n:012x}",
        NET,
        f"fa:16:3e:00:01:{n:02x}",
        (FixedIp("s", f"192.0.2.{10 + n}"),),
        True,
        port_security_enabled=secure,
        security_groups=groups,
    )


def host(
    hv: str,
    local: list[PortState],
    remote: list[tuple[PortState, str]],
    groups: tuple[SecurityGroupState, ...],
) -> HostState:
    members = {
        g.id: tuple(
            sorted(
                {
                    p.fixed_ips[0].ip_address
                    for p in [*local, *(r for r, _ in remote)]
                    if g.id in p.security_groups
                }
            )
        )
        for g in groups
    }
    used = {g for p in local for g in p.security_groups}
    return HostState(
        hv,
        1,
        tunnel_ip=VTEPS[hv],
        networks=(NetworkState(NET, "vxlan", 1001, None, 1450),),
        ports=tuple(local),
        l2pop=(
            L2Pop(
                NET,
                tuple(sorted({v for _, v in remote})),
                tuple(
                    RemotePort(p.id, p.mac_address, (p.fixed_ips[0].ip_address,), v)
                    for p, v in remote
                ),
            ),
        )
        if remote
        else (),
        security_groups=tuple(g for g in groups if g.id in used),
        remote_groups=tuple(RemoteGroup(g.id, members[g.id]) for g in groups if g.id in used),
    )


def plug(hv: str, vm: str, port: PortState) -> None:
    sh(
        "ip",
        "-n",
        hv,
        "link",
        "add",
        tap_name(port.id),
        "mtu",
        "1450",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        vm,
        "mtu",
        "1450",
        "address",
        port.mac_address,
    )
    sh("ip", "-n", vm, "addr", "add", port.fixed_ips[0].ip_address + "/24", "dev", "eth0")
    sh("ip", "-n", vm, "link", "set", "eth0", "up")


def underlay(make: Callable[[str], str], roles: list[str]) -> dict[str, str]:
    ul = make("ul")
    sh("ip", "-n", ul, "link", "add", "br-ul", "type", "bridge")
    sh("ip", "-n", ul, "link", "set", "br-ul", "up")
    hvs = {}
    for i, role in enumerate(roles, start=1):
        hv = make(role)
        sh(
            "ip",
            "-n",
            ul,
            "link",
            "add",
            f"ul-{i}",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            hv,
        )
        sh("ip", "-n", ul, "link", "set", f"ul-{i}", "master", "br-ul", "up")
        sh("ip", "-n", hv, "addr", "add", f"198.51.100.{i}/24", "dev", "eth1")
        sh("ip", "-n", hv, "link", "set", "eth1", "up")
        hvs[role] = hv
    return hvs


def l2(hv_ns: str, hv: str, state: HostState) -> None:
    with NetlinkKernel(hv_ns) as kernel:
        L2Manager(kernel).apply(compute_l2(state, AgentConfig(VTEPS[hv], "eth1")))


# --- enforce ---------------------------------------------------------------------------------


def bench_enforce(rounds: int) -> dict[str, Any]:
    gid = "c0000000-0000-4000-8000-00000000000c"
    without = (SecurityGroupState(gid, True, EGRESS),)
    with_icmp = (SecurityGroupState(gid, True, (*EGRESS, ICMP)),)
    target, peer = vm_port(1, (gid,)), vm_port(2, (), secure=False)
    apply_t: list[float] = []
    first: list[float] = []
    cut: list[float] = []
    with namespaces() as make:
        hv = underlay(make, ["hv1"])["hv1"]
        vms = {target.id: make("vm1"), peer.id: make("vm2")}
        for p in (target, peer):
            plug(hv, vms[p.id], p)
        l2(hv, "hv1", host("hv1", [target, peer], [], without))
        manager = NftManager(hv)
        manager.apply(compute_sg(host("hv1", [target, peer], [], without)))
        dst = target.fixed_ips[0].ip_address
        for _ in range(rounds):
            ping = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    vms[peer.id],
                    "ping",
                    "-n",
                    "-D",
                    "-i",
                    "0.005",
                    "-W",
                    "1",
                    "-w",
                    "4",
                    dst,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.3)  # ARP resolved, pings being dropped
            t0 = time.time()
            manager.apply(compute_sg(host("hv1", [target, peer], [], with_icmp)))
            apply_t.append(time.time() - t0)
            time.sleep(0.5)
            t1 = time.time()
            manager.apply(compute_sg(host("hv1", [target, peer], [], without)))
            stamps = []
            assert ping.stdout is not None
            for line in ping.stdout:
                if "bytes from" in line:
                    stamps.append(float(line.split("]")[0].lstrip("[")))
            ping.wait()
            after_add = [s for s in stamps if s >= t0]
            if after_add:
                first.append(min(after_add) - t0)
            before_cut = [s for s in stamps if s >= t1]
            cut.append((max(before_cut) - t1) if before_cut else 0.0)
    return {
        "rounds": rounds,
        "apply_p50": ms(pct(apply_t, 0.5)),
        "apply_p99": ms(pct(apply_t, 0.99)),
        "first_reply_p50": ms(pct(first, 0.5)) if first else None,
        "first_reply_p99": ms(pct(first, 0.99)) if first else None,
        "cut_p50": ms(pct(cut, 0.5)),
        "cut_p99": ms(pct(cut, 0.99)),
        "replied_rounds": len(first),
    }


# --- api: rule change through the controller -> enforcement on the host ---------------------


def ping_stamps(ns: str, dst: str, seconds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-D",
            "-i",
            "0.005",
            "-W",
            "1",
            "-w",
            str(seconds),
            dst,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def stamps_of(proc: subprocess.Popen[str]) -> list[float]:
    assert proc.stdout is not None
    out = [float(line.split("]")[0].lstrip("[")) for line in proc.stdout if "bytes from" in line]
    proc.wait()
    return out


def bench_api(rounds: int) -> dict[str, Any]:
    prefix = f"ntsga{uuid.uuid4().hex[:4]}-"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-sg-", dir="/tmp"))
    directory.chmod(0o755)
    lab = Lab(directory)
    made: list[str] = []
    add, cut = [], []
    try:
        lab.up(hosts=1, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
        with lab.controller() as api:
            net = api.create_network(name="bench-sg", **{"provider:network_type": "vxlan"})
            api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False, gateway_ip=None)
            ports = {
                "target": api.create_port(net["id"], **{"binding:host_id": "hv1"}),
                "peer": api.create_port(
                    net["id"],
                    security_groups=[],
                    port_security_enabled=False,
                    **{"binding:host_id": "hv1"},
                ),
            }
            for name, port in ports.items():
                ns = f"{prefix}{name}"
                labns.add_namespace(ns)
                made.append(ns)
                labns.plug_vm(
                    f"{prefix}hv1", tap_name(port["id"]), ns, port["mac_address"], net["mtu"]
                )
                sh(
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    port["fixed_ips"][0]["ip_address"] + "/24",
                    "dev",
                    "eth0",
                )
                if api.wait_port(port["id"], timeout=30)["status"] != "ACTIVE":
                    raise RuntimeError(f"{name} port not ACTIVE")
            group = ports["target"]["security_groups"][0]
            dst = ports["target"]["fixed_ips"][0]["ip_address"]
            src = ports["peer"]["fixed_ips"][0]["ip_address"]
            for _ in range(rounds):
                pinger = ping_stamps(f"{prefix}peer", dst, 3)
                time.sleep(0.3)
                t0 = time.time()
                rule = api.session.request(
                    "POST",
                    "/v2.0/security-group-rules",
                    json={
                        "security_group_rule": {
                            "security_group_id": group,
                            "direction": "ingress",
                            "ethertype": "IPv4",
                            "protocol": "icmp",
                            "remote_ip_prefix": f"{src}/32",
                        }
                    },
                )
                time.sleep(1.0)
                t1 = time.time()
                api.session.request(
                    "DELETE", f"/v2.0/security-group-rules/{rule['security_group_rule']['id']}"
                )
                stamps = stamps_of(pinger)
                after = [t for t in stamps if t >= t0]
                if not after:
                    raise RuntimeError("the rule was never enforced")
                add.append(min(after) - t0)
                before_cut = [t for t in stamps if t >= t1]
                cut.append(max(before_cut) - t1 if before_cut else 0.0)
                time.sleep(0.3)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "rounds": rounds,
        "rule_add_p50": ms(pct(add, 0.5)),
        "rule_add_p99": ms(pct(add, 0.99)),
        "rule_delete_cut_p50": ms(pct(cut, 0.5)),
        "rule_delete_cut_p99": ms(pct(cut, 0.99)),
    }


# --- iperf -----------------------------------------------------------------------------------


def bench_iperf(seconds: int, repeats: int) -> dict[str, Any]:
    if shutil.which("iperf3") is None:
        return {"skipped": "iperf3 not installed"}
    gid = "d0000000-0000-4000-8000-00000000000d"
    default = (
        SecurityGroupState(
            gid, True, (*EGRESS, RuleState("rg", "ingress", "IPv4", remote_group_id=gid))
        ),
    )
    out: dict[str, Any] = {"seconds": seconds, "repeats": repeats}
    with namespaces() as make:
        hvs = underlay(make, ["hv1", "hv2"])
        for hv in hvs.values():
            sh(
                "ip",
                "netns",
                "exec",
                hv,
                "sysctl",
                "-qw",
                "net.bridge.bridge-nf-call-iptables=0",
                "net.bridge.bridge-nf-call-ip6tables=0",
                "net.bridge.bridge-nf-call-arptables=0",
            )
        a, b = vm_port(1, (gid,)), vm_port(2, (gid,))
        vms = {"hv1": make("vm1"), "hv2": make("vm2")}
        plug(hvs["hv1"], vms["hv1"], a)
        plug(hvs["hv2"], vms["hv2"], b)
        server = subprocess.Popen(
            ["ip", "netns", "exec", vms["hv2"], "iperf3", "-s"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            runs: dict[str, list[float]] = {"without": [], "conntrack": [], "with": []}
            for _ in range(repeats):  # interleaved: a busy machine slows every variant alike
                for label in runs:
                    secure = label == "with"
                    pa, pb = (
                        replace(a, port_security_enabled=secure),
                        replace(b, port_security_enabled=secure),
                    )
                    states = {
                        "hv1": host("hv1", [pa], [(pb, VTEPS["hv2"])], default),
                        "hv2": host("hv2", [pb], [(pa, VTEPS["hv1"])], default),
                    }
                    for hv, st in states.items():
                        l2(hvs[hv], hv, st)
                        # unfiltered ports: only the inet table (zones, ct state -> mark)
                        NftManager(hvs[hv]).apply(compute_sg(st))
                        nf = "0" if label == "without" else "1"
                        sh(
                            "ip",
                            "-n",
                            hvs[hv],
                            "link",
                            "set",
                            f"brq{NET[:11]}",
                            "type",
                            "bridge",
                            "nf_call_iptables",
                            nf,
                            "nf_call_ip6tables",
                            nf,
                        )
                    done = subprocess.run(
                        [
                            "ip",
                            "netns",
                            "exec",
                            vms["hv1"],
                            "iperf3",
                            "-J",
                            "-c",
                            b.fixed_ips[0].ip_address,
                            "-t",
                            str(seconds),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    if done.returncode != 0:
                        raise RuntimeError(f"iperf3: {done.stdout[-300:]} {done.stderr[-300:]}")
                    bps = json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"]
                    runs[label].append(round(bps / 1e9, 2))
            for label, values in runs.items():
                out[label + "_gbit"] = values
                out[label + "_best"] = max(values)
                out[label + "_median"] = statistics.median(values)
        finally:
            server.terminate()
            server.wait()
    out["ratio_best"] = round(out["with_best"] / out["without_best"], 3)
    out["ratio_median"] = round(out["with_median"] / out["without_median"], 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--enforce-rounds", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--iperf-repeats", type=int, default=3)
    parser.add_argument("--api-rounds", type=int, default=20)
    parser.add_argument("--only", choices=("load", "nft-call", "enforce", "api", "iperf"))
    parser.add_argument("--nft-calls", type=int, default=200)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument(
        "--nft",
        choices=("library", "process"),
        default="library",
        help="load rulesets through libnftables in-process (default) or an nft process each",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if args.only in (None, "load"):
        result["load"] = bench_load(args.ports, args.groups, args.rounds, args.nft)
        log(f"load: {result['load']}")
    if args.only in (None, "nft-call"):
        result["nft_call"] = bench_nft_call(args.nft_calls)
        log(f"nft call: {result['nft_call']}")
    if args.only in (None, "enforce"):
        result["enforce"] = bench_enforce(args.enforce_rounds)
        log(f"enforce: {result['enforce']}")
    if args.only in (None, "api"):
        result["api"] = bench_api(args.api_rounds)
        log(f"api: {result['api']}")
    if args.only in (None, "iperf"):
        result["iperf"] = bench_iperf(args.seconds, args.iperf_repeats)
        log(f"iperf: {result['iperf']}")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
