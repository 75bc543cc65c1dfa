"""The server's limits, tried over real HTTP (issue 9, "Hostile limits").

Most tests run ``neutrino serve`` as a child process (SQLite, a short header timeout, the
liveness sweep every half second), so its memory and its open files are its own: a 50 MB body
is refused from its ``Content-Length`` before it is read, and 20,000 idle connections (held by
``tests/idle_clients.py`` children) neither starve a normal request nor the server's database.
The keep-alive test needs a fault inside the app and uses the in-process ``live_url`` server.

Two timings are asserted, both from the issue's "done means" (a 413 and a normal request each
under 100 ms under attack); each is a median of several tries with the bound far above what
an idle machine shows (a few ms), so a busy machine does not fail them while a server that
reads the body or queues behind the idle connections does.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from bench.served import admin_token, serve

from neutrino.api.connections import RESERVED_FILES
from neutrino.common.settings import Settings
from neutrino.service.networks import NetworkService
from tests.conftest import ADMIN_PASSWORD, Caller

ROOT = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT = 4.0
IDLE_CONNECTIONS = 20_000
HOLDERS = 2  # each holds IDLE_CONNECTIONS / HOLDERS sockets: one process could not hold all
FIFTY_MB = 50 * 1024 * 1024


@dataclass
class Served:
    url: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    token: str

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` figure of the server, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("limits")
    server = serve(
        tmp / "serve.log",
        settings={
            "NEUTRINO_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "NEUTRINO_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "NEUTRINO_AGENT_SWEEP_INTERVAL": "0.5",
        },
        args=["--state-dir", str(tmp / "state")],
    )
    try:
        token = admin_token(server.url, ADMIN_PASSWORD)
        yield Served(server.url, server.host, server.port, server.proc, server.log, token)
    finally:
        server.stop()


def _read_response(sock: socket.socket, data: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read off a raw socket (``data``: its
    first bytes, when already read)."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a full response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def _post_50mb_raw(served: Served) -> tuple[float, int, dict[str, str], bytes]:
    """POST /v3/auth/tokens with a 50 MB JSON array, unauthenticated, sent at full speed by a
    second thread; the seconds until the status line arrives, and the response."""
    sock = socket.create_connection((served.host, served.port))
    start = time.perf_counter()
    sock.sendall(
        b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        b"\r\nContent-Length: %d\r\n\r\n[" % FIFTY_MB
    )

    def pump() -> None:
        chunk = b"1," * 32768
        try:
            for _ in range(FIFTY_MB // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection after its answer: what it should do

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    first = sock.recv(65536)
    elapsed = time.perf_counter() - start
    status, headers, body = _read_response(sock, first)
    sender.join(timeout=30)
    sock.close()
    return elapsed, status, headers, body


def test_a_50mb_unauthenticated_body_is_refused_before_it_is_read(served: Served) -> None:
    Path(f"/proc/{served.proc.pid}/clear_refs").write_text("5")  # peak RSS := current RSS
    rss_before = served.status("VmRSS")
    tries = [_post_50mb_raw(served) for _ in range(5)]
    for _, status, headers, body in tries:
        assert status == 413
        assert headers["connection"] == "close"
        error = orjson.loads(body)["error"]  # Keystone's envelope on an identity path
        assert error["code"] == 413 and error["title"] == "Request Entity Too Large"
    assert statistics.median(t for t, *_ in tries) < 0.1
    growth_mib = (served.status("VmHWM") - rss_before) / 1024
    assert growth_mib < 20, f"server peak RSS grew {growth_mib:.1f} MiB"

    # An ordinary client that writes its whole body first gets the same answer.
    r = httpx.post(
        served.url + "/v3/auth/tokens",
        content=b"[" + b"1," * (FIFTY_MB // 2) + b"1]",
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413
    assert (served.status("VmHWM") - rss_before) / 1024 < 20


def test_a_chunked_body_is_cut_at_the_limit(served: Served) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1
            yield b"x" * (1024 * 1024)

    r = httpx.post(
        served.url + "/v2.0/networks",
        content=chunks(),
        headers={"X-Auth-Token": served.token},
        timeout=60,
    )
    assert r.status_code == 413
    assert r.json()["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
    assert r.headers["connection"] == "close"


def test_headers_and_urls_past_the_limits_are_refused(served: Served) -> None:
    cases = [
        (b"GET /v2.0/networks?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /v2.0/networks?" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ab\x00cd\r\n\r\n", 400),
        (b"GET /v2.0/net\xffworks HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ]
    for request, expected in cases:
        with socket.create_connection((served.host, served.port), timeout=10) as sock:
            sock.sendall(request)
            status, _, body = _read_response(sock)
            assert status == expected, request[:60]
            assert "NeutronError" in orjson.loads(body)


def test_a_connection_that_never_finishes_its_headers_is_closed(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=HEADER_TIMEOUT + 10) as s:
        start = time.monotonic()
        s.sendall(b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a slow client: a header line now and then, never the end
            time.sleep(HEADER_TIMEOUT / 4)
            s.sendall(b"X-Slow: 1\r\n")
        assert s.recv(100) == b""
        assert HEADER_TIMEOUT - 0.5 < time.monotonic() - start < HEADER_TIMEOUT + 5


def _hold(served: Served, n: int, index: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "idle_clients.py"),
            served.host,
            str(served.port),
            str(n),
            f"127.0.0.{2 + index}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ask(holder: subprocess.Popen[str], command: str) -> tuple[int, int]:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(command + "\n")
    holder.stdin.flush()
    _, still_open, _, closed = holder.stdout.readline().split()
    return int(still_open), int(closed)


class FilePeak:
    """The most files the server held at once, sampled every 20 ms by a thread: while the
    holders connect on a loaded machine, the first connections reach their header deadline
    before the last are made, so one look afterwards could find them all closed already."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, len(os.listdir(f"/proc/{self.pid}/fd")))

    def close(self) -> int:
        self.stop.set()
        self.thread.join(5)
        return self.peak


def test_20000_idle_connections_starve_neither_requests_nor_the_database(served: Served) -> None:
    files = FilePeak(served.proc.pid)
    holders = [_hold(served, IDLE_CONNECTIONS // HOLDERS, i) for i in range(HOLDERS)]
    try:
        for h in holders:
            assert h.stdout is not None
            assert h.stdout.readline().split() == ["opened", str(IDLE_CONNECTIONS // HOLDERS)]
        idle = sum(_ask(h, "count")[0] for h in holders)
        assert idle >= 1000, "the server closed the idle connections before the test ran"
        # the cap: the server holds at most max_connections of them (plus its own files)
        assert 1000 < files.close() <= Settings().max_connections + RESERVED_FILES

        timings = []
        for i in range(5):  # each on a new connection, as a new client comes in
            start = time.perf_counter()
            with socket.create_connection((served.host, served.port), timeout=10) as sock:
                sock.sendall(
                    f"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\n"
                    f"X-Auth-Token: {served.token}\r\n\r\n".encode()
                )
                status, _, _ = _read_response(sock)
            timings.append(time.perf_counter() - start)
            assert status == 200
            r = httpx.post(
                served.url + "/v2.0/networks",
                json={"network": {"name": f"n{i}"}},
                headers={"X-Auth-Token": served.token},
                timeout=10,
            )
            assert r.status_code == 201, r.text  # the database has its files
        assert statistics.median(timings) < 0.1, timings

        # Then the header deadline closes every one of them.
        for h in holders:
            still_open, closed = _ask(h, f"wait {HEADER_TIMEOUT + 20}")
            assert still_open == 0 and closed == IDLE_CONNECTIONS // HOLDERS
    finally:
        files.close()
        for h in holders:
            h.kill()
            h.wait()
    time.sleep(1.0)  # two liveness sweeps ran during and after the flood
    log = served.log.read_text()
    for symptom in ("unable to open database file", "Too many open files", "Traceback"):
        assert symptom not in log, log[-3000:]


def test_an_unexpected_error_answers_500_and_keeps_the_connection(
    live_url: str, api: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = api.network(name="ok")

    def broken(self: NetworkService, *args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(NetworkService, "get", broken)
    host, port = live_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for path in (f"/v2.0/networks/{net['id']}", "/v2.0/networks", "/v2.0/networks/x"):
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {api.token}\r\n\r\n".encode()
            )
            status, headers, body = _read_response(sock)
            assert headers.get("connection") != "close"
            if path == "/v2.0/networks":
                assert status == 200
            else:
                assert status == 500
                assert orjson.loads(body)["NeutronError"]["type"] == "HTTPInternalServerError"


def test_agent_long_poll_parameters_must_be_finite(live_url: str, api: Caller) -> None:
    port = api.port(api.network()["id"])
    headers = {"X-Auth-Token": api.token}
    with httpx.Client(base_url=live_url, headers=headers, timeout=10) as c:
        for value in ("nan", "inf", "-inf", "1e400", "-1", "abc"):
            start = time.monotonic()
            r = c.get(f"/agent/v1/ports/{port['id']}/events", params={"timeout": value})
            assert r.status_code == 400, (value, r.text)
            assert time.monotonic() - start < 5
            r = c.get("/agent/v1/hosts/h1/state", params={"since": value, "timeout": "0"})
            assert r.status_code == 400, (value, r.text)
        r = c.get(f"/agent/v1/ports/{port['id']}/events", params={"timeout": "0.1"})
        assert r.status_code == 200 and r.json()["event"]["timed_out"] is True
