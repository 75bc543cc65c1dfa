"""Entering a network namespace: the one way the data plane does it.

``inside(namespace)`` moves the calling thread (only it: ``setns(2)`` is per thread) into the
named namespace (``/run/netns/<name>``; None = stay where it is) for a ``with`` block and back
afterwards. Sockets opened meanwhile live in that namespace for good, files under
``/proc/sys/net`` opened meanwhile are that namespace's, and processes started meanwhile
start there. ``route(namespace)`` is an ``IPRoute`` opened that way; ``argv(namespace, cmd)``
is the command line that runs ``cmd`` there (``ip netns exec``: a long-lived child such as
dnsmasq also needs the namespace's own /sys and /etc mounts).

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
from collections.abc import Iterator

from pyroute2 import IPRoute

from neutrino.agent.dataplane.base import error_from_errno

__all__ = ["argv", "inside", "route"]

CLONE_NEWNET = 0x40000000
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
