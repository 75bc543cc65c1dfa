"""``neutrino serve`` as a child process, for the benchmarks and tests that need a server of
their own (its own memory, open files, scheduling) rather than one inside the test process.

``launch`` starts ``python -m neutrino.cli.main serve --listen 127.0.0.1:<free port> ...``
with this tree's ``src`` first on ``PYTHONPATH`` (so the code measured is the code checked
out, whatever the venv has installed) and an environment cleared of every ``NEUTRINO_*`` and
``OS_*`` variable but the settings given (a developer's own configuration must not leak in);
its output goes to a log file. ``Server.wait_ready`` waits until ``GET /`` answers (failing
with the log's tail if the child exits or takes too long); ``Server.stop`` sends SIGTERM (to
the whole process group for ``new_session`` children: ``--workers`` and their supervisor)
and kills what is left after a grace period. ``admin_token`` takes a project-scoped token
with Keystone's v3 password method.

Importable as ``bench.served`` (tests; ``bench.pgcluster`` imported as a package) and as
``served`` (scripts in ``bench/``, which is then on ``sys.path``); it imports nothing else
from ``bench/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def password_auth(password: str, project: str = "admin", user: str = "admin") -> dict[str, Any]:
    """Keystone v3 ``POST /v3/auth/tokens`` body: ``user``'s password, scoped to
    ``project`` (both in the Default domain)."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }


def admin_token(url: str, password: str, project: str = "admin") -> str:
    r = httpx.post(f"{url}/v3/auth/tokens", json=password_auth(password, project), timeout=30)
    if r.status_code != 201:
        raise RuntimeError(f"token for {project}: {r.status_code} {r.text[:500]}")
    return r.headers["X-Subject-Token"]


def child_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without ``NEUTRINO_*``/``OS_*`` variables (nor prometheus_client's
    multiprocess directory: ``serve --workers`` picks its own), plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEUTRINO_", "OS_")) and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
    )
    env.update(settings or {})
    return env


@dataclass
class Server:
    url: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    new_session: bool

    def wait_ready(self, timeout: float = START_SECONDS) -> Server:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.url}: the server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.url} did not answer in {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """SIGTERM, not waiting (``stop`` waits)."""
        self._signal(signal.SIGTERM)

    def stop(self, grace: float = 30.0) -> None:
        self.terminate()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is not None:
            return
        if self.new_session:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)


def launch(
    log: Path,
    *,
    settings: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    port: int | None = None,
    new_session: bool = False,
) -> Server:
    """Start ``neutrino serve`` on a loopback port (not waiting for it: ``wait_ready``).
    ``settings``: ``NEUTRINO_*`` variables; ``args``: more ``serve`` options."""
    port = port or free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neutrino.cli.main",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                *args,
            ],
            env=child_env(settings),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    return Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, proc, log, new_session)


def serve(log: Path, **kwargs: Any) -> Server:
    """``launch`` and ``wait_ready``; the child is stopped if it does not become ready."""
    server = launch(log, **kwargs)
    try:
        return server.wait_ready()
    except BaseException:
        server.stop()
        raise
