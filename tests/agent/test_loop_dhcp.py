"""The apply loop with the DHCP role, against the fake kernel and a fake DHCP manager: the
DHCP agent registers after the L2 agent, DHCP is applied after L2 (the bridge exists), the
DHCP port's tap counts as wired in the same round, a retryable failure is retried with backoff,
a non-retryable one waits for the resync without stopping L2, and a host without the role
never touches DHCP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from neutrino.agent.dataplane import DataplaneError, FakeKernel, L2Manager
from neutrino.agent.dataplane.base import LinkNotFound
from neutrino.agent.dhcp_calc import DhcpConfig
from neutrino.agent.loop import AgentLoop
from neutrino.agent.roles import DHCP_AGENT, DhcpRole, L2Role
from neutrino.agent.watcher import Backoff, Watcher
from neutrino.domain.hoststate import (
    DhcpEntry,
    DhcpNetwork,
    FixedIp,
    HostState,
    NetworkState,
    PortState,
    SubnetState,
    bridge_name,
    tap_name,
)
from tests.agent.test_loop import CONFIG, NET, P1, FakeController, agent_loop, run_until

DHCP_PORT = "44444444-dddd-4ddd-8ddd-0000000000d0"


class Retryable(DataplaneError):
    retryable = True


@dataclass
class Report:
    applied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, DataplaneError] = field(default_factory=dict)


class FakeDhcp:
    """Plugs the DHCP port's tap into the bridge as DhcpManager does; can be told to fail."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self.calls: list[dict[str, DhcpConfig]] = []
        self.fail: list[DataplaneError] = []
        self.served: set[str] = set()

    def apply(self, desired: Mapping[str, DhcpConfig]) -> Report:
        self.calls.append(dict(desired))
        report = Report()
        for net_id, cfg in sorted(desired.items()):
            if self.fail:
                report.failed[net_id] = self.fail.pop(0)
                continue
            if cfg.bridge not in self.kernel.links:
                report.failed[net_id] = LinkNotFound(f"bridge {cfg.bridge} missing")
                continue
            if cfg.host_device not in self.kernel.links:
                self.kernel.add_device(cfg.host_device, mtu=cfg.mtu)
            if self.kernel.links[cfg.host_device].master != cfg.bridge:
                self.kernel.attach(cfg.host_device, cfg.bridge)
            self.served.add(net_id)
            report.applied.append(net_id)
        for net_id in sorted(self.served - set(desired)):
            self.served.discard(net_id)
            report.removed.append(net_id)
        return report


def dhcp_state(*, with_dhcp: bool = True, revision: int = 1) -> HostState:
    subnet = SubnetState(
        id="sub4", cidr="192.0.2.0/24", ip_version=4, gateway_ip="192.0.2.1", enable_dhcp=True
    )
    dport = PortState(
        id=DHCP_PORT,
        network_id=NET,
        mac_address="fa:16:3e:00:00:02",
        fixed_ips=(FixedIp("sub4", "192.0.2.2"),),
        admin_state_up=True,
        device_owner="network:dhcp",
    )
    vm = PortState(
        id=P1,
        network_id=NET,
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(FixedIp("sub4", "192.0.2.11"),),
        admin_state_up=True,
    )
    served = (DhcpNetwork(NET, dport, (DhcpEntry(P1, vm.mac_address, vm.fixed_ips),)),)
    return HostState(
        host="hv1",
        revision=revision,
        tunnel_ip="198.51.100.1",
        networks=(NetworkState(NET, "vxlan", 1001, None, 1450, (subnet,)),),
        ports=(dport, vm) if with_dhcp else (vm,),
        dhcp=served if with_dhcp else (),
    )


def make(
    current: HostState, *, role: bool = True, **kw: Any
) -> tuple[FakeKernel, FakeController, Watcher, AgentLoop, FakeDhcp]:
    kernel = FakeKernel()
    kernel.add_device("eth1")
    kernel.add_device(tap_name(P1))
    ctl = FakeController(current)
    dhcp = FakeDhcp(kernel)
    watcher = Watcher(ctl, "hv1", poll_timeout=0.01, backoff=Backoff(0.001, 0.01))
    roles = [DhcpRole(dhcp, CONFIG, namespace_suffix="-hv1")] if role else []
    return kernel, ctl, watcher, agent_loop(kernel, ctl, watcher, *roles, **kw), dhcp


def served(loop: AgentLoop) -> set[str]:
    return next((r.served for r in loop.roles if isinstance(r, DhcpRole)), set())


class RecordingController(FakeController):
    def __init__(self, current: HostState) -> None:
        super().__init__(current)
        self.types: list[tuple[str, bool]] = []

    def report_agent(
        self,
        host: str,
        configurations: dict[str, Any],
        *,
        agent_type: str = "L2 agent",
        binary: str = "x",
        start_flag: bool = False,
    ) -> dict[str, Any]:
        self.types.append((agent_type, start_flag))
        return super().report_agent(
            host, configurations, agent_type=agent_type, binary=binary, start_flag=start_flag
        )


def test_dhcp_agent_registers_after_the_l2_agent() -> None:
    ctl = RecordingController(dhcp_state())
    kernel = FakeKernel()
    l2, dhcp = L2Role(L2Manager(kernel), CONFIG), FakeDhcp(kernel)
    loop = AgentLoop("hv1", ctl, lambda: None, [l2, DhcpRole(dhcp, CONFIG)])
    loop.heartbeat()
    loop.heartbeat()
    assert ctl.types == [
        ("L2 agent", True),
        (DHCP_AGENT, True),
        ("L2 agent", False),
        (DHCP_AGENT, False),
    ]
    plain = RecordingController(dhcp_state())
    AgentLoop("hv1", plain, lambda: None, [l2]).heartbeat()
    assert plain.types == [("L2 agent", True)]


def test_dhcp_applied_after_l2_and_its_port_active_in_the_same_round() -> None:
    kernel, ctl, watcher, loop, dhcp = make(dhcp_state())
    manager = loop.roles[0].manager  # type: ignore[attr-defined]
    full_applies: list[object] = []
    apply = manager.apply
    manager.apply = lambda desired, applied=None, touched=None: (
        full_applies.append(desired) or apply(desired, applied)
    )
    watcher.poll_once()
    report = loop.apply_once()
    assert report is not None and len(full_applies) == 1  # the DHCP tap: wired, not re-applied
    (desired,) = dhcp.calls
    cfg = desired[NET]
    assert cfg.namespace == f"qdhcp-{NET}-hv1" and cfg.bridge == bridge_name(NET)
    assert kernel.links[tap_name(DHCP_PORT)].master == bridge_name(NET)
    assert tap_name(DHCP_PORT) in report.wired
    assert sorted(ctl.statuses) == sorted([(DHCP_PORT, "ACTIVE"), (P1, "ACTIVE")])
    assert served(loop) == {NET} and loop.roles[1].errors() == []
    writes = kernel.writes
    loop.apply_once()  # converged: DHCP applied again (level-triggered), nothing rewritten
    assert len(dhcp.calls) == 2 and kernel.writes == writes and len(ctl.statuses) == 2


def test_network_no_longer_served_is_removed() -> None:
    _, ctl, watcher, loop, dhcp = make(dhcp_state())
    watcher.poll_once()
    loop.apply_once()
    ctl.current = dhcp_state(with_dhcp=False, revision=2)
    watcher.poll_once()
    loop.apply_once()
    assert dhcp.calls[-1] == {} and dhcp.served == set() and served(loop) == set()
    assert ctl.statuses[-1] == (DHCP_PORT, "DOWN")


def test_retryable_dhcp_failure_is_retried_with_backoff() -> None:
    _kernel, ctl, watcher, loop, dhcp = make(dhcp_state())
    dhcp.fail = [Retryable("EBUSY"), Retryable("EBUSY")]
    run_until(loop, watcher, lambda: NET in dhcp.served and (DHCP_PORT, "ACTIVE") in ctl.statuses)
    assert dhcp.fail == [] and len(dhcp.calls) >= 3
    assert (P1, "ACTIVE") in ctl.statuses  # L2 never waited for DHCP


def test_non_retryable_dhcp_failure_waits_for_the_resync() -> None:
    _kernel, ctl, watcher, loop, dhcp = make(dhcp_state(), resync_interval=3600)
    dhcp.fail = [DataplaneError("dnsmasq exited 1")]
    watcher.poll_once()
    assert loop._round() is None  # no backoff retry scheduled
    assert len(loop.roles[1].errors()) == 1 and NET not in dhcp.served
    assert loop.roles[1].retryable() == []
    assert (P1, "ACTIVE") in ctl.statuses and (DHCP_PORT, "DOWN") in ctl.statuses
    assert loop._round() is None  # the resync (any later round) applies it
    assert NET in dhcp.served and ctl.statuses[-1] == (DHCP_PORT, "ACTIVE")


def test_host_without_the_role_never_touches_dhcp() -> None:
    _kernel, ctl, watcher, loop, dhcp = make(dhcp_state(), role=False)
    watcher.poll_once()
    loop.apply_once()
    assert dhcp.calls == [] and served(loop) == set()
    assert (DHCP_PORT, "DOWN") in ctl.statuses and (P1, "ACTIVE") in ctl.statuses


def test_vms_are_never_told_a_larger_mtu_than_their_bridge_has() -> None:
    """A host whose underlay carries less than the controller assumed (1400 here: VXLAN
    leaves 1350, the network says 1450) caps its bridge; the DHCP server's interface and
    option 26 (and so the RA MTU dnsmasq reads from that interface) follow the same cap."""
    kernel = FakeKernel()
    kernel.add_device("eth1", mtu=1400)
    kernel.add_device(tap_name(P1))
    ctl = FakeController(dhcp_state())
    dhcp = FakeDhcp(kernel)
    watcher = Watcher(ctl, "hv1", poll_timeout=0.01, backoff=Backoff(0.001, 0.01))
    config = replace(CONFIG, underlay_mtu=1400)
    loop = agent_loop(kernel, ctl, watcher, DhcpRole(dhcp, config), config=config)
    watcher.poll_once()
    loop.apply_once()
    bridge_mtu = kernel.links[bridge_name(NET)].mtu
    assert bridge_mtu == 1350
    cfg = dhcp.calls[-1][NET]
    assert cfg.mtu == bridge_mtu
    assert f"--dhcp-option-force=option:mtu,{bridge_mtu}" in cfg.args
