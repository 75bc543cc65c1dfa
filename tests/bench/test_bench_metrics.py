"""Smoke test for ``bench/metrics.py``: against a real ``neutrino serve`` it prints one JSON
object whose server-side figures (from ``/metrics``) counted exactly the requests the client
made. Not a timed test: how close the two clocks are is a benchmark figure
(docs/performance.md), not asserted here."""

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
        [sys.executable, str(ROOT / "bench" / "metrics.py"), "--n", "12", "--nice", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    for phase in ("create", "delete"):
        assert result[phase]["server"]["count"] == 12 == result[phase]["client"]["count"]
        server, client = result[phase]["server"], result[phase]["client"]
        assert server["mean_ms"] > 0 and client["mean_ms"] > 0
        assert 0 < server["p50_ms"] <= server["p95_ms"]
