#!/usr/bin/env python3
"""neutrino side by side with the reference Neutron, in one run, with one client.

1. Starts OUR server on a fresh SQLite database in a new temporary state dir:
   ``neutrino serve --listen 127.0.0.1:<port> --state-dir <tmp>`` with
   ``NEUTRINO_ADMIN_PASSWORD`` set (``--server cli``); if the CLI cannot start a server,
   ``bench/serve_neutrino.py`` does the same steps directly (``--server module``; ``auto``
   tries the CLI first). Its CPU is metered by pid, with its worker processes (``--workers``).
2. Runs ``bench/ports.py`` against it (a separate process, so the client's CPU is its own),
   optionally while ``py-spy record`` samples the server (``--py-spy FILE``).
3. With ``--with-reference``, runs the same ``bench/ports.py`` against the reference
   Keystone + Neutron (../shared/reference, ``./up.sh``) right after, metering the
   ``neutron-api uWSGI worker`` processes, ``mariadbd`` and ``keystone-api``.
4. Prints one JSON object: both results, ratios ours/reference (create and delete
   throughput, sequential and concurrent; list latency as reference/ours) and the targets
   of issue 2 with ``met`` flags. A short table goes to stderr.

The reference needs ~180 ms of CPU per port even in bulk, so filling it to 10,000 ports
takes half an hour: ``--reference-big`` sets its size separately (0 skips), and
``--reference-keep-big`` keeps its big network so later runs reuse it.

    python bench/compare.py --n 500 --threads 8 --big 10000 --with-reference --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PORTS = HERE / "ports.py"
REFERENCE_CPU = ["neutron-api uWSGI worker", "mariadbd", "keystone-api"]
PASSWORD = "bench-admin-pass"

TARGETS = {  # issue 2, "Done means" item 4
    "create_ratio_min": 50.0,
    "delete_ratio_min": 50.0,
    "list_big_ms_max": 150.0,
    "ovirt_allocate_ms_max": 300.0,
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OurServer:
    """Our controller in a child process on a fresh state dir (removed at the end)."""

    def __init__(
        self,
        listen: str,
        mode: str,
        workers: int,
        keep: bool,
        schema: str,
        module_args: list[str] | None = None,
    ) -> None:
        self.listen = listen
        self.schema = schema
        self.module_args = module_args or []
        self.url = f"http://{listen}"
        self.mode = mode
        self.workers = workers
        self.keep = keep
        self.state_dir = Path(tempfile.mkdtemp(prefix="neutrino-bench-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.used = ""

    def _command(self, mode: str) -> list[str]:
        state = str(self.state_dir / mode)
        if mode == "cli":
            exe = Path(sys.executable).with_name("neutrino")
            cmd = [str(exe), "serve", "--listen", self.listen, "--state-dir", state]
            return [*cmd, "--workers", str(self.workers)] if self.workers > 1 else cmd
        return [
            sys.executable,
            str(HERE / "serve_neutrino.py"),
            "--listen",
            self.listen,
            "--state-dir",
            state,
            "--schema",
            self.schema,
            *self.module_args,
        ]

    def start(self) -> None:
        modes = ["cli", "module"] if self.mode == "auto" else [self.mode]
        if self.schema == "models" or self.module_args:
            modes = ["module"]
        env = {**os.environ, "NEUTRINO_ADMIN_PASSWORD": PASSWORD}
        for mode in modes:
            log = open(self.state_dir / f"{mode}.log", "wb")  # noqa: SIM115 - child's stdout
            self.proc = subprocess.Popen(
                self._command(mode), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
            )
            if wait_ready(self.url, self.proc, 60):
                self.used = mode
                print(f"our server ({mode}) up on {self.url}, pid {self.proc.pid}", file=sys.stderr)
                return
            stop(self.proc)
            tail = (self.state_dir / f"{mode}.log").read_text(errors="replace")[-1500:]
            print(f"our server did not start with --server {mode}:\n{tail}", file=sys.stderr)
        raise SystemExit("could not start our server")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        if not self.keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def run_ports(
    args: argparse.Namespace,
    label: str,
    auth_url: str,
    user: str,
    password: str,
    project: str,
    big: int,
    cpu: list[str],
    extra: list[str],
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(PORTS),
        "--label",
        label,
        "--auth-url",
        auth_url,
        "--user",
        user,
        "--password",
        password,
        "--project",
        project,
        "--n",
        str(args.n),
        "--threads",
        str(args.threads),
        "--list-big",
        str(big),
        "--ovirt-rounds",
        str(args.ovirt_rounds),
        "--ovirt-pause",
        str(args.ovirt_pause),
        "--list-repeat",
        str(args.list_repeat),
        *[x for p in cpu for x in ("--cpu-pattern", p)],
        *extra,
    ]
    print(f"--- {label}: {' '.join(cmd[1:])}", file=sys.stderr)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)  # stderr passes through
    try:
        res: dict[str, Any] = json.loads(out.stdout)
    except ValueError:
        return {"label": label, "error": f"bench/ports.py exited {out.returncode}, no JSON"}
    res["exit_code"] = out.returncode  # non-zero: see res["failures"]
    return res


def bench_ours(args: argparse.Namespace) -> dict[str, Any]:
    server = OurServer(
        f"127.0.0.1:{args.port or free_port()}",
        args.server,
        args.workers,
        args.keep_state,
        args.schema,
    )
    source = source_version()  # before the run: HEAD may move while it lasts
    server.start()
    spy: subprocess.Popen[bytes] | None = None
    try:
        if args.py_spy:
            assert server.proc is not None
            fmt = (
                "flamegraph"
                if args.py_spy.endswith(".svg")
                else ("speedscope" if args.py_spy.endswith(".json") else "raw")
            )
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(server.proc.pid),
                    "--subprocesses",
                    "--rate",
                    "200",
                    "--format",
                    fmt,
                    "--output",
                    args.py_spy,
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        assert server.proc is not None  # metered with its worker processes, if any
        res = run_ports(
            args,
            "neutrino",
            f"{server.url}/v3",
            "admin",
            PASSWORD,
            "admin",
            args.big,
            [],
            ["--keep-big", "--cpu-pid", str(server.proc.pid)],
        )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        server.stop()
    res["source"] = source
    res["server"] = {
        "mode": server.used,
        "workers": args.workers,
        "db": "sqlite (fresh)",
        "schema": args.schema,
        "state_dir": str(server.state_dir) if args.keep_state else None,
    }
    return res


def source_version() -> dict[str, Any]:
    """Which code was measured: HEAD and whether src/ differs from it (read-only git)."""

    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(ROOT), *a],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(git("status", "--porcelain", "--", "src")),
    }


def reference_up(auth_url: str) -> bool:
    try:
        return httpx.get(auth_url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def bench_reference(args: argparse.Namespace) -> dict[str, Any]:
    if not reference_up(args.reference_auth_url):
        return {
            "skipped": f"reference not reachable at {args.reference_auth_url} "
            "(cd ../shared/reference && ./up.sh)"
        }
    big = args.big if args.reference_big is None else args.reference_big
    extra = ["--keep-big"] if args.reference_keep_big else []
    return run_ports(
        args,
        "reference",
        args.reference_auth_url,
        args.reference_user,
        args.reference_password,
        args.reference_project,
        big,
        REFERENCE_CPU,
        extra,
    )


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return None
    return round(a / b, 1)


def compare(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    ratios: dict[str, Any] = {}
    for phase in ("sequential", "concurrent"):
        for op in ("create", "delete"):
            ratios[f"{phase}_{op}_per_s"] = ratio(
                _get(ours, phase, op, "per_s"), _get(ref, phase, op, "per_s")
            )
        # list latency: how many times faster ours answers
        ratios[f"{phase}_list_speedup"] = ratio(
            _get(ref, phase, "list", "median_ms"), _get(ours, phase, "list", "median_ms")
        )
    ratios["big_list_speedup"] = ratio(
        _get(ref, "big", "list", "median_ms"), _get(ours, "big", "list", "median_ms")
    )
    ratios["ovirt_allocate_speedup"] = ratio(
        _get(ref, "ovirt", "median_ms"), _get(ours, "ovirt", "median_ms")
    )
    return ratios


def targets(ours: dict[str, Any], ratios: dict[str, Any]) -> dict[str, Any]:
    def check(value: Any, limit: float, at_least: bool) -> dict[str, Any]:
        met = None if value is None else (value >= limit if at_least else value < limit)
        return {"value": value, "target": (">= " if at_least else "< ") + str(limit), "met": met}

    out: dict[str, Any] = {}
    for phase in ("sequential", "concurrent"):
        for op in ("create", "delete"):
            out[f"{phase}_{op}_ratio"] = check(
                ratios.get(f"{phase}_{op}_per_s"), TARGETS[f"{op}_ratio_min"], True
            )
    out["list_big_ms"] = {
        **check(_get(ours, "big", "list", "median_ms"), TARGETS["list_big_ms_max"], False),
        "ports": _get(ours, "big", "list", "count"),
    }
    out["ovirt_allocate_ms"] = {
        **check(_get(ours, "ovirt", "median_ms"), TARGETS["ovirt_allocate_ms_max"], False),
        "ports": _get(ours, "ovirt", "ports_listed"),
    }
    return out


def table(res: dict[str, Any]) -> str:
    ours, ref = res["neutrino"], res.get("reference") or {}
    rows = [
        ("sequential create /s", ("sequential", "create", "per_s")),
        ("sequential create p50 ms", ("sequential", "create", "p50_ms")),
        ("sequential delete /s", ("sequential", "delete", "per_s")),
        ("list N ports ms", ("sequential", "list", "median_ms")),
        ("8-thread create /s", ("concurrent", "create", "per_s")),
        ("8-thread create p95 ms", ("concurrent", "create", "p95_ms")),
        ("8-thread delete /s", ("concurrent", "delete", "per_s")),
        ("list big ms", ("big", "list", "median_ms")),
        ("oVirt allocate median ms", ("ovirt", "median_ms")),
        ("oVirt allocate p95 ms", ("ovirt", "p95_ms")),
    ]
    lines = [f"{'':28}{'neutrino':>12}{'reference':>12}"]
    for name, path in rows:
        a, b = _get(ours, *path), _get(ref, *path)
        lines.append(f"{name:28}{a if a is not None else '-':>12}{b if b is not None else '-':>12}")
    lines.append("ratios: " + json.dumps(res.get("ratios", {})))
    for k, v in res.get("targets", {}).items():
        at = f" at {v['ports']} ports" if v.get("ports") else ""
        lines.append(
            f"target {k}{at}: {v['value']} ({v['target']}) "
            f"{'MET' if v['met'] else 'missed' if v['met'] is False else 'n/a'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--big", type=int, default=10000, help="ports for big list/oVirt (0: skip)")
    ap.add_argument("--ovirt-rounds", type=int, default=20)
    ap.add_argument(
        "--ovirt-pause",
        type=float,
        default=0.0,
        help="seconds between oVirt allocates (see bench/ports.py)",
    )
    ap.add_argument("--list-repeat", type=int, default=5)
    ap.add_argument("--port", type=int, default=19696, help="our server's port (0: any free)")
    ap.add_argument("--server", choices=["auto", "cli", "module"], default="auto")
    ap.add_argument(
        "--schema",
        choices=["migrate", "models"],
        default="migrate",
        help="models: schema from the models, not Alembic (implies --server "
        "module; for when a migration lags behind the models)",
    )
    ap.add_argument("--workers", type=int, default=1, help="our server processes (cli only)")
    ap.add_argument("--keep-state", action="store_true", help="keep our state dir")
    ap.add_argument(
        "--py-spy",
        metavar="FILE",
        help="sample our server with py-spy (.svg flamegraph, .json speedscope, "
        "else raw collapsed stacks)",
    )
    ap.add_argument("--with-reference", action="store_true")
    ap.add_argument("--reference-first", action="store_true", help="run the reference first")
    ap.add_argument("--reference-auth-url", default="http://127.0.0.1:5000/v3")
    ap.add_argument("--reference-user", default="admin")
    ap.add_argument("--reference-password", default="adminpass")
    ap.add_argument("--reference-project", default="admin")
    ap.add_argument(
        "--reference-big",
        type=int,
        default=None,
        help="big size on the reference (default: --big; 0 skips)",
    )
    ap.add_argument(
        "--reference-keep-big",
        action="store_true",
        help="keep the reference's big network for the next run",
    )
    ap.add_argument("--json", help="also write the JSON result to this file")
    args = ap.parse_args(argv)

    res: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "params": {
            "n": args.n,
            "threads": args.threads,
            "big": args.big,
            "ovirt_rounds": args.ovirt_rounds,
            "ovirt_pause": args.ovirt_pause,
            "reference_big": args.reference_big,
        },
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    order = ["ours", "reference"] if not args.reference_first else ["reference", "ours"]
    for who in order:
        if who == "ours":
            res["neutrino"] = bench_ours(args)
        elif args.with_reference:
            res["reference"] = bench_reference(args)
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    ref = res.get("reference") or {}
    res["ratios"] = compare(res["neutrino"], ref) if "skipped" not in ref and ref else {}
    res["targets"] = targets(res["neutrino"], res["ratios"])
    print(table(res), file=sys.stderr)
    out = json.dumps(res, indent=1)
    print(out)
    if args.json:
        Path(args.json).write_text(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
