#!/usr/bin/env python3
"""Where our server spends its CPU, per operation.

Starts our server like ``bench/compare.py`` does (fresh SQLite, ``bench/serve_neutrino.py``),
runs one workload per operation and profiles the server during each, then prints one JSON
object: per operation the server's CPU ms per op (from /proc, profiler overhead included),
and the top functions by own time ("self") and by inclusive time, in % of the profiled
time, named ``path/module.py:function``.

Profilers:
  cprofile (default)  cProfile in the server with the thread CPU clock as timer, switched on
                      and off by signals (``serve_neutrino.py --cprofile-dir``). Counts CPU
                      only, so it is right on a loaded box; being deterministic it inflates
                      code that makes many small calls (roughly 1.5-2x overall).
  py-spy              sampling (``pip install py-spy``, not a project dependency; needs
                      ptrace). Cheap, but samples wall-clock time of the running thread: on a
                      box whose CPUs are oversubscribed it also counts the time the server was
                      runnable but preempted, which lands on I/O frames (``send``, the loop).

Operations (every step runs in this order; those named in ``--ops`` are profiled):
  create      N sequential single-port creates on a /16
  delete      those N ports deleted sequentially
  create8     N creates from 8 threads
  delete8     those deleted from 8 threads
  bulk        bulk POSTs (500 ports each) filling a second network to ``--big`` ports
  list-big    the full ``GET /v2.0/ports`` at that size, ``--list-repeat`` times
  ovirt       ``--list-repeat`` oVirt allocates (full list + create with device_owner oVirt)

Raw data stays in ``--out`` (``<op>.prof`` pstats for cProfile, ``<op>.txt`` collapsed
stacks for py-spy: open them with snakeviz / any flame-graph tool).

    python bench/hotspots.py --n 1000 --big 10000 --out /tmp/neutrino-profile
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compare import PASSWORD, OurServer, free_port
from ports import Api, CpuMeter, create_ports, delete_ports, keystone_token, make_network

PY_SPY = Path(sys.executable).with_name("py-spy")
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]+?)(?::\d+)?\)$")
OPS = ["create", "delete", "create8", "delete8", "bulk", "list-big", "ovirt"]


def short_path(path: str) -> str:
    for marker in ("/site-packages/", "/src/", "/bench/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def pct_list(c: Counter[str], total: float, top: int) -> list[tuple[str, float]]:
    return [(f, round(100.0 * v / total, 1)) for f, v in c.most_common(top)] if total else []


def summarize_pstats(path: Path, top: int) -> dict[str, Any]:
    st = pstats.Stats(str(path))
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    calls = 0
    for (file, _line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        name = f"{short_path(file)}:{func}" if file != "~" else func
        own[name] += tt
        incl[name] = max(incl[name], ct)
        calls += nc
    total = float(st.total_tt)  # type: ignore[attr-defined]
    return {
        "profiled_cpu_s": round(total, 3),
        "function_calls": calls,
        "top_self": pct_list(own, total, top),
        "top_inclusive": pct_list(incl, total, top),
    }


def summarize_collapsed(path: Path, top: int) -> dict[str, Any]:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for f in stack.split(";"):
            m = FRAME.match(f)
            frames.append(f"{short_path(m['file'])}:{m['func']}" if m else f)
        n = int(count)
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return {
        "samples": total,
        "top_self": pct_list(own, total, top),
        "top_inclusive": pct_list(incl, total, top),
    }


class Profiler:
    """Profiles the server process while ``work`` runs; returns the summary."""

    def __init__(self, kind: str, pid: int, out: Path, rate: int, top: int) -> None:
        self.kind, self.pid, self.out, self.rate, self.top = kind, pid, out, rate, top
        self.dumps = 0

    def run(self, name: str, work: Callable[[], int]) -> dict[str, Any]:
        meter = CpuMeter([], [self.pid])
        if self.kind == "cprofile":
            os.kill(self.pid, signal.SIGUSR1)
            time.sleep(0.2)
        else:
            spy = subprocess.Popen(
                [
                    str(PY_SPY),
                    "record",
                    "--pid",
                    str(self.pid),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--output",
                    str(self.out / f"{name}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # let py-spy attach
        s0 = meter.snap()
        ops = work()
        s1 = meter.snap()
        if self.kind == "cprofile":
            os.kill(self.pid, signal.SIGUSR2)
            self.dumps += 1
            dump = self.out / f"{self.dumps}.prof"
            deadline = time.monotonic() + 30
            while not dump.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            target = self.out / f"{name}.prof"
            dump.replace(target)
            res = summarize_pstats(target, self.top)
        else:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            raw = self.out / f"{name}.txt"
            res = summarize_collapsed(raw, self.top) if raw.exists() else {"error": "no data"}
        cpu = meter.delta(s0, s1, ops)
        res = {
            "ops": ops,
            "wall_s": round(s1["wall"] - s0["wall"], 2),
            "server_cpu_ms_per_op": cpu["server_cpu_ms_per_op"][f"pid:{self.pid}"],
            "other_busy_cores": cpu["other_busy_cores"],
            **res,
        }
        print(
            f"{name}: {ops} ops, {res['server_cpu_ms_per_op']} server CPU ms/op "
            f"(profiled), other load {cpu['other_busy_cores']} cores",
            file=sys.stderr,
        )
        return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--big", type=int, default=10000)
    ap.add_argument("--list-repeat", type=int, default=10)
    ap.add_argument("--profiler", choices=["cprofile", "py-spy"], default="cprofile")
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--ops", default=",".join(OPS), help="comma-separated, of: " + " ".join(OPS))
    ap.add_argument("--schema", choices=["migrate", "models"], default="migrate")
    ap.add_argument("--out", default="/tmp/neutrino-profile", help="raw profiles go here")
    args = ap.parse_args(argv)
    if args.profiler == "py-spy" and not PY_SPY.exists():
        raise SystemExit(f"py-spy not found at {PY_SPY}: pip install py-spy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ops = set(args.ops.split(","))

    extra = ["--cprofile-dir", str(out)] if args.profiler == "cprofile" else []
    server = OurServer(f"127.0.0.1:{free_port()}", "module", 1, False, args.schema, extra)
    server.start()
    assert server.proc is not None
    res: dict[str, Any] = {"params": vars(args), "profiles": {}}
    try:
        token, tok = keystone_token(f"{server.url}/v3", "admin", PASSWORD, "admin", "Default", 300)
        project_id = tok["project"]["id"]
        api = Api(server.url, token, 300)
        api.main.put(f"/v2.0/quotas/{project_id}", json={"quota": {"port": -1}})
        prof = Profiler(args.profiler, server.proc.pid, out, args.rate, args.top)
        net, _ = make_network(api, "prof-net", "10.200.0.0/16")
        big, _ = make_network(api, "prof-big", "10.201.0.0/16")
        names = [f"p{i}" for i in range(args.n)]
        ids: list[str] = []

        def create(threads: int) -> Callable[[], int]:
            def run() -> int:
                ids.extend(create_ports(api, net["id"], names, threads)[0])
                return len(names)

            return run

        def delete(threads: int) -> Callable[[], int]:
            def run() -> int:
                n = len(ids)
                delete_ports(api, list(ids), threads)
                ids.clear()
                return n

            return run

        def bulk() -> int:
            for i in range(0, args.big, 500):
                body = {
                    "ports": [
                        {"network_id": big["id"], "name": f"b{j}"}
                        for j in range(i, min(i + 500, args.big))
                    ]
                }
                Api.call(api.main, "POST", "/v2.0/ports", body, ok=(201,))
            return args.big

        def list_big() -> int:
            for _ in range(args.list_repeat):
                Api.call(api.main, "GET", "/v2.0/ports")
            return args.list_repeat

        def ovirt() -> int:
            for _ in range(args.list_repeat):
                vnic = str(uuid.uuid4())
                ports = Api.call(api.main, "GET", "/v2.0/ports")[0].json()["ports"]
                assert not [p for p in ports if p["device_id"] == vnic]
                Api.call(
                    api.main,
                    "POST",
                    "/v2.0/ports",
                    {
                        "port": {
                            "admin_state_up": True,
                            "name": vnic[:8],
                            "network_id": big["id"],
                            "mac_address": "56:6f:" + ":".join(f"{b:02x}" for b in os.urandom(4)),
                            "device_owner": "oVirt",
                            "device_id": vnic,
                            "binding:host_id": "h1",
                            "tenant_id": project_id,
                        }
                    },
                    ok=(201,),
                )
            return args.list_repeat

        plan: list[tuple[str, Callable[[], int]]] = [
            ("create", create(1)),
            ("delete", delete(1)),
            ("create8", create(8)),
            ("delete8", delete(8)),
            ("bulk", bulk),
            ("list-big", list_big),
            ("ovirt", ovirt),
        ]
        for name, work in plan:
            if name in ops:
                res["profiles"][name] = prof.run(name, work)
            else:
                work()
        api.close()
    finally:
        server.stop()
    res["raw_dir"] = str(out)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
