"""dhcp_calc: HostState -> dnsmasq inputs per served network (pure, no root)."""

from __future__ import annotations

from dataclasses import replace

from neutrino.agent.dhcp_calc import desired_dhcp
from neutrino.domain.hoststate import (
    DhcpEntry,
    DhcpNetwork,
    DhcpOpt,
    FixedIp,
    HostRoute,
    HostState,
    NetworkState,
    PortState,
    SubnetState,
)

NET = "3f1c2d9e-aaaa-4bbb-8ccc-000000000001"
DHCP_PORT = "d1d2d3d4-dddd-4ddd-8ddd-0000000000d0"
VM = "5a0c3e7f-1111-4a1a-9b1b-00000000000a"
V4 = SubnetState(
    id="s4", cidr="192.0.2.0/24", ip_version=4, gateway_ip="192.0.2.1", enable_dhcp=True
)
SLAAC = SubnetState(
    id="s6a",
    cidr="2001:db8:a::/64",
    ip_version=6,
    gateway_ip="2001:db8:a::1",
    enable_dhcp=True,
    ipv6_ra_mode="slaac",
    ipv6_address_mode="slaac",
)
STATEFUL = SubnetState(
    id="s6b",
    cidr="2001:db8:b::/64",
    ip_version=6,
    gateway_ip="2001:db8:b::1",
    enable_dhcp=True,
    ipv6_ra_mode="dhcpv6-stateful",
    ipv6_address_mode="dhcpv6-stateful",
)
STATELESS = SubnetState(
    id="s6c",
    cidr="2001:db8:c::/64",
    ip_version=6,
    gateway_ip="2001:db8:c::1",
    enable_dhcp=True,
    ipv6_ra_mode="dhcpv6-stateless",
    ipv6_address_mode="dhcpv6-stateless",
    dns_nameservers=("2001:db8:c::53",),
)
OFF = SubnetState(
    id="s4off", cidr="198.51.100.0/24", ip_version=4, gateway_ip="198.51.100.1", enable_dhcp=False
)


def state(
    subnets: tuple[SubnetState, ...],
    dhcp_ips: tuple[FixedIp, ...],
    entries: tuple[DhcpEntry, ...],
    serve: bool = True,
) -> HostState:
    port = PortState(
        id=DHCP_PORT,
        network_id=NET,
        mac_address="fa:16:3e:00:00:02",
        fixed_ips=dhcp_ips,
        admin_state_up=True,
        device_owner="network:dhcp",
    )
    net = NetworkState(
        id=NET,
        network_type="vxlan",
        segmentation_id=1001,
        physical_network=None,
        mtu=1450,
        subnets=subnets,
    )
    return HostState(
        host="net1",
        revision=3,
        networks=(net,),
        ports=(port,),
        dhcp=(DhcpNetwork(NET, port, entries),) if serve else (),
    )


def test_ipv4_network_with_routes_dns_and_static_hosts() -> None:
    v4 = SubnetState(
        id="s4",
        cidr="192.0.2.0/24",
        ip_version=4,
        gateway_ip="192.0.2.1",
        enable_dhcp=True,
        dns_nameservers=("192.0.2.53", "203.0.113.53"),
        host_routes=(HostRoute("198.51.100.0/24", "192.0.2.254"),),
    )
    entry = DhcpEntry(
        VM, "fa:16:3e:00:00:11", (FixedIp("s4", "192.0.2.11"), FixedIp("s4off", "198.51.100.11"))
    )
    cfg = desired_dhcp(state((v4, OFF), (FixedIp("s4", "192.0.2.2"),), (entry,)))[NET]
    assert cfg.namespace == f"qdhcp-{NET}"
    assert cfg.interface == "ns-d1d2d3d4-dd" and cfg.host_device == "tapd1d2d3d4-dd"
    assert cfg.bridge == "brq3f1c2d9e-aa" and cfg.mac_address == "fa:16:3e:00:00:02"
    assert cfg.addresses == ("192.0.2.2/24",) and cfg.mtu == 1450
    assert cfg.args == (
        "--dhcp-range=set:subnet-s4,192.0.2.0,static,255.255.255.0,86400s",
        "--dhcp-option-force=option:mtu,1450",
    )
    assert cfg.hosts == ("fa:16:3e:00:00:11,host-192-0-2-11.openstacklocal,192.0.2.11",)
    assert all("set:" not in h for h in cfg.hosts)  # the dnsmasq 2.90 SIGHUP bug
    assert cfg.addn_hosts == ("192.0.2.11 host-192-0-2-11.openstacklocal host-192-0-2-11",)
    assert cfg.opts == (
        "tag:subnet-s4,option:router,192.0.2.1",
        "tag:subnet-s4,option:dns-server,192.0.2.53,203.0.113.53",
        "tag:subnet-s4,option:classless-static-route,198.51.100.0/24,192.0.2.254,"
        "0.0.0.0/0,192.0.2.1",
    )


def test_dns_defaults_to_the_dhcp_port_and_no_gateway_means_no_router() -> None:
    v4 = SubnetState(id="s4", cidr="192.0.2.0/24", ip_version=4, gateway_ip=None, enable_dhcp=True)
    cfg = desired_dhcp(state((v4,), (FixedIp("s4", "192.0.2.2"),), ()))[NET]
    assert cfg.opts == ("tag:subnet-s4,option:dns-server,192.0.2.2",)
    assert cfg.hosts == ()


def test_ipv6_modes() -> None:
    mac = "fa:16:3e:00:00:11"
    entry = DhcpEntry(
        VM,
        mac,
        (
            FixedIp("s6a", "2001:db8:a::f816:3eff:fe00:11"),
            FixedIp("s6b", "2001:db8:b::11"),
            FixedIp("s6c", "2001:db8:c::f816:3eff:fe00:11"),
        ),
    )
    cfg = desired_dhcp(
        state((SLAAC, STATEFUL, STATELESS), (FixedIp("s6b", "2001:db8:b::2"),), (entry,))
    )[NET]
    assert cfg.args == (
        "--enable-ra",
        "--dhcp-range=set:subnet-s6a,2001:db8:a::,ra-only,64,86400s",
        "--dhcp-range=set:subnet-s6b,2001:db8:b::,static,64,86400s",
        "--dhcp-range=set:subnet-s6c,2001:db8:c::,ra-stateless,64,86400s",
    )
    assert cfg.hosts == (f"{mac},host-2001-db8-b--11.openstacklocal,[2001:db8:b::11]",)
    assert cfg.addresses == ("2001:db8:b::2/64",)
    assert cfg.opts == (
        "tag:subnet-s6b,option6:dns-server,[2001:db8:b::2]",
        "tag:subnet-s6c,option6:dns-server,[2001:db8:c::53]",
    )
    assert len(cfg.addn_hosts) == 3


def test_extra_dhcp_opts_use_mac_tags_not_hostsfile_tags() -> None:
    entry = DhcpEntry(
        VM,
        "fa:16:3e:00:00:11",
        (FixedIp("s4", "192.0.2.11"),),
        (
            DhcpOpt("tftp-server", "192.0.2.9"),
            DhcpOpt("66", "boot.example"),
            DhcpOpt("dns-server", "[2001:db8::53]", 6),
        ),
    )
    cfg = desired_dhcp(state((V4,), (FixedIp("s4", "192.0.2.2"),), (entry,)))[NET]
    assert f"--dhcp-mac=set:port-{VM},fa:16:3e:00:00:11" in cfg.args
    assert cfg.opts[-3:] == (
        f"tag:port-{VM},option:tftp-server,192.0.2.9",
        f"tag:port-{VM},66,boot.example",
        f"tag:port-{VM},option6:dns-server,[2001:db8::53]",
    )
    assert all("set:" not in h for h in cfg.hosts)


def test_nothing_to_serve() -> None:
    assert desired_dhcp(state((V4,), (), (), serve=False)) == {}
    assert desired_dhcp(state((OFF,), (), ())) == {}
    no_network = HostState(host="h", revision=1, dhcp=state((V4,), (), ()).dhcp)
    assert desired_dhcp(no_network) == {}


def test_hoststate_json_round_trip_keeps_dhcp() -> None:
    entry = DhcpEntry(
        VM,
        "fa:16:3e:00:00:11",
        (FixedIp("s4", "192.0.2.11"),),
        (DhcpOpt("tftp-server", "192.0.2.9"),),
    )
    original = state((V4,), (FixedIp("s4", "192.0.2.2"),), (entry,))
    again = HostState.from_json(original.to_json())
    assert again == original and again.digest() == original.digest()
    legacy = original.to_dict()
    del legacy["dhcp"]
    assert HostState.from_dict(legacy).dhcp == ()


def test_namespace_suffix_for_several_simulated_hosts() -> None:
    cfg = desired_dhcp(state((V4,), (FixedIp("s4", "192.0.2.2"),), ()), namespace_suffix="-hv1")[
        NET
    ]
    assert cfg.namespace == f"qdhcp-{NET}-hv1"


def test_port_names_and_the_domain_follow_the_host_state() -> None:
    """A named port is served under its name, an FQDN name as given (no trailing dot in
    dnsmasq's files), an unnamed one as ``host-<ip>``; ``--domain`` is the controller's domain
    without its dot, and no domain at all when the controller has none."""
    v4 = SubnetState(id="s4", cidr="192.0.2.0/24", ip_version=4, gateway_ip=None, enable_dhcp=True)
    entries = (
        DhcpEntry(VM, "fa:16:3e:00:00:11", (FixedIp("s4", "192.0.2.11"),), dns_name="web-1"),
        DhcpEntry("p2", "fa:16:3e:00:00:12", (FixedIp("s4", "192.0.2.12"),), dns_name="db.x.org."),
        DhcpEntry("p3", "fa:16:3e:00:00:13", (FixedIp("s4", "192.0.2.13"),)),
    )
    base = state((v4,), (FixedIp("s4", "192.0.2.2"),), entries)
    named = replace(base, dhcp=(replace(base.dhcp[0], dns_domain="x.org."),))
    cfg = desired_dhcp(named)[NET]
    assert cfg.domain == "x.org"
    assert cfg.hosts == (
        "fa:16:3e:00:00:11,web-1.x.org,192.0.2.11",
        "fa:16:3e:00:00:12,db.x.org,192.0.2.12",
        "fa:16:3e:00:00:13,host-192-0-2-13.x.org,192.0.2.13",
    )
    assert cfg.addn_hosts == (
        "192.0.2.11 web-1.x.org web-1",
        "192.0.2.12 db.x.org db.x.org",
        "192.0.2.13 host-192-0-2-13.x.org host-192-0-2-13",
    )
    bare = desired_dhcp(replace(base, dhcp=(replace(base.dhcp[0], dns_domain=""),)))[NET]
    assert bare.domain == ""
    assert bare.hosts[2] == "fa:16:3e:00:00:13,host-192-0-2-13,192.0.2.13"
    default = desired_dhcp(base)[NET]  # an older controller's state: Neutron's default domain
    assert default.domain == "openstacklocal"
