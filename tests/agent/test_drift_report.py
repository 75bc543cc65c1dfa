"""The agent's drift report and check answers (agent/drift_report.py), with a fake drift check
and a fake controller: what goes into the status and metrics, what is answered, and that
neither a failing check nor an absent controller stops anything."""

from __future__ import annotations

import threading
from typing import Any

from neutrino.agent.dataplane.drift import Drift
from neutrino.agent.drift_report import SAMPLE, CheckAnswerer, DriftReport
from neutrino.agent.metrics import AgentMetrics
from neutrino.client import TransportError
from neutrino.domain.hoststate import HostState

STATE = HostState(host="hv1", revision=3)
FOUND = [
    Drift(f"fdb vxlan-5 fa:16:3e:00:00:{i:02x} dst 198.51.100.2", "missing") for i in range(25)
]


class Settings:
    host = "hv1"


def test_the_report_goes_to_the_status_and_the_metrics() -> None:
    configurations: dict[str, Any] = {"tunnel_ip": "198.51.100.1"}
    metrics = AgentMetrics()
    report = DriftReport(Settings(), configurations, metrics, check=lambda s, st: FOUND)  # type: ignore[arg-type]
    report.observe(None)  # no state yet: nothing checked
    assert "drift" not in configurations
    report.observe(STATE)
    assert configurations["drift"] == {
        "differences": 25,
        "sample": [str(d) for d in FOUND[:SAMPLE]],
    }
    assert metrics.registry.get_sample_value("neutrino_agent_drift_differences") == 25
    assert metrics.registry.get_sample_value("neutrino_agent_drift_checked_timestamp_seconds")
    report.check = lambda s, st: []  # repaired
    report.observe(STATE)
    assert configurations["drift"] == {"differences": 0, "sample": []}


def test_a_failing_check_keeps_the_last_report() -> None:
    configurations: dict[str, Any] = {}

    def broken(s: Any, st: Any) -> list[Drift]:
        raise OSError("nft went away")

    report = DriftReport(Settings(), configurations, check=lambda s, st: FOUND[:1])  # type: ignore[arg-type]
    report.observe(STATE)
    report.check = broken
    report.observe(STATE)  # logged, not raised
    assert configurations["drift"]["differences"] == 1


class FakeController:
    def __init__(self, stop: threading.Event, polls: list[Any]) -> None:
        self.stop, self.polls = stop, polls
        self.answers: list[tuple[str, str, list[str]]] = []
        self.probes: list[Any] = []

    def poll_check_requests(self, host: str, timeout: float) -> list[dict[str, Any]]:
        if not self.polls:
            self.stop.set()
            return []
        item = self.polls.pop(0)
        if isinstance(item, Exception):
            raise item
        return [c if isinstance(c, dict) else {"id": c} for c in item]

    def answer_check(
        self, host: str, check_id: str, differences: list[str], probe: Any = None
    ) -> None:
        self.answers.append((host, check_id, differences))
        self.probes.append(probe)


def test_checks_are_answered_with_the_differences_of_the_moment() -> None:
    stop = threading.Event()
    away = TransportError("connection refused")
    controller = FakeController(stop, [["c1", "c2"], away, [], ["c3"]])
    states: list[HostState | None] = [STATE]
    answerer = CheckAnswerer(
        Settings(),  # type: ignore[arg-type]
        controller,  # type: ignore[arg-type]
        lambda: states[0],
        check=lambda s, st: FOUND[:2],
    )
    answerer.run(stop)
    lines = [str(d) for d in FOUND[:2]]
    assert controller.answers == [("hv1", "c1", lines), ("hv1", "c2", lines), ("hv1", "c3", lines)]


def test_no_state_or_a_failed_check_leaves_the_check_unanswered() -> None:
    stop = threading.Event()
    controller = FakeController(stop, [["c1"], ["c2"]])
    states: list[HostState | None] = [None]

    def check(s: Any, st: Any) -> list[Drift]:
        raise RuntimeError("boom")

    answerer = CheckAnswerer(Settings(), controller, lambda: states[0], check=check)  # type: ignore[arg-type]
    original = answerer.controller.poll_check_requests

    def poll(host: str, timeout: float) -> list[dict[str, Any]]:
        found = original(host, timeout)
        states[0] = STATE  # the second check has a state, and its check fails
        return found

    answerer.controller.poll_check_requests = poll  # type: ignore[method-assign]
    answerer.run(stop)
    assert controller.answers == []


def test_a_probe_is_run_before_the_drift_and_answered_with_it() -> None:
    stop = threading.Event()
    request = {"mark": 7, "send_at": 0.0}
    controller = FakeController(stop, [[{"id": "c1", "probe": request}, "c2"]])
    order: list[str] = []

    def probe(asked: Any, state: HostState) -> dict[str, Any]:
        order.append("probe")
        assert asked == request and state is STATE
        return {"lines": [], "sent": True}

    def check(s: Any, st: Any) -> list[Drift]:
        order.append("drift")
        return FOUND[:1]

    answerer = CheckAnswerer(
        Settings(),  # type: ignore[arg-type]
        controller,  # type: ignore[arg-type]
        lambda: STATE,
        check=check,
        probe=probe,
    )
    answerer.run(stop)
    assert order == ["probe", "drift"]
    assert [a[1] for a in controller.answers] == ["c1", "c2"]
    assert controller.probes == [{"lines": [], "sent": True}, None]  # only c1 asked one


def test_the_probe_places_are_the_namespaces_this_agent_owns() -> None:
    from neutrino.agent.probe_responder import places_of, vm_taps
    from neutrino.domain.hoststate import DhcpNetwork, FixedIp, PortState
    from neutrino.domain.l3state import RouterState

    class Node:
        host, netns, l3, dhcp = "net1", "lab-net1", True, True

        def dhcp_namespace_suffix(self) -> str:
            return "-lab-net1"

    state = HostState(
        host="net1",
        revision=1,
        routers=(RouterState(id="r-1"), RouterState(id="r-2")),
        dhcp=(
            DhcpNetwork("net-g", PortState("dhcp-port-1", "net-g", "fa:16:3e:00:00:03", (), True)),
        ),
        ports=(
            PortState("vm-port-1", "n", "fa:16:3e:00:00:01", (FixedIp("s", "192.0.2.5"),), True),
            PortState("rtr-port-1", "n", "fa:16:3e:00:00:02", (), True, "network:router_interface"),
        ),
    )
    found = places_of(Node(), state, exists=lambda ns: ns != "qrouter-r-2-lab-net1")  # type: ignore[arg-type]
    assert [(p.netns, p.role, p.label) for p in found] == [
        ("lab-net1", "host", "net1"),
        ("qrouter-r-1-lab-net1", "router", "r-1"),  # r-2's namespace is gone: not watched
        ("qdhcp-net-g-lab-net1", "dhcp", "net-g"),
    ]
    assert vm_taps(state) == ["tapvm-port-1"]


def test_a_long_trace_line_keeps_its_head_and_its_verdict() -> None:
    from neutrino.agent.probe_responder import MAX_LINE, _fit
    from neutrino.domain.trace.probe import Place, parse_event

    line = "trace id 1 bridge neutrino spoof_ip4 rule " + "x" * 3000 + " (verdict drop)"
    fitted = _fit(line)
    assert len(fitted) <= MAX_LINE and _fit("short") == "short"
    event = parse_event(Place("hv1", "host", "hv1"), fitted)
    assert event is not None and (event.chain, event.verdict) == ("spoof_ip4", "drop")
