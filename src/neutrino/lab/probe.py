"""The probe of ``neutrino trace --verify`` in a lab: a real packet down the traced path.

The lab owns every namespace of its hypervisors, their routers and its VMs, so it can do
what the controller cannot (the controller never reaches into a host): send a crafted packet
with the trace's 5-tuple from the source VM's side of its tap and read, with nft tracing, the
verdict of every chain it meets (``agent.dataplane.probe``), then say where the real packet's
fate parts from the model's verdict (``domain.trace.probe``).

Where the probe goes: every lab hypervisor's namespace and every router namespace the lab's
agents made (``qrouter-<id>-<host namespace>``); no VM sees it (it is dropped before every lab
VM's tap) and nothing outside does (dropped as it leaves a router's gateway). Addressing:
the trace's source address, else the VM's own; the destination MAC is the VM's neighbour
entry for the next hop (``ip route get``), else the VM's kernel resolves it (then a spoofed
source MAC cannot be sent: the probe says so). ``probe`` answers ``{"verdict": "unavailable",
"reason"}`` when a probe cannot be made: not root, no such VM, a trace from outside.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from typing import Any

from neutrino.domain.hoststate import tap_name
from neutrino.domain.trace.probe import Place, fate, finding
from neutrino.domain.trace.probe_packet import ProbePacket, new_mark
from neutrino.lab import netns
from neutrino.lab.state import LabState

__all__ = ["places_of", "probe"]

ROUTER_NS = re.compile(r"^qrouter-([0-9a-f-]{36})-(.+)$")
PROBED = ("icmp", "ipv6-icmp", "tcp", "udp")


def places_of(state: LabState) -> list[Place]:
    """The lab's hypervisor namespaces and the router namespaces of its agents."""
    places = [Place(h.netns, "host", h.name) for h in state.hosts]
    hosts = {h.netns for h in state.hosts}
    for name in sorted(netns.list_namespaces()):
        found = ROUTER_NS.match(name)
        if found and found.group(2) in hosts:
            places.append(Place(name, "router", found.group(1)))
    return places


def _address(vm_ns: str, version: int) -> str | None:
    out = netns.run("ip", "-n", vm_ns, f"-{version}", "-o", "addr", "show", "dev", "eth0",
                    "scope", "global", check=False)  # fmt: skip
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields or "inet6" in fields:
            return fields[fields.index("inet6" if version == 6 else "inet") + 1].split("/")[0]
    return None


def _next_mac(vm_ns: str, dst: str) -> str | None:
    """The VM's neighbour entry for its next hop to ``dst`` (None: not known yet)."""
    route = netns.run("ip", "-n", vm_ns, "route", "get", dst, check=False).split()
    hop = route[route.index("via") + 1] if "via" in route else dst
    out = netns.run("ip", "-n", vm_ns, "neigh", "show", "to", hop, "dev", "eth0", check=False)
    fields = out.split()
    if "lladdr" in fields and not {"FAILED", "INCOMPLETE"} & set(fields):
        return fields[fields.index("lladdr") + 1]
    return None


def _unavailable(reason: str) -> dict[str, Any]:
    return {"verdict": "unavailable", "reason": reason}


def probe(state: LabState, vm_name: str | None, answer: dict[str, Any]) -> dict[str, Any]:
    """Send the probe of trace ``answer`` (the API's) from lab VM ``vm_name``; the finding."""
    from neutrino.agent.dataplane.probe import Injection, ProbeError, send_probe

    vm = state.vms.get(vm_name or "") or next(
        (v for v in state.vms.values() if v.port_id == vm_name), None
    )  # a lab VM by its name or its port's id
    packet = answer["packet"]
    if vm is None:
        return _unavailable("the source is not a lab VM: only a lab VM's namespace is reachable")
    if os.geteuid() != 0:
        return _unavailable("not root: the lab's namespaces are out of reach")
    if packet.get("protocol") not in PROBED:
        return _unavailable(f"no probe for protocol {packet.get('protocol')}")
    dst = packet["dst"]
    version = ipaddress.ip_address(dst).version
    src = packet.get("src") or _address(vm.netns, version)
    if src is None:
        return _unavailable(f"VM {vm.name} has no IPv{version} address to send from")
    dst_mac = _next_mac(vm.netns, dst)
    src_mac = packet.get("src_mac") or vm.mac
    if dst_mac is None and src_mac != vm.mac:
        return _unavailable("no neighbour entry for the next hop: a spoofed MAC cannot be sent")
    shape = ProbePacket(
        src=src,
        dst=dst,
        protocol=packet["protocol"],
        mark=new_mark(version),
        dport=packet.get("dport"),
        sport=packet.get("sport"),
        icmp_type=packet.get("icmp_type"),
        icmp_code=packet.get("icmp_code"),
    )
    taps = [tap_name(v.port_id) for v in state.vms.values()]
    begun = time.monotonic()
    try:
        run = send_probe(
            places_of(state), shape, Injection(vm.netns, "eth0", src_mac, dst_mac), taps
        )
    except ProbeError as exc:
        return _unavailable(str(exc))
    found = finding(answer["hops"], answer["verdict"], fate(run.events, f"nprobe-{shape.mark:x}"))
    found["sent_from"] = f"{vm.name} ({vm.netns} eth0)"
    found["match"] = shape.match()
    found["milliseconds"] = {k: round(v * 1000, 1) for k, v in run.timings.items()}
    found["milliseconds"]["total"] = round((time.monotonic() - begun) * 1000, 1)
    return found
