#!/usr/bin/env python3
"""One API process holding thousands of agent long-polls (issue 14's "done means").

A ``neutrino serve`` child on SQLite (default limits, one process). ``--clients`` child
processes of this script (``--client`` mode: raw asyncio sockets, so a connection costs the
client a few kB) each open their share of ``--polls`` connections from their own loopback
address; on each they take a host-state snapshot for a host of their own
(``GET /agent/v1/hosts/bench-<i>/state``) and then long-poll it
(``?since=<revision>&timeout=60``), as an agent does, and report when every long-poll is sent.

Meanwhile (all long-polls held, none answered: the server's ``neutrino_long_polls`` gauge is
read from ``/metrics``) it measures:

- ``rss_mib``: the server's RSS before any connection and while holding them (``/proc``);
- ``request_ms``: ``GET /v2.0/networks`` on a new connection, median/p99/max of 50, before and
  while holding;
- ``write_ms``: ``POST /v2.0/networks`` while holding: each commit wakes the process's
  watchers, which read the new change-log rows once and sort them in memory (no host here has
  the network, so none is answered);
- ``answers``: long-polls answered while the script ran (their 60 s timeout: a client re-polls
  at once, as an agent does, so the server keeps holding about ``--polls``), and
  ``answers_with_state``: those that carried a state (none should: no host changed).

Output: one JSON object on stdout, a summary on stderr.

    .venv/bin/python bench/longpoll.py [--polls 5000] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from stats import summary  # bench/stats.py

PASSWORD = "bench-longpoll-secret"


# --- client mode ----------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


async def hold(
    host: str, port: int, token: str, source: str, first: int, count: int
) -> tuple[int, int]:
    """Open ``count`` watches; report ``ready`` when all long-polls are sent, then hold
    (a new long-poll after each answer) until stdin closes. Returns (answers, answers that
    carried a state)."""
    answered = woken = 0
    sent = asyncio.Event()
    pending = count
    writers: list[asyncio.StreamWriter] = []

    window = asyncio.Semaphore(200)  # connections being set up at once

    async def one(i: int) -> None:
        nonlocal answered, woken, pending
        async with window:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            writers.append(writer)
            path = f"/agent/v1/hosts/bench-{i}/state"
            head = f"Host: x\r\nX-Auth-Token: {token}\r\n\r\n"
            writer.write(f"GET {path} HTTP/1.1\r\n{head}".encode())
            status, body = await read_response(reader)
            assert status == 200, body
            revision = json.loads(body)["revision"]
            writer.write(f"GET {path}?since={revision}&timeout=60 HTTP/1.1\r\n{head}".encode())
            await writer.drain()
        pending -= 1
        if pending == 0:
            sent.set()
        try:
            while True:  # as an agent does: each answer, the next long-poll from its revision
                answer = json.loads((await read_response(reader))[1])
                answered += 1
                woken += answer["state"] is not None
                revision = answer["revision"]
                writer.write(f"GET {path}?since={revision}&timeout=60 HTTP/1.1\r\n{head}".encode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    tasks = [asyncio.ensure_future(one(i)) for i in range(first, first + count)]
    await sent.wait()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    timed_out, with_state = answered, woken
    for writer in writers:
        writer.close()
    for task in tasks:
        task.cancel()
    return timed_out, with_state


def client_main(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    answers, woken = asyncio.run(
        hold(args.host, args.port, args.token, args.source, args.first, args.count)
    )
    print(f"answers {answers} woken {woken}", flush=True)


# --- driver -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError("VmRSS")


def request(port: int, method: str, path: str, token: str, body: bytes = b"") -> float:
    """Seconds for one request on a new raw connection (no client library in the figure)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + body
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    elapsed = time.perf_counter() - start
    status = int(data.split(b" ", 2)[1])
    assert status in (200, 201), data[:300]
    return elapsed


def latencies(port: int, token: str, n: int = 50) -> dict[str, float]:
    return summary([request(port, "GET", "/v2.0/networks", token) for _ in range(n)])


def long_polls_held(url: str) -> int:
    text = httpx.get(url + "/metrics", timeout=60).text
    found = re.search(r"^neutrino_long_polls(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    return int(float(found.group(1))) if found else -1


def run(polls: int, clients: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-longpoll-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUTRINO_")}
    env["NEUTRINO_ADMIN_PASSWORD"] = PASSWORD
    serve = [sys.executable, "-m", "neutrino.cli.main", "serve", "--listen", f"127.0.0.1:{port}"]
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*serve, "--state-dir", str(tmp / "state")], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    children: list[subprocess.Popen[str]] = []
    try:
        while True:
            try:
                httpx.get(url + "/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        user = {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}
        scope = {"project": {"name": "admin", "domain": {"name": "Default"}}}
        auth = {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
        token = httpx.post(url + "/v3/auth/tokens", json={"auth": auth}).headers["X-Subject-Token"]
        out: dict[str, Any] = {"polls": polls, "clients": clients}
        out["rss_mib_before"] = rss_mib(proc.pid)
        out["request_ms_before"] = latencies(port, token)

        start = time.monotonic()
        share = polls // clients
        for c in range(clients):
            argv = [sys.executable, __file__, "--client", "--host", "127.0.0.1"]
            argv += ["--port", str(port), "--token", token, "--source", f"127.0.0.{2 + c}"]
            argv += ["--first", str(c * share), "--count", str(share)]
            children.append(
                subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        out["open_s"] = round(time.monotonic() - start, 1)
        print(f"{polls} long-polls sent in {out['open_s']} s", file=sys.stderr)
        deadline = time.monotonic() + 30
        while (held := long_polls_held(url)) < share * clients and time.monotonic() < deadline:
            time.sleep(0.2)
        out["held_by_server"] = held
        out["rss_mib_holding"] = rss_mib(proc.pid)
        out["request_ms_holding"] = latencies(port, token)
        network = b'{"network": {}}'
        writes = [request(port, "POST", "/v2.0/networks", token, network) for _ in range(20)]
        out["write_ms_holding"] = summary(writes)
        out["rss_mib_after_writes"] = rss_mib(proc.pid)
        out["held_after_writes"] = long_polls_held(url)
        out["seconds_holding"] = round(time.monotonic() - start, 1)
        answers = woken = 0
        for child in children:
            stdout, _ = child.communicate("", timeout=60)
            answers += int(stdout.split()[-3])
            woken += int(stdout.split()[-1])
        out["answers"], out["answers_with_state"] = answers, woken
        return out
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--polls", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    for name in ("host", "token", "source"):
        ap.add_argument("--" + name, help=argparse.SUPPRESS)
    for name in ("port", "first", "count"):
        ap.add_argument("--" + name, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    result = run(args.polls, args.clients)
    print(json.dumps(result))
    print(
        f"{result['held_by_server']} long-polls held: RSS {result['rss_mib_before']} -> "
        f"{result['rss_mib_holding']} MiB; GET /v2.0/networks p50 "
        f"{result['request_ms_before']['p50_ms']} -> {result['request_ms_holding']['p50_ms']} ms, "
        f"p99 {result['request_ms_holding']['p99_ms']} ms; POST p50 "
        f"{result['write_ms_holding']['p50_ms']} ms; answers {result['answers']} "
        f"(with a state: {result['answers_with_state']})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
