"""Smoke test for ``bench/limits.py``: with a few idle connections and a short header
deadline it prints one JSON object with every figure, the 50 MB requests refused.

Not a timed test: nothing here asserts how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_limits_bench_prints_complete_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "limits.py"),
            "--idle",
            "200",
            "--header-timeout",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    sizes = res["sizes_bytes"]
    assert sizes["port_realistic"] < sizes["port_maximal"]
    assert sizes["bulk_500_ports_realistic"] > 500 * sizes["port_realistic"] * 0.9
    live = res["live"]
    assert live["reject_50mb_ms"]["median"] > 0
    assert live["idle"]["connections"] == 200
    assert live["idle"]["all_closed_s"] >= 2
    for key in ("request_ms_before", "request_ms_under_idle", "request_ms_after"):
        assert live[key] > 0
