"""The QoS calculation: which device gets which token bucket, by Neutron's directions, and
the bucket sizes (Neutron's default burst, the floors that keep full-size packets passing)."""

from __future__ import annotations

from dataclasses import replace

from neutrino.agent.qos_calc import (
    MIN_BURST_BYTES,
    PortShaping,
    Tbf,
    bucket,
    configurations,
    desired_marks,
    desired_shaping,
    ifb_name,
)
from neutrino.domain.hoststate import FixedIp, HostState, PortState
from neutrino.domain.qosstate import BandwidthLimit

PORT = "0123456789abcdef-0000-0000-000000000000"


def port(*limits: BandwidthLimit, pid: str = PORT) -> PortState:
    return PortState(
        id=pid,
        network_id="net",
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("s", "192.0.2.5"),),
        admin_state_up=True,
        bandwidth_limits=limits,
    )


def test_bucket_sizes() -> None:
    # 100 Mbit/s with a 1,000 kbit burst: 125,000 bytes
    assert bucket(100_000, 1_000) == Tbf(rate=100_000_000, burst=125_000)
    # no burst given: Neutron's 80% of the rate in kilobits (80,000 kbit = 10 MB)
    assert bucket(100_000).burst == 80_000 * 1000 // 8
    # a low rate still passes a 64 KiB GSO packet
    assert bucket(100).burst == MIN_BURST_BYTES
    # at 10 Gbit/s one timer tick (HZ 250) is 5 MB: never below that
    assert bucket(10_000_000, 1).burst == 10_000_000_000 // 8 // 250


def test_directions_map_to_tap_root_and_ifb() -> None:
    state = HostState(
        host="h",
        revision=1,
        ports=(
            port(BandwidthLimit("egress", 2000, 100), BandwidthLimit("ingress", 3000, 200)),
            port(pid="ffffffffffff-0000"),
            port(BandwidthLimit("ingress", 0), pid="aaaaaaaaaaaa-0000"),
        ),
    )
    shaping = desired_shaping(state)
    assert shaping == {
        "tap0123456789a": PortShaping(
            device="tap0123456789a",
            ifb="qos-0123456789a",
            to_vm=bucket(3000, 200),  # Neutron's ingress: what the VM receives
            from_vm=bucket(2000, 100),  # Neutron's egress: what the VM sends
        )
    }  # no limit, or a 0 kbps limit (Neutron: unlimited), shapes nothing
    assert len(ifb_name(PORT)) <= 15  # a Linux device name


def test_one_direction_only() -> None:
    state = HostState(host="h", revision=1, ports=(port(BandwidthLimit("egress", 500)),))
    (only,) = desired_shaping(state).values()
    assert only.to_vm is None and only.from_vm == bucket(500)


def test_reported_rule_types() -> None:
    params = configurations()["qos_rule_types"]
    assert isinstance(params, dict)
    assert list(params) == [
        "bandwidth_limit",
        "dscp_marking",
        "minimum_bandwidth",
        "minimum_packet_rate",
    ]
    # the minimums are for scheduling only: the agent says it does not enforce them
    assert configurations()["qos_placement_only_rule_types"] == [
        "minimum_bandwidth",
        "minimum_packet_rate",
    ]
    names = [p["parameter_name"] for p in params["bandwidth_limit"]]
    assert names == ["max_kbps", "max_burst_kbps", "direction"]
    (dscp,) = params["dscp_marking"]
    assert dscp["parameter_type"] == "choices" and dscp["parameter_values"][:3] == [0, 8, 10]


def test_marks_of_the_ports_with_one() -> None:
    marked = replace(port(), id="m" * 36, dscp_mark=46)
    zero = replace(port(), id="z" * 36, dscp_mark=0)  # 0 is a mark too: it clears the VM's
    state = HostState(host="h", revision=1, ports=(port(), marked, zero))
    assert desired_marks(state) == {"tapmmmmmmmmmmm": 46, "tapzzzzzzzzzzz": 0}
    assert HostState.from_json(state.to_json()) == state


def test_host_state_round_trip_keeps_limits() -> None:
    state = HostState(host="h", revision=3, ports=(port(BandwidthLimit("ingress", 7, 1)),))
    assert HostState.from_json(state.to_json()) == state
