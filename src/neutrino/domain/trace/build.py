"""The trace's ``NetworkModel`` from Neutron wire dicts (as ``GET /v2.0/<collection>`` renders
them): what the services already show is what the trace reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from neutrino.domain.sgstate import AddressPair, RuleState
from neutrino.domain.trace.model import (
    BOUND,
    FloatingIp,
    Group,
    Network,
    NetworkModel,
    Port,
    PortForwarding,
    Router,
    Subnet,
)

__all__ = ["from_neutron"]


def _pairs(items: Iterable[Mapping[str, Any]], mac: str) -> tuple[AddressPair, ...]:
    return tuple(AddressPair(p["ip_address"], (p.get("mac_address") or mac).lower()) for p in items)


def _rule(r: Mapping[str, Any]) -> RuleState:
    return RuleState(
        id=r["id"],
        direction=r["direction"],
        ethertype=r["ethertype"],
        protocol=r.get("protocol"),
        port_range_min=r.get("port_range_min"),
        port_range_max=r.get("port_range_max"),
        remote_ip_prefix=r.get("remote_ip_prefix"),
        remote_group_id=r.get("remote_group_id"),
        remote_address_group_id=r.get("remote_address_group_id"),
    )


def from_neutron(
    networks: Iterable[Mapping[str, Any]],
    subnets: Iterable[Mapping[str, Any]],
    ports: Iterable[Mapping[str, Any]],
    groups: Iterable[Mapping[str, Any]] = (),
    routers: Iterable[Mapping[str, Any]] = (),
    floating_ips: Iterable[Mapping[str, Any]] = (),
    vteps: Mapping[str, str] | None = None,
    system_owned: Iterable[str] = (),
    forwardings: Iterable[PortForwarding] = (),
    address_groups: Iterable[Mapping[str, Any]] = (),
) -> NetworkModel:
    """The model from Neutron wire dicts (as ``GET /v2.0/<collection>`` renders them);
    ``system_owned`` names the ports the controller made itself (not in the wire form), and
    ``forwardings`` the floating IPs' port forwardings of a router (IPv4, tcp/udp)."""
    trusted = set(system_owned)
    nets = {
        n["id"]: Network(
            id=n["id"],
            name=n.get("name") or "",
            network_type=n.get("provider:network_type") or "vxlan",
            segmentation_id=n.get("provider:segmentation_id"),
            external=bool(n.get("router:external")),
            admin_state_up=n.get("admin_state_up", True),
            project_id=n.get("project_id") or "",
            shared=bool(n.get("shared")),
        )
        for n in networks
    }
    subs = {
        s["id"]: Subnet(
            id=s["id"],
            network_id=s["network_id"],
            cidr=s["cidr"],
            ip_version=s["ip_version"],
            gateway_ip=s.get("gateway_ip"),
            host_routes=tuple((r["destination"], r["nexthop"]) for r in s.get("host_routes") or ()),
            name=s.get("name") or "",
            owner=nets[s["network_id"]].owner if s["network_id"] in nets else "",
        )
        for s in subnets
    }
    port_map = {}
    for p in ports:
        mac = p["mac_address"].lower()
        bound = p.get("binding:vif_type") == BOUND and p.get("binding:host_id")
        port_map[p["id"]] = Port(
            id=p["id"],
            network_id=p["network_id"],
            mac_address=mac,
            fixed_ips=tuple((f["subnet_id"], f["ip_address"]) for f in p.get("fixed_ips", ())),
            name=p.get("name") or "",
            project_id=p.get("project_id") or "",
            admin_state_up=p.get("admin_state_up", True),
            status=p.get("status", "DOWN"),
            host=p["binding:host_id"] if bound else None,
            device_owner=p.get("device_owner") or "",
            device_id=p.get("device_id") or "",
            port_security_enabled=p.get("port_security_enabled", True),
            system_owned=p["id"] in trusted,
            security_groups=tuple(p.get("security_groups") or ()),
            allowed_address_pairs=_pairs(p.get("allowed_address_pairs") or (), mac),
        )
    group_map = {
        g["id"]: Group(
            id=g["id"],
            name=g.get("name") or "",
            stateful=g.get("stateful", True),
            project_id=g.get("project_id") or "",
            rules=tuple(_rule(r) for r in g.get("security_group_rules") or ()),
        )
        for g in groups
    }
    router_map = {}
    for r in routers:
        gw = r.get("external_gateway_info") or {}
        router_map[r["id"]] = Router(
            id=r["id"],
            name=r.get("name") or "",
            admin_state_up=r.get("admin_state_up", True),
            enable_snat=gw.get("enable_snat", True) if gw else False,
            project_id=r.get("project_id") or "",
            external_network_id=gw.get("network_id") if gw else None,
            routes=tuple((x["destination"], x["nexthop"]) for x in r.get("routes") or ()),
        )
    fips = tuple(
        FloatingIp(
            id=f["id"],
            floating_ip_address=f["floating_ip_address"],
            fixed_ip_address=f["fixed_ip_address"],
            port_id=f["port_id"],
            router_id=f["router_id"],
            project_id=f.get("project_id") or "",
        )
        for f in floating_ips
        if f.get("port_id") and f.get("router_id") and f.get("fixed_ip_address")
    )
    return NetworkModel(
        networks=nets,
        subnets=subs,
        ports=port_map,
        groups=group_map,
        routers=router_map,
        floating_ips=fips,
        forwardings=tuple(forwardings),
        vteps=dict(vteps or {}),
        address_groups={a["id"]: tuple(a.get("addresses") or ()) for a in address_groups},
    )
