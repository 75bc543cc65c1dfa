"""Smoke test for ``bench/metrics.py``: against a real ``neutrino serve`` it prints one JSON
list whose server-side figures (from ``/metrics``) counted exactly the requests its clients
made, both clients and two client processes. Not a timed test: how close the two clocks are
is a benchmark figure (docs/performance.md), not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_bench_counts_every_request() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "metrics.py"),
            *("--n", "12", "--db", "sqlite", "--client", "raw,httpx", "--concurrency", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    runs = json.loads(out.stdout)
    assert [(r["client"], r["concurrency"]) for r in runs] == [("raw", 2), ("httpx", 2)]
    for run in runs:
        for phase in ("create", "delete"):
            figures = run[phase]
            assert figures["server"]["count"] == 12 == figures["client"]["count"]
            for side in ("server", "client", "client_bucketed"):
                f = figures[side]
                assert 0 < f["p50_ms"] <= f["p90_ms"] <= f["p99_ms"], (side, f)
            assert figures["ratio"]["mean_ms"] > 0
    assert "| sqlite | raw | 2 | create | 12 |" in out.stderr
