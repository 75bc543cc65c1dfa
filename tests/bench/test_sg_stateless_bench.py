"""``bench/sg_stateless.py`` with the smallest sizes (one 1-second iperf3 run per variant)
prints one JSON object with every figure, and its stateless runs leave no conntrack entry.

Not a timed test: nothing here asserts how fast anything is (the issue's bound is for the
bench's own output, median of 5 runs; see docs/performance.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kernel.lab import skip_reason

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
    pytest.mark.skipif(
        shutil.which("iperf3") is None or shutil.which("conntrack") is None,
        reason="needs iperf3 and conntrack",
    ),
]


def test_stateless_bench_prints_three_figures_and_ratios() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "sg_stateless.py"),
            "--seconds",
            "1",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    for variant in ("unfiltered", "stateful", "stateless"):
        assert len(res[f"{variant}_gbit"]) == 1 and res[f"{variant}_median"] > 0
    assert res["stateless_ratio"] == round(res["stateless_median"] / res["unfiltered_median"], 3)
    # one round: its own ratio is the ratio of the single runs
    paired = res["stateless_gbit"][0] / res["unfiltered_gbit"][0]
    assert res["stateless_paired_ratio"] == round(paired, 3)
    assert res["stateful_ratio"] == round(res["stateful_median"] / res["unfiltered_median"], 3)
    assert res["conntrack_entries_stateless"] == 0
    assert len(res["load_before"]) == 3 and len(res["load_after"]) == 3
    assert "median Gbit/s: unfiltered" in out.stderr
