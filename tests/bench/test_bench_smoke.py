"""Smoke tests for the benchmark scripts: ``bench/ports.py`` with tiny sizes against a live
in-process server prints one JSON object with every phase, the right counts and sane values;
``bench/load.py`` runs a few seconds against two servers on PostgreSQL (when
``NEUTRINO_TEST_PG_URL`` is set).

Not a timed test: nothing here asserts how fast anything is. ``live_url`` (tests/conftest.py)
serves the app over real HTTP from this process, so ``--cpu-pid`` meters this very process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, PG_URL

ROOT = Path(__file__).resolve().parents[2]
PORTS = ROOT / "bench" / "ports.py"
N, THREADS, BIG, ROUNDS = 5, 2, 20, 3


def run_ports(url: str, *extra: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    cmd = [
        sys.executable,
        str(PORTS),
        "--auth-url",
        f"{url}/v3",
        "--endpoint",
        url,
        "--user",
        "admin",
        "--password",
        ADMIN_PASSWORD,
        "--project",
        "admin",
        "--n",
        str(N),
        "--threads",
        str(THREADS),
        "--list-big",
        str(BIG),
        "--bulk-chunk",
        "8",
        "--ovirt-rounds",
        str(ROUNDS),
        "--list-repeat",
        "2",
        "--cpu-pid",
        str(os.getpid()),
        "--label",
        "smoke",
        *extra,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout), out.stderr + f"\n(exit {out.returncode})"


def test_ports_bench_prints_complete_sane_json(live_url: str) -> None:
    res, log = run_ports(live_url)
    assert res["failures"] == [], log
    assert res["label"] == "smoke"
    assert res["endpoint"] == live_url
    assert res["params"]["n"] == N
    assert len(res["loadavg_before"]) == 3 and len(res["loadavg_after"]) == 3
    assert res["machine"]["cpu_count"] >= 1
    assert res["cpu_processes"] == {f"pid:{os.getpid()}": 1}

    for phase, threads in (("sequential", 1), ("concurrent", THREADS)):
        r = res[phase]
        assert r["threads"] == threads and r["n"] == N
        for op in ("create", "delete"):
            assert r[op]["ok"] == N and r[op]["errors"] == 0, (phase, op, log)
            assert r[op]["per_s"] > 0
            assert 0 < r[op]["p50_ms"] <= r[op]["p95_ms"] <= r[op]["p99_ms"] <= r[op]["max_ms"]
            cpu = r[op]["cpu"]
            assert set(cpu) >= {
                "server_cpu_ms_per_op",
                "client_cpu_ms_per_op",
                "machine_busy_cores",
                "other_busy_cores",
                "loadavg_1m",
            }
            assert cpu["server_cpu_ms_per_op"][f"pid:{os.getpid()}"] >= 0
        assert r["list"]["count"] == N
        assert r["list"]["bytes"] > 0 and r["list"]["median_ms"] > 0

    big = res["big"]
    assert big["fill"]["method"] == "bulk" and big["fill"]["created"] == BIG
    assert big["fill"]["errors"] == 0
    assert big["list"]["count"] == BIG  # the small networks were cleaned up before
    assert big["list"]["median_ms"] > 0
    ovirt = res["ovirt"]
    assert ovirt["rounds"] == ROUNDS
    assert ovirt["ports_listed"] >= BIG
    assert 0 < ovirt["list_median_ms"] <= ovirt["median_ms"] <= ovirt["max_ms"]
    assert ovirt["create_median_ms"] > 0
    assert res["big_cleanup"]["ports_deleted"] == BIG + ROUNDS
    assert "ovirt" in log  # the human summary went to stderr


def test_ports_bench_keep_big_reuses_the_big_network(live_url: str) -> None:
    first, log = run_ports(live_url, "--keep-big", "--skip-sequential", "--skip-concurrent")
    assert first["failures"] == [], log
    assert first["big_cleanup"] == "kept"
    second, log = run_ports(live_url, "--keep-big", "--skip-sequential", "--skip-concurrent")
    assert second["failures"] == [], log
    assert second["big"]["fill"]["created"] == 0  # topped up: nothing missing
    assert second["big"]["list"]["count"] == BIG  # the oVirt ports of round one were deleted


LOAD = ROOT / "bench" / "load.py"


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs NEUTRINO_TEST_PG_URL")
def test_load_bench_runs_two_servers_on_postgres_and_prints_sane_json() -> None:
    cmd = [
        sys.executable,
        str(LOAD),
        "--duration",
        "4",
        "--clients",
        "3",
        "--servers",
        "2",
        "--workers",
        "1",
        "--ports",
        "3",
        "--networks",
        "1",
        "--groups",
        "1",
        "--sample-every",
        "1",
        "--pg-url",
        PG_URL,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.stdout.strip(), out.stderr
    res = json.loads(out.stdout)
    assert out.returncode == 0 and res["errors"] == 0, (res["error_samples"], out.stderr)
    assert res["servers"] == 2 and res["clients"] == 3
    assert res["requests"] == sum(op["count"] for op in res["ops"].values()) > 0
    assert "port_create" in res["ops"] and "port_list" in res["ops"]
    for op in res["ops"].values():
        assert 0 < op["p50_ms"] <= op["p99_ms"] <= op["max_ms"]
    assert len(res["server_pids"]) == 2
    assert len(res["rss_series"]) >= 2
    assert all(len(s["rss_mib"]) == 2 and min(s["rss_mib"]) > 0 for s in res["rss_series"])
    assert "load:" in out.stderr  # the human summary


def test_rbac_bench_prints_counts(tmp_path: Path) -> None:
    """``bench/rbac.py`` with 30 networks: every list holds what its caller may see."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rbac.py"), "--n", "30", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert (res["owner_count"], res["rbac_count"], res["wildcard_count"], res["admin_count"]) == (
        30,
        30,
        30,
        60,
    )
    assert res["rbac_ms"] > 0 and res["rbac_over_owner"] > 0
