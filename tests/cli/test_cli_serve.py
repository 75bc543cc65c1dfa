"""``neutrino serve`` as a real process on a free loopback port: it migrates and bootstraps an
empty state dir, prints how to log in, answers ``GET /`` and issues tokens, and stops on
SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"neutrino serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"neutrino serve did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    port = free_port()
    state, log = tmp_path / "state", tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUTRINO_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neutrino.cli.main",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc, log)
        yield base, state, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()


def test_serve_answers_and_issues_tokens(server: tuple[str, Path, Path]) -> None:
    base, state, log = server
    password = (state / "admin-password").read_text().strip()
    printed = log.read_text()
    assert f"listening on {base}" in printed
    assert f"{base}/v3" in printed
    assert str(state / "admin-password") in printed

    r = httpx.get(base + "/", timeout=10)
    assert r.status_code == 200, r.text
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    r = httpx.post(base + "/v3/auth/tokens", json=body, timeout=10)
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    r = httpx.get(base + "/v2.0/networks", headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200, r.text


def test_metrics_sum_over_workers(tmp_path: Path) -> None:
    """``--workers 2``: whichever worker answers the scrape reports every worker's requests
    (prometheus_client's multiprocess mode)."""
    from prometheus_client.parser import text_string_to_metric_families

    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEUTRINO_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neutrino.cli.main",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(tmp_path / "state"),
                "--workers",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"

    def root_requests() -> float:
        text = httpx.get(base + "/metrics", timeout=10).text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "neutrino_http_requests_total"
            and s.labels.get("route") == "/"
            and s.labels.get("method") == "GET"
        )

    try:
        wait_until_up(base + "/", proc, log)
        before = root_requests()
        for _ in range(12):  # a new connection each: both workers answer some
            assert httpx.get(base + "/", timeout=10).status_code == 200
        assert root_requests() - before == 12
        assert (tmp_path / "state" / "metrics").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
