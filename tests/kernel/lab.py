"""Throwaway network namespaces for kernel tests (a small version of DATAPLANE.md's lab).

``NetnsLab`` names every namespace with a random suffix, creates devices directly inside its
namespaces (never in the default one), uses only documentation ranges, and ``cleanup`` removes
every namespace it made (deleting a namespace deletes its devices, veth peers included).
``skip_reason`` says why kernel tests cannot run here (not root, no ``ip netns``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

from pyroute2 import netns as pr_netns

UNDERLAY = "198.51.100"


def skip_reason() -> str | None:
    """None when kernel tests can run, else why not."""
    if os.geteuid() != 0:
        return "kernel tests need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "ip netns is unavailable: " + probe.stderr.strip()
    return None


class NetnsLab:
    """Namespaces named ``nt<suffix>-<role>``; ``cleanup`` removes all of them."""

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:6]
        self.namespaces: list[str] = []

    def name(self, role: str) -> str:
        return f"nt{self.suffix}-{role}"

    def ns(self, role: str, *, ipv6: bool = True) -> str:
        """Create namespace for ``role`` with lo up; IPv6 off for new devices unless ``ipv6``."""
        name = self.name(role)
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        if not ipv6:
            sysctl(name, "net/ipv6/conf/default/disable_ipv6", "1")
        return name

    def cleanup(self) -> None:
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()

    def underlay(self, roles: list[str]) -> dict[str, str]:
        """An underlay bridge namespace plus hypervisors: role → namespace, each with
        ``eth1`` = 198.51.100.<i>/24 (i from 1) on a veth into the underlay bridge."""
        ul = self.ns("ul", ipv6=False)
        run("ip", "-n", ul, "link", "add", "br-ul", "type", "bridge", "mcast_snooping", "0")
        run("ip", "-n", ul, "link", "set", "br-ul", "up")
        hvs = {}
        for i, role in enumerate(roles, start=1):
            hv = self.ns(role, ipv6=False)
            run(
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
            run("ip", "-n", ul, "link", "set", f"ul-{i}", "master", "br-ul", "up")
            run("ip", "-n", hv, "addr", "add", f"{UNDERLAY}.{i}/24", "dev", "eth1")
            run("ip", "-n", hv, "link", "set", "eth1", "up")
            hvs[role] = hv
        return hvs

    def vm(self, role: str, hv: str, tap: str, mac: str, cidr: str, mtu: int = 1450) -> str:
        """A "VM" namespace whose eth0 (``mac``, ``cidr``) is veth-paired to ``tap`` in ``hv``."""
        vm = self.ns(role, ipv6=False)
        run(
            "ip",
            "-n",
            hv,
            "link",
            "add",
            tap,
            "mtu",
            str(mtu),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            vm,
            "mtu",
            str(mtu),
            "address",
            mac,
        )
        run("ip", "-n", vm, "addr", "add", cidr, "dev", "eth0")
        run("ip", "-n", vm, "link", "set", "eth0", "up")
        return vm


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result.stdout


def sysctl(ns: str, key: str, value: str) -> None:
    """Write /proc/sys/<key> inside ``ns`` (setns in this thread, then back)."""
    pr_netns.pushns(ns)
    try:
        with open("/proc/sys/" + key, "w") as f:
            f.write(value)
    finally:
        pr_netns.popns()


def udp_socket(ns: str, bind_ip: str, port: int) -> socket.socket:
    """A UDP socket living in ``ns`` (created after setns, usable from any thread)."""
    pr_netns.pushns(ns)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    finally:
        pr_netns.popns()
    sock.bind((bind_ip, port))
    sock.settimeout(0.5)
    return sock


def udp_reaches(src_ns: str, src_ip: str, dst_ns: str, dst_ip: str, tries: int = 6) -> bool:
    """True if a datagram from ``src_ns`` reaches ``dst_ip`` in ``dst_ns`` and its echo comes
    back (ARP resolved, both directions forwarded). Stands in for ping (no iputils here)."""
    server = udp_socket(dst_ns, dst_ip, 40000)
    client = udp_socket(src_ns, src_ip, 40001)
    try:
        for attempt in range(tries):
            payload = f"probe-{attempt}".encode()
            client.sendto(payload, (dst_ip, 40000))
            try:
                data, peer = server.recvfrom(64)
                server.sendto(data, peer)
                # any probe's echo proves both directions: an earlier probe held back (ARP
                # slower than the timeout) arrives one attempt late, and every later attempt
                # would then read the echo of the one before
                if client.recvfrom(64)[0].startswith(b"probe-"):
                    return True
            except TimeoutError:
                continue
        return False
    finally:
        server.close()
        client.close()
