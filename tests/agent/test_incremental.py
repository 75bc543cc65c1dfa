"""Rounds between resyncs (``Round.full`` False) converge from what changed and trust the
kernel; they must leave the kernel and the round's report exactly as a full round would.

Randomized sequences of host-state changes (ports bound, moved, changed and unbound; remote
ports and VTEPs coming and going; VM taps plugged, unplugged and replaced) are applied to two
fake kernels: one by an L2 role doing only incremental rounds after its first, one by an L2
role doing full rounds. After every step both kernels and both reports must be equal. The
same for the roles that skip a round when their inputs did not change (DHCP, QoS): what
their manager last received must equal what a full round gives it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from neutrino.agent.dataplane import FakeKernel, L2Manager
from neutrino.agent.linkwatch import LinkEvents
from neutrino.agent.model import AgentConfig
from neutrino.agent.qos_calc import QosCalc
from neutrino.agent.qos_role import QosRole
from neutrino.agent.roles import L2Role, Round
from neutrino.domain import statedelta
from neutrino.domain.hoststate import (
    FixedIp,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
    tap_name,
)
from neutrino.domain.qosstate import BandwidthLimit

CONFIG = AgentConfig(local_ip="198.51.100.1", underlay_dev="eth1")
NETS = (
    NetworkState("11111111-aaaa-4bbb-8ccc-000000000001", "vxlan", 1001, None, 1450),
    NetworkState("11111111-aaaa-4bbb-8ccc-000000000002", "vxlan", 1002, None, 1450),
    NetworkState("11111111-aaaa-4bbb-8ccc-000000000003", "vxlan", 1003, None, 1400),
)
VTEPS = ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")


def kernel_view(kernel: FakeKernel) -> tuple[Any, ...]:
    """What the kernel holds, ifindexes aside (the two kernels number devices differently)."""
    links = {n: (ln.kind, ln.mtu, ln.master, ln.up, ln.vxlan) for n, ln in kernel.links.items()}
    return links, kernel.fdb, kernel.neigh, kernel.learned


class Host:
    """One randomized host: its state and the VM taps plugged on both kernels."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ports: dict[str, PortState] = {}
        self.remote: dict[str, tuple[str, RemotePort]] = {}  # id -> (network, port)
        self.vteps: dict[str, tuple[str, ...]] = {}
        self.kernels = (FakeKernel(), FakeKernel())
        for kernel in self.kernels:
            kernel.add_device("eth1")
        self.revision = 0
        self.events = LinkEvents()  # what a link watcher would note on kernel 0
        self.held: HostState | None = None  # the last state handed out

    def _mac(self) -> str:
        return "fa:16:3e:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(3))

    def _ip(self, v6: bool = False) -> str:
        n = self.rng.randrange(2, 250)
        return f"2001:db8::{n:x}" if v6 else f"192.0.2.{n}"

    def step(self) -> None:
        """One random change of the state or of the VMs' taps."""
        rng, nets = self.rng, [n.id for n in NETS]
        what = rng.choice(
            ["bind", "bind", "unbind", "change", "remote", "unremote", "vteps", "tap"]
        )
        if what == "bind" or (what in ("unbind", "change") and not self.ports):
            pid = f"{rng.randrange(16**8):08x}-0000-4000-8000-{len(self.ports):012d}"
            self.ports[pid] = PortState(
                pid, rng.choice(nets), self._mac(), (FixedIp("s", self._ip()),), True
            )
        elif what == "unbind":
            del self.ports[rng.choice(sorted(self.ports))]
        elif what == "change":
            pid = rng.choice(sorted(self.ports))
            old = self.ports[pid]
            self.ports[pid] = rng.choice(
                [
                    replace(old, admin_state_up=not old.admin_state_up),
                    replace(old, network_id=rng.choice(nets)),
                    replace(old, mac_address=self._mac()),
                    replace(old, dscp_mark=rng.choice([None, 0, 46])),
                    replace(
                        old, bandwidth_limits=rng.choice([(), (BandwidthLimit("egress", 1000),)])
                    ),
                ]
            )
        elif what == "remote" or (what == "unremote" and not self.remote):
            rid = f"r{rng.randrange(10**6)}"
            ips = (self._ip(),) + ((self._ip(v6=True),) if rng.random() < 0.5 else ())
            remote = RemotePort(rid, self._mac(), ips, rng.choice(VTEPS))
            self.remote[rid] = (rng.choice(nets), remote)
        elif what == "unremote":
            del self.remote[rng.choice(sorted(self.remote))]
        elif what == "vteps":
            self.vteps[rng.choice(nets)] = tuple(rng.sample(VTEPS, rng.randrange(3)))
        else:
            self._tap()
        self.revision += 1

    def _tap(self) -> None:
        """Plug, unplug or replace a VM's tap (on both kernels alike)."""
        taps = sorted({tap_name(p) for p in self.ports} | {"tapffffffff-ff"})
        tap = self.rng.choice(taps)
        replace_it = self.rng.random() < 0.3
        self.events.note(tap)
        for kernel in self.kernels:
            if tap in kernel.links:
                kernel.delete_link(tap)
                if replace_it:
                    kernel.add_device(tap)
            else:
                kernel.add_device(tap)

    def state(self) -> HostState:
        pops = tuple(
            L2Pop(
                n.id,
                self.vteps.get(n.id, ()),
                tuple(p for net, p in self.remote.values() if net == n.id),
            )
            for n in NETS
        )
        new = HostState(
            host="hv1",
            revision=self.revision,
            tunnel_ip=CONFIG.local_ip,
            networks=NETS,
            ports=tuple(self.ports[p] for p in sorted(self.ports)),
            l2pop=pops,
        )
        if self.held is None or self.rng.random() < 0.2:  # a snapshot
            self.held = new
        elif self.held != new:  # a delta, patched as the watcher does
            self.held = self.held.patched(statedelta.diff(self.held.to_dict(), new.to_dict()))
        return self.held


@pytest.mark.parametrize("watched", [False, True], ids=["dumped", "watched"])
@pytest.mark.parametrize("seed", range(40))
def test_incremental_l2_rounds_equal_full_rounds(seed: int, watched: bool) -> None:
    """``watched``: the incremental role has the link watcher's names (``LinkEvents``) and
    looks devices up instead of dumping the links."""
    host = Host(random.Random(seed))
    incremental, full = (L2Role(L2Manager(k), CONFIG) for k in host.kernels)
    if watched:
        incremental.link_events = host.events
        dumps: list[object] = []
        list_links = host.kernels[0].list_links
        host.kernels[0].list_links = lambda p: dumps.append(p) or list_links(p)  # type: ignore[method-assign]
    for step in range(40):
        state = host.state()
        fast, slow = Round(state, full=step == 0), Round(state)
        incremental.apply(fast)
        full.apply(slow)
        inc_view, full_view = kernel_view(host.kernels[0]), kernel_view(host.kernels[1])
        assert inc_view == full_view, f"seed {seed} step {step}"
        assert fast.report.wired == slow.report.wired
        assert fast.report.missing == slow.report.missing
        assert fast.report.attached == slow.report.attached
        if watched:
            assert len(dumps) == 1, f"seed {seed} step {step}: only the first round dumps"
        host.step()


def test_an_incremental_round_dumps_no_entries() -> None:
    host = Host(random.Random(7))
    for _ in range(12):
        host.step()
    kernel = host.kernels[0]
    role = L2Role(L2Manager(kernel), CONFIG)
    role.apply(Round(host.state()))
    dumps: list[str] = []
    list_fdb = kernel.list_fdb
    kernel.list_fdb = lambda device: dumps.append(device) or list_fdb(device)  # type: ignore[method-assign]
    host.remote["extra"] = (
        next(p.network_id for p in host.ports.values() if p.admin_state_up),  # one present
        RemotePort("extra", "fa:16:3e:aa:bb:cc", ("192.0.2.99",), VTEPS[2]),
    )
    role.apply(Round(host.state(), full=False))
    assert dumps == []
    assert any(e.mac == "fa:16:3e:aa:bb:cc" for e in kernel.fdb)
    role.apply(Round(host.state()))  # the resync reads every VXLAN device's entries again
    assert sorted(dumps) == sorted(role.desired.vxlans)


class RecordingQos:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def apply(self, desired: dict[str, Any], force: bool = False) -> Any:
        self.calls.append(dict(desired))
        return type("Report", (), {"applied": list(desired), "failed": {}, "changes": []})()


class RecordingMarks(RecordingQos):
    def apply(self, desired: dict[str, Any], force: bool = False) -> Any:
        super().apply(desired)
        return []


@pytest.mark.parametrize("seed", range(10))
def test_qos_skips_only_rounds_that_change_nothing(seed: int) -> None:
    host = Host(random.Random(seed))
    skipping, always, marks, all_marks = (
        RecordingQos(),
        RecordingQos(),
        RecordingMarks(),
        RecordingMarks(),
    )
    fast, slow = QosRole(skipping, marks=marks), QosRole(always, marks=all_marks)
    l2 = L2Role(L2Manager(host.kernels[0]), CONFIG)
    for step in range(30):
        rnd = Round(host.state(), full=step == 0)
        l2.apply(rnd)
        fast.apply(rnd)
        slow.calc = QosCalc()  # from scratch
        slow.apply(replace(rnd, full=True))
        assert skipping.calls[-1] == always.calls[-1]
        assert marks.calls[-1] == all_marks.calls[-1]
        host.step()
    assert len(skipping.calls) < len(always.calls)
