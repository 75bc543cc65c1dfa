"""``common.logs``: the request id in every line, JSON lines, httpx's request lines (an
agent's heartbeats) at DEBUG; and the help text laid out whole when printed to a pipe."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrino.common import logs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _configure(stream: io.StringIO, level: int, *, json_lines: bool) -> None:
    logs.configure(level, json=json_lines)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


def test_text_lines_carry_the_request_id(captured: io.StringIO) -> None:
    _configure(captured, logging.INFO, json_lines=False)
    token = logs.request_id.set("req-abc")
    try:
        logging.getLogger("neutrino.x").info("inside")
    finally:
        logs.request_id.reset(token)
    logging.getLogger("neutrino.x").info("outside")
    first, second = captured.getvalue().splitlines()
    assert first.endswith("INFO neutrino.x [req-abc]: inside")
    assert second.endswith("INFO neutrino.x [-]: outside")


def test_json_lines(captured: io.StringIO) -> None:
    _configure(captured, logging.INFO, json_lines=True)
    token = logs.request_id.set("req-1")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("neutrino.y").exception("failed")
    finally:
        logs.request_id.reset(token)
    line = json.loads(captured.getvalue())
    assert (line["level"], line["logger"], line["request_id"], line["message"]) == (
        "ERROR",
        "neutrino.y",
        "req-1",
        "failed",
    )
    assert "ValueError: boom" in line["exc"]


def test_httpx_request_lines_only_at_debug(captured: io.StringIO) -> None:
    _configure(captured, logging.INFO, json_lines=False)
    logging.getLogger("httpx").info("HTTP Request: POST http://x/agent/v1/agents 200 OK")
    logging.getLogger("httpx").warning("something worth seeing")
    assert "HTTP Request" not in captured.getvalue()
    assert "WARNING httpx [-]: something worth seeing" in captured.getvalue()
    _configure(captured, logging.DEBUG, json_lines=False)
    logging.getLogger("httpx").info("HTTP Request: POST http://x/agent/v1/agents 200 OK")
    assert "DEBUG httpx [-]: HTTP Request" in captured.getvalue()


def test_help_is_whole_when_piped() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "neutrino.cli.main", "agent", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )
    assert out.returncode == 0, out.stderr
    for option in ("--interface-mappings", "--cleanup-on-exit", "--metrics-listen"):
        assert option in out.stdout
    assert "…" not in out.stdout
