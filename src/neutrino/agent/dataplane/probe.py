"""Sending a probe packet through the real path and reading its nft traces (root).

``send_probe`` owns one probe's kernel objects from start to end:

1. one ``nft monitor`` per namespace of ``places`` (a child process each, read by a thread
   that stamps every line with its arrival time);
2. the throwaway table of each namespace (``domain.trace.probe.probe_table``, loaded with
   ``nft -f``); the probe is sent only once every monitor has printed a change of its own
   namespace's table (a monitor that subscribed after the table was added is shown an empty
   chain added to it), so no monitor can miss the probe's first trace;
3. the probe itself, sent from ``injection``: the lab's ``Injection`` is a raw ``AF_PACKET``
   frame on the source VM's interface when a destination MAC is known (the VM's side of its
   tap: the frame enters the path exactly where the VM's would), else a raw IP socket whose
   kernel resolves the neighbour; both opened inside the namespace by a short-lived thread
   (``setns`` is per thread). An agent, which owns no VM namespace, uses a ``TapInjection``:
   a throwaway veth pair ``npi<mark>``/``npj<mark>`` in the hypervisor's namespace whose
   egress a tc ``mirred ingress redirect`` turns into the tap's *ingress*, so the frame
   written on ``npi`` arrives on the bridge as if the VM had sent it (set up with the tables,
   deleted with them). With ``send_at`` (a ``time.monotonic`` instant: the moment the
   controller gave every host of the path) the probe waits for it, or fails as late;
   without ``injection`` the run only listens (a host of the path that is not the source);
4. the wait: until a trace line says ``drop`` (plus ``GRACE`` for the lines still in flight),
   or ``quiet`` seconds without a trace line, or ``timeout``;
5. whatever happened before: every table and device it added is deleted and every monitor
   it started is ended (by its own pid), on error and on timeout too.

It returns the trace lines of the probe, in arrival order, and how long each phase took.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from neutrino.agent.dataplane.netns import inside
from neutrino.domain.trace.probe import Event, Place, parse_event, probe_table
from neutrino.domain.trace.probe_packet import ProbePacket

__all__ = ["Injection", "ProbeError", "ProbeRun", "TapInjection", "send_probe"]

GRACE = 0.05  # seconds to wait for lines still in flight after a drop
QUIET = 0.4  # seconds without a trace line after which the probe is taken as gone
READY = 3.0  # seconds for the monitors to see their table


class ProbeError(RuntimeError):
    """The probe could not be set up (a namespace or tool missing): nothing was sent."""


@dataclass(frozen=True)
class Injection:
    netns: str  # where the sender sits (the source VM's namespace)
    ifname: str  # its interface (the source tap's peer)
    src_mac: str
    dst_mac: str | None  # None: let the sender's kernel resolve the neighbour


@dataclass(frozen=True)
class TapInjection:
    """The probe written into ``tap``'s ingress from the hypervisor's side (no VM needed)."""

    netns: str | None  # the hypervisor's namespace (None: this host's own)
    tap: str
    src_mac: str
    dst_mac: str


def _ns(netns: str | None, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


@dataclass
class ProbeRun:
    events: list[Event] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds


class _Monitor:
    def __init__(self, place: Place, table: str) -> None:
        self.place = place
        self.table = table
        self.lines: list[tuple[float, str]] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            _ns(place.netns, "stdbuf", "-oL", "nft", "monitor"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("add ") and f" {self.table} " in f"{line.strip()} ":
                self.ready.set()
            if line.startswith("trace id "):
                self.lines.append((time.monotonic(), line))  # list.append: atomic

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=2)


def _nft(netns: str, text: str) -> None:
    _nft_all([(netns, text)])


def _nft_all(loads: Sequence[tuple[str, str]]) -> list[str]:
    """``nft -f`` of each (namespace, text), all at once; the namespaces where it worked.
    Raises ``ProbeError`` naming a failure once every load has ended."""
    started = [
        (netns, text, subprocess.Popen(
            _ns(netns, "nft", "-f", "-"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
        for netns, text in loads
    ]  # fmt: skip
    done, failed = [], []
    for netns, text, process in started:
        _, err = process.communicate(text)
        if process.returncode == 0:
            done.append(netns)
        else:
            failed.append(f"nft in {netns}: {err.strip()}")
    if failed:
        raise ProbeError("; ".join(failed))
    return done


def _await_monitors(monitors: Sequence[_Monitor], name: str) -> None:
    """Wait until every monitor has shown a change of its own table: a monitor started just
    before the table was added may have subscribed too late to see that, so an empty chain
    is added to the table (it goes with it) until the monitor shows one."""
    deadline = time.monotonic() + READY
    for count in itertools.count():
        late = [m for m in monitors if not m.ready.wait(0.1 if count else 0.2)]
        if not late:
            return
        if time.monotonic() > deadline:
            raise ProbeError(f"nft monitor in {late[0].place.netns} saw nothing")
        for monitor in late:
            place = monitor.place
            _nft(place.netns, f"add chain {place.family} {name} ping{count}\n")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProbeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def _injector(injection: TapInjection, name: str) -> None:
    """The veth pair whose egress lands in the tap's ingress (see the module docstring)."""
    ns, ends = injection.netns, (f"npi{name}", f"npj{name}")
    _run(_ns(ns, "ip", "link", "add", ends[0], "type", "veth", "peer", "name", ends[1]))
    _run(_ns(ns, "ip", "link", "set", ends[0], "up"))
    _run(_ns(ns, "tc", "qdisc", "add", "dev", ends[0], "clsact"))
    _run(_ns(ns, "tc", "filter", "add", "dev", ends[0], "egress", "protocol", "all", "u32",
             "match", "u32", "0", "0", "action", "mirred", "ingress", "redirect", "dev",
             injection.tap))  # fmt: skip


def _send(injection: Injection | TapInjection, probe: ProbePacket, name: str = "") -> None:
    failure: list[BaseException] = []

    def send() -> None:
        try:
            with inside(injection.netns):
                if isinstance(injection, TapInjection):
                    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
                        s.bind((f"npi{name}", 0))
                        s.send(probe.frame(injection.src_mac, injection.dst_mac))
                elif injection.dst_mac is not None:
                    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
                        s.bind((injection.ifname, 0))
                        s.send(probe.frame(injection.src_mac, injection.dst_mac))
                else:
                    family = socket.AF_INET if probe.version == 4 else socket.AF_INET6
                    with socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
                        device = injection.ifname.encode()
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
                        s.sendto(probe.ip(), (probe.dst, 0))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    sender = threading.Thread(target=send, name="probe-send")
    sender.start()
    sender.join()
    if failure:
        raise ProbeError(f"sending the probe from {injection.netns}: {failure[0]}")


def _wait(monitors: Sequence[_Monitor], started: float, timeout: float, quiet: float) -> None:
    deadline = started + timeout
    while True:
        now = time.monotonic()
        lines = [line for m in monitors for line in m.lines]
        last = max((t for t, _ in lines), default=started)
        if any("verdict drop" in text or "policy drop" in text for _, text in lines):
            time.sleep(GRACE)
            return
        if now >= deadline or now - last >= quiet:
            return
        time.sleep(0.01)


def send_probe(
    places: Sequence[Place],
    probe: ProbePacket,
    injection: Injection | TapInjection | None,
    taps: Sequence[str],
    timeout: float = 2.0,
    send_at: float | None = None,
    quiet: float = QUIET,
) -> ProbeRun:
    """Send ``probe`` from ``injection`` (None: only listen) and collect its traces in
    ``places`` (see the module docstring); raises ``ProbeError`` when it could not be set up
    or was ready after ``send_at`` (then nothing was sent)."""
    run = ProbeRun()
    name = f"nprobe-{probe.mark:x}"
    begun = time.monotonic()
    monitors: list[_Monitor] = []
    installed: list[Place] = []
    injector = isinstance(injection, TapInjection)
    try:
        if isinstance(injection, TapInjection):
            _injector(injection, f"{probe.mark:x}")
        for place in places:
            monitors.append(_Monitor(place, name))
        # every load is started before any is waited for: one that fails still has its
        # namespace in ``installed`` (deleting a table that is not there is harmless)
        installed.extend(places)
        _nft_all([(p.netns, probe_table(p, probe.match(), name, taps)) for p in places])
        _await_monitors(monitors, name)
        run.timings["setup"] = time.monotonic() - begun
        if send_at is not None:
            early = send_at - time.monotonic()
            if early < 0:
                raise ProbeError(f"ready {-early:.2f} s after the time to send")
            time.sleep(early)
        sent = time.monotonic()
        if injection is not None:
            _send(injection, probe, f"{probe.mark:x}")
        _wait(monitors, sent, timeout, quiet)
        run.timings["flight"] = time.monotonic() - sent
    finally:
        cleanup = time.monotonic()
        with contextlib.suppress(ProbeError):
            _nft_all([(p.netns, f"delete table {p.family} {name}\n") for p in installed])
        if isinstance(injection, TapInjection) and injector:  # deleting npi deletes npj too
            with contextlib.suppress(ProbeError):
                _run(_ns(injection.netns, "ip", "link", "del", f"npi{probe.mark:x}"))
        for monitor in monitors:
            monitor.terminate()  # all at once; then each waited for
        for monitor in monitors:
            monitor.stop()
        run.timings["cleanup"] = time.monotonic() - cleanup
    lines = sorted(
        ((t, m.place, text) for m in monitors for t, text in m.lines), key=lambda x: x[0]
    )
    for _, place, text in lines:
        event = parse_event(place, text)
        if event is not None:
            run.events.append(event)
    return run
