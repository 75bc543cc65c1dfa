"""Several API servers on one PostgreSQL: what the race tests and ``bench/load.py`` run against.

``Cluster`` makes a fresh database on the PostgreSQL server named by a URL, migrates and
bootstraps it once (``neutrino bootstrap``), then starts ``servers`` x ``neutrino serve
--workers N --no-migrate`` on free loopback ports, all with the same token key (a token issued
by one server is valid on every other) and the same admin password. ``stop()`` ends the
servers it started (by process group, which holds the uvicorn supervisor and its workers) and
drops the database. ``rss_kib()`` sums the resident memory of each server's processes.

Importable both as ``bench.pgcluster`` (tests) and as ``pgcluster`` (scripts in ``bench/``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "cluster-admin-secret"
TOKEN_KEY = "cluster-token-key-" + "k" * 32
START_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def _neutrino() -> list[str]:
    exe = Path(sys.executable).parent / "neutrino"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from neutrino.cli.main import app; app()"]


class Cluster:
    """``servers`` API servers x ``workers`` processes on one fresh PostgreSQL database."""

    def __init__(
        self,
        pg_url: str,
        state_dir: Path,
        *,
        servers: int = 2,
        workers: int = 2,
        password: str = PASSWORD,
    ) -> None:
        self.pg_url = pg_url
        self.state_dir = state_dir
        self.servers = servers
        self.workers = workers
        self.password = password
        self.db_name = "neutrino_c_" + uuid.uuid4().hex[:12]
        self.db_url = pg_url.rsplit("/", 1)[0] + "/" + self.db_name
        self.urls: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
        env.update(
            {
                "NEUTRINO_DB": self.db_url,
                "NEUTRINO_TOKEN_KEY": TOKEN_KEY,
                "NEUTRINO_ADMIN_PASSWORD": self.password,
                "NEUTRINO_STATE_DIR": str(self.state_dir),
            }
        )
        env.pop("NEUTRINO_CONFIG", None)
        return env

    def start(self) -> Cluster:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        engine = _admin_engine(self.pg_url)
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        engine.dispose()
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        env = self._env()
        subprocess.run(
            [*_neutrino(), "bootstrap"],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            timeout=START_SECONDS,
        )
        for i in range(self.servers):
            port = free_port()
            log = self.state_dir / f"server-{i}.log"
            self.logs.append(log)
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [
                            *_neutrino(),
                            "serve",
                            "--workers",
                            str(self.workers),
                            "--no-migrate",
                            "--listen",
                            f"127.0.0.1:{port}",
                        ],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            self._wait(url)

    def _wait(self, url: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a server exited:\n" + self.log_tail())
            try:
                if httpx.get(f"{url}/", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer in {START_SECONDS:.0f} s:\n" + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            if log.exists():
                out.append(
                    f"--- {log.name}\n"
                    + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)

    def token(self, url: str | None = None, project: str = "admin") -> str:
        r = httpx.post(
            f"{url or self.urls[0]}/v3/auth/tokens",
            timeout=30,
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"name": "Default"},
                                "password": self.password,
                            }
                        },
                    },
                    "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
                }
            },
        )
        r.raise_for_status()
        return r.headers["X-Subject-Token"]

    def pids(self) -> list[list[int]]:
        """Per server: the supervisor's pid and its workers'."""
        out = []
        for proc in self.procs:
            family = [proc.pid]
            for pid in family:  # grows while walked: children of children too
                family.extend(_children(pid))
            out.append(family)
        return out

    def rss_kib(self) -> list[int]:
        """Per server: the resident memory of all of its processes, in KiB."""
        return [sum(_rss(pid) for pid in family) for family in self.pids()]

    def db_stats(self) -> dict[str, int]:
        """PostgreSQL's counters for the cluster's database: deadlocks detected (each one a
        transaction the unit of work retried), commits and rollbacks."""
        engine = _admin_engine(self.pg_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT deadlocks, xact_commit, xact_rollback FROM pg_stat_database "
                        "WHERE datname = :n"
                    ),
                    {"n": self.db_name},
                ).one()
        finally:
            engine.dispose()
        return {"deadlocks": int(row[0]), "commits": int(row[1]), "rollbacks": int(row[2])}

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        engine = _admin_engine(self.pg_url)
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        engine.dispose()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text_ = (task / "children").read_text().split()
            out.extend(int(t) for t in text_)
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
