"""Idle clients for the connection-limit tests: a child process that opens N TCP connections
to a server and never sends a byte on them.

A child of its own because one process cannot hold 20,000 sockets under a 20,000 open-files
limit next to everything pytest has open; the test starts several. It talks on stdin/stdout:

- on start it opens the connections (raising its own RLIMIT_NOFILE soft limit first) and
  prints ``opened <n>``;
- ``count`` -> ``open <n> closed <m>``: how many the server has closed so far (EOF or reset);
- ``wait <seconds>`` -> the same line once all are closed or the time is up.

    python tests/idle_clients.py HOST PORT N SOURCE_ADDRESS
"""

from __future__ import annotations

import errno
import os
import resource
import select
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def open_connections(
    host: str, port: int, n: int, source: str, window: int = 1000
) -> list[socket.socket]:
    """``n`` connected sockets from the loopback address ``source``. Connects run ``window``
    at a time without blocking: when the server's accept queue is full the kernel drops a SYN
    and that connect waits a second for its retry, which must not hold up all the others.
    Each holder has a source address of its own, so the holders do not compete for the
    machine's ~28,000 ephemeral ports (the port is picked per destination at connect)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    poll = select.epoll()
    pending: dict[int, socket.socket] = {}
    connected: list[socket.socket] = []
    started = 0
    while started < n or pending:
        while started < n and len(pending) < window:
            s = socket.socket()
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((source, 0))
            s.setblocking(False)
            err = s.connect_ex((host, port))
            started += 1
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            pending[s.fileno()] = s
            poll.register(s.fileno(), select.EPOLLOUT)
        for fd, _ in poll.poll(1.0):
            s = pending.pop(fd)
            poll.unregister(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            connected.append(s)
    poll.close()
    return connected


class Watch:
    """Which of the sockets the server has closed (readable with EOF, or reset)."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.open = {s.fileno(): s for s in socks}
        self.closed = 0
        self.poll = select.epoll()
        for fd in self.open:
            self.poll.register(fd, select.EPOLLIN | select.EPOLLRDHUP)

    def update(self, timeout: float) -> None:
        events = self.poll.poll(timeout, len(self.open) or 1)
        for fd, _ in events:
            s = self.open.pop(fd, None)
            if s is None:
                continue
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                self.open[fd] = s
                continue
            except OSError:
                data = b""
            if data:  # the server wrote something: not an idle close, keep watching
                self.open[fd] = s
                continue
            self.poll.unregister(fd)
            s.close()
            self.closed += 1

    def line(self) -> str:
        return f"open {len(self.open)} closed {self.closed}"


def main() -> None:
    host, port, n, source = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    watch = Watch(open_connections(host, port, n, source))
    print(f"opened {n}", flush=True)
    for command in sys.stdin:
        verb, *args = command.split()
        if verb == "count":
            watch.update(0)
        elif verb == "wait":
            deadline = time.monotonic() + float(args[0])
            while watch.open and time.monotonic() < deadline:
                watch.update(min(0.2, max(0.0, deadline - time.monotonic())))
        print(watch.line(), flush=True)


if __name__ == "__main__":
    main()
