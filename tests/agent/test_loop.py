"""The watcher and the apply loop against the fake kernel and an in-memory controller:
snapshot applied, statuses reported once and only on change, drift repaired on resync, a bad
object frozen without stopping the rest, ``Busy`` retried, a bug propagated."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from neutrino.agent.dataplane import Busy, FakeKernel, L2Manager
from neutrino.agent.loop import AgentLoop
from neutrino.agent.model import AgentConfig
from neutrino.agent.roles import L2Role, Role
from neutrino.agent.watcher import Backoff, Watcher
from neutrino.client import HostStateWatch, NotFound, TransportError
from neutrino.domain.hoststate import FixedIp, HostState, NetworkState, PortState, tap_name
from neutrino.domain.statedelta import diff

NET = "11111111-aaaa-4bbb-8ccc-000000000001"
P1 = "22222222-1111-4a1a-9b1b-00000000000a"
P2 = "33333333-2222-4a2a-9b2b-00000000000b"
CONFIG = AgentConfig(local_ip="198.51.100.1", underlay_dev="eth1")


def port(pid: str, ip: str) -> PortState:
    return PortState(
        id=pid,
        network_id=NET,
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("s", ip),),
        admin_state_up=True,
    )


def state(*ports: PortState, revision: int = 1) -> HostState:
    return HostState(
        host="hv1",
        revision=revision,
        tunnel_ip="198.51.100.1",
        networks=(NetworkState(NET, "vxlan", 1001, None, 1450),),
        ports=ports,
    )


class FakeController:
    """The controller as the agent sees it: a host state to watch, status reports recorded."""

    def __init__(self, current: HostState) -> None:
        self.current = current
        self.statuses: list[tuple[str, str]] = []
        self.batches: list[int] = []  # sizes of the batched reports
        self.agents: list[bool] = []
        self.deleted: set[str] = set()
        self.fail_watch = 0

    def watch_host_state(
        self, host: str, since: int | None = None, timeout: float = 30.0
    ) -> HostStateWatch:
        if self.fail_watch:
            self.fail_watch -= 1
            raise TransportError("connection refused")
        if since == self.current.revision:
            time.sleep(min(timeout, 0.01))
            return HostStateWatch(host, since, False, None)
        return HostStateWatch(host, self.current.revision, True, self.current)

    def report_agent(
        self,
        host: str,
        configurations: dict[str, Any],
        *,
        agent_type: str = "L2 agent",
        binary: str = "x",
        start_flag: bool = False,
    ) -> dict[str, Any]:
        self.agents.append(start_flag)
        return {"host": host}

    def report_port_status(self, port_id: str, status: str, host: str) -> dict[str, Any]:
        if port_id in self.deleted:
            raise NotFound(404, "PortNotFound", f"Port {port_id} could not be found.")
        self.statuses.append((port_id, status))
        return {"id": port_id, "status": status}

    def report_port_statuses(
        self, host: str, statuses: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        self.batches.append(len(statuses))
        out: list[dict[str, Any]] = []
        for port_id, status in statuses:
            if port_id in self.deleted:
                out.append({"id": port_id, "error": {"type": "PortNotFound", "message": ""}})
            else:
                self.statuses.append((port_id, status))
                out.append({"id": port_id, "status": status})
        return out


def agent_loop(
    kernel: FakeKernel, ctl: Any, watcher: Watcher, *roles: Role, **kw: Any
) -> AgentLoop:
    """A loop over the L2 role (first, as in the agent) and ``roles``, wired to ``watcher``."""
    l2 = L2Role(L2Manager(kernel), kw.pop("config", CONFIG))
    loop = AgentLoop(
        "hv1", ctl, lambda: watcher.state, [l2, *roles], backoff=Backoff(0.001, 0.01), **kw
    )
    watcher.on_change = loop.mark_dirty
    return loop


def make(
    current: HostState, *roles: Role, **kw: Any
) -> tuple[FakeKernel, FakeController, Watcher, AgentLoop]:
    kernel = FakeKernel()
    kernel.add_device("eth1")
    ctl = FakeController(current)
    watcher = Watcher(ctl, "hv1", poll_timeout=0.01, backoff=Backoff(0.001, 0.01))
    return kernel, ctl, watcher, agent_loop(kernel, ctl, watcher, *roles, **kw)


def test_no_round_before_the_first_snapshot() -> None:
    kernel, _, _, loop = make(state())
    kernel.ensure_bridge("brqdeadbeef000", 1500)  # someone's leftover: not torn down blindly
    assert loop.apply_once() is None
    assert "brqdeadbeef000" in kernel.links


def test_snapshot_applied_and_wired_ports_reported_active_once() -> None:
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11"), port(P2, "192.0.2.12")))
    kernel.add_device(tap_name(P1))
    assert watcher.poll_once() and watcher.in_sync.is_set()
    report = loop.apply_once()
    assert report is not None and report.wired == {tap_name(P1)}
    assert kernel.links[tap_name(P1)].master == "brq" + NET[:11]
    assert sorted(ctl.statuses) == [(P1, "ACTIVE"), (P2, "DOWN")]
    assert ctl.batches == [2]  # both in one call
    writes = kernel.writes
    loop.apply_once()  # converged: no kernel write, no report
    assert kernel.writes == writes and len(ctl.statuses) == 2
    kernel.add_device(tap_name(P2))  # the second VM is plugged
    loop.apply_once()
    assert ctl.statuses[-1] == (P2, "ACTIVE") and len(ctl.statuses) == 3


def test_removed_port_reported_down_and_forgotten() -> None:
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11"), port(P2, "192.0.2.12")))
    kernel.add_device(tap_name(P1))
    kernel.add_device(tap_name(P2))
    watcher.poll_once()
    loop.apply_once()
    ctl.current = state(port(P1, "192.0.2.11"), revision=2)  # P2 moved away
    assert watcher.poll_once()
    loop.apply_once()
    assert ctl.statuses[-1] == (P2, "DOWN")
    assert kernel.links[tap_name(P2)].master is None  # unwired
    assert P2 not in loop.reported
    ctl.current = state(revision=3)  # P1 deleted: the report's 404 just forgets it
    ctl.deleted.add(P1)
    watcher.poll_once()
    loop.apply_once()
    assert loop.reported == {}
    assert not any(n.startswith(("brq", "vxlan-")) for n in kernel.links)


def test_resync_repairs_drift_without_recreating_what_matches() -> None:
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11")))
    kernel.add_device(tap_name(P1))
    watcher.poll_once()
    loop.apply_once()
    vx = kernel.links["vxlan-1001"].index
    kernel.delete_link("brq" + NET[:11])  # deleted by hand
    loop.apply_once()
    assert kernel.links[tap_name(P1)].master == "brq" + NET[:11]
    assert kernel.links["vxlan-1001"].index == vx
    assert ctl.statuses == [(P1, "ACTIVE")]  # wired again within the round: no flap


def test_a_bad_object_is_frozen_and_the_rest_applied() -> None:
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11"), port(P2, "192.0.2.12")))
    kernel.add_device(tap_name(P1), kind="bridge")  # cannot be enslaved
    kernel.add_device(tap_name(P2))
    watcher.poll_once()
    report = loop.apply_once()
    assert loop.roles[0].frozen == {tap_name(P1)}  # type: ignore[attr-defined]
    assert report is not None and report.wired == {tap_name(P2)}
    assert (P2, "ACTIVE") in ctl.statuses and (P1, "DOWN") in ctl.statuses
    kernel.delete_link(tap_name(P1))  # repaired: the next round wires it
    kernel.add_device(tap_name(P1))
    loop.apply_once()
    assert loop.roles[0].frozen == set()  # type: ignore[attr-defined]
    assert ctl.statuses[-1] == (P1, "ACTIVE")


class FlakyKernel(FakeKernel):
    def __init__(self, busy: int) -> None:
        super().__init__()
        self.busy = busy

    def ensure_bridge(self, name: str, mtu: int) -> int:
        if self.busy:
            self.busy -= 1
            raise Busy("EBUSY")
        return super().ensure_bridge(name, mtu)


def run_until(loop: AgentLoop, watcher: Watcher, done: Any, timeout: float = 5.0) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def guard(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=guard, args=(lambda: watcher.run(stop),)),
        threading.Thread(target=guard, args=(loop.run,)),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    try:
        while not done() and not errors and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        loop.stop()
        for t in threads:
            t.join(5)
    if errors:
        raise errors[0]
    assert done()


def test_run_retries_busy_and_watch_failures_with_backoff() -> None:
    _, ctl, watcher, _ = make(state(port(P1, "192.0.2.11")))
    kernel = FlakyKernel(busy=3)
    kernel.add_device("eth1")
    kernel.add_device(tap_name(P1))
    ctl.fail_watch = 2
    loop = agent_loop(kernel, ctl, watcher, heartbeat_interval=0.05)
    run_until(loop, watcher, lambda: (P1, "ACTIVE") in ctl.statuses and len(ctl.agents) >= 2)
    assert kernel.busy == 0 and ctl.fail_watch == 0
    assert ctl.agents[0] is True and not any(ctl.agents[1:])  # start_flag only on the first


def test_periodic_resync_repairs_drift_while_running() -> None:
    kernel, _, watcher, loop = make(state(port(P1, "192.0.2.11")), resync_interval=0.05)
    kernel.add_device(tap_name(P1))
    brq = "brq" + NET[:11]
    deleted_at: list[int] = []

    def repaired() -> bool:
        if loop.rounds >= 1 and not deleted_at:
            kernel.delete_link(brq)  # by hand, between two rounds
            deleted_at.append(loop.rounds)
        return bool(deleted_at) and loop.rounds > deleted_at[0] + 1 and brq in kernel.links

    run_until(loop, watcher, repaired)
    assert kernel.links[tap_name(P1)].master == brq


class RoundKinds:
    """A role that records whether each round was full."""

    agent = None
    configurations: dict[str, Any] = {}

    def __init__(self) -> None:
        self.full: list[bool] = []

    def apply(self, rnd: Any) -> None:
        self.full.append(rnd.full)

    def retryable(self) -> list[str]:
        return []

    def errors(self) -> list[Any]:
        return []

    def gauges(self) -> dict[str, int]:
        return {}


def test_mark_full_makes_the_next_round_read_the_kernel_whole() -> None:
    """A dead keepalived changes the kernel, not the host state: the round it asks for must
    not be one that trusts the last apply (the L3 role would skip its routers)."""
    kinds = RoundKinds()
    kernel, _, watcher, loop = make(state(port(P1, "192.0.2.11")), kinds)
    kernel.add_device(tap_name(P1))
    asked: list[str] = []
    settled: list[int] = []  # the heap is settled after each full round (common/heap.py)
    loop.settle = lambda: settled.append(len(kinds.full))

    def three_rounds() -> bool:
        if len(kinds.full) == 1 and not asked:
            asked.append("dirty")
            loop.mark_dirty()  # woken with nothing new: a round that trusts the last apply
        elif len(kinds.full) == 2 and asked == ["dirty"]:
            asked.append("full")
            loop.mark_full()
        return len(kinds.full) >= 3

    run_until(loop, watcher, three_rounds)
    assert kinds.full == [True, False, True]
    assert settled == [1, 3]


def test_the_heap_is_settled_after_full_rounds_and_when_the_host_grew_by_a_quarter() -> None:
    many = [port(f"{n:04d}" + P1[4:], f"192.0.2.{n % 250 + 1}") for n in range(300)]
    _, ctl, watcher, loop = make(state(*many[:1]))
    settled: list[int] = []
    loop.settle = lambda: settled.append(loop.rounds)
    for count, revision in ((1, 1), (150, 2), (160, 3), (300, 4)):
        ctl.current = state(*many[:count], revision=revision)
        watcher.poll_once()
        assert loop._round() is None
    # round 1 is full; 150 ports outgrow 1 (by more than a quarter and 100), 160 do not
    # outgrow 150, 300 do
    assert settled == [1, 2, 4]


def test_unexpected_errors_propagate() -> None:
    kernel, _, watcher, loop = make(state(port(P1, "192.0.2.11")))
    watcher.poll_once()

    def boom(*_: Any) -> Any:
        raise RuntimeError("bug")

    kernel.list_links = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        loop.run()


def test_backoff_is_jittered_and_capped() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.next() for _ in range(10)]
    assert 0.5 <= delays[0] <= 1.0 and all(d <= 8.0 for d in delays) and delays[-1] >= 4.0
    backoff.reset()
    assert backoff.next() <= 1.0
    assert replace(state(), revision=2).digest() == state().digest()


def test_statuses_are_reported_again_after_the_controller_was_unreachable() -> None:
    _, ctl, watcher, _ = make(state(port(P1, "192.0.2.11")))
    kernel = FakeKernel()
    kernel.add_device("eth1")
    kernel.add_device(tap_name(P1))
    failing = {"left": 0}
    report_agent = ctl.report_agent

    def flaky_heartbeat(*args: Any, **kw: Any) -> dict[str, Any]:
        if failing["left"]:
            failing["left"] -= 1
            raise TransportError("connection refused")
        return report_agent(*args, **kw)

    ctl.report_agent = flaky_heartbeat  # type: ignore[method-assign]
    loop = agent_loop(kernel, ctl, watcher, heartbeat_interval=0.02)
    outage = []

    def reported_twice() -> bool:
        if ctl.statuses == [(P1, "ACTIVE")] and not outage:
            outage.append(True)
            failing["left"] = 2  # the controller is away for two heartbeats, then answers
        return ctl.statuses == [(P1, "ACTIVE"), (P1, "ACTIVE")]

    run_until(loop, watcher, reported_twice)
    assert failing["left"] == 0


def test_a_heartbeat_answering_resync_statuses_makes_the_loop_report_again() -> None:
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11")))
    kernel.add_device(tap_name(P1))
    watcher.poll_once()
    loop.heartbeat()
    loop.apply_once()
    assert ctl.statuses == [(P1, "ACTIVE")]
    loop.apply_once()
    assert ctl.statuses == [(P1, "ACTIVE")]  # converged: nothing sent
    ctl.report_agent = lambda *a, **k: {"resync_statuses": True}  # type: ignore[method-assign]
    loop.heartbeat()
    loop.apply_once()
    assert ctl.statuses == [(P1, "ACTIVE"), (P1, "ACTIVE")]


def test_metrics_of_a_round_served_over_http() -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from neutrino.agent.metrics import AgentMetrics

    metrics = AgentMetrics()
    kernel, _ctl, watcher, loop = make(
        state(port(P1, "192.0.2.11"), port(P2, "192.0.2.12")), metrics=metrics
    )
    kernel.add_device(tap_name(P1))
    watcher.poll_once()
    assert loop._round() is None
    port_no = metrics.serve("127.0.0.1:0")
    try:
        text = httpx.get(f"http://127.0.0.1:{port_no}/metrics", timeout=5).text
    finally:
        metrics.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("neutrino_agent_round_seconds_count", ())] == 1
    assert samples[("neutrino_agent_ports_wired", ())] == 1  # P2's tap is not there yet
    assert samples[("neutrino_agent_devices", (("kind", "bridge"),))] == 1
    assert samples[("neutrino_agent_devices", (("kind", "vxlan"),))] == 1
    metrics.error("heartbeat", TransportError("connection refused"))
    assert (
        metrics.registry.get_sample_value("neutrino_agent_errors_total", {"kind": "heartbeat"}) == 1
    )
    assert (
        metrics.registry.get_sample_value(
            "neutrino_agent_last_error_info", {"error": "TransportError"}
        )
        == 1
    )


def test_a_port_wired_here_is_unlearned_from_the_tunnel_port() -> None:
    """A VM migrated here was learned by the bridge behind the VXLAN port; wiring its tap
    drops that entry (once: a converged round writes nothing)."""
    kernel, _ctl, watcher, loop = make(state(port(P1, "192.0.2.11")))
    kernel.learned.add(("vxlan-1001", "fa:16:3e:00:00:01"))
    watcher.poll_once()
    loop.apply_once()  # the VM is not plugged yet: still remote as far as the bridge knows
    assert kernel.learned == {("vxlan-1001", "fa:16:3e:00:00:01")}
    kernel.add_device(tap_name(P1))
    loop.apply_once()
    assert kernel.learned == set()
    writes = kernel.writes
    loop.apply_once()
    assert kernel.writes == writes


def test_a_trunks_sub_ports_are_wired_and_reported_before_their_parent() -> None:
    """P2 sorts after P1 and is P1's sub-port here: only the sub-ports-first order reports
    it before its parent, so the controller never sees the parent wired while its sub-port
    is not yet (the trunk would flicker DEGRADED)."""
    sub = replace(port(P2, "192.0.2.12"), trunk_parent=P1, vlan_id=200)
    config = AgentConfig(local_ip="198.51.100.1", underlay_dev="eth1", vlan=True)
    kernel, ctl, watcher, loop = make(state(port(P1, "192.0.2.11"), sub), config=config)
    kernel.add_device(tap_name(P1))
    watcher.poll_once()
    report = loop.apply_once()
    assert report is not None and report.wired == {tap_name(P1), tap_name(P2)}
    assert kernel.links[tap_name(P2)].vlan == (200, tap_name(P1))
    assert ctl.statuses == [(P2, "ACTIVE"), (P1, "ACTIVE")]


def test_many_statuses_go_in_batches_and_a_refused_port_is_forgotten() -> None:
    from neutrino.agent.loop import STATUS_BATCH

    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(STATUS_BATCH + 3)]
    kernel, ctl, watcher, loop = make(
        state(*(port(p, f"192.0.2.{i % 250 + 1}") for i, p in enumerate(ids)))
    )
    for p in ids:
        kernel.add_device(tap_name(p))
    ctl.deleted.add(ids[0])
    assert watcher.poll_once()
    loop.apply_once()
    assert ctl.batches == [STATUS_BATCH, 3]
    assert len(ctl.statuses) == len(ids) - 1 and ids[0] not in loop.reported
    ctl.deleted.clear()
    loop.apply_once()  # the refused port is asked again, alone: one plain report
    assert ctl.batches == [STATUS_BATCH, 3] and ctl.statuses[-1] == (ids[0], "ACTIVE")


class WiredRole(RoundKinds):
    """A role whose round wires exactly the taps the test chose."""

    agent = ("L2 agent", "x")  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.taps: set[str] = set()

    def apply(self, rnd: Any) -> None:
        super().apply(rnd)
        rnd.report.wired = set(self.taps)


@pytest.mark.parametrize("seed", range(6))
def test_incremental_status_reports_equal_full_ones(seed: int) -> None:
    """Rounds between resyncs look only at the ports a patch touched, the taps wired or
    unwired and the reports not taken: they must report exactly what a full round does.
    States come as the watcher makes them (``HostState.patched``), now and then whole."""
    rng = random.Random(seed)
    ports: dict[str, PortState] = {}
    role, current = WiredRole(), state()
    loops = []
    for _ in range(2):
        ctl = FakeController(current)
        loops.append((ctl, AgentLoop("hv1", ctl, lambda: current, [role])))
    for step in range(300):
        what = rng.choice(["bind", "unbind", "change", "wire", "wire", "gone", "whole", "resync"])
        pid = f"{rng.randrange(40):08d}-1111-4a1a-9b1b-00000000000a"
        if what == "bind":
            parent = rng.choice([None, *sorted(ports)[:1]])
            ports[pid] = replace(port(pid, "192.0.2.9"), trunk_parent=parent)
        elif what == "unbind":
            ports.pop(pid, None)
        elif what == "change" and pid in ports:
            ports[pid] = replace(ports[pid], admin_state_up=not ports[pid].admin_state_up)
        elif what == "wire":
            role.taps ^= {tap_name(pid)}
        elif what == "gone":  # deleted on the controller: its reports are refused
            for ctl, _ in loops:
                ctl.deleted ^= {pid}
        elif what == "resync":  # the controller asks for every status again
            for ctl, loop in loops:
                ctl.report_agent = lambda *a, **kw: {"resync_statuses": True}  # type: ignore[method-assign]
                loop.heartbeat()
        new = state(*(ports[p] for p in sorted(ports)), revision=step + 2)
        whole = what == "whole" or rng.random() < 0.1
        delta = diff(current.to_dict(), new.to_dict())
        current = new if whole else current.patched(delta)
        for full, (ctl, loop) in enumerate(loops):
            ctl.statuses.clear()
            loop.apply_once(full=bool(full))
        (inc, inc_loop), (ref, ref_loop) = loops
        assert sorted(inc.statuses) == sorted(ref.statuses), (step, what)
        assert inc_loop.reported == ref_loop.reported, (step, what)
