"""The lab's kernel plumbing: namespaces and veth pairs through ``ip`` (iproute2).

Everything is created *inside* a namespace the lab made (``ip -n NS link add …`` with the
peer sent straight into another lab namespace), so no device ever appears in the host's own
namespace, and deleting a namespace deletes its devices and their veth peers. Every removal
is idempotent (absent means done). Host-side devices get no IPv6 (``disable_ipv6`` is set as
the namespace's default before any device is made). Addresses are documentation ranges only.

Errors: a failed ``ip`` call raises ``LabError`` with the command and its stderr.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

__all__ = [
    "EXTERNAL_BRIDGE",
    "EXTERNAL_DEV",
    "EXTERNAL_GATEWAY",
    "EXTERNAL_PHYSNET",
    "UNDERLAY_BRIDGE",
    "LabError",
    "add_external",
    "add_namespace",
    "add_underlay",
    "delete_namespace",
    "list_namespaces",
    "plug_external",
    "plug_host",
    "plug_vm",
    "run",
]

UNDERLAY_BRIDGE = "br-ul"
EXTERNAL_BRIDGE = "br-public"
EXTERNAL_PHYSNET = "public"
EXTERNAL_DEV = "eth2"  # a network node's uplink to the external network
EXTERNAL_GATEWAY = "203.0.113.1/24"  # the outside world's address (and the routers' next hop)


class LabError(RuntimeError):
    """A lab operation failed (the message says which and why)."""


def run(*cmd: str, timeout: float = 30.0, check: bool = True) -> str:
    """Run ``cmd``; its stdout. Raises ``LabError`` when it fails and ``check``."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(cmd)}: {exc}") from exc
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def list_namespaces() -> set[str]:
    """Names of all network namespaces (``ip netns list`` adds ``(id: N)`` to some)."""
    return {line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()}


def add_namespace(name: str, *, ipv6: bool = False) -> None:
    """Namespace ``name`` with ``lo`` up; IPv6 off for the devices made in it unless ``ipv6``.
    Idempotent."""
    if name not in list_namespaces():
        run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")
    if not ipv6:
        for scope in ("default", "all"):
            run(
                "ip",
                "netns",
                "exec",
                name,
                "sysctl",
                "-qw",
                f"net.ipv6.conf.{scope}.disable_ipv6=1",
            )


def delete_namespace(name: str) -> None:
    """Delete ``name`` (and every device in it); nothing if it is gone."""
    if name in list_namespaces():
        run("ip", "netns", "del", name, check=False)


def add_underlay(namespace: str) -> None:
    """The underlay switch: a bridge (no multicast snooping) in ``namespace``. Idempotent."""
    if not _has_link(namespace, UNDERLAY_BRIDGE):
        run(
            "ip",
            "-n",
            namespace,
            "link",
            "add",
            UNDERLAY_BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        )
    run("ip", "-n", namespace, "link", "set", UNDERLAY_BRIDGE, "up")


def plug_host(underlay: str, index: int, host_ns: str, cidr: str, dev: str = "eth1") -> None:
    """``dev`` in ``host_ns`` with ``cidr``, veth-paired to ``ul-<index>`` on the underlay
    bridge. Idempotent."""
    port = f"ul-{index}"
    if not _has_link(underlay, port):
        run(
            "ip",
            "-n",
            underlay,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            dev,
            "netns",
            host_ns,
        )
    run("ip", "-n", underlay, "link", "set", port, "master", UNDERLAY_BRIDGE, "up")
    if cidr.split("/")[0] not in run("ip", "-n", host_ns, "-4", "addr", "show", "dev", dev):
        run("ip", "-n", host_ns, "addr", "add", cidr, "dev", dev)
    run("ip", "-n", host_ns, "link", "set", dev, "up")


def add_external(namespace: str) -> None:
    """The outside world: bridge ``br-public`` in ``namespace`` holding 203.0.113.1/24 (the
    external subnet's gateway, and the host that sees SNAT and floating IPs). Idempotent."""
    if not _has_link(namespace, EXTERNAL_BRIDGE):
        run(
            "ip",
            "-n",
            namespace,
            "link",
            "add",
            EXTERNAL_BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        )
    if EXTERNAL_GATEWAY.split("/")[0] not in run(
        "ip", "-n", namespace, "-4", "addr", "show", "dev", EXTERNAL_BRIDGE
    ):
        run("ip", "-n", namespace, "addr", "add", EXTERNAL_GATEWAY, "dev", EXTERNAL_BRIDGE)
    run("ip", "-n", namespace, "link", "set", EXTERNAL_BRIDGE, "up")


def plug_external(external: str, index: int, host_ns: str, dev: str = EXTERNAL_DEV) -> None:
    """``dev`` in ``host_ns`` (no address: the agent enslaves it to the flat network's
    bridge), veth-paired to ``pub-<index>`` on ``br-public``. Idempotent."""
    port = f"pub-{index}"
    if not _has_link(external, port):
        run(
            "ip",
            "-n",
            external,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            dev,
            "netns",
            host_ns,
        )
    run("ip", "-n", external, "link", "set", port, "master", EXTERNAL_BRIDGE, "up")
    run("ip", "-n", host_ns, "link", "set", dev, "up")


def plug_vm(host_ns: str, tap: str, vm_ns: str, mac: str, mtu: int) -> None:
    """The VM's ``eth0`` (``mac``, ``mtu``) in ``vm_ns``, veth-paired to ``tap`` in
    ``host_ns`` (the agent enslaves the tap to the network's bridge)."""
    if not _has_link(host_ns, tap):
        run(
            "ip",
            "-n",
            host_ns,
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
            vm_ns,
            "mtu",
            str(mtu),
            "address",
            mac,
        )
    run("ip", "-n", host_ns, "link", "set", tap, "up")
    run("ip", "-n", vm_ns, "link", "set", "eth0", "up")


def exec_in(
    namespace: str, argv: Sequence[str], **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``namespace`` (``ip netns exec``), not checked."""
    done: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        ["ip", "netns", "exec", namespace, *argv], text=True, check=False, **kwargs
    )
    return done


def _has_link(namespace: str, name: str) -> bool:
    return bool(run("ip", "-n", namespace, "-o", "link", "show", name, check=False).strip())
