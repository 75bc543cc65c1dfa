"""The L3 calculation and the L3 role in the loop, without root: what a router renders
(devices, addresses, routes, the NAT table and its digest), and the loop registering the L3
agent after the L2 agent, applying routers after L2 and counting router taps as wired in
the same round, retrying a retryable router failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from neutrino.agent.dataplane import DataplaneError, FakeKernel
from neutrino.agent.l3_calc import RouterConfig, desired_routers
from neutrino.agent.loop import AgentLoop
from neutrino.agent.roles import L3_AGENT, L3Role, Round
from neutrino.agent.watcher import Backoff, Watcher
from neutrino.domain.hoststate import FixedIp, HostState, NetworkState, PortState, tap_name
from neutrino.domain.l3state import (
    ExtraRoute,
    FloatingIpState,
    HaState,
    PortForwardingState,
    RouterAddress,
    RouterPortState,
    RouterState,
)
from tests.agent.test_loop import CONFIG, NET, P1, agent_loop, run_until
from tests.agent.test_loop_dhcp import RecordingController

EXT = "eeeeeeee-aaaa-4bbb-8ccc-000000000009"
ROUTER = "99999999-1111-4222-8333-000000000001"
QR = "55555555-aaaa-4aaa-8aaa-00000000000a"
QG = "66666666-eeee-4eee-8eee-00000000000e"


def router(**kw: Any) -> RouterState:
    qr = RouterPortState(
        QR,
        NET,
        "FA:16:3E:00:01:0A",
        (
            RouterAddress("192.0.2.1", 24, "s4", "192.0.2.0/24", "192.0.2.1"),
            RouterAddress("2001:db8:a::1", 64, "s6", "2001:db8:a::/64", "2001:db8:a::1"),
        ),
    )
    qg = RouterPortState(
        QG,
        EXT,
        "fa:16:3e:00:02:0e",
        (RouterAddress("203.0.113.10", 24, "se", "203.0.113.0/24", "203.0.113.1"),),
    )
    return RouterState(**{"id": ROUTER, "interfaces": (qr,), "gateway": qg, **kw})


def state(*routers: RouterState, revision: int = 1) -> HostState:
    ports = (
        PortState(P1, NET, "fa:16:3e:00:00:01", (FixedIp("s4", "192.0.2.11"),), True),
        PortState(
            QR,
            NET,
            "fa:16:3e:00:01:0a",
            (FixedIp("s4", "192.0.2.1"),),
            True,
            "network:router_interface",
        ),
    )
    return HostState(
        host="hv1",
        revision=revision,
        tunnel_ip="198.51.100.1",
        networks=(
            NetworkState(NET, "vxlan", 1001, None, 1500),
            NetworkState(EXT, "flat", None, "public", 1500),
        ),
        ports=ports,
        routers=routers,
    )


def test_router_renders_devices_addresses_routes_and_nat() -> None:
    fip = FloatingIpState("f", "203.0.113.20", "192.0.2.11", P1)
    cfg = desired_routers(
        state(router(floating_ips=(fip,), routes=(ExtraRoute("198.18.0.0/15", "192.0.2.9"),))),
        CONFIG,
        "-hv1",
    )[ROUTER]
    assert cfg.namespace == f"qrouter-{ROUTER}-hv1"
    qg, qr = cfg.ports
    assert (qg.device, qg.host_device, qg.gateway) == (f"qg-{QG[:11]}", tap_name(QG), True)
    assert qg.addresses == ("203.0.113.10/24", "203.0.113.20/32") and qg.mtu == 1500
    assert qr.device == f"qr-{QR[:11]}" and qr.mac_address == "fa:16:3e:00:01:0a"
    assert qr.addresses == ("192.0.2.1/24", "2001:db8:a::1/64") and qr.mtu == 1450
    assert [(r.destination, r.nexthop) for r in cfg.routes] == [
        ("0.0.0.0/0", "203.0.113.1"),
        ("198.18.0.0/15", "192.0.2.9"),
    ]
    assert cfg.nat is not None and cfg.nat_digest is not None
    assert f'comment "{cfg.nat_digest}"' in cfg.nat
    assert "elements = { 203.0.113.20 : 192.0.2.11 }" in cfg.nat
    assert "elements = { 192.0.2.11 : 203.0.113.20 }" in cfg.nat
    assert f'oifname "qg-{QG[:11]}" ip saddr {{ 192.0.2.0/24 }} snat to 203.0.113.10' in cfg.nat
    assert (
        f'iifname "qr-{QR[:11]}" oifname "qr-{QR[:11]}" ct status dnat snat to 192.0.2.1'
    ) in cfg.nat
    assert cfg.floating_ips == (("203.0.113.20", "192.0.2.11"),)


def pf(pid: str, proto: str, ext: tuple[int, int], internal: str, port: tuple[int, int]) -> Any:
    return PortForwardingState(pid, "fip-" + pid, "203.0.113.30", proto, *ext, internal, *port)


def test_port_forwardings_render_per_protocol_maps_and_the_address() -> None:
    forwardings = (
        pf("a", "tcp", (8080, 8080), "192.0.2.11", (80, 80)),
        pf("b", "udp", (8080, 8080), "192.0.2.12", (53, 53)),
        pf("c", "tcp", (9000, 9002), "192.0.2.12", (7000, 7002)),  # N-N
        pf("d", "tcp", (2200, 2201), "192.0.2.11", (22, 22)),  # 1-N
    )
    cfg = desired_routers(state(router(port_forwardings=forwardings)))[ROUTER]
    plain = desired_routers(state(router()))[ROUTER]
    qg = next(p for p in cfg.ports if p.gateway)
    assert qg.addresses == ("203.0.113.10/24", "203.0.113.30/32")
    assert cfg.forwarded_ips == ("203.0.113.30",)
    assert cfg.floating_ips == ()
    assert [
        (f.protocol, f.external_port, f.internal_ip_address, f.internal_port)
        for f in cfg.forwardings
    ] == [
        ("tcp", 2200, "192.0.2.11", 22),
        ("tcp", 2201, "192.0.2.11", 22),
        ("tcp", 8080, "192.0.2.11", 80),
        ("tcp", 9000, "192.0.2.12", 7000),
        ("tcp", 9001, "192.0.2.12", 7001),
        ("tcp", 9002, "192.0.2.12", 7002),
        ("udp", 8080, "192.0.2.12", 53),
    ]
    nat = str(cfg.nat)
    assert "203.0.113.30 . 8080 : 192.0.2.11 . 80" in nat
    assert (
        "map pf_udp { type ipv4_addr . inet_service : ipv4_addr . inet_service; "
        "elements = { 203.0.113.30 . 8080 : 192.0.2.12 . 53 } }" in nat
    )
    assert nat.count("dnat to ip daddr . tcp dport map @pf_tcp") == 2  # prerouting and output
    # forwardings are map elements: the rules and their digest do not move
    assert cfg.nat_digest == plain.nat_digest
    assert "pf_tcp" in str(plain.nat) and "elements" not in str(plain.nat)


def test_forwardings_read_back_from_the_nft_listing() -> None:
    """The manager diffs the kernel's map elements against the desired ones: what nft lists
    (elements over several lines) parses back to the forwardings rendered."""
    from neutrino.agent.dataplane.l3 import _forwardings

    listing = (
        "table ip neutrino-l3 {\n\tmap pf_tcp {\n"
        "\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n"
        "\t\telements = { 203.0.113.30 . 2200 : 192.0.2.11 . 22,\n"
        "\t\t\t     203.0.113.30 . 8080 : 192.0.2.11 . 80 }\n\t}\n"
        "\tmap pf_udp {\n\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n\t}\n}\n"
    )
    cfg = desired_routers(
        state(
            router(
                port_forwardings=(
                    pf("a", "tcp", (8080, 8080), "192.0.2.11", (80, 80)),
                    pf("d", "tcp", (2200, 2200), "192.0.2.11", (22, 22)),
                )
            )
        )
    )[ROUTER]
    assert _forwardings(listing) == set(cfg.forwardings)


def test_port_forwardings_need_an_up_router_with_an_ipv4_gateway() -> None:
    forwardings = (pf("a", "tcp", (8080, 8080), "192.0.2.11", (80, 80)),)
    down = desired_routers(state(router(admin_state_up=False, port_forwardings=forwardings)))
    assert down[ROUTER].forwardings == () and down[ROUTER].forwarded_ips == ()
    no_gw = desired_routers(state(router(gateway=None, port_forwardings=forwardings)))
    assert no_gw[ROUTER].forwardings == () and no_gw[ROUTER].nat is None


def test_digest_follows_content_and_snat_flag() -> None:
    plain = desired_routers(state(router()))[ROUTER]
    again = desired_routers(state(router()))[ROUTER]
    no_snat = desired_routers(state(router(enable_snat=False)))[ROUTER]
    assert plain == again and plain.nat_digest != no_snat.nat_digest
    assert no_snat.nat is not None and "snat to 203.0.113.10" not in no_snat.nat
    assert "elements" not in str(plain.nat)


def test_no_gateway_no_nat_no_default_route_and_skips() -> None:
    cfg = desired_routers(state(router(gateway=None)))[ROUTER]
    assert cfg.nat is None and cfg.routes == () and len(cfg.ports) == 1
    down = desired_routers(state(router(admin_state_up=False)))[ROUTER]
    assert not down.forwarding and down.nat is None and down.routes == ()
    assert len(down.ports) == len(desired_routers(state(router()))[ROUTER].ports)
    assert desired_routers(state(RouterState(id=ROUTER))) == {}


@dataclass
class Report:
    applied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, DataplaneError] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    new_taps: set[str] = field(default_factory=set)


class Retryable(DataplaneError):
    retryable = True


class FakeL3:
    """Makes the router ports' taps as L3Manager does; can be told to fail."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self.calls: list[dict[str, RouterConfig]] = []
        self.fail: list[DataplaneError] = []

    def apply(self, desired: Mapping[str, RouterConfig]) -> Report:
        self.calls.append(dict(desired))
        report = Report()
        for router_id, cfg in desired.items():
            if self.fail:
                report.failed[router_id] = self.fail.pop(0)
                continue
            for port in cfg.ports:
                if port.host_device not in self.kernel.links:
                    self.kernel.add_device(port.host_device, mtu=port.mtu)
                    report.new_taps.add(port.host_device)
            report.applied.append(router_id)
        return report

    def pin_router_macs(self, desired: Mapping[str, RouterConfig]) -> list[str]:
        return []


def make(current: HostState) -> tuple[FakeKernel, RecordingController, Watcher, AgentLoop, FakeL3]:
    kernel = FakeKernel()
    kernel.add_device("eth1")
    kernel.add_device(tap_name(P1))
    ctl = RecordingController(current)
    l3 = FakeL3(kernel)
    watcher = Watcher(ctl, "hv1", poll_timeout=0.01, backoff=Backoff(0.001, 0.01))
    loop = agent_loop(kernel, ctl, watcher, L3Role(l3, CONFIG, namespace_suffix="-hv1"))
    return kernel, ctl, watcher, loop, l3


def test_l3_agent_registers_after_l2_and_router_port_active_in_one_round() -> None:
    kernel, ctl, watcher, loop, l3 = make(state(router(gateway=None)))
    loop.heartbeat()
    assert ctl.types == [("L2 agent", True), (L3_AGENT, True)]
    watcher.poll_once()
    report = loop.apply_once()
    assert report is not None and tap_name(QR) in report.wired
    assert kernel.links[tap_name(QR)].master == f"brq{NET[:11]}"
    assert sorted(ctl.statuses) == sorted([(P1, "ACTIVE"), (QR, "ACTIVE")])
    assert l3.calls[0][ROUTER].namespace == f"qrouter-{ROUTER}-hv1"
    assert loop.roles[1].gauges() == {"routers": 1}
    assert isinstance(loop.roles[1], L3Role) and loop.roles[1].hosted == {ROUTER}
    writes = kernel.writes
    loop.apply_once()  # converged: the router's tap is not wired again
    assert kernel.writes == writes and len(ctl.statuses) == 2


def test_retryable_router_failure_is_retried() -> None:
    _kernel, ctl, watcher, loop, l3 = make(state(router(gateway=None)))
    l3.fail = [Retryable("EBUSY"), Retryable("EBUSY")]
    run_until(loop, watcher, lambda: (QR, "ACTIVE") in ctl.statuses)
    assert l3.fail == [] and len(l3.calls) >= 3


def test_state_round_trip_keeps_routers() -> None:
    s = state(
        router(
            floating_ips=(FloatingIpState("f", "203.0.113.20", "192.0.2.11", P1),),
            port_forwardings=(pf("a", "udp", (5000, 5001), "192.0.2.11", (53, 54)),),
        )
    )
    again = HostState.from_json(s.to_json())
    assert again == s and again.digest() == s.digest()
    assert replace(s, routers=()).digest() != s.digest()


class Reporter:
    def __init__(self, gone: frozenset[str] = frozenset()) -> None:
        self.reports: list[tuple[str, str]] = []
        self.gone = gone

    def report_floatingip_status(self, fip_id: str, status: str) -> dict[str, Any]:
        from neutrino.client import NotFound

        if fip_id in self.gone:
            raise NotFound(404, "FloatingIPNotFound", f"{fip_id} not found")
        self.reports.append((fip_id, status))
        return {"id": fip_id, "status": status}


def test_floating_ips_reported_active_once() -> None:
    kernel = FakeKernel()
    reporter = Reporter(gone=frozenset({"f-gone"}))
    role = L3Role(FakeL3(kernel), CONFIG, reporter=reporter)
    fips = (
        FloatingIpState("f1", "203.0.113.20", "192.0.2.11", P1),
        FloatingIpState("f-gone", "203.0.113.21", "192.0.2.12", P1),
    )
    role.apply(Round(state(router(floating_ips=fips))))
    role.apply(Round(state(router(floating_ips=fips))))
    assert reporter.reports == [("f1", "ACTIVE")] and role.fips_active == {"f1"}
    role.apply(Round(state(router())))  # disassociated: forgotten (the controller set DOWN)
    role.apply(Round(state(router(floating_ips=fips[:1]))))
    assert reporter.reports == [("f1", "ACTIVE"), ("f1", "ACTIVE")]
    # a floating IP holding port forwardings is configured too
    role.apply(
        Round(state(router(port_forwardings=(pf("p", "tcp", (1, 1), "192.0.2.11", (2, 2)),))))
    )
    assert reporter.reports[-1] == ("fip-p", "ACTIVE")


HA_PORT = RouterPortState(
    "77777777-aaaa-4aaa-8aaa-00000000000a",
    "88888888-aaaa-4aaa-8aaa-00000000000a",
    "fa:16:3e:00:03:0a",
    (RouterAddress("169.254.192.5", 18, "sh", "169.254.192.0/18", None),),
)


def test_ha_router_hands_its_addresses_and_routes_to_keepalived() -> None:
    fip = FloatingIpState("f", "203.0.113.20", "192.0.2.11", P1)
    ha = HaState(vr_id=7, port=HA_PORT, peers=("169.254.192.6",))
    cfg = desired_routers(state(router(ha=ha, floating_ips=(fip,))))[ROUTER]
    by_dev = {p.device: p for p in cfg.ports}
    assert set(by_dev) == {"ha-77777777-aa", "qg-66666666-ee", "qr-55555555-aa"}
    assert by_dev["ha-77777777-aa"].addresses == ("169.254.192.5/18",)
    assert not by_dev["ha-77777777-aa"].vip
    for dev in ("qg-66666666-ee", "qr-55555555-aa"):
        assert by_dev[dev].addresses == () and by_dev[dev].vip
    assert cfg.routes == ()  # keepalived's
    assert cfg.nat is not None and "203.0.113.20 : 192.0.2.11" in cfg.nat  # NAT as legacy
    assert cfg.ha is not None
    assert cfg.ha.vips == (
        ("192.0.2.1/24", "qr-55555555-aa"),
        ("2001:db8:a::1/64", "qr-55555555-aa"),
        ("203.0.113.10/24", "qg-66666666-ee"),
        ("203.0.113.20/32", "qg-66666666-ee"),
    )
    assert cfg.ha.ipv6 and cfg.ha.link_locals == (  # EUI-64 of each device's MAC
        ("fe80::f816:3eff:fe00:20e/64", "qg-66666666-ee"),
        ("fe80::f816:3eff:fe00:10a/64", "qr-55555555-aa"),
    )
    assert cfg.ha.routes == (("0.0.0.0/0", "203.0.113.1", "qg-66666666-ee"),)
    assert (cfg.ha.vr_id, cfg.ha.ha_address, cfg.ha.peers) == (7, "169.254.192.5", ha.peers)
    # the wire form carries it
    assert RouterState.from_dict(state(router(ha=ha)).to_dict()["routers"][0]).ha == ha


def test_ipv6_ha_router_gives_keepalived_its_v6_routes_and_a_v4_one_no_link_locals() -> None:
    ha = HaState(vr_id=7, port=HA_PORT, peers=("169.254.192.6",))
    gw = router().gateway
    assert gw is not None
    v6_gw = RouterAddress("2001:db8:e::10", 64, "se6", "2001:db8:e::/64", "2001:db8:e::1")
    dual = router(ha=ha, gateway=replace(gw, addresses=(*gw.addresses, v6_gw)))
    cfg = desired_routers(state(dual))[ROUTER]
    assert cfg.ha is not None and ("2001:db8:e::10/64", "qg-66666666-ee") in cfg.ha.vips
    assert cfg.ha.routes == (
        ("0.0.0.0/0", "203.0.113.1", "qg-66666666-ee"),
        ("::/0", "2001:db8:e::1", "qg-66666666-ee"),
    )
    qr = router().interfaces[0]
    v4_only = router(ha=ha, interfaces=(replace(qr, addresses=qr.addresses[:1]),))
    cfg = desired_routers(state(v4_only))[ROUTER]
    assert cfg.ha is not None and not cfg.ha.ipv6 and cfg.ha.link_locals == ()
    assert all(":" not in cidr for cidr, _ in cfg.ha.vips)


def test_ha_router_admin_down_has_no_routes_for_keepalived() -> None:
    ha = HaState(vr_id=1, port=HA_PORT, peers=())
    cfg = desired_routers(state(router(ha=ha, admin_state_up=False)))[ROUTER]
    assert cfg.ha is not None and cfg.ha.routes == () and not cfg.forwarding
