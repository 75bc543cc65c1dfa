"""L3 data plane: per hosted router a ``qrouter-<id>`` namespace (DATAPLANE.md §4).

``L3Manager`` owns, for each router it is given (``RouterConfig`` from ``agent.l3_calc``):
the namespace (found again by its name: ``qrouter-<36-char id><suffix>``), the veth pairs
``tap<port[:11]>`` (host namespace; the L2 manager enslaves it to the bridge) <->
``qr-``/``qg-<port[:11]>`` (router namespace: MAC, MTU, addresses, up), IPv4/IPv6 forwarding,
the routes it installs (``proto static``: default route and extra routes) and the nft table
``ip neutrino-l3`` (NAT, floating IPs in maps: with unchanged rules a floating IP change is
element writes in one transaction, not a table replace). It never touches anything else in the host
namespace.

``apply(desired)`` converges: ``ensure_router`` for each desired router, ``teardown`` (delete
the namespace: its devices, veth peers, NAT table and conntrack go with it) for every owned
namespace no longer desired. Minimal diff: every object is read from the kernel and written
only when it differs, so a converged router (or an agent restart) writes nothing and no
established flow is disturbed. The NAT table carries a digest of its text as its comment;
it is replaced (one atomic nft transaction: established connections keep their NAT) only
when the digest differs. A floating IP that appears as a /32 on ``qg-`` gets a gratuitous
ARP (one raw frame, sent without waiting); one that disappears gets its conntrack entries
deleted (flows to it and from its fixed address), so it is dead at once; so do those of a
floating IP whose fixed address changed (read back from our own DNAT map). Port forwardings
live in the ``pf_tcp``/``pf_udp`` maps (one element per external port); a forwarding removed
or changed gets the conntrack entries of its (floating address, protocol, external port)
deleted, so an established connection through it is cut, not left running on the old
mapping.

Retries: none inside. Each router is applied independently; a failure is recorded in
``L3Report.failed`` (``retryable`` for ``Busy`` and a bridge the L2 manager has not made) and
the caller's loop retries with backoff; one bad router never blocks the others.
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyroute2 import IPRoute
from pyroute2 import netns as pr_netns

from neutrino.agent.dataplane import conntrack
from neutrino.agent.dataplane.base import DataplaneError, KeyedReport, error_from_errno
from neutrino.agent.dataplane.keepalived import KeepalivedManager
from neutrino.agent.dataplane.netns import (
    add_veth,
    call,
    ensure_sysctl,
    inside,
    route,
    sync_addresses,
)
from neutrino.agent.dataplane.nftables import Nft, NftError
from neutrino.agent.l3_calc import (
    NAT_TABLE,
    RouterConfig,
    RouterPortConfig,
    RouteSpec,
    forwarding_element,
    forwarding_map,
)
from neutrino.domain.port_forwarding import PROTOCOLS, Forwarding

__all__ = ["L3Manager", "L3Report"]

PREFIX = "qrouter-"
ROUTER_DEVICES = ("qr-", "qg-")
RTPROT_STATIC = 4
IFF_UP = 0x1
# accept_ra 0: with forwarding off (an admin-down router) the kernel would otherwise take
# upstream RAs (SLAAC addresses, default routes) into the router's namespace
SYSCTLS = {
    "net/ipv6/conf/all/accept_ra": "0",
    "net/ipv6/conf/default/accept_ra": "0",
    "net/ipv4/ip_forward": "1",
    "net/ipv6/conf/all/forwarding": "1",
}
# an HA router's namespace (l3_calc says why), set before its devices move in: IPv4 only,
# no IPv6 at all; routing IPv6, no automatic link-local address (addr_gen_mode 1, none:
# keepalived adds the master's) and forwarding left to keepalived's notify script
HA_SYSCTLS = {
    "net/ipv6/conf/default/disable_ipv6": "1",
    "net/ipv6/conf/all/disable_ipv6": "1",
}
HA6_SYSCTLS = {
    "net/ipv6/conf/default/addr_gen_mode": "1",
    "net/ipv6/conf/default/disable_ipv6": "0",
    "net/ipv6/conf/all/disable_ipv6": "0",
}
FORWARDING6 = "net/ipv6/conf/all/forwarding"
RTPROT_KEEPALIVED = 18
NTF_MASTER, NUD_NOARP = 0x04, 0x40  # a static bridge FDB entry
_COMMENT = re.compile(r'^\s*comment "([^"]*)"', re.MULTILINE)
_DNAT_ELEMENTS = re.compile(r"map fip_dnat \{[^}]*?elements = \{([^}]*)\}", re.DOTALL)
_PF_ELEMENTS = re.compile(r"map pf_(\w+) \{[^}]*?elements = \{([^}]*)\}", re.DOTALL)


@dataclass
class L3Report(KeyedReport):
    changes: list[str] = field(default_factory=list)
    new_taps: set[str] = field(default_factory=set)


class L3Manager:
    """Applies desired ``RouterConfig``s (see the module docstring)."""

    def __init__(
        self,
        netns: str | None = None,
        namespace_suffix: str = "",
        nft: str = "nft",
        keepalived: KeepalivedManager | None = None,
    ) -> None:
        self.netns = netns  # the host namespace holding the bridges (None = current)
        self.suffix = namespace_suffix
        self.nft = nft
        self.keepalived = keepalived  # None: HA routers cannot be built here
        self._host: IPRoute | None = None  # opened outside any router namespace

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    # --- the API the agent loop calls

    def apply(self, desired: Mapping[str, RouterConfig]) -> L3Report:
        report = L3Report()
        ensure = lambda r: self.ensure_router(desired[r], report)  # noqa: E731
        report.converge(desired, self.owned(), ensure, self.teardown)
        return report

    def owned(self) -> set[str]:
        """Routers whose namespace exists (``qrouter-<id><suffix>``)."""
        out = set()
        for name in pr_netns.listnetns():
            if not name.startswith(PREFIX) or not name.endswith(self.suffix):
                continue
            middle = name[len(PREFIX) : len(name) - len(self.suffix)]
            if len(middle) == 36:
                out.add(middle)
        return out

    def pin_router_macs(self, desired: Mapping[str, RouterConfig]) -> list[str]:
        """Pin each HA router port's MAC to its tap on the host's bridge (a static bridge
        entry; returns what it pinned). Every host of an HA router has a port with that MAC:
        a host's bridge must never learn it behind the tunnel (from the master's broadcasts)
        or, once this host is master, it would drop the frames coming for it. Taps not yet
        on a bridge are skipped (the next apply pins them)."""
        if self._host is None:
            self._host = route(self.netns)
        host = self._host
        pinned = []
        for cfg in desired.values():
            if cfg.ha is None:
                continue
            for port in cfg.ports:
                if not port.vip:
                    continue
                found = host.link_lookup(ifname=port.host_device)
                if not found:
                    continue
                link = call(host, "get tap", "link", "get", index=found[0])[0]
                if not link.get_attr("IFLA_MASTER"):
                    continue
                if _pinned(host, found[0], port.mac_address):
                    continue
                call(
                    host,
                    f"pin {port.mac_address} to {port.host_device}",
                    "fdb",
                    "replace",
                    ifindex=found[0],
                    lladdr=port.mac_address,
                    master=link.get_attr("IFLA_MASTER"),
                    flags=NTF_MASTER,
                    state=NUD_NOARP,
                )
                pinned.append(f"{cfg.router_id}: pin {port.mac_address} to {port.host_device}")
        return pinned

    def ha_state(self, router_id: str) -> str | None:
        return None if self.keepalived is None else self.keepalived.state(router_id)

    def ha_running(self, router_id: str) -> bool:
        return self.keepalived is not None and self.keepalived.running_pid(router_id) is not None

    def namespace(self, router_id: str) -> str:
        return f"{PREFIX}{router_id}{self.suffix}"

    # --- one router

    def ensure_router(self, cfg: RouterConfig, report: L3Report | None = None) -> None:
        """Build or repair everything for ``cfg``; idempotent."""
        report = report if report is not None else L3Report()
        if self._host is None:  # before entering the router namespace
            self._host = route(self.netns)
        ns = cfg.namespace
        if ns not in pr_netns.listnetns():
            pr_netns.create(ns)
            report.changes.append(f"netns {ns}")
        if cfg.ha is not None and self.keepalived is None:
            raise DataplaneError(f"{cfg.router_id} is an HA router: this agent has no keepalived")
        with inside(ns), Nft(ns, self.nft) as nft:
            if cfg.ha is not None and cfg.ha.ipv6:
                # devices already here (an IPv4-only router that gained IPv6) first: they
                # would make their link-local addresses the moment IPv6 is turned on
                devices = {f"net/ipv6/conf/{p.device}/addr_gen_mode": "1" for p in cfg.ports}
                _ensure_sysctls(report, True, {**devices, **HA6_SYSCTLS})
                own = {k: v for k, v in SYSCTLS.items() if k != FORWARDING6}
                _ensure_sysctls(report, cfg.forwarding, own)  # the notify script's
            else:
                _ensure_sysctls(report, cfg.forwarding)
            if cfg.ha is not None and not cfg.ha.ipv6:
                _ensure_sysctls(report, True, HA_SYSCTLS)
            with IPRoute() as ipr:
                lo = call(ipr, "get lo", "link", "get", ifname="lo")[0]
                if not lo["flags"] & IFF_UP:
                    call(ipr, "lo up", "link", "set", index=lo["index"], state="up")
                self._ensure_ports(ipr, cfg, report)
                added, removed = _ensure_addresses(ipr, cfg, report)
                stale, unforwarded = _ensure_nat(nft, cfg, report)
                removed |= stale
                if removed:
                    conntrack.flush_addresses(removed)
                    report.changes.append(f"conntrack flushed for {sorted(removed)}")
                if unforwarded:
                    conntrack.flush_forwardings(unforwarded)
                    report.changes.append(f"conntrack flushed for {len(unforwarded)} forwardings")
                gw = next((p for p in cfg.ports if p.gateway), None)
                for fip in sorted(added):
                    if gw is not None:
                        _send_garp(gw.device, gw.mac_address, fip)
                _ensure_routes(ipr, cfg, report)  # last: a bad route never blocks NAT
                if cfg.ha is not None:
                    assert self.keepalived is not None
                    if self.keepalived.running_pid(cfg.router_id) is None:
                        # a keepalived that died (SIGKILL) left its addresses and routes:
                        # without it this host must not hold them (two masters)
                        _drop_vips(ipr, cfg, report)
        if cfg.ha is not None:
            assert self.keepalived is not None
            if self.keepalived.ensure(ns, cfg.ha):
                report.changes.append(f"{cfg.router_id}: keepalived VR {cfg.ha.vr_id}")
        elif self.keepalived is not None and self.keepalived.running_pid(cfg.router_id):
            self.keepalived.stop(cfg.router_id)  # no longer HA
            report.changes.append(f"{cfg.router_id}: keepalived stopped")

    def teardown(self, router_id: str) -> None:
        """Delete the router's devices (their host-side taps go with them at once) and its
        namespace (everything else in it; the kernel frees a namespace asynchronously)."""
        ns = self.namespace(router_id)
        if self.keepalived is not None:
            self.keepalived.stop(router_id)  # first: it removes its addresses as it leaves
        if ns in pr_netns.listnetns():
            try:
                with inside(ns), IPRoute() as ipr:
                    for msg in call(ipr, "list links", "link", "dump"):
                        if str(msg.get_attr("IFLA_IFNAME")).startswith(ROUTER_DEVICES):
                            call(ipr, "delete router device", "link", "del", index=msg["index"])
            except DataplaneError as exc:
                # EINVAL: the name is a file whose namespace is gone (made from another mount
                # namespace, e.g. under `ip netns exec`, by a process that has exited):
                # nothing left inside, only the name to remove
                if exc.code != errno.EINVAL:
                    raise
            try:
                pr_netns.remove(ns)
            except OSError as exc:
                raise error_from_errno(exc.errno or errno.EIO, f"remove {ns}") from exc

    # --- devices

    def _ensure_ports(self, ipr: IPRoute, cfg: RouterConfig, report: L3Report) -> None:
        links = {m.get_attr("IFLA_IFNAME"): m for m in call(ipr, "list links", "link", "dump")}
        wanted = {p.device: p for p in cfg.ports}
        for name in sorted(links):
            if name.startswith(ROUTER_DEVICES) and name not in wanted:
                call(ipr, f"delete {name}", "link", "del", index=links[name]["index"])
                report.changes.append(f"{cfg.router_id}: delete {name}")
        missing = [p for p in cfg.ports if p.device not in links]
        if missing:
            assert self._host is not None  # opened by ``ensure_router``
            for port in missing:
                self._create_veth(self._host, cfg.namespace, port)
                report.changes.append(f"{cfg.router_id}: veth {port.host_device}<->{port.device}")
                report.new_taps.add(port.host_device)
            links = {m.get_attr("IFLA_IFNAME"): m for m in call(ipr, "list links", "link", "dump")}
        for port in cfg.ports:
            link = links.get(port.device)
            if link is None:
                raise DataplaneError(f"{port.device} missing in {cfg.namespace}")
            mac = (link.get_attr("IFLA_ADDRESS") or "").lower()
            if (
                mac != port.mac_address
                or link.get_attr("IFLA_MTU") != port.mtu
                or not link["flags"] & IFF_UP
            ):
                call(
                    ipr,
                    f"set {port.device}",
                    "link",
                    "set",
                    index=link["index"],
                    address=port.mac_address,
                    mtu=port.mtu,
                    state="up",
                )
                report.changes.append(f"{cfg.router_id}: set {port.device}")

    @staticmethod
    def _create_veth(host: IPRoute, namespace: str, port: RouterPortConfig) -> None:
        stale = host.link_lookup(ifname=port.host_device)
        if stale:  # a tap whose router end vanished: start over
            call(host, f"delete {port.host_device}", "link", "del", index=stale[0])
        idx = add_veth(host, port.host_device, port.device, namespace, port.mac_address, port.mtu)
        call(host, f"up {port.host_device}", "link", "set", index=idx, state="up")


# --- helpers (all run inside the router namespace) ---------------------------------------


def _ensure_nat(nft: Nft, cfg: RouterConfig, report: L3Report) -> tuple[set[str], set[Forwarding]]:
    """Make the NAT table match; returns the floating IPs whose mapping went away or
    changed and the forwardings (one external port each) that went away or changed: their
    connections must be flushed."""
    current, mapped, forwarded = nat_current(nft)
    wanted = dict(cfg.floating_ips)
    stale = {fip for fip, fixed in mapped.items() if wanted.get(fip) != fixed}
    wanted_pf = set(cfg.forwardings)
    gone = forwarded - wanted_pf
    if cfg.nat is None:
        if current is not None:
            nft.run(f"delete table ip {NAT_TABLE}\n")
            report.changes.append(f"{cfg.router_id}: delete nat")
        return stale, forwarded
    if current == cfg.nat_digest:  # same rules: only the map elements may differ
        new = {fip: fixed for fip, fixed in wanted.items() if mapped.get(fip) != fixed}
        added = wanted_pf - forwarded
        if stale or new or gone or added:
            nft.run(
                "".join(
                    [
                        f"delete element ip {NAT_TABLE} fip_dnat {{ {fip} }}\n"
                        f"delete element ip {NAT_TABLE} fip_snat {{ {mapped[fip]} }}\n"
                        for fip in sorted(stale)
                    ]
                    + [
                        f"delete element ip {NAT_TABLE} {forwarding_map(f.protocol)} "
                        f"{{ {f.floating_ip_address} . {f.external_port} }}\n"
                        for f in sorted(gone)
                    ]
                    + [
                        f"add element ip {NAT_TABLE} fip_dnat {{ {fip} : {fixed} }}\n"
                        f"add element ip {NAT_TABLE} fip_snat {{ {fixed} : {fip} }}\n"
                        for fip, fixed in sorted(new.items())
                    ]
                    + [
                        f"add element ip {NAT_TABLE} {forwarding_map(f.protocol)} "
                        f"{{ {forwarding_element(f)} }}\n"
                        for f in sorted(added)
                    ]
                )
            )
            report.changes.append(
                f"{cfg.router_id}: floating IPs -{sorted(stale)} +{sorted(new)}, "
                f"forwarded ports -{len(gone)} +{len(added)}"
            )
        return stale, gone
    # one transaction: make sure the table exists, drop it, load the new one
    nft.run(f"table ip {NAT_TABLE}\ndelete table ip {NAT_TABLE}\n{cfg.nat}")
    report.changes.append(f"{cfg.router_id}: nat {cfg.nat_digest}")
    return stale, gone


def nat_current(nft: Nft) -> tuple[str | None, dict[str, str], set[Forwarding]]:
    """The digest comment of our NAT table (None if absent), its floating IP DNAT map
    (floating -> fixed) and its forwardings."""
    try:
        listing = nft.run(f"list table ip {NAT_TABLE}")
    except NftError:
        return None, {}, set()
    found = _COMMENT.search(listing)
    elements = _DNAT_ELEMENTS.search(listing)
    mapped = {}
    for item in elements.group(1).split(",") if elements else ():
        fip, _, fixed = item.partition(":")
        if fixed.strip():
            mapped[fip.strip()] = fixed.strip()
    return (found.group(1) if found else ""), mapped, _forwardings(listing)


def _forwardings(listing: str) -> set[Forwarding]:
    """The elements of the ``pf_<protocol>`` maps: ``fip . port : internal . port``."""
    out = set()
    for match in _PF_ELEMENTS.finditer(listing):
        proto = match.group(1)
        if proto not in PROTOCOLS:
            continue
        for item in match.group(2).split(","):
            outside, _, inside = item.partition(":")
            fip, _, ext = outside.partition(" . ")
            internal, _, port = inside.partition(" . ")
            if port.strip():
                out.add(Forwarding(fip.strip(), proto, int(ext), internal.strip(), int(port)))
    return out


def _ensure_sysctls(
    report: L3Report, forwarding: bool = True, sysctls: Mapping[str, str] = SYSCTLS
) -> None:
    for key, on in sysctls.items():
        value = on if forwarding else "0"
        if ensure_sysctl(key, value, optional=key.startswith("net/ipv6")):  # IPv6 may be off
            report.changes.append(f"sysctl {key}={value}")


def _ensure_addresses(
    ipr: IPRoute, cfg: RouterConfig, report: L3Report
) -> tuple[set[str], set[str]]:
    """Make each device's global addresses match; returns (added, removed) floating IPs
    (the /32s on the gateway device)."""
    added: set[str] = set()
    removed: set[str] = set()
    fips = {f for f, _ in cfg.floating_ips} | set(cfg.forwarded_ips)
    for port in cfg.ports:
        if port.vip:  # keepalived's (an HA router)
            continue
        idx = ipr.link_lookup(ifname=port.device)[0]
        new, gone = sync_addresses(ipr, idx, port.addresses)
        report.changes += [f"{cfg.router_id}: del {c} {port.device}" for c in sorted(gone)]
        report.changes += [f"{cfg.router_id}: add {c} {port.device}" for c in sorted(new)]
        if port.gateway:
            removed |= {c.split("/")[0] for c in gone if c.endswith("/32")}
            added |= {c.split("/")[0] for c in new} & fips
    return added, removed - fips


def static_routes(ipr: IPRoute) -> dict[RouteSpec, int]:
    """The routes the manager installs (``proto static`` via a gateway, main table), with
    their address family."""
    have = {}
    for family in (int(socket.AF_INET), int(socket.AF_INET6)):
        for msg in call(ipr, "list routes", "route", "dump", family=family):
            if msg["proto"] != RTPROT_STATIC or msg.get_attr("RTA_TABLE") != 254:
                continue
            gateway = msg.get_attr("RTA_GATEWAY")
            dst = msg.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            if gateway is not None:
                have[RouteSpec(f"{dst}/{msg['dst_len']}", gateway)] = family
    return have


def _ensure_routes(ipr: IPRoute, cfg: RouterConfig, report: L3Report) -> None:
    have = static_routes(ipr)
    want = set(cfg.routes)
    for spec in sorted(set(have) - want):
        kw = {"dst": spec.destination, "gateway": spec.nexthop, "proto": RTPROT_STATIC}
        call(ipr, f"del route {spec}", "route", "del", family=have[spec], **kw)
        report.changes.append(f"{cfg.router_id}: del route {spec.destination}")
    for spec in sorted(want - set(have)):
        family = socket.AF_INET6 if ":" in spec.destination else socket.AF_INET
        call(
            ipr,
            f"add route {spec}",
            "route",
            "replace",
            family=family,
            dst=spec.destination,
            gateway=spec.nexthop,
            proto=RTPROT_STATIC,
        )
        report.changes.append(f"{cfg.router_id}: route {spec.destination} via {spec.nexthop}")


def _pinned(ipr: IPRoute, index: int, mac: str) -> bool:
    for msg in call(ipr, "list fdb", "fdb", "dump", ifindex=index):
        if (msg.get_attr("NDA_LLADDR") or "").lower() == mac and msg["state"] & NUD_NOARP:
            return True
    return False


def _drop_vips(ipr: IPRoute, cfg: RouterConfig, report: L3Report) -> None:
    """Remove keepalived's addresses (the global ones on the VIP devices) and routes."""
    for port in cfg.ports:
        if port.vip:
            idx = ipr.link_lookup(ifname=port.device)[0]
            _, gone = sync_addresses(ipr, idx, ())
            report.changes += [f"{cfg.router_id}: drop VIP {c}" for c in sorted(gone)]
    for msg in call(ipr, "list routes", "route", "dump", family=socket.AF_INET):
        if msg["proto"] == RTPROT_KEEPALIVED and msg.get_attr("RTA_TABLE") == 254:
            with contextlib.suppress(DataplaneError):
                call(
                    ipr,
                    "del keepalived route",
                    "route",
                    "del",
                    family=socket.AF_INET,
                    dst=msg.get_attr("RTA_DST") or "0.0.0.0",
                    dst_len=msg["dst_len"],
                    proto=RTPROT_KEEPALIVED,
                )


def _send_garp(device: str, mac: str, address: str) -> None:
    """One gratuitous ARP request (sender = target = ``address``) out of ``device``."""
    hw = bytes.fromhex(mac.replace(":", ""))
    ip = socket.inet_aton(address)
    frame = (
        b"\xff" * 6
        + hw
        + b"\x08\x06"  # Ethernet: broadcast, ARP
        + b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet/IPv4, request
        + hw
        + ip
        + b"\x00" * 6
        + ip
    )
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((device, 0))
            sock.send(frame)
    except OSError:  # a lost GARP only delays the upstream's ARP cache update
        return
