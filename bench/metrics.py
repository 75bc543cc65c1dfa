#!/usr/bin/env python3
"""Does ``/metrics`` tell the truth? The server's latency histogram against its clients' clocks.

For each combination of ``--db`` (``sqlite``; ``postgres`` on a fresh database of the server
``--pg-url`` or ``NEUTRINO_TEST_PG_URL`` names), ``--client`` and ``--concurrency``, a fresh
``neutrino serve`` (the real CLI, one process: uvicorn, httptools, uvloop; ``bench/served.py``
or ``bench/pgcluster.py``) gets one network with a /16 subnet; then ``--n`` ports are created
(``POST /v2.0/ports``) and deleted (``DELETE /v2.0/ports/{id}``), shared among
``concurrency`` client processes, each on one keep-alive connection of its own, every request
timed by the client with ``time.perf_counter``. ``/metrics`` is scraped before and after and
parsed with prometheus_client's text parser; the server's figures are the deltas of
``neutrino_http_request_duration_seconds`` for each route.

Clients:

- ``raw``: HTTP/1.1 written by hand on a socket (request bytes built before the clock starts;
  the clock stops when the response's last byte, by its Content-Length, has been read): a few
  microseconds of client code per request;
- ``httpx``: ``httpx.Client.post``/``delete``, timed around the call: what an ordinary Python
  client sees, its own ~0.5-1 ms of Python per request included (that time is the client's,
  not the server's).

Quantiles (p50, p90, p99):

- server: from the histogram's buckets as Prometheus' ``histogram_quantile`` computes them
  (``bench/histogram.py``: the bucket holding rank ``q * count``, linear interpolation inside
  it); the mean is exact (``_sum / _count``);
- client: exact, linear between the order statistics around ``q * (n - 1)``; and, as
  ``client_bucketed``, the client's samples read through the server's buckets the same way:
  ``client_bucketed / client`` is the error of the bucket estimate alone, ``server /
  client_bucketed`` the difference of the clocks alone. ``ratio`` is server / client.

The server's clock runs from the read that brought a request's first byte to the write of its
response's last byte (``api.connections`` stamps the first, ``api.observability`` the
second). What it cannot see: the kernel's loopback delivery and the wake-up of the server
before that read, of the client after that write, and (with concurrency) the time a request
waits in its socket while the event loop is busy with another one.

``--realtime P`` (root): SCHED_FIFO for the server (priority P+1) and the clients (P), so
that other processes on a shared machine cannot add run-queue waits, which land outside the
server's clock, to the clients' figures; ``--nice`` otherwise.

Output: one JSON list on stdout (one object a run); a table on stderr.

    python bench/metrics.py --n 800 --db sqlite,postgres --client raw,httpx --concurrency 1,4
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from histogram import Buckets, bucketize, histogram_quantile, sample_quantile
from prometheus_client.parser import text_string_to_metric_families
from served import admin_token, serve

METRIC = "neutrino_http_request_duration_seconds"
PASSWORD = "bench-metrics-secret"
QUANTILES = (0.5, 0.9, 0.99)
ROUTES = {
    "create": ("POST", "/v2.0/ports", "201"),
    "delete": ("DELETE", "/v2.0/ports/{resource_id}", "204"),
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


# --- servers --------------------------------------------------------------------------------


@contextmanager
def server_for(db: str, pg_url: str | None, state: Path, workers: int) -> Iterator[tuple[str, str]]:
    """A fresh server (``workers`` processes) on ``db``: (url, admin token)."""
    if db == "sqlite":
        server = serve(
            state / "serve.log",
            settings={"NEUTRINO_ADMIN_PASSWORD": PASSWORD},
            args=["--state-dir", str(state / "state"), "--workers", str(workers)],
            new_session=True,
        )
        try:
            yield server.url, admin_token(server.url, PASSWORD)
        finally:
            server.stop()
        return
    if not pg_url:
        raise SystemExit("--db postgres needs --pg-url or NEUTRINO_TEST_PG_URL")
    from pgcluster import Cluster  # SQLAlchemy and psycopg only when needed

    with Cluster(pg_url, state, servers=1, workers=workers, password=PASSWORD) as cluster:
        yield cluster.urls[0], cluster.token()


def scrape(url: str) -> Samples:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def server_buckets(
    before: Samples, after: Samples, method: str, route: str, status: str
) -> tuple[Buckets, float]:
    """The route's bucket counts and sum over the run (deltas of two scrapes)."""
    labels = {"method": method, "route": route, "status": status}

    def delta(name: str, **extra: str) -> float:
        key = (name, tuple(sorted({**labels, **extra}.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    bounds = sorted(
        float(dict(key[1])["le"])
        for key in after
        if key[0] == f"{METRIC}_bucket" and {k: v for k, v in key[1] if k != "le"} == labels
    )
    le = {b: "+Inf" if math.isinf(b) else repr(b) for b in bounds}
    return [(b, delta(f"{METRIC}_bucket", le=le[b])) for b in bounds], delta(f"{METRIC}_sum")


# --- clients --------------------------------------------------------------------------------


class RawHttp:
    """HTTP/1.1 on one keep-alive socket: ``request`` -> (status, body, seconds)."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token
        self.buffer = b""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        payload = json.dumps(body).encode() if body is not None else b""
        message = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nX-Auth-Token: {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        started = time.perf_counter()
        self.sock.sendall(message)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        seconds = time.perf_counter() - started
        self.buffer = rest[length:]
        return int(head.split(b" ", 2)[1]), rest[:length], seconds

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk


class HttpxHttp:
    """The same interface over ``httpx.Client`` (its own time included in ``seconds``)."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        r = self.client.request(method, path, json=body)
        return r.status_code, r.content, time.perf_counter() - started


CLIENTS: dict[str, Callable[[str, str], RawHttp | HttpxHttp]] = {"raw": RawHttp, "httpx": HttpxHttp}


def client_process(
    kind: str, url: str, token: str, network: str, count: int, name: str, start: Any, out: Any
) -> None:
    """One client: connect, wait for the others, create ``count`` ports, wait, delete them."""
    http = CLIENTS[kind](url, token)
    created, deleted, ids = [], [], []
    start.wait()
    for i in range(count):
        body = {"port": {"network_id": network, "name": f"{name}-{i}"}}
        status, answer, seconds = http.request("POST", "/v2.0/ports", body)
        if status != 201:
            raise RuntimeError(f"create: {status} {answer[:300]!r}")
        created.append(seconds)
        ids.append(json.loads(answer)["port"]["id"])
    start.wait()
    for port_id in ids:
        status, answer, seconds = http.request("DELETE", f"/v2.0/ports/{port_id}")
        if status != 204:
            raise RuntimeError(f"delete: {status} {answer[:300]!r}")
        deleted.append(seconds)
    out.put({"create": created, "delete": deleted})


def drive(
    kind: str, concurrency: int, n: int, url: str, token: str, realtime: int
) -> dict[str, list[float]]:
    """``n`` creates and deletes among ``concurrency`` client processes: their samples."""
    headers = {"X-Auth-Token": token}
    net = httpx.post(f"{url}/v2.0/networks", json={"network": {"name": "m"}}, headers=headers)
    network = net.json()["network"]["id"]
    subnet = {"network_id": network, "cidr": "10.0.0.0/16", "ip_version": 4}
    httpx.post(f"{url}/v2.0/subnets", json={"subnet": subnet}, headers=headers).raise_for_status()
    if realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(realtime))  # clients below it
    ctx = mp.get_context("fork")
    start, out = ctx.Barrier(concurrency, timeout=300), ctx.Queue()
    shares = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
    procs = [
        ctx.Process(target=client_process, args=(kind, url, token, network, k, f"c{i}", start, out))
        for i, k in enumerate(shares)
    ]
    for p in procs:
        p.start()
    results: list[dict[str, list[float]]] = []
    try:
        while len(results) < len(procs):
            try:
                results.append(out.get(timeout=1))
            except queue.Empty:
                if any(p.exitcode for p in procs):
                    raise RuntimeError("a client failed (its traceback is above)") from None
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return {phase: [s for r in results for s in r[phase]] for phase in ROUTES}


# --- one run --------------------------------------------------------------------------------


def figures(
    seconds: list[float] | None = None, buckets: Buckets | None = None, total: float = 0.0
) -> dict[str, float]:
    """count, mean and quantiles (ms): exact from samples, or read off buckets."""
    if buckets is not None:
        count = buckets[-1][1]
        out = {"count": count, "mean_ms": 1000 * total / count if count else math.nan}
        return out | {
            f"p{round(q * 100)}_ms": 1000 * histogram_quantile(q, buckets) for q in QUANTILES
        }
    assert seconds is not None
    out = {"count": len(seconds), "mean_ms": 1000 * statistics.fmean(seconds)}
    return out | {f"p{round(q * 100)}_ms": 1000 * sample_quantile(seconds, q) for q in QUANTILES}


def run(db: str, kind: str, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    if args.realtime:  # the server (forked while this holds it) above its clients
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.realtime + 1))
    with (
        tempfile.TemporaryDirectory(prefix="neutrino-bench-metrics-") as state,
        server_for(db, args.pg_url, Path(state), args.workers) as (url, token),
    ):
        before = scrape(url)
        samples = drive(kind, concurrency, args.n, url, token, args.realtime)
        after = scrape(url)
    result: dict[str, Any] = {
        "db": db,
        "client": kind,
        "concurrency": concurrency,
        "workers": args.workers,
        "n": args.n,
    }
    for phase, labels in ROUTES.items():
        buckets, total = server_buckets(before, after, *labels)
        server = figures(buckets=buckets, total=total)
        client = figures(samples[phase])
        bucketed = figures(
            buckets=bucketize(samples[phase], [b for b, _ in buckets]), total=sum(samples[phase])
        )
        keys = ("mean_ms", *(f"p{round(q * 100)}_ms" for q in QUANTILES))
        result[phase] = {
            "server": server,
            "client": client,
            "client_bucketed": bucketed,
            "ratio": {k: round(server[k] / client[k], 3) for k in keys},
            "bucket_error": {k: round(bucketed[k] / client[k] - 1, 3) for k in keys},
        }
    return result


def table_row(r: dict[str, Any], phase: str) -> str:
    f = r[phase]
    cells = " | ".join(
        f"{f['client'][k]:.2f} / {f['server'][k]:.2f} ({f['ratio'][k]:.2f})"
        for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms")
    )
    run_ = f"{r['db']} | {r['client']} | {r['concurrency']}"
    return f"| {run_} | {phase} | {f['server']['count']:.0f} | {cells} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=800, help="ports to create and delete per run")
    ap.add_argument("--db", default="sqlite", help="comma-separated: sqlite, postgres")
    ap.add_argument("--client", default="raw", help="comma-separated: raw, httpx")
    ap.add_argument("--concurrency", default="1", help="comma-separated client processes")
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--pg-url", default=os.environ.get("NEUTRINO_TEST_PG_URL"))
    ap.add_argument("--realtime", type=int, default=0, help="SCHED_FIFO priority (root)")
    ap.add_argument("--nice", type=int, default=0, help="niceness when not --realtime")
    args = ap.parse_args()
    if args.nice and not args.realtime:
        os.nice(args.nice)
    runs = []
    for db in args.db.split(","):
        for kind in args.client.split(","):
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                runs.append(run(db, kind, concurrency, args))
                runs[-1] |= {
                    "realtime": args.realtime,
                    "nice": os.nice(0),
                    "loadavg": os.getloadavg(),
                }
    print(json.dumps(runs))
    print(
        "| db | client | conc. | request | count "
        "| p50 client / server ms (ratio) | p90 | p99 | mean |",
        file=sys.stderr,
    )
    print("|---|---|---|---|---|---|---|---|---|", file=sys.stderr)
    for r in runs:
        for phase in ROUTES:
            print(table_row(r, phase), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
