"""The managers' daemons (dnsmasq, keepalived, conntrackd): each started in a namespace in a
session of its own, so an agent restart leaves it running; adopted through its pid file when
the process's command line names the manager's file (a reused pid is never taken for it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.dataplane.netns import argv

__all__ = ["live_pid", "read", "spawn", "terminate", "wait_started"]

STOP_WAIT = 3.0
START_WAIT = 3.0


def read(path: Path) -> str:
    """The file's text; "" when it or its directory is missing."""
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def live_pid(
    pid_file: Path, marker: str, children: dict[str, subprocess.Popen[bytes]], key: str
) -> int | None:
    """The pid in ``pid_file`` when that process runs with ``marker`` in its command line
    (ours, or adopted); our child under ``key`` is reaped first if it exited."""
    proc = children.get(key)
    if proc is not None and proc.poll() is not None:
        del children[key]  # reaped
    text = read(pid_file).strip()
    if not text.isdigit() or marker not in read(Path(f"/proc/{text}/cmdline")):
        return None
    return int(text)


def spawn(
    namespace: str, command: list[str], out: int | IO[bytes], err: int | IO[bytes]
) -> subprocess.Popen[bytes]:
    """``command`` running in ``namespace``, in a session of its own."""
    return subprocess.Popen(
        argv(namespace, command),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )


def wait_started(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path | None = None
) -> None:
    """Wait up to ``START_WAIT`` for ``ready()``; ``DataplaneError`` when ``proc`` exits
    first (with its piped stderr, else a pointer to its ``log``) or is never ready."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            why = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise DataplaneError(f"{what} exited {proc.returncode}: {why or f'see {log}'}")
        if ready():
            return
        time.sleep(0.02)
    raise DataplaneError(f"{what} wrote no pid file")


def terminate(pid: int, proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after ``STOP_WAIT``; reaps our own child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline and _alive(pid, proc):
        time.sleep(0.02)
    if _alive(pid, proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_WAIT)


def _alive(pid: int, proc: subprocess.Popen[bytes] | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    return Path(f"/proc/{pid}").exists()
