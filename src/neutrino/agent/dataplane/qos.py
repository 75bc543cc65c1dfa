"""QoS data plane: bandwidth limits on port devices with ``tc`` (tbf, ifb, u32 + mirred).

``QosManager(netns).apply(desired)`` converges the host's port devices to
``agent.qos_calc.desired_shaping`` (the mechanism is described there and in docs/qos.md):

* what it owns in its namespace: the root ``tbf`` qdisc and the ``ingress`` qdisc (with its
  redirect filter) of ``tap*`` devices, and the ``ifb`` devices named ``qos-*``; a device with
  a limit no longer desired loses them, whatever process made them (so a restarted agent
  cleans up after its predecessor);
* each round reads all qdiscs once (``tc -j qdisc show``) and the ``qos-*`` ifb devices once,
  and changes only what differs: an unchanged limit costs no command (a tap's redirect filter
  is remembered once seen or made, and read back only after a restart);
* all devices' changes run as one ``ip -batch`` (ifb devices) and one ``tc -batch``: a
  process fork costs ~0.1 s on a loaded host, so a command per device would make a round over
  50 ports take seconds (docs/performance.md). When a batch fails, each device's part runs
  alone to find the culprit; a failure is that device's alone (``QosReport.failed``). A
  device that does not exist yet (a tap not plugged) is ``LinkNotFound``: the link watcher's
  next round retries it.
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


def run_tool(tool: str, netns: str | None, args: list[str], stdin: str | None = None) -> str:
    """The output of ``tool`` (ip, tc) run in ``netns`` (None: this namespace); a device or
    namespace it cannot find is ``LinkNotFound``, any other failure ``DataplaneError``."""
    where = ["-n", netns] if netns else []
    done = subprocess.run([tool, *where, *args], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip()[:1000]
        what = " ".join([tool, *where, *args[:3]])
        if any(s in message for s in ("Cannot find device", "does not exist", "No such file")):
            raise LinkNotFound(f"{what}: {message}")
        raise DataplaneError(f"{what}: {message}")
    return done.stdout


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
        self.redirects: dict[str, str] = {}  # tap -> the ifb its ingress filter redirects to

    # --- commands

    def _run(self, tool: str, args: list[str], stdin: str | None = None) -> str:
        return run_tool(tool, self.netns, args, stdin)

    def _batch(self, ip_lines: list[str], tc_lines: list[str]) -> None:
        """ip's lines (ifb devices), then tc's, one process each."""
        if ip_lines:
            self._run("ip", ["-batch", "-"], "\n".join(ip_lines) + "\n")
        if tc_lines:
            self._run("tc", ["-batch", "-"], "\n".join(tc_lines) + "\n")

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
        """Whether the tap's ingress filter redirects to ``ifb``: remembered once seen or
        made, read from the kernel only for a tap this process has not handled (a restart)."""
        if device not in self.redirects:
            out = self._run("tc", ["-j", "filter", "show", "dev", device, "parent", "ffff:"])
            for f in json.loads(out or "[]"):
                for action in f.get("options", {}).get("actions", []):
                    if action.get("kind") == "mirred":
                        self.redirects[device] = str(action.get("to_dev"))
        return self.redirects.get(device) == ifb

    # --- converge

    def apply(self, desired: Mapping[str, PortShaping]) -> QosReport:
        """One read of the kernel, then every device's changes in one ip and one tc batch;
        when a batch fails, each device's part runs alone to find the culprit."""
        report = QosReport()
        devices, ifbs = self._read()
        parts: dict[str, tuple[list[str], list[str], list[str]]] = {}
        for name, shaping in sorted(desired.items()):
            if name not in devices:  # every device has a qdisc (noqueue at least)
                report.failed[name] = LinkNotFound(f"{name}: no such device")
                continue
            try:
                parts[name] = self._plan(shaping, devices[name], shaping.ifb in ifbs, devices)
            except DataplaneError as exc:
                report.failed[name] = exc
        wanted_ifbs = {s.ifb for s in desired.values() if s.from_vm is not None}
        for name, dev in sorted(devices.items()):
            if name.startswith(TAP_PREFIX) and name not in desired:
                parts[name] = _clear(name, dev)
                self.redirects.pop(name, None)
        for ifb in sorted(ifbs - wanted_ifbs):
            parts[ifb] = ([f"link del {ifb}"], [], [f"{ifb} removed"])
        try:
            self._batch(
                [x for p in parts.values() for x in p[0]], [x for p in parts.values() for x in p[1]]
            )
        except DataplaneError:
            self.redirects.clear()  # the kernel may hold part of it: read filters again
            for name, (ip_lines, tc_lines, _) in parts.items():
                try:
                    self._batch(ip_lines, tc_lines)
                except DataplaneError as exc:
                    report.failed[name] = exc
        for name, (_, _, changes) in parts.items():
            if name not in report.failed:
                report.changes += changes
                if name in desired:
                    report.applied.append(name)
        report.applied += [n for n in desired if n not in parts and n not in report.failed]
        return report

    def _plan(
        self, shaping: PortShaping, dev: _Device, has_ifb: bool, devices: Mapping[str, _Device]
    ) -> tuple[list[str], list[str], list[str]]:
        """(ip lines, tc lines, changes) that bring one port's device to ``shaping``."""
        name, ip_lines, lines, changes = shaping.device, [], [], []
        if shaping.to_vm is not None and not _same(dev.root_tbf, shaping.to_vm):
            lines.append(f"qdisc replace dev {name} root {_tbf(shaping.to_vm)}")
            changes.append(f"{name} to VM {shaping.to_vm.rate // 1000} kbit/s")
        elif shaping.to_vm is None and dev.root_tbf is not None:
            lines.append(f"qdisc del dev {name} root")
            changes.append(f"{name} to VM unlimited")
        if shaping.from_vm is not None:
            if not has_ifb:
                ip_lines += [f"link add {shaping.ifb} type ifb", f"link set {shaping.ifb} up"]
            ifb_root = devices.get(shaping.ifb, _Device()).root_tbf if has_ifb else None
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
                self.redirects[name] = shaping.ifb
        elif dev.ingress:
            lines.append(f"qdisc del dev {name} ingress")
            changes.append(f"{name} from VM unlimited")
            self.redirects.pop(name, None)
        return ip_lines, lines, changes


def _clear(name: str, dev: _Device) -> tuple[list[str], list[str], list[str]]:
    lines = []
    if dev.root_tbf is not None:
        lines.append(f"qdisc del dev {name} root")
    if dev.ingress:
        lines.append(f"qdisc del dev {name} ingress")
    return [], lines, [f"{name} unlimited"] if lines else []


def _tbf(tbf: Tbf) -> str:
    return f"tbf rate {tbf.rate}bit burst {tbf.burst} latency {tbf.latency_ms}ms"


def _same(current: tuple[int, int] | None, want: Tbf) -> bool:
    if current is None:
        return False
    rate, burst = current
    return rate == want.rate // 8 and abs(burst - want.burst) <= want.burst * BURST_TOLERANCE
