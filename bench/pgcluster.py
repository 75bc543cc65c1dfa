"""Several API servers on one PostgreSQL: what the race tests and ``bench/load.py`` run against.

``Cluster`` makes a fresh database on the PostgreSQL server named by a URL, migrates and
bootstraps it once (``neutrino bootstrap``), then starts ``servers`` x ``neutrino serve
--workers N --no-migrate`` on free loopback ports, all with the same token key (a token issued
by one server is valid on every other) and the same admin password. ``stop()`` ends the
servers it started (by process group, which holds the uvicorn supervisor and its workers) and
drops the database. ``rss_kib()`` sums the resident memory of each server's processes.

Importable both as ``bench.pgcluster`` (tests) and as ``pgcluster`` (scripts in ``bench/``);
the servers are started and stopped by ``bench/served.py``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

if __package__:  # bench.pgcluster
    from bench.served import ROOT, START_SECONDS, Server, admin_token, child_env, launch
else:  # pgcluster, from a script in bench/
    from served import ROOT, START_SECONDS, Server, admin_token, child_env, launch

PASSWORD = "cluster-admin-secret"
TOKEN_KEY = "cluster-token-key-" + "k" * 32


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


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
        self.started: list[Server] = []

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.started]

    @property
    def procs(self) -> list[subprocess.Popen[bytes]]:
        return [server.proc for server in self.started]

    @property
    def logs(self) -> list[Path]:
        return [server.log for server in self.started]

    def _settings(self) -> dict[str, str]:
        return {
            "NEUTRINO_DB": self.db_url,
            "NEUTRINO_TOKEN_KEY": TOKEN_KEY,
            "NEUTRINO_ADMIN_PASSWORD": self.password,
            "NEUTRINO_STATE_DIR": str(self.state_dir),
        }

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
        settings = self._settings()
        subprocess.run(
            [sys.executable, "-m", "neutrino.cli.main", "bootstrap"],
            env=child_env(settings),
            check=True,
            cwd=ROOT,
            capture_output=True,
            timeout=START_SECONDS,
        )
        for i in range(self.servers):
            self.started.append(
                launch(
                    self.state_dir / f"server-{i}.log",
                    settings=settings,
                    args=["--workers", str(self.workers), "--no-migrate"],
                    new_session=True,  # the uvicorn supervisor and its workers, stopped as one
                )
            )
        for server in self.started:
            server.wait_ready()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {s.log.name}\n{s.log_tail(lines)}" for s in self.started)

    def token(self, url: str | None = None, project: str = "admin") -> str:
        return admin_token(url or self.urls[0], self.password, project)

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
        for server in self.started:
            server.terminate()  # all at once: their graceful shutdowns overlap
        for server in self.started:
            server.stop(grace=20)
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
