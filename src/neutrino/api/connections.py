"""Connection hygiene for the API server: uvicorn's httptools protocol with the limits it lacks.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but only once it
has answered a request on it: a connection that never sends a byte, or sends its headers a
byte at a time, stays open for ever, and httptools buffers headers without a size limit.
Twenty thousand such connections used up every file descriptor: requests failed and the
database layer could not open its files. ``GuardedHttpProtocol`` adds, per server process:

- a header deadline: a connection must deliver a request's complete headers within
  ``header_timeout`` of opening, or of its previous answer; else it is closed;
- a header size limit (``MAX_HEADER_BYTES``): past it the request is answered 414 (a long
  URL) or 431 and the connection closed, before any of it reaches the application;
- a connection cap (``max_connections``, lowered to fit the open-files limit): a connection
  over the cap closes the oldest *idle* one (no request in progress: waiting for its first
  request or between two); when none is idle the newcomer is closed instead.

Requests in progress are never cut: long-polls are bounded apart (``api.agent.v1``), the body
size by ``api.guard``. All of it runs on the event loop thread; no locks.

It also stamps each request with the moment its first bytes were read off the socket (the
``neutrino.received`` scope extension, ``{"at": time.perf_counter()}``): the latency
histogram (``api.observability``) starts its clock there, so the time uvicorn spends parsing
and the wait until the event loop runs the request's task are the server's, as the client
sees them.

``serve`` calls ``raise_open_files_limit`` first (soft limit up to the hard one) and builds
uvicorn's options with ``server_options``. With several workers uvicorn pickles its config, so
the workers use the module's own ``GuardedHttpProtocol`` and set its ``limits`` from their
settings (``configure``); one process gets a subclass of its own (``protocol_for``).
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from neutrino.common.settings import Settings

MAX_HEADER_BYTES = 64 * 1024  # request line and headers together
# Descriptors kept free for what is not a client: database connections and files, logs, the
# listening socket, LISTEN/NOTIFY.
RESERVED_FILES = 256
RECEIVED = "neutrino.received"  # the scope extension: {"at": perf_counter() at first byte}


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 8192
    header_timeout: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES


def limits_from(settings: Settings) -> ConnectionLimits:
    """The settings' limits, the cap lowered so clients cannot take the reserved files."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = settings.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, max(soft - RESERVED_FILES, 16))
    return ConnectionLimits(max_connections=cap, header_timeout=settings.header_timeout)


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (no privilege needed); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # e.g. an unlimited hard limit the kernel refuses as a soft one
    return soft


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for the connection limits (single process)."""
    return {
        "http": protocol_for(limits_from(settings)),
        "timeout_keep_alive": settings.keepalive_timeout,
    }


def protocol_for(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def configure(settings: Settings) -> None:
    """Set this process's limits on the module's protocol class (uvicorn workers)."""
    GuardedHttpProtocol.limits = limits_from(settings)


class _Refused(httptools.HttpParserError):
    """Stops the parser once a request is refused (uvicorn catches parser errors)."""


class _Pool:
    """One server's connections: how many are open, and the idle ones, oldest first."""

    def __init__(self) -> None:
        self.open = 0
        self.idle: OrderedDict[GuardedHttpProtocol, None] = OrderedDict()


class GuardedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool = getattr(self.server_state, "neutrino_pool", None)
        if pool is None:
            pool = self.server_state.neutrino_pool = _Pool()  # type: ignore[attr-defined]
        self._pool: _Pool = pool
        self._counted = False
        self._refused = False
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._received_at = 0.0

    # --- connection lifetime

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._pool.open += 1
        self._counted = True
        self._await_request()
        excess = self._pool.open - self.limits.max_connections
        while excess > 0 and self._pool.idle:
            oldest = next(iter(self._pool.idle))
            if oldest is self:
                break
            oldest._close()
            excess -= 1
        if excess > 0:
            self._close()  # every other connection is busy: refuse this one

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def _close(self) -> None:
        self._forget()
        if not self.transport.is_closing():
            self.transport.close()

    def _forget(self) -> None:
        self._pool.idle.pop(self, None)
        self._cancel_header_timer()
        if self._counted:
            self._counted = False
            self._pool.open -= 1

    # --- idle <-> busy

    def _await_request(self) -> None:
        """Idle until the next request's headers are complete, and only so long."""
        self._pool.idle[self] = None
        self._pool.idle.move_to_end(self)
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._close)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def on_headers_complete(self) -> None:
        self._pool.idle.pop(self, None)
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or not self._counted:
            return
        if self.cycle is None or self.cycle.response_complete:  # no pipelined request started
            self._await_request()

    # --- when a request arrived

    def data_received(self, data: bytes) -> None:
        # Stamped before parsing: a request starts in the read that holds its first byte (a
        # pipelined one too: it waits from then on, behind the one before it).
        self._received_at = time.perf_counter()
        super().data_received(data)

    # --- header size

    def on_message_begin(self) -> None:
        self._header_bytes = 0  # counted per request, pipelined ones included
        super().on_message_begin()
        self.scope["extensions"] = {RECEIVED: {"at": self._received_at}}

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url), 414)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value), 431)
        super().on_header(name, value)

    def _count_header_bytes(self, n: int, status: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.limits.max_header_bytes:
            self._refuse(status)
            raise _Refused("request headers too large")

    def _refuse(self, status: int) -> None:
        if status == 414:
            self._answer(
                414,
                "URI Too Long",
                "HTTPRequestURITooLong",
                f"The request URI is longer than {self.limits.max_header_bytes} bytes.",
            )
        else:
            self._answer(
                431,
                "Request Header Fields Too Large",
                "HTTPRequestHeaderFieldsTooLarge",
                f"The request headers are longer than {self.limits.max_header_bytes} bytes.",
            )

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request the HTTP parser refused (a NUL in a header, a raw
        byte past ASCII in the path...), in Neutron's envelope; none if ours went already."""
        if not self._refused:
            self._answer(400, "Bad Request", "HTTPBadRequest", msg)

    def _answer(self, status: int, reason: str, type_: str, message: str) -> None:
        """A JSON error written straight to the transport (no request reached the app),
        then the connection closed: the parser cannot resynchronize after a refusal."""
        body = orjson.dumps({"NeutronError": {"type": type_, "message": message, "detail": ""}})
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self._refused = True
        self._close()
