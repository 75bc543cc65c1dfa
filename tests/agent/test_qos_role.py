"""The QoS role against fake appliers: what it hands the data plane (taps L2 found missing
left out, floating IPs by router), and how it keeps failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neutrino.agent.dataplane.base import Busy, DataplaneError, LinkNotFound
from neutrino.agent.dataplane.qos import QosReport
from neutrino.agent.qos_calc import PortShaping, RouterShaping
from neutrino.agent.qos_role import QosRole
from neutrino.agent.roles import Round
from neutrino.domain.hoststate import FixedIp, HostState, PortState
from neutrino.domain.l3state import FloatingIpState, RouterPortState, RouterState
from neutrino.domain.qosstate import BandwidthLimit


class Recorder:
    def __init__(self, failed: dict[str, DataplaneError] | None = None) -> None:
        self.calls: list[Mapping[str, Any]] = []
        self.failed = failed or {}

    def apply(self, desired: Mapping[str, Any]) -> QosReport:
        self.calls.append(desired)
        ok = [k for k in desired if k not in self.failed]
        return QosReport(applied=ok, failed=dict(self.failed), changes=[f"{k} set" for k in ok])


def limited_port(pid: str) -> PortState:
    return PortState(
        id=pid,
        network_id="n",
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("s", "192.0.2.9"),),
        admin_state_up=True,
        bandwidth_limits=(BandwidthLimit("ingress", 1000),),
    )


def test_missing_taps_wait_and_failures_are_kept() -> None:
    state = HostState(host="h", revision=1, ports=(limited_port("a" * 36), limited_port("b" * 36)))
    rnd = Round(state=state)
    rnd.report.missing.add("tapbbbbbbbbbbb")
    ports = Recorder({"tapaaaaaaaaaaa": Busy("busy")})
    role = QosRole(ports)
    role.apply(rnd)
    (desired,) = ports.calls
    assert set(desired) == {"tapaaaaaaaaaaa"}  # the unplugged tap waits for the link watcher
    assert isinstance(desired["tapaaaaaaaaaaa"], PortShaping)
    assert role.retryable() == ["tapaaaaaaaaaaa"] and len(role.errors()) == 1


def test_floating_ips_by_router_and_a_failing_kernel() -> None:
    fip = FloatingIpState(
        id="f",
        floating_ip_address="203.0.113.20",
        fixed_ip_address="192.0.2.9",
        fixed_port_id="p",
        bandwidth_limits=(BandwidthLimit("egress", 5000),),
    )
    router = RouterState(
        id="r" * 36,
        gateway=RouterPortState(id="g" * 36, network_id="ext", mac_address="fa:16:3e:00:00:02"),
        floating_ips=(fip,),
    )
    routers = Recorder()
    role = QosRole(Recorder(), routers, namespace_suffix="-lab")
    role.apply(Round(state=HostState(host="h", revision=1, routers=(router,))))
    (desired,) = routers.calls
    shaping = desired["r" * 36]
    assert isinstance(shaping, RouterShaping)
    assert shaping.namespace == f"qrouter-{'r' * 36}-lab" and shaping.device == "qg-ggggggggggg"
    assert [f.address for f in shaping.fips] == ["203.0.113.20"]
    assert shaping.fips[0].from_vm is not None and shaping.fips[0].to_vm is None

    class Broken:
        def apply(self, desired: Mapping[str, Any]) -> QosReport:
            raise LinkNotFound("tc: no such namespace")

    broken = QosRole(Broken())
    broken.apply(Round(state=HostState(host="h", revision=1)))
    assert [str(e) for e in broken.errors()] == ["tc: no such namespace"]


def test_dscp_marks_go_to_their_applier_and_a_resync_forces_them() -> None:
    class Marks:
        def __init__(self) -> None:
            self.calls: list[tuple[dict[str, int], bool]] = []

        def apply(self, marks: Mapping[str, int], force: bool = False) -> list[str]:
            self.calls.append((dict(marks), force))
            if marks.get("tapbbbbbbbbbbb") == 8:
                raise DataplaneError("nft: refused")
            return ["marked"]

    plain = {**limited_port("a" * 36).__dict__, "bandwidth_limits": ()}
    marked = PortState(**{**plain, "dscp_mark": 46})
    state = HostState(host="h", revision=1, ports=(marked,))
    marks = Marks()
    role = QosRole(Recorder(), marks=marks)
    rnd = Round(state=state, full=False)
    rnd.report.missing.add("tapaaaaaaaaaaa")  # a mark waits for no tap: nft matches the name
    role.apply(rnd)
    role.apply(Round(state=state, full=False))  # the same marks: nothing to do
    role.apply(Round(state=state, full=True))
    assert marks.calls == [({"tapaaaaaaaaaaa": 46}, False), ({"tapaaaaaaaaaaa": 46}, True)]
    other = PortState(**{**limited_port("b" * 36).__dict__, "dscp_mark": 8})
    role.apply(Round(state=HostState(host="h", revision=2, ports=(marked, other)), full=False))
    assert [str(e) for e in role.errors()] == ["nft: refused"]
