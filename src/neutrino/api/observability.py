"""Metrics and request logs: ``/metrics`` for Prometheus, one log line per failed request.

``ObserveMiddleware`` (pure ASGI, inside the request-id middleware so its lines carry the id)
times every HTTP request — from the read that brought its first byte (stamped by
``api.connections``) to the write of its response's last byte — and counts it by method,
route template (``/v2.0/ports/{port_id}``, never the raw path: bounded label values;
``unmatched`` for 404s outside any route) and status; a request that failed is logged once
— 4xx at INFO, 5xx at ERROR (the error handler logs the traceback of an unexpected exception
just before, with the same request id).
Long-polls (``GET /agent/v1/hosts/{host}/state?since=…``, port events) are counted while held.

``/metrics`` (text exposition format, no token: scrape it from a trusted network) adds, read
from the database at each scrape: the change-log revision, agents alive by type, ports by
status; and from the unit of work, the time spent in database transactions (read/write).

Several workers (``serve --workers N``): prometheus_client's multiprocess mode, chosen by
``PROMETHEUS_MULTIPROC_DIR`` (``serve`` sets it to an emptied ``<state dir>/metrics`` before
the workers start): each worker writes its samples to files there and a scrape answered by any
worker sums them (the long-poll gauge counts live workers only).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.api.connections import RECEIVED
from neutrino.service.stats import controller_counts
from neutrino.store.uow import Store

__all__ = ["ObserveMiddleware", "router", "watch_store"]

log = logging.getLogger("neutrino.api.requests")


def latency_buckets() -> tuple[float, ...]:
    """Upper bounds (seconds) fine enough to read quantiles off within a few per cent.

    Twenty a decade (each bound 12 % above the one before) from 0.5 ms to 200 ms, where API
    requests live; a coarse tail up to a minute for long-polls and stalls. A quantile is
    interpolated linearly inside the bucket holding its rank (Prometheus'
    ``histogram_quantile``), so its error is a fraction of that bucket's 12 % width: about
    1 % on smooth latencies, at worst the width itself; in a sparse tail (p99 of a few
    hundred requests) the gap between two neighbouring samples can weigh more
    (``tests/api/test_metrics_buckets.py`` measures it). Each (method, route, status) series
    costs one line per bucket in a scrape (~60): the price of a histogram one can trust.
    """
    fine = tuple(round(10 ** (k / 20 - 3), 7) for k in range(-6, 47))  # 0.5 ms to 200 ms
    return (*fine, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


BUCKETS = latency_buckets()
LABELS = ("method", "route", "status")
REQUESTS = Counter("neutrino_http_requests", "HTTP requests answered", LABELS)
LATENCY = Histogram(
    "neutrino_http_request_duration_seconds",
    "Time from the request's first byte read to its response's last byte written",
    LABELS,
    buckets=BUCKETS,
)
DB_TIME = Histogram(
    "neutrino_db_transaction_seconds",
    "Time spent in database transactions (retries included)",
    ("kind",),
    buckets=BUCKETS,
)
LONG_POLLS = Gauge(
    "neutrino_long_polls",
    "Agent long-polls and port-event waits held now",
    multiprocess_mode="livesum",
)
LONG_POLL = re.compile(r"^/agent/v1/(hosts/[^/]+/state|ports/[^/]+/events)$")


def _received_at(scope: Scope) -> float:
    stamp = scope.get("extensions", {}).get(RECEIVED)
    return float(stamp["at"]) if stamp else time.perf_counter()


def _is_long_poll(scope: Scope) -> bool:
    if scope["method"] != "GET" or not LONG_POLL.match(scope["path"]):
        return False
    return "/events" in scope["path"] or b"since=" in scope.get("query_string", b"")


class ObserveMiddleware:
    """Counts and times each HTTP request, and logs the failed ones (module docstring).

    The clock runs from the read that brought the request's first byte (stamped by
    ``api.connections``; without that protocol, e.g. in-process test clients, from the
    moment the request reaches this middleware) to the return of the ``send`` that wrote its
    response's last byte to the socket: parsing, the wait for the event loop, the middleware
    and the write are the server's time too, as its client sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = _received_at(scope)
        status, ended = [500], [0.0]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                ended[0] = time.perf_counter()

        waiting = _is_long_poll(scope)
        if waiting:
            LONG_POLLS.inc()
        try:
            await self.app(scope, receive, timed_send)
        finally:
            if waiting:
                LONG_POLLS.dec()
            self._record(scope, status[0], (ended[0] or time.perf_counter()) - started)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path_format", None) or "unmatched"
        labels = (scope["method"], route, str(status))
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(seconds)
        if status >= 400:
            log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s -> %d (%.1f ms)",
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
            )


class DatabaseCollector(Collector):
    """Counts read from the database at each scrape (``service.stats``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        counts = controller_counts(self.store)
        yield GaugeMetricFamily(
            "neutrino_changelog_revision", "Latest change-log revision", value=counts.revision
        )
        alive = GaugeMetricFamily(
            "neutrino_agents_alive", "Agents with a recent heartbeat", labels=["agent_type"]
        )
        for agent_type in ("L2 agent", "DHCP agent", "L3 agent"):
            alive.add_metric([agent_type], counts.agents_alive.get(agent_type, 0))
        yield alive
        ports = GaugeMetricFamily("neutrino_ports", "Ports by status", labels=["status"])
        for status, n in sorted(counts.ports.items()):
            ports.add_metric([status], n)
        yield ports


def watch_store(store: Store) -> None:
    """Feed the unit of work's transaction times to the database histogram."""
    store.observe = lambda kind, seconds: DB_TIME.labels(kind).observe(seconds)


def _registry(store: Store) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(DatabaseCollector(store))
    return registry


class _Default(Collector):
    """This process's own metrics (the default registry), re-exported."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    store: Store = request.app.state.services.store
    body = await anyio.to_thread.run_sync(lambda: generate_latest(_registry(store)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
