"""``/metrics``: scraped and parsed with prometheus_client's own text parser. Requests are
counted and timed per route template and status, failed ones logged once with the request
id; the database-backed gauges follow the data (ports by status, agents alive, revision).
Over real HTTP, a request's clock starts at the read of its first byte, not when the app
gets it (how close it comes to a client's clock is ``bench/metrics.py``'s figure)."""

from __future__ import annotations

import logging
import socket
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from neutrino.api.observability import BUCKETS
from neutrino.common.logs import RequestIdFilter
from tests.conftest import Caller

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(api: Caller) -> Samples:
    r = api.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_counted_and_timed_per_route_and_status(api: Caller) -> None:
    before = scrape(api)
    net = api.network(name="m")
    for _ in range(3):
        assert api.get(f"/v2.0/networks/{net['id']}").status_code == 200
    assert api.get(f"/v2.0/networks/{uuid.uuid4()}").status_code == 404
    after = scrape(api)

    route = {"method": "GET", "route": "/v2.0/networks/{resource_id}"}
    ok = value(after, "neutrino_http_requests_total", **route, status="200") - value(
        before, "neutrino_http_requests_total", **route, status="200"
    )
    missing = value(after, "neutrino_http_requests_total", **route, status="404") - value(
        before, "neutrino_http_requests_total", **route, status="404"
    )
    assert (ok, missing) == (3, 1)
    count = value(
        after, "neutrino_http_request_duration_seconds_count", **route, status="200"
    ) - value(before, "neutrino_http_request_duration_seconds_count", **route, status="200")
    total = value(
        after, "neutrino_http_request_duration_seconds_sum", **route, status="200"
    ) - value(before, "neutrino_http_request_duration_seconds_sum", **route, status="200")
    assert count == 3 and 0 < total < 30
    inf = value(
        after, "neutrino_http_request_duration_seconds_bucket", **route, status="200", le="+Inf"
    )
    assert inf == value(
        after, "neutrino_http_request_duration_seconds_count", **route, status="200"
    )
    assert value(after, "neutrino_db_transaction_seconds_count", kind="write") > value(
        before, "neutrino_db_transaction_seconds_count", kind="write"
    )
    assert value(after, "neutrino_changelog_revision") > value(
        before, "neutrino_changelog_revision"
    )
    assert ("neutrino_long_polls", ()) in after


def test_database_gauges_follow_the_data(api: Caller) -> None:
    net = api.network(name="g")
    for _ in range(2):
        api.port(net["id"])
    samples = scrape(api)
    assert value(samples, "neutrino_ports", status="DOWN") == 2
    assert value(samples, "neutrino_agents_alive", agent_type="L2 agent") == 0
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": "hv-m",
                "agent_type": "L2 agent",
                "binary": "neutrino-agent",
                "configurations": {"tunnel_ip": "198.51.100.9"},
            }
        },
    )
    assert r.status_code == 200, r.text
    assert value(scrape(api), "neutrino_agents_alive", agent_type="L2 agent") == 1


def test_failed_requests_are_logged_once_with_the_request_id(
    api: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="neutrino.api.requests"):
        ok = api.get("/v2.0/networks")
        missing = api.get(f"/v2.0/ports/{uuid.uuid4()}")
    assert ok.status_code == 200 and missing.status_code == 404
    lines = [r for r in caplog.records if r.name == "neutrino.api.requests"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO and "-> 404" in lines[0].getMessage()
    assert lines[0].request_id == missing.headers["x-openstack-request-id"]  # type: ignore[attr-defined]


def test_the_clock_starts_at_the_first_byte_read(live_url: str) -> None:
    """The request line, then 300 ms, then the rest of the headers: the app only gets the
    request once its headers are complete, but the histogram counts the 300 ms too."""
    route = {"method": "GET", "route": "/", "status": "200"}
    name = "neutrino_http_request_duration_seconds"
    before = parse(httpx.get(f"{live_url}/metrics").text)
    host, port = live_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.3)
        sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    after = parse(httpx.get(f"{live_url}/metrics").text)
    count = value(after, f"{name}_count", **route) - value(before, f"{name}_count", **route)
    total = value(after, f"{name}_sum", **route) - value(before, f"{name}_sum", **route)
    assert count == 1
    assert 0.3 <= total < 10, total
    below = repr(max(b for b in BUCKETS if b < 0.3))  # the last bound under 300 ms
    assert (f"{name}_bucket", tuple(sorted({**route, "le": below}.items()))) in after
    assert value(after, f"{name}_bucket", **route, le=below) == value(
        before, f"{name}_bucket", **route, le=below
    )
