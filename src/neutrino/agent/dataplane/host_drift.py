"""Drift check, DHCP and router part: ``qdhcp-``/``qrouter-`` namespaces against calc.

``dhcp_drift(manager, desired)`` compares each served network (``DhcpConfig``) with what the
DHCP manager built: the namespace, the ``ns-…`` interface (MAC, MTU, up, addresses), the
``hosts``/``addn_hosts``/``opts`` files line by line (``dhcp <net> hosts <line>`` missing or
extra: a host line deleted by hand is one line here), and a running dnsmasq started with the
command line the manager would use. A network with a state directory that is not desired is
``extra``.

``l3_drift(manager, desired)`` compares each hosted router (``RouterConfig``): the namespace,
each ``qr-``/``qg-`` device (MAC, MTU, up) and its global addresses, the forwarding sysctl,
the routes the manager installs (``proto static`` via a gateway: the default and extra
routes), and the NAT table (its digest comment, and each floating IP's DNAT/SNAT mapping).
Objects are named ``router <id> <what>`` so a trace hop can find its router's differences.
A ``qrouter-`` namespace of a router not desired is ``extra``.

Both only read (netlink dumps, ``nft list``, files, ``/proc``); they use the managers' own
naming helpers, so they look where the managers build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as pr_netns

from neutrino.agent.dataplane.daemon import read
from neutrino.agent.dataplane.dhcp import DhcpManager
from neutrino.agent.dataplane.drift import Drift
from neutrino.agent.dataplane.l3 import (
    IFF_UP,
    ROUTER_DEVICES,
    L3Manager,
    nat_current,
    static_routes,
)
from neutrino.agent.dataplane.netns import call, inside, route
from neutrino.agent.dataplane.nftables import Nft
from neutrino.agent.dhcp_calc import DhcpConfig
from neutrino.agent.l3_calc import RouterConfig

__all__ = ["dhcp_drift", "l3_drift"]


def _lines(obj: str, want: Iterable[str], have: Iterable[str]) -> list[Drift]:
    w, h = set(want), set(have)
    return [Drift(f"{obj} {x}", "missing") for x in w - h] + [
        Drift(f"{obj} {x}", "extra") for x in h - w
    ]


def _device(obj: str, link: Any, mac: str, mtu: int) -> list[Drift]:
    out = []
    have_mac = (link.get_attr("IFLA_ADDRESS") or "").lower()
    if have_mac != mac.lower():
        out.append(Drift(obj, "mac", mac.lower(), have_mac))
    have_mtu = link.get_attr("IFLA_MTU")
    if have_mtu != mtu:
        out.append(Drift(obj, "mtu", str(mtu), str(have_mtu)))
    if not link["flags"] & IFF_UP:
        out.append(Drift(obj, "down", "up", "down"))
    return out


def _addresses(ipr: IPRoute, index: int) -> set[str]:
    dump = call(ipr, "list addresses", "addr", "dump", index=index)
    return {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in dump if a["scope"] == 0}


# --- DHCP -----------------------------------------------------------------------------------


def dhcp_drift(manager: DhcpManager, desired: Mapping[str, DhcpConfig]) -> list[Drift]:
    out: list[Drift] = []
    namespaces = set(pr_netns.listnetns())
    for net_id, cfg in sorted(desired.items()):
        obj = f"dhcp {net_id}"
        if cfg.namespace not in namespaces:
            out.append(Drift(f"{obj} netns {cfg.namespace}", "missing"))
            continue
        with route(cfg.namespace) as ipr:
            found = ipr.link_lookup(ifname=cfg.interface)
            if not found:
                out.append(Drift(f"{obj} device {cfg.interface}", "missing"))
            else:
                link = call(ipr, "get link", "link", "get", index=found[0])[0]
                out += _device(f"{obj} device {cfg.interface}", link, cfg.mac_address, cfg.mtu)
                have = _addresses(ipr, found[0])
                out += _lines(f"{obj} address", cfg.addresses, have)
        directory = manager.state_dir / net_id
        for name, lines in (
            ("hosts", cfg.hosts),
            ("addn_hosts", cfg.addn_hosts),
            ("opts", cfg.opts),
        ):
            out += _lines(f"{obj} {name}", lines, read(directory / name).splitlines())
        pid = manager.running_pid(net_id)
        if pid is None:
            out.append(Drift(f"{obj} dnsmasq", "missing", "running", "not running"))
        elif read(directory / "args") != "\n".join(manager.command(cfg)):
            out.append(Drift(f"{obj} dnsmasq", "args", "the rendered command line", "another"))
    out += [Drift(f"dhcp {n}", "extra") for n in sorted(manager.owned() - set(desired))]
    return sorted(out)


# --- routers --------------------------------------------------------------------------------


def _forwarding() -> str:
    try:
        return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    except OSError:
        return "?"


def _router(cfg: RouterConfig) -> list[Drift]:
    obj = f"router {cfg.router_id}"
    out: list[Drift] = []
    with inside(cfg.namespace), Nft(cfg.namespace) as nft:
        forwarding = _forwarding()
        want_fwd = "1" if cfg.forwarding else "0"
        if forwarding != want_fwd:
            out.append(Drift(f"{obj} forwarding", "sysctl", want_fwd, forwarding))
        digest, mapped, _forwarded = nat_current(nft)
        with IPRoute() as ipr:
            links = {m.get_attr("IFLA_IFNAME"): m for m in call(ipr, "links", "link", "dump")}
            wanted = {p.device for p in cfg.ports}
            for port in cfg.ports:
                link = links.get(port.device)
                if link is None:
                    out.append(Drift(f"{obj} device {port.device}", "missing"))
                    continue
                out += _device(f"{obj} device {port.device}", link, port.mac_address, port.mtu)
                have = _addresses(ipr, link["index"])
                out += _lines(f"{obj} address {port.device}", port.addresses, have)
            out += [
                Drift(f"{obj} device {name}", "extra")
                for name in links
                if str(name).startswith(ROUTER_DEVICES) and name not in wanted
            ]
            want_routes = {f"{r.destination} via {r.nexthop}" for r in cfg.routes}
            have_routes = {f"{r.destination} via {r.nexthop}" for r in static_routes(ipr)}
            out += _lines(f"{obj} route", want_routes, have_routes)
    if cfg.nat is None:
        if digest is not None:
            out.append(Drift(f"{obj} nat table", "extra"))
    elif digest is None:
        out.append(Drift(f"{obj} nat table", "missing"))
    else:
        if digest != cfg.nat_digest:
            out.append(Drift(f"{obj} nat rules", "digest", str(cfg.nat_digest), digest))
        want_fips = {f"{fip} -> {fixed}" for fip, fixed in cfg.floating_ips}
        have_fips = {f"{fip} -> {fixed}" for fip, fixed in mapped.items()}
        out += _lines(f"{obj} nat floating ip", want_fips, have_fips)
    return out


def l3_drift(manager: L3Manager, desired: Mapping[str, RouterConfig]) -> list[Drift]:
    out: list[Drift] = []
    namespaces = set(pr_netns.listnetns())
    for router_id, cfg in sorted(desired.items()):
        if cfg.namespace not in namespaces:
            out.append(Drift(f"router {router_id} netns {cfg.namespace}", "missing"))
            continue
        out += _router(cfg)
    out += [Drift(f"router {r}", "extra") for r in sorted(manager.owned() - set(desired))]
    return sorted(out)
