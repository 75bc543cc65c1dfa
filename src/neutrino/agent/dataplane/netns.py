"""Entering a network namespace: the one way the data plane does it.

``inside(namespace)`` moves the calling thread (only it: ``setns(2)`` is per thread) into the
named namespace (``/run/netns/<name>``; None = stay where it is) for a ``with`` block and back
afterwards. Sockets opened meanwhile live in that namespace for good, files under
``/proc/sys/net`` opened meanwhile are that namespace's, and processes started meanwhile
start there. ``route(namespace)`` is an ``IPRoute`` opened that way; ``argv(namespace, cmd)``
is the command line that runs ``cmd`` there (``ip netns exec``: a long-lived child such as
dnsmasq also needs the namespace's own /sys and /etc mounts). Once inside, the managers
share ``call`` (a pyroute2 verb, errno → named error), ``ensure_sysctl`` and
``sync_addresses`` and ``add_veth``.

Why not pyroute2's ways: ``IPRoute(netns=...)`` forks a helper process per socket (several
per DHCP network and round), and ``pushns``/``popns`` keep one stack for the whole process
and save ``/proc/self/ns/net`` (the main thread's namespace), so two threads entering
namespaces at once (the apply loop and the link watcher) could send each other home wrong.

Errors: a namespace that cannot be entered raises ``LinkNotFound`` (it does not exist) or the
errno's named ``DataplaneError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterable, Iterator
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.dataplane.base import error_from_errno

__all__ = ["add_veth", "argv", "call", "ensure_sysctl", "inside", "route", "sync_addresses"]

CLONE_NEWNET = 0x40000000
IFA_F_NODAD = 0x80
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise error_from_errno(ctypes.get_errno() or errno.EINVAL, what)


@contextlib.contextmanager
def inside(namespace: str | None) -> Iterator[None]:
    """This thread in ``namespace`` for the block (see the module docstring)."""
    if namespace is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        except OSError as exc:
            raise error_from_errno(exc.errno or errno.ENOENT, f"enter {namespace}") from exc
        try:
            _setns(target, f"enter {namespace}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home, f"leave {namespace}")
    finally:
        os.close(home)


def route(namespace: str | None) -> IPRoute:
    """An rtnetlink socket in ``namespace`` (None: this thread's), for this thread only:
    pyroute2 opens another socket, in the thread's own namespace, for any other thread."""
    with inside(namespace):
        return IPRoute()


def argv(namespace: str | None, command: list[str]) -> list[str]:
    """``command`` run in ``namespace`` (None: as is)."""
    return ["ip", "netns", "exec", namespace, *command] if namespace else command


def call(ipr: IPRoute, what: str, verb: str, *args: Any, **kwargs: Any) -> Any:
    """``ipr.<verb>(*args, **kwargs)``; errno becomes a named ``DataplaneError``."""
    try:
        return getattr(ipr, verb)(*args, **kwargs)
    except NetlinkError as exc:
        raise error_from_errno(exc.code, what) from exc
    except OSError as exc:  # socket-level failures (ENOBUFS on a full receive buffer)
        raise error_from_errno(exc.errno or errno.EIO, what) from exc


def ensure_sysctl(key: str, value: str, *, optional: bool = False) -> bool:
    """Set /proc/sys/``key`` of this thread's namespace to ``value`` unless it has it; whether
    it was written. ``optional``: a key this kernel lacks (IPv6 off) is left alone."""
    path = f"/proc/sys/{key}"
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return False
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        if optional and exc.errno == errno.ENOENT:
            return False
        raise error_from_errno(exc.errno or errno.EIO, f"sysctl {key}") from exc
    return True


def sync_addresses(ipr: IPRoute, index: int, want: Iterable[str]) -> tuple[set[str], set[str]]:
    """Make device ``index``'s global addresses (``address/prefix``) be ``want`` (IPv6 ones
    without DAD: the controller allocated them); the CIDRs (added, removed)."""
    dump = call(ipr, "list addresses", "addr", "dump", index=index)
    have = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in dump if a["scope"] == 0}
    wanted = set(want)
    for cidr in sorted(have - wanted):
        address, prefix = cidr.split("/")
        call(ipr, f"del {cidr}", "addr", "del", index=index, address=address, prefixlen=int(prefix))
    for cidr in sorted(wanted - have):
        address, prefix = cidr.split("/")
        extra = {"flags": IFA_F_NODAD} if ":" in address else {}
        kw = {"index": index, "address": address, "prefixlen": int(prefix), **extra}
        call(ipr, f"add {cidr}", "addr", "add", **kw)
    return wanted - have, have - wanted


def add_veth(ipr: IPRoute, device: str, peer: str, namespace: str, mac: str, mtu: int) -> int:
    """A veth pair: ``device`` in ``ipr``'s namespace, ``peer`` (with ``mac``) moved into
    ``namespace``, both with ``mtu``; ``device``'s ifindex."""
    spec = {"ifname": peer, "net_ns_fd": namespace, "address": mac, "mtu": mtu}
    call(ipr, f"create {device}", "link", "add", ifname=device, kind="veth", mtu=mtu, peer=spec)
    return int(ipr.link_lookup(ifname=device)[0])
