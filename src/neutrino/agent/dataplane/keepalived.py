"""keepalived for HA routers: one process per router namespace, and the state it reports.

``KeepalivedManager`` owns, per HA router, a directory ``<state_dir>/<router id>/`` holding
``keepalived.conf``, ``notify.sh`` (``agent.ha_calc``), the pid files ``pid`` and
``vrrp.pid``, ``state`` (what the notify script last wrote: ``MASTER``, ``BACKUP`` or
``FAULT``) and ``log``; and one keepalived (Debian's ``/usr/sbin/keepalived``, VRRP only,
``--dont-fork``) started inside the router's namespace in a session of its own, so an agent
restart leaves it running and adopts it through its pid file (its command line names our
configuration file, so a reused pid is never taken for it).

With exactly one other host, a conntrackd runs beside it (``conntrackd.conf``, pid in
``conntrackd.pid``; ``ha_calc.render_conntrackd``): it copies this host's connections to the
other's external cache over the HA port, and the notify script makes a new master commit
that copy into its kernel, so a failover finds the connections (NAT mappings included)
already there.

``ensure(cfg)``: write the files; start keepalived if it is not running; send SIGHUP when
the configuration changed (keepalived reloads it without giving up mastership). ``stop``:
SIGTERM (keepalived removes its addresses and routes as it leaves), SIGKILL after
``STOP_WAIT``. ``state(router_id)``: the reported state as ``active``/``standby`` (FAULT
counts as standby), None before keepalived said anything.

Retries: none; a keepalived that will not start raises ``DataplaneError`` and the router is
retried by the caller's loop like any failed router.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.dataplane.netns import argv
from neutrino.agent.ha_calc import (
    HaInstance,
    render_conntrackd,
    render_keepalived,
    render_notify,
)

__all__ = ["KeepalivedManager"]

STOP_WAIT = 3.0
START_WAIT = 3.0
STATES = {"MASTER": "active", "BACKUP": "standby", "FAULT": "standby"}


class KeepalivedManager:
    def __init__(
        self, state_dir: Path, keepalived: str = "keepalived", conntrackd: str = "conntrackd"
    ) -> None:
        self.state_dir = state_dir
        self.keepalived = shutil.which(keepalived) or "/usr/sbin/keepalived"
        self.conntrackd = shutil.which(conntrackd) or ""  # "": connections not synced
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._ct_children: dict[str, subprocess.Popen[bytes]] = {}

    def directory(self, router_id: str) -> Path:
        return self.state_dir / router_id

    def ensure(self, namespace: str, instance: HaInstance) -> bool:
        """keepalived running with this configuration; True when something changed."""
        d = self.directory(instance.router_id)
        d.mkdir(parents=True, exist_ok=True)
        ct_conf = render_conntrackd(instance, str(d)) if self.conntrackd else None
        ct_changed = self._ensure_conntrackd(namespace, instance.router_id, ct_conf)
        ct_cmd = [self.conntrackd, "-C", str(d / "conntrackd.conf")] if ct_conf else []
        notify = d / "notify.sh"
        script = render_notify(str(d / "state"), ct_cmd, ipv6=instance.ipv6)
        if _read(notify) != script:
            notify.write_text(script)
        notify.chmod(0o755)
        conf = d / "keepalived.conf"
        text = render_keepalived(instance, str(notify))
        changed = _read(conf) != text
        if changed:
            conf.write_text(text)
        pid = self.running_pid(instance.router_id)
        if pid is None:
            self._start(namespace, instance.router_id)
            return True
        if changed:
            os.kill(pid, signal.SIGHUP)
        return changed or ct_changed

    # --- conntrackd: the router's connections copied to the other host

    def _ensure_conntrackd(self, namespace: str, router_id: str, conf: str | None) -> bool:
        """conntrackd running with ``conf`` (None: not running); True when started."""
        d = self.directory(router_id)
        path = d / "conntrackd.conf"
        pid = self.conntrackd_pid(router_id)
        if conf is None or _read(path) != conf:
            if pid is not None:
                _terminate(pid, self._ct_children.pop(router_id, None))
                pid = None
            if conf is None:
                path.unlink(missing_ok=True)
                return False
            path.write_text(conf)
        if pid is not None:
            return False
        for name in ("conntrackd.ctl", "conntrackd.lock"):  # left by one that was killed
            (d / name).unlink(missing_ok=True)
        with open(d / "conntrackd.out", "ab") as out:
            proc = subprocess.Popen(
                argv(namespace, [self.conntrackd, "-C", str(path)]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._ct_children[router_id] = proc
        (d / "conntrackd.pid").write_text(str(proc.pid))  # `ip netns exec` execs it
        return True

    def conntrackd_pid(self, router_id: str) -> int | None:
        proc = self._ct_children.get(router_id)
        if proc is not None and proc.poll() is not None:
            del self._ct_children[router_id]
        d = self.directory(router_id)
        text = _read(d / "conntrackd.pid").strip()
        if not text.isdigit():
            return None
        if str(d / "conntrackd.conf") not in _read(Path(f"/proc/{text}/cmdline")):
            return None
        return int(text)

    def owned(self) -> set[str]:
        if not self.state_dir.is_dir():
            return set()
        return {p.name for p in self.state_dir.iterdir() if (p / "keepalived.conf").exists()}

    def state(self, router_id: str) -> str | None:
        return STATES.get(_read(self.directory(router_id) / "state").strip())

    def stop(self, router_id: str) -> None:
        pid = self.running_pid(router_id)
        proc = self._children.pop(router_id, None)
        if pid is not None:
            _terminate(pid, proc)
        ct = self.conntrackd_pid(router_id)
        if ct is not None:
            _terminate(ct, self._ct_children.pop(router_id, None))
        shutil.rmtree(self.directory(router_id), ignore_errors=True)

    def running_pid(self, router_id: str) -> int | None:
        """The pid of this router's live keepalived (ours, or adopted via its pid file)."""
        proc = self._children.get(router_id)
        if proc is not None and proc.poll() is not None:
            del self._children[router_id]  # reaped
        d = self.directory(router_id)
        text = _read(d / "pid").strip()
        if not text.isdigit():
            return None
        cmdline = _read(Path(f"/proc/{text}/cmdline"))
        if str(d / "keepalived.conf") not in cmdline:
            return None
        return int(text)

    def _start(self, namespace: str, router_id: str) -> None:
        d = self.directory(router_id)
        for name in ("pid", "vrrp.pid", "state"):
            (d / name).unlink(missing_ok=True)
        args = [
            self.keepalived,
            "--vrrp",
            "--dont-fork",
            "--log-console",
            "--log-detail",
            f"--use-file={d / 'keepalived.conf'}",
            f"--pid={d / 'pid'}",
            f"--vrrp_pid={d / 'vrrp.pid'}",
        ]
        with open(d / "log", "ab") as log:
            proc = subprocess.Popen(
                argv(namespace, args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children[router_id] = proc
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DataplaneError(
                    f"keepalived for {router_id} exited {proc.returncode}; see {d / 'log'}"
                )
            if self.running_pid(router_id) is not None:
                return
            time.sleep(0.02)
        raise DataplaneError(f"keepalived for {router_id} wrote no pid file")


def _terminate(pid: int, proc: subprocess.Popen[bytes] | None) -> None:
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


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return ""
