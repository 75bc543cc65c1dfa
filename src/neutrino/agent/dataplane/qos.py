"""QoS data plane: bandwidth limits on port devices with ``tc`` (tbf, ifb, u32 + mirred).

``QosManager(netns).apply(desired)`` converges the host's port devices to
``agent.qos_calc.desired_shaping`` (the mechanism is described there and in docs/qos.md):

* what it owns in its namespace: the root ``tbf`` qdisc and the ``ingress`` qdisc (with its
  redirect filter) of ``tap*`` devices, and the ``ifb`` devices named ``qos-*``; a device with
  a limit no longer desired loses them, whatever process made them (so a restarted agent
  cleans up after its predecessor);
* each round reads all qdiscs once (``tc -j qdisc show``) and the ``qos-*`` ifb devices once,
  and changes only what differs: an unchanged limit costs no command;
* each device's changes run as one ``tc -batch`` (plus ``ip link`` for its ifb); a failure is
  that device's alone (``QosReport.failed``), the other devices are still applied. A device
  that does not exist yet (a tap not plugged) is ``LinkNotFound``: the link watcher's next
  round retries it.

``tc`` and ``ip`` run as processes in the namespace (``tc -n``/``ip -n``): rounds with a change
are rare (a policy or a port changed), so a fork per changed device is cheap enough.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from neutrino.agent.dataplane.base import DataplaneError, LinkNotFound
from neutrino.agent.qos_calc import IFB_PREFIX, PortShaping, Tbf

TAP_PREFIX = "tap"
BURST_TOLERANCE = 0.02  # tc rounds the burst through timer ticks


@dataclass
class QosReport:
    applied: list[str] = field(default_factory=list)
    failed: dict[str, DataplaneError] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)


@dataclass
class _Device:
    """What a device has of ours: its root tbf (rate bytes/s, burst bytes) and whether it
    has an ingress qdisc."""

    root_tbf: tuple[int, int] | None = None
    ingress: bool = False


class QosManager:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    # --- commands

    def _run(self, tool: str, args: list[str], stdin: str | None = None) -> str:
        argv = [tool, *(["-n", self.netns] if self.netns else []), *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            message = done.stderr.strip()[:1000]
            if "Cannot find device" in message or "does not exist" in message:
                raise LinkNotFound(f"{tool}: {message}")
            raise DataplaneError(f"{tool} {' '.join(args[:3])}: {message}")
        return done.stdout

    def _batch(self, lines: list[str]) -> None:
        if lines:
            self._run("tc", ["-force", "-batch", "-"], "\n".join(lines) + "\n")

    def _read(self) -> tuple[dict[str, _Device], set[str]]:
        devices: dict[str, _Device] = {}
        for q in json.loads(self._run("tc", ["-j", "qdisc", "show"]) or "[]"):
            dev = devices.setdefault(q.get("dev", ""), _Device())
            if q.get("kind") == "tbf" and q.get("root"):
                opts = q.get("options", {})
                dev.root_tbf = (int(opts.get("rate", 0)), int(opts.get("burst", 0)))
            elif q.get("kind") == "ingress":
                dev.ingress = True
        links = json.loads(self._run("ip", ["-j", "link", "show", "type", "ifb"]) or "[]")
        ifbs = {link["ifname"] for link in links if link["ifname"].startswith(IFB_PREFIX)}
        return devices, ifbs

    def _redirects_to(self, device: str, ifb: str) -> bool:
        out = self._run("tc", ["-j", "filter", "show", "dev", device, "parent", "ffff:"])
        for f in json.loads(out or "[]"):
            for action in f.get("options", {}).get("actions", []):
                if action.get("kind") == "mirred" and action.get("to_dev") == ifb:
                    return True
        return False

    # --- converge

    def apply(self, desired: Mapping[str, PortShaping]) -> QosReport:
        report = QosReport()
        devices, ifbs = self._read()
        for name, shaping in sorted(desired.items()):
            try:
                changes = self._converge(shaping, devices.get(name, _Device()), shaping.ifb in ifbs)
            except DataplaneError as exc:
                report.failed[name] = exc
                continue
            report.applied.append(name)
            report.changes += changes
        wanted_ifbs = {s.ifb for s in desired.values() if s.from_vm is not None}
        for name, dev in sorted(devices.items()):
            if not name.startswith(TAP_PREFIX) or name in desired:
                continue
            try:
                report.changes += self._clear(name, dev)
            except LinkNotFound:
                pass  # gone meanwhile: nothing left to clear
            except DataplaneError as exc:
                report.failed[name] = exc
        for ifb in sorted(ifbs - wanted_ifbs):
            try:
                self._run("ip", ["link", "del", ifb])
                report.changes.append(f"{ifb} removed")
            except LinkNotFound:
                pass
            except DataplaneError as exc:
                report.failed[ifb] = exc
        return report

    def _converge(self, shaping: PortShaping, dev: _Device, has_ifb: bool) -> list[str]:
        name, lines, changes = shaping.device, [], []
        if shaping.to_vm is not None and not _same(dev.root_tbf, shaping.to_vm):
            lines.append(f"qdisc replace dev {name} root {_tbf(shaping.to_vm)}")
            changes.append(f"{name} to VM {shaping.to_vm.rate // 1000} kbit/s")
        elif shaping.to_vm is None and dev.root_tbf is not None:
            lines.append(f"qdisc del dev {name} root")
            changes.append(f"{name} to VM unlimited")
        if shaping.from_vm is not None:
            if not has_ifb:
                self._run("ip", ["link", "add", shaping.ifb, "type", "ifb"])
                self._run("ip", ["link", "set", shaping.ifb, "up"])
            ifb_root = self._read_root(shaping.ifb) if has_ifb else None
            if not _same(ifb_root, shaping.from_vm):
                lines.append(f"qdisc replace dev {shaping.ifb} root {_tbf(shaping.from_vm)}")
                changes.append(f"{name} from VM {shaping.from_vm.rate // 1000} kbit/s")
            if not (dev.ingress and self._redirects_to(name, shaping.ifb)):
                if dev.ingress:
                    lines.append(f"qdisc del dev {name} ingress")
                lines.append(f"qdisc add dev {name} ingress")
                lines.append(
                    f"filter add dev {name} parent ffff: protocol all prio 1 u32 match u32 0 0 "
                    f"action mirred egress redirect dev {shaping.ifb}"
                )
        elif dev.ingress:
            lines.append(f"qdisc del dev {name} ingress")
            changes.append(f"{name} from VM unlimited")
        if lines and not self._exists(name):
            raise LinkNotFound(f"{name}: no such device")
        self._batch(lines)
        return changes

    def _read_root(self, device: str) -> tuple[int, int] | None:
        for q in json.loads(self._run("tc", ["-j", "qdisc", "show", "dev", device]) or "[]"):
            if q.get("kind") == "tbf" and q.get("root"):
                opts = q.get("options", {})
                return int(opts.get("rate", 0)), int(opts.get("burst", 0))
        return None

    def _exists(self, device: str) -> bool:
        try:
            self._run("ip", ["link", "show", "dev", device])
        except LinkNotFound:
            return False
        return True

    def _clear(self, name: str, dev: _Device) -> list[str]:
        lines = []
        if dev.root_tbf is not None:
            lines.append(f"qdisc del dev {name} root")
        if dev.ingress:
            lines.append(f"qdisc del dev {name} ingress")
        self._batch(lines)
        return [f"{name} unlimited"] if lines else []


def _tbf(tbf: Tbf) -> str:
    return f"tbf rate {tbf.rate}bit burst {tbf.burst} latency {tbf.latency_ms}ms"


def _same(current: tuple[int, int] | None, want: Tbf) -> bool:
    if current is None:
        return False
    rate, burst = current
    return rate == want.rate // 8 and abs(burst - want.burst) <= want.burst * BURST_TOLERANCE
