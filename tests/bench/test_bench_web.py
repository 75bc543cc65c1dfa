"""Smoke test for ``bench/web.py`` with tiny sizes: one JSON object with every page's figures.
Not a timed test: nothing here asserts how fast a page is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_web_bench_prints_every_page() -> None:
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "web.py"),
        "--networks",
        "4",
        "--ports",
        "8",
        "--rounds",
        "2",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["data"] == {"networks": 5, "ports": 8, "routers": 1}
    assert set(res["figures"]) == {
        "networks_list",
        "topology_page",
        "topology_svg",
        "overview",
        "agents_hosts",
    }
    for fig in res["figures"].values():
        assert 0 < fig["p50_ms"] <= fig["max_ms"] and fig["bytes"] > 500
        assert fig["cpu"]["p50_ms"] >= 0
