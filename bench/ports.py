#!/usr/bin/env python3
"""Port throughput and the oVirt allocate, against any Neutron v2.0 + Keystone v3 endpoint.

The same client measures neutrino and the reference Neutron, so the figures compare servers,
not clients. Plain HTTP with httpx; one Keystone v3 password token (project scope) is taken at
the start and the network endpoint is read from its catalog (``--endpoint`` overrides).

Method
------
Setup: lift the project's port quota when the endpoint has a quota API (the reference's
default is 500 ports per project), create one network and one IPv4 /16 subnet, and warm the
server up (``--warmup`` ports created and deleted, untimed).

1. ``sequential``: create N ports one by one (``POST /v2.0/ports`` with network_id and name),
   list them (``GET /v2.0/ports?network_id=...``, 5 times: median ms and body bytes), delete
   them one by one. Rates are ports/s over the wall time of the whole phase; latencies are
   per request (p50/p95/p99/max).
2. ``concurrent``: the same with T client threads. Every thread owns one ``httpx.Client``
   (keep-alive; a server that answers ``Connection: close`` gets a new TCP connection per
   request, which is then part of what it costs) and takes the next job from a shared queue.
3. ``big``: bring a second network to ``--list-big`` ports (bulk ``POST {"ports": [...]}``
   in chunks of ``--bulk-chunk``, one request at a time, when the endpoint supports it, else
   single creates over T threads; not a benchmark, but its time is reported), then time the
   FULL ``GET /v2.0/ports`` (no filter, as oVirt sends it), median of 5.
4. ``ovirt``: at that size, ``--ovirt-rounds`` times the vNIC allocate oVirt's engine performs:
   the full ``GET /v2.0/ports``, a client-side scan for device_owner "oVirt" and device_id
   = the vNIC id (not found: it is a new vNIC), then ``POST /v2.0/ports`` with
   {admin_state_up, name, mac_address, network_id, device_owner "oVirt", device_id,
   binding:host_id, tenant_id}. The pair's time (list + parse/scan + create) gives the
   median/p95; its parts are reported too.

Every phase also records CPU seconds of the server processes (``--cpu-pattern``: cmdline
substring, summed over matching processes from /proc/<pid>/stat; ``--cpu-pid``: a pid and
all its descendants, such as uvicorn's worker processes), of this client, and of the whole
machine (/proc/stat), per operation, plus the load average. On a shared 2-core box
wall-clock rates are noisy; CPU ms per op and the ``other_busy_cores`` figure tell whether a
run was disturbed. Compare servers only in back-to-back runs.

Output: one JSON object on stdout (and ``--json FILE``); a short human summary on stderr.
Everything the script creates is deleted at the end (``--keep-big`` keeps the big network so
a later run with the same ``--big-name`` reuses and tops it up: useful on the slow reference).

    python bench/ports.py --auth-url http://127.0.0.1:5000/v3 --user admin \\
        --password adminpass --project admin --n 500 --threads 8 --list-big 10000 \\
        --cpu-pattern 'neutron-api uWSGI worker' --cpu-pattern mariadbd
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

try:  # the client's JSON parse is part of the oVirt pair: parse fast, like the engine's Jackson
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover - orjson is a neutrino dependency
    from json import loads as json_loads  # type: ignore[assignment]

CLK_TCK = os.sysconf("SC_CLK_TCK")
OK = (200, 201, 204)


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def latency_summary(lat: list[float]) -> dict[str, float | None]:
    if not lat:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": ms(percentile(lat, 50)),
        "p95_ms": ms(percentile(lat, 95)),
        "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(max(lat)),
    }


class CpuMeter:
    """CPU seconds used, between two snapshots, by server processes (grouped by cmdline
    substring, or by pid together with all its descendants, e.g. uvicorn's workers), by this
    client process, and by the whole machine."""

    def __init__(self, patterns: list[str], pids: list[int]) -> None:
        self.patterns = patterns
        self.pids = pids
        self.me = os.getpid()

    def _matching(self, pattern: str) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.me:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if pattern in cmd:
                found.append(int(entry))
        return found

    def _tree(self, root: int) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            if pid != self.me:
                found.append(pid)
                todo.extend(children.get(pid, []))
        return found

    @staticmethod
    def _cpu(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def groups(self) -> dict[str, list[int]]:
        out = {p: self._matching(p) for p in self.patterns}
        out.update({f"pid:{pid}": self._tree(pid) for pid in self.pids})
        return out

    def snap(self) -> dict[str, Any]:
        procs = {name: sum(self._cpu(p) for p in pids) for name, pids in self.groups().items()}
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        t = os.times()
        return {
            "procs": procs,
            "busy": (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK,  # user nice sys irq softirq
            "steal": (v[7] if len(v) > 7 else 0) / CLK_TCK,
            "client": t.user + t.system,
            "wall": time.perf_counter(),
            "loadavg": os.getloadavg()[0],
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any], ops: int) -> dict[str, Any]:
        ops = max(1, ops)
        wall = max(1e-9, b["wall"] - a["wall"])
        procs = {k: b["procs"].get(k, 0.0) - a["procs"].get(k, 0.0) for k in b["procs"]}
        client = b["client"] - a["client"]
        busy = b["busy"] - a["busy"]
        return {
            "server_cpu_ms_per_op": {k: round(v / ops * 1000, 2) for k, v in procs.items()},
            "client_cpu_ms_per_op": round(client / ops * 1000, 2),
            "machine_busy_cores": round(busy / wall, 2),
            # CPU used by anything else on the box: > 0.1 means the run was disturbed
            "other_busy_cores": round((busy - sum(procs.values()) - client) / wall, 2),
            "steal_cores": round((b["steal"] - a["steal"]) / wall, 2),
            "loadavg_1m": [round(a["loadavg"], 2), round(b["loadavg"], 2)],
        }


# --------------------------------------------------------------------------- HTTP


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path} -> {status} {text[:300]}")
        self.status = status


@dataclass
class Api:
    """One endpoint + token; ``client()`` gives a new keep-alive client for one thread."""

    base: str
    token: str
    timeout: float
    _main: httpx.Client | None = field(default=None, repr=False)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={"X-Auth-Token": self.token, "Accept": "application/json"},
            timeout=self.timeout,
        )

    @property
    def main(self) -> httpx.Client:
        if self._main is None:
            self._main = self.client()
        return self._main

    def close(self) -> None:
        if self._main is not None:
            self._main.close()

    @staticmethod
    def call(
        c: httpx.Client, method: str, path: str, body: Any = None, ok: Iterable[int] = OK
    ) -> tuple[httpx.Response, float]:
        t0 = time.perf_counter()
        r = c.request(method, path, json=body)
        dt = time.perf_counter() - t0
        if r.status_code not in ok:
            raise ApiError(method, path, r.status_code, r.text)
        return r, dt


def keystone_token(
    auth_url: str, user: str, password: str, project: str, domain: str, timeout: float
) -> tuple[str, dict[str, Any]]:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": domain}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": domain}}},
        }
    }
    r = httpx.post(auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=timeout)
    if r.status_code != 201:
        raise SystemExit(f"keystone auth failed: {r.status_code} {r.text[:300]}")
    return r.headers["X-Subject-Token"], r.json()["token"]


def network_endpoint(token: dict[str, Any]) -> str:
    for service in token.get("catalog") or []:
        if service.get("type") != "network":
            continue
        for ep in service.get("endpoints", []):
            if ep.get("interface") == "public":
                return str(ep["url"]).rstrip("/")
    raise SystemExit("no public 'network' endpoint in the token catalog; pass --endpoint")


def run_parallel(
    jobs: list[Any], threads: int, api: Api, work: Callable[[httpx.Client, Any], Any]
) -> tuple[list[Any], list[str], float]:
    """Run ``work(client, job)`` for every job over ``threads`` threads (each with its own
    keep-alive client, ``threads == 1`` uses the main client). Returns results in completion
    order, error strings, and the wall time."""
    results: list[Any] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    if threads <= 1:
        for job in jobs:
            try:
                results.append(work(api.main, job))
            except (ApiError, httpx.HTTPError) as e:
                errors.append(str(e))
        return results, errors, time.perf_counter() - t0
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for job in jobs:
        q.put(job)
    lock = threading.Lock()

    def worker() -> None:
        with api.client() as c:
            while True:
                try:
                    job = q.get_nowait()
                except queue.Empty:
                    return
                try:
                    res = work(c, job)
                except (ApiError, httpx.HTTPError) as e:
                    with lock:
                        errors.append(str(e))
                    continue
                with lock:
                    results.append(res)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, errors, time.perf_counter() - t0


# --------------------------------------------------------------------------- phases


def create_ports(
    api: Api, net_id: str, names: list[str], threads: int
) -> tuple[list[str], list[float], list[str], float]:
    def one(c: httpx.Client, name: str) -> tuple[str, float]:
        r, dt = Api.call(c, "POST", "/v2.0/ports", {"port": {"network_id": net_id, "name": name}})
        return r.json()["port"]["id"], dt

    res, errors, wall = run_parallel(names, threads, api, one)
    return [i for i, _ in res], [d for _, d in res], errors, wall


def delete_ports(api: Api, ids: list[str], threads: int) -> tuple[list[float], list[str], float]:
    def one(c: httpx.Client, port_id: str) -> float:
        return Api.call(c, "DELETE", f"/v2.0/ports/{port_id}")[1]

    return run_parallel(ids, threads, api, one)


def time_list(api: Api, path: str, repeat: int) -> dict[str, Any]:
    lat: list[float] = []
    count = size = 0
    for _ in range(repeat):
        r, dt = Api.call(api.main, "GET", path)
        lat.append(dt)
        size = len(r.content)
        count = len(json_loads(r.content)["ports"])
    return {
        "count": count,
        "bytes": size,
        "repeat": repeat,
        "median_ms": ms(statistics.median(lat)),
        "min_ms": ms(min(lat)),
        "max_ms": ms(max(lat)),
    }


def rate(ok: int, wall: float) -> float:
    return round(ok / wall, 2) if wall > 0 else 0.0


def run_phase(
    api: Api, meter: CpuMeter, net_id: str, n: int, threads: int, list_repeat: int, tag: str
) -> dict[str, Any]:
    names = [f"bench-{tag}-{i}" for i in range(n)]
    s0 = meter.snap()
    ids, clat, cerr, cwall = create_ports(api, net_id, names, threads)
    s1 = meter.snap()
    listing = time_list(api, f"/v2.0/ports?network_id={net_id}", list_repeat)
    s2 = meter.snap()
    dlat, derr, dwall = delete_ports(api, ids, threads)
    s3 = meter.snap()
    listing["cpu"] = meter.delta(s1, s2, list_repeat)
    tenths = None
    if len(clat) >= 10:  # median create latency per tenth of the run: does cost grow with N?
        k = len(clat)
        tenths = [ms(statistics.median(clat[i * k // 10 : (i + 1) * k // 10])) for i in range(10)]
    for e in (cerr + derr)[:5]:
        print(f"  error: {e}", file=sys.stderr)
    return {
        "threads": threads,
        "n": n,
        "create": {
            "ok": len(ids),
            "errors": len(cerr),
            "seconds": round(cwall, 3),
            "per_s": rate(len(ids), cwall),
            **latency_summary(clat),
            "p50_ms_by_tenth": tenths,
            "cpu": meter.delta(s0, s1, len(ids)),
            "first_errors": cerr[:3],
        },
        "list": listing,
        "delete": {
            "ok": len(dlat),
            "errors": len(derr),
            "seconds": round(dwall, 3),
            "per_s": rate(len(dlat), dwall),
            **latency_summary(dlat),
            "cpu": meter.delta(s2, s3, len(dlat)),
            "first_errors": derr[:3],
        },
    }


def fill_network(
    api: Api, net_id: str, have: int, want: int, chunk: int, threads: int
) -> dict[str, Any]:
    """Bring ``net_id`` to ``want`` ports: bulk POSTs in chunks, one at a time (concurrent
    bulks on one subnet make Neutron's IPAM collide and back off), or single creates over
    ``threads`` threads if the endpoint refuses bulk. Says how, and how long."""
    idx = list(range(have, want))
    if not idx:
        return {"method": "none", "created": 0, "errors": 0, "first_errors": [], "seconds": 0.0}
    t0 = time.perf_counter()

    def bulk(c: httpx.Client, part: list[int]) -> int:
        body = {"ports": [{"network_id": net_id, "name": f"bench-big-{i}"} for i in part]}
        r, _ = Api.call(c, "POST", "/v2.0/ports", body, ok=(201,))
        return len(r.json()["ports"])

    chunks = [idx[i : i + chunk] for i in range(0, len(idx), max(1, chunk))]
    method = "bulk"
    try:
        bulk(api.main, chunks[0])
    except ApiError as e:
        if e.status not in (400, 404, 405, 501):
            raise
        print(f"  bulk create refused ({e}); creating one by one", file=sys.stderr)
        method = "single"
    if method == "bulk":
        _, errors, _ = run_parallel(chunks[1:], 1, api, bulk)
    else:
        _, _, errors, _ = create_ports(api, net_id, [f"bench-big-{i}" for i in idx], threads)
    return {
        "method": method,
        "created": len(idx),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(time.perf_counter() - t0, 2),
    }


def ovirt_allocate(
    api: Api, meter: CpuMeter, net_id: str, project_id: str, rounds: int, host: str, pause: float
) -> tuple[dict[str, Any], list[str]]:
    """oVirt's vNIC allocate: full port list + client-side scan, then the port create.
    ``pause`` seconds between rounds (not timed) model allocations spread out in time, as
    VM starts are: a server whose caches expire between requests shows it here."""
    pair, lists, scans, posts = [], [], [], []
    created: list[str] = []
    count = 0
    c = api.main
    s0 = meter.snap()
    for i in range(rounds):
        if pause and i:
            time.sleep(pause)
        vnic_id = str(uuid.uuid4())
        mac = "56:6f:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))
        t0 = time.perf_counter()
        r, t_list = Api.call(c, "GET", "/v2.0/ports")
        t1 = time.perf_counter()
        ports = json_loads(r.content)["ports"]
        found = [
            p for p in ports if p.get("device_owner") == "oVirt" and p.get("device_id") == vnic_id
        ]
        t2 = time.perf_counter()
        if found:
            raise RuntimeError(f"vNIC {vnic_id} unexpectedly has a port")
        body = {
            "port": {
                "admin_state_up": True,
                "name": f"nic-{vnic_id[:8]}",
                "mac_address": mac,
                "network_id": net_id,
                "device_owner": "oVirt",
                "device_id": vnic_id,
                "binding:host_id": host,
                "tenant_id": project_id,
            }
        }
        r2, t_post = Api.call(c, "POST", "/v2.0/ports", body, ok=(201,))
        t3 = time.perf_counter()
        created.append(r2.json()["port"]["id"])
        count = len(ports)
        pair.append(t3 - t0)
        lists.append(t_list)
        scans.append(t2 - t1)
        posts.append(t_post)
    s1 = meter.snap()
    return {
        "rounds": rounds,
        "pause_s": pause,
        "ports_listed": count,
        "median_ms": ms(statistics.median(pair)),
        "p95_ms": ms(percentile(pair, 95)),
        "max_ms": ms(max(pair)),
        "list_median_ms": ms(statistics.median(lists)),
        "parse_scan_median_ms": ms(statistics.median(scans)),
        "create_median_ms": ms(statistics.median(posts)),
        "cpu": meter.delta(s0, s1, rounds),
    }, created


def find_network(api: Api, name: str) -> dict[str, Any] | None:
    r, _ = Api.call(api.main, "GET", f"/v2.0/networks?name={name}")
    nets = r.json()["networks"]
    return nets[0] if nets else None


def make_network(api: Api, name: str, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    net = Api.call(api.main, "POST", "/v2.0/networks", {"network": {"name": name}})[0].json()[
        "network"
    ]
    sub = Api.call(
        api.main,
        "POST",
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": cidr, "name": name + "-v4"}},
    )[0].json()["subnet"]
    return net, sub


def drop_network(api: Api, net_id: str, threads: int) -> dict[str, Any]:
    """Delete every port of the network (T threads), then its subnets and itself."""
    t0 = time.perf_counter()
    r, _ = Api.call(api.main, "GET", f"/v2.0/ports?network_id={net_id}&fields=id")
    ids = [p["id"] for p in r.json()["ports"]]
    _, errors, _ = delete_ports(api, ids, threads)
    r, _ = Api.call(api.main, "GET", f"/v2.0/subnets?network_id={net_id}&fields=id")
    for s in r.json()["subnets"]:
        Api.call(api.main, "DELETE", f"/v2.0/subnets/{s['id']}", ok=(204, 404, 409))
    Api.call(api.main, "DELETE", f"/v2.0/networks/{net_id}", ok=(204, 404, 409))
    return {
        "ports_deleted": len(ids) - len(errors),
        "errors": len(errors),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def lift_quota(api: Api, project_id: str) -> str:
    try:
        r = api.main.put(f"/v2.0/quotas/{project_id}", json={"quota": {"port": -1}})
    except httpx.HTTPError as e:
        return f"error: {e}"
    return "lifted" if r.status_code == 200 else f"not lifted: {r.status_code}"


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--auth-url", required=True, help="Keystone v3 URL, e.g. http://h:5000/v3")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--domain", default="Default", help="user and project domain name")
    ap.add_argument("--endpoint", help="network endpoint (default: from the token catalog)")
    ap.add_argument("--label", default="", help="free text copied into the JSON")
    ap.add_argument("--n", type=int, default=500, help="ports per create/delete phase")
    ap.add_argument("--threads", type=int, default=8, help="clients in the concurrent phase")
    ap.add_argument("--list-repeat", type=int, default=5)
    ap.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="ports created and deleted, untimed, before the sequential phase",
    )
    ap.add_argument(
        "--list-big",
        type=int,
        default=10000,
        help="ports for the big list and oVirt allocate (0: skip)",
    )
    ap.add_argument("--bulk-chunk", type=int, default=500, help="ports per bulk POST")
    ap.add_argument("--ovirt-rounds", type=int, default=20)
    ap.add_argument(
        "--ovirt-pause",
        type=float,
        default=0.0,
        help="seconds between oVirt allocates (not timed; 0: back to back)",
    )
    ap.add_argument("--big-name", default="bench-big", help="name of the big network")
    ap.add_argument(
        "--keep-big",
        action="store_true",
        help="leave the big network and its ports (reused by the next run)",
    )
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--skip-concurrent", action="store_true")
    ap.add_argument("--cidr", default="10.200.0.0/16")
    ap.add_argument("--big-cidr", default="10.201.0.0/16")
    ap.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    ap.add_argument(
        "--cpu-pattern",
        action="append",
        default=[],
        help="cmdline substring of server processes to meter (repeatable)",
    )
    ap.add_argument(
        "--cpu-pid",
        action="append",
        type=int,
        default=[],
        help="pid of a server process to meter with its descendants (repeatable)",
    )
    ap.add_argument("--json", help="also write the JSON result to this file")
    args = ap.parse_args(argv)
    args.n = max(1, min(args.n, 20000))
    args.threads = max(1, min(args.threads, 64))
    args.list_big = max(0, min(args.list_big, 100000))
    return args


def big_phases(
    api: Api,
    meter: CpuMeter,
    args: argparse.Namespace,
    project_id: str,
    res: dict[str, Any],
    attempt: Callable[[str, Callable[[], Any]], Any],
) -> None:
    """Fill the big network, time the full list, run the oVirt allocates, clean up."""
    big = attempt(
        "big-setup",
        lambda: (
            find_network(api, args.big_name) or make_network(api, args.big_name, args.big_cidr)[0]
        ),
    )
    if big is None:
        return
    r, _ = Api.call(api.main, "GET", f"/v2.0/ports?network_id={big['id']}&fields=id")
    have = len(r.json()["ports"])
    print(f"big: filling to {args.list_big} ports (have {have}) ...", file=sys.stderr)
    fill = attempt(
        "big-fill",
        lambda: fill_network(api, big["id"], have, args.list_big, args.bulk_chunk, args.threads),
    )
    if fill is not None:
        s0 = meter.snap()
        listing = attempt("big-list", lambda: time_list(api, "/v2.0/ports", args.list_repeat))
        if listing is not None:
            listing["cpu"] = meter.delta(s0, meter.snap(), args.list_repeat)
            res["big"] = {"fill": fill, "list": listing}
        if args.ovirt_rounds:
            print(f"ovirt: {args.ovirt_rounds} allocates ...", file=sys.stderr)
            out = attempt(
                "ovirt",
                lambda: ovirt_allocate(
                    api,
                    meter,
                    big["id"],
                    project_id,
                    args.ovirt_rounds,
                    "bench-host-1",
                    args.ovirt_pause,
                ),
            )
            if out is not None:
                res["ovirt"], created = out
                if args.keep_big:
                    delete_ports(api, created, args.threads)
    if args.keep_big:
        res["big_cleanup"] = "kept"
    else:
        print("big: cleaning up ...", file=sys.stderr)
        res["big_cleanup"] = attempt(
            "big-cleanup", lambda: drop_network(api, big["id"], args.threads)
        )


def summary(res: dict[str, Any]) -> str:
    lines = [
        f"endpoint {res['endpoint']}  loadavg {res['loadavg_before']} -> {res['loadavg_after']}"
    ]
    for key in ("sequential", "concurrent"):
        r = res.get(key)
        if not r:
            continue
        c, li, d = r["create"], r["list"], r["delete"]
        lines.append(
            f"{key:<10} T={r['threads']:<2} N={r['n']}: create {c['per_s']:8.1f}/s "
            f"(p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, cpu {c['cpu']['server_cpu_ms_per_op']}"
            f" ms/op)  list {li['count']}: {li['median_ms']} ms {li['bytes']} B  "
            f"delete {d['per_s']:8.1f}/s (p50 {d['p50_ms']} ms)"
            + (f"  ERRORS {c['errors']}/{d['errors']}" if c["errors"] or d["errors"] else "")
        )
    if res.get("big"):
        b = res["big"]["list"]
        lines.append(
            f"big        list {b['count']} ports: median {b['median_ms']} ms, "
            f"{b['bytes']} B (fill: {res['big']['fill']['method']} "
            f"{res['big']['fill']['seconds']} s)"
        )
    if res.get("ovirt"):
        o = res["ovirt"]
        lines.append(
            f"ovirt      allocate at {o['ports_listed']} ports: median {o['median_ms']}"
            f" ms, p95 {o['p95_ms']} ms (list {o['list_median_ms']}, parse+scan "
            f"{o['parse_scan_median_ms']}, create {o['create_median_ms']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token, tok = keystone_token(
        args.auth_url, args.user, args.password, args.project, args.domain, args.timeout
    )
    project_id = tok["project"]["id"]
    endpoint = (args.endpoint or network_endpoint(tok)).rstrip("/")
    api = Api(endpoint, token, args.timeout)
    meter = CpuMeter(args.cpu_pattern, args.cpu_pid)
    res: dict[str, Any] = {
        "label": args.label,
        "endpoint": endpoint,
        "auth_url": args.auth_url,
        "user": args.user,
        "project": args.project,
        "project_id": project_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "params": {
            "n": args.n,
            "threads": args.threads,
            "list_repeat": args.list_repeat,
            "list_big": args.list_big,
            "warmup": args.warmup,
            "bulk_chunk": args.bulk_chunk,
            "ovirt_rounds": args.ovirt_rounds,
            "ovirt_pause": args.ovirt_pause,
        },
        "cpu_processes": {k: len(v) for k, v in meter.groups().items()},
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    res["quota"] = lift_quota(api, project_id)
    res["failures"] = []

    def attempt(phase: str, fn: Callable[[], Any]) -> Any:
        """Run one phase; a failure is recorded in the JSON instead of ending the run."""
        try:
            return fn()
        except (ApiError, httpx.HTTPError, KeyError, ValueError) as e:
            print(f"{phase} failed: {e}", file=sys.stderr)
            res["failures"].append({"phase": phase, "error": str(e)[:500]})
            return None

    t_start = time.perf_counter()
    try:
        made = None
        if not (args.skip_sequential and args.skip_concurrent):
            made = attempt(
                "setup", lambda: make_network(api, f"bench-net-{uuid.uuid4().hex[:6]}", args.cidr)
            )
        if made is not None:
            net_id = made[0]["id"]
            if args.warmup:  # first requests on a fresh server pay for lazy imports, caches
                attempt(
                    "warmup",
                    lambda: delete_ports(
                        api,
                        create_ports(api, net_id, [f"warmup-{i}" for i in range(args.warmup)], 1)[
                            0
                        ],
                        1,
                    ),
                )
            if not args.skip_sequential:
                print(f"sequential: {args.n} ports ...", file=sys.stderr)
                res["sequential"] = attempt(
                    "sequential",
                    lambda: run_phase(api, meter, net_id, args.n, 1, args.list_repeat, "seq"),
                )
            if not args.skip_concurrent:
                print(f"concurrent ({args.threads} threads): {args.n} ports ...", file=sys.stderr)
                res["concurrent"] = attempt(
                    "concurrent",
                    lambda: run_phase(
                        api, meter, net_id, args.n, args.threads, args.list_repeat, "con"
                    ),
                )
            attempt("cleanup", lambda: drop_network(api, net_id, args.threads))
        if args.list_big:
            big_phases(api, meter, args, project_id, res, attempt)
    finally:
        api.close()
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(summary(res), file=sys.stderr)
    out = json.dumps(res, indent=1)
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
