"""``neutrino serve`` as a real process on a free loopback port: it migrates and bootstraps an
empty state dir, prints how to log in, answers ``GET /`` and issues tokens, and stops on
SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.served import admin_token, launch, serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    state = tmp_path / "state"
    child = serve(tmp_path / "serve.log", args=["--state-dir", str(state)])
    try:
        yield child.url, state, child.log
    finally:
        child.stop(grace=15)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert child.proc.returncode in (0, -signal.SIGTERM), child.log.read_text()
    assert "Application shutdown complete" in child.log.read_text()


def test_serve_answers_and_issues_tokens(server: tuple[str, Path, Path]) -> None:
    base, state, log = server
    password = (state / "admin-password").read_text().strip()
    printed = log.read_text()
    assert f"listening on {base}" in printed
    assert f"{base}/v3" in printed
    assert str(state / "admin-password") in printed

    r = httpx.get(base + "/", timeout=10)
    assert r.status_code == 200, r.text
    token = admin_token(base, password)
    r = httpx.get(base + "/v2.0/networks", headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200, r.text


def test_metrics_sum_over_workers(tmp_path: Path) -> None:
    """``--workers 2``: whichever worker answers the scrape reports every worker's requests
    (prometheus_client's multiprocess mode). The requests counted go to ``/v2.0``, a route
    the readiness probe (``GET /``) never asks: on a loaded machine a probe the client gave
    up on is still answered, and counted, after the test's first scrape."""
    from prometheus_client.parser import text_string_to_metric_families

    child = launch(
        tmp_path / "serve.log", args=["--state-dir", str(tmp_path / "state"), "--workers", "2"]
    )
    base = child.url

    def version_requests() -> float:
        text = httpx.get(base + "/metrics", timeout=30).text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "neutrino_http_requests_total"
            and s.labels.get("route") == "/v2.0"
            and s.labels.get("method") == "GET"
        )

    try:
        # the master migrates, then two spawned workers import everything again: on a loaded
        # machine (load 15-25 here) that alone took 70-120 s, the usual start timeout
        child.wait_ready(timeout=360)
        before = version_requests()
        for _ in range(12):  # a new connection each: both workers answer some
            assert httpx.get(base + "/v2.0", timeout=30).status_code == 200
        assert version_requests() - before == 12
        assert (tmp_path / "state" / "metrics").is_dir()
    finally:
        child.stop()
