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

import os
import shutil
import signal
import subprocess
from pathlib import Path

from neutrino.agent.dataplane.daemon import live_pid, read, spawn, terminate, wait_started
from neutrino.agent.ha_calc import (
    HaInstance,
    render_conntrackd,
    render_keepalived,
    render_notify,
)

__all__ = ["KeepalivedManager"]

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
        if read(notify) != script:
            notify.write_text(script)
        notify.chmod(0o755)
        conf = d / "keepalived.conf"
        text = render_keepalived(instance, str(notify))
        changed = read(conf) != text
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
        if conf is None or read(path) != conf:
            if pid is not None:
                terminate(pid, self._ct_children.pop(router_id, None))
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
            command = [self.conntrackd, "-C", str(path)]
            proc = spawn(namespace, command, out, subprocess.STDOUT)
        self._ct_children[router_id] = proc
        (d / "conntrackd.pid").write_text(str(proc.pid))  # `ip netns exec` execs it
        return True

    def conntrackd_pid(self, router_id: str) -> int | None:
        d = self.directory(router_id)
        conf = str(d / "conntrackd.conf")
        return live_pid(d / "conntrackd.pid", conf, self._ct_children, router_id)

    def owned(self) -> set[str]:
        if not self.state_dir.is_dir():
            return set()
        return {p.name for p in self.state_dir.iterdir() if (p / "keepalived.conf").exists()}

    def state(self, router_id: str) -> str | None:
        return STATES.get(read(self.directory(router_id) / "state").strip())

    def stop(self, router_id: str) -> None:
        pid = self.running_pid(router_id)
        proc = self._children.pop(router_id, None)
        if pid is not None:
            terminate(pid, proc)
        ct = self.conntrackd_pid(router_id)
        if ct is not None:
            terminate(ct, self._ct_children.pop(router_id, None))
        shutil.rmtree(self.directory(router_id), ignore_errors=True)

    def running_pid(self, router_id: str) -> int | None:
        """The pid of this router's live keepalived (ours, or adopted via its pid file)."""
        d = self.directory(router_id)
        return live_pid(d / "pid", str(d / "keepalived.conf"), self._children, router_id)

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
            proc = spawn(namespace, args, log, subprocess.STDOUT)
        self._children[router_id] = proc
        started = lambda: self.running_pid(router_id) is not None  # noqa: E731
        wait_started(proc, started, f"keepalived for {router_id}", d / "log")
