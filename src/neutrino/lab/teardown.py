"""Stopping a lab's processes and removing what it made (``Lab.down``).

Works from the record only, and signals a process only while its ``/proc/<pid>/cmdline``
still names this lab (a recycled pid is left alone): the supervisor, any recorded child still
alive, dnsmasq by its pid file, an HA router's keepalived and conntrackd by theirs; then the
``qdhcp-``/``qrouter-`` namespaces of the lab's hosts, the lab's own namespaces (which takes
every device in them; those of VMs the vmm plugged are found by the lab's prefix) and the
record's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrino.lab import netns
from neutrino.lab.state import LabState, read_json

if TYPE_CHECKING:
    from neutrino.lab.runtime import Lab


def process_of(pid: Any, marker: str) -> int | None:
    """``pid`` if that process is alive and its command line contains ``marker``."""
    if not isinstance(pid, int) and not (isinstance(pid, str) and pid.strip().isdigit()):
        return None
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    return int(pid) if marker.encode() in cmdline else None


def stop_process(pid: int, wait: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is ours
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat.split(") ", 1)[-1].startswith("Z"):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def remove(lab: Lab) -> list[str]:
    """Remove everything the recorded lab made; what was removed. Idempotent."""
    state = LabState.load(lab.dir)
    removed: list[str] = []
    if state is None:
        return removed
    pid = lab.supervisor_pid()
    if pid is not None:
        lab.progress("stopping the supervisor, agents and controller")
        stop_process(pid)
        removed.append(f"supervisor {pid}")
    for name, info in (read_json(lab.dir / "children.json") or {}).items():
        child = process_of(info.get("pid"), "neutrino")
        if child is not None:
            stop_process(child)
            removed.append(f"{name} {child}")
    for pid_file in sorted(lab.dir.glob("dhcp/*/*/pid")):
        dnsmasq = process_of(pid_file.read_text().strip(), str(pid_file))
        if dnsmasq is not None:
            stop_process(dnsmasq, wait=3.0)
            removed.append(f"dnsmasq {dnsmasq}")
    for pattern, conf_name in (
        ("pid", "keepalived.conf"),
        ("conntrackd.pid", "conntrackd.conf"),
    ):
        for pid_file in sorted(lab.dir.glob(f"agents/ha/*/*/{pattern}")):
            conf = str(pid_file.parent / conf_name)
            daemon = process_of(pid_file.read_text().strip(), conf)
            if daemon is not None:
                stop_process(daemon, wait=3.0)
                removed.append(f"{conf_name.split('.')[0]} {daemon}")
    host_ns = {h.netns for h in state.hosts}
    qdhcp = {
        n
        for n in netns.list_namespaces()
        if n.startswith(("qdhcp-", "qrouter-")) and any(n.endswith(f"-{h}") for h in host_ns)
    }
    present = netns.list_namespaces()
    # the vmm's VMs (``lab.vmmplug``) are not in the record: every name under the prefix is ours
    vmm_vms = sorted(n for n in present if state.prefix and n.startswith(state.prefix))
    for name in dict.fromkeys([*sorted(qdhcp), *state.namespaces(), *vmm_vms]):
        if name in present:
            lab.progress(f"namespace {name}")
            netns.delete_namespace(name)
            removed.append(f"namespace {name}")
    for sub in ("dhcp", "vms", "controller", "agents"):
        shutil.rmtree(lab.dir / sub, ignore_errors=True)
    for name in ("children.json", "supervisor.pid", "lab.json"):
        (lab.dir / name).unlink(missing_ok=True)
    return removed
