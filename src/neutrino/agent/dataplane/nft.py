"""The security-group manager: put calc's ``SgRuleset`` into one namespace's kernel.

``NftManager.apply(ruleset)`` does, in this order:

1. br_netfilter per tenant bridge only: the namespace's ``net.bridge.bridge-nf-call-*``
   sysctls are set to 0 (they default to 1 in every new namespace and would make every
   bridge, the underlay's included, run netfilter), and each bridge of ``ruleset.bridges``
   gets ``nf_call_iptables``/``nf_call_ip6tables``/``nf_call_arptables`` 1, each of
   ``ruleset.plain_bridges`` (no stateful port: nothing there needs conntrack) 0 (read back
   each round: drift is repaired). A bridge that is not there yet is skipped (the L2 manager
   creates it; the next round catches up).
2. The ruleset: one nft transaction (``dataplane.nftables``: libnftables in this process,
   ``nft -f -`` when the library cannot be loaded) (``add table; delete table; table { … }`` for
   each of ``table inet neutrino`` and ``table bridge neutrino``), so the old filter stays
   until the new one is complete, and a rejected ruleset leaves the old one in place. Only
   those two tables are ever named: other tables in the namespace are never touched. It is
   skipped when the ruleset equals the last one applied (its shape and elements: the text
   is rendered only for a whole load); then, in a ``full`` apply only (the
   agent's resync: listing costs ~50 ms with 1,000 ports), the tables are looked up and
   reloaded if someone deleted them. When the tables hold a ruleset of the same
   shape (``SgRuleset.shape``: the same chains and sets, other elements), only the element
   changes are loaded (``SgRuleset.element_delta``, one transaction): binding a port or a
   remote-group member is a few elements, not a reload of the whole ruleset. A refused delta
   falls back to the full load.
3. Conntrack cleanup: ``sg_calc.conntrack_deletions`` between the last applied ruleset and
   this one gives the flows that are no longer allowed (rule removed, port left a group, a
   remote-group member left); their entries in the network's zone are deleted through
   ctnetlink (pyroute2), so an established flow that is no longer allowed stops now rather
   than at its conntrack timeout. The first apply of a manager (agent start) has nothing to
   diff against: it sweeps the table instead and deletes each filtered port's entries that
   none of its flows admits (rules removed while the agent was down); entries of flows the
   rules allow are kept, so a restart cuts no allowed connection (only entries of the
   always-allowed DHCP exchanges may go, which need none).

The namespace is entered with ``netns.inside`` (this thread only) to open the netlink sockets
(nft's included), which stay in that namespace.

Errors: ``NftError`` (a ``DataplaneError``, not retryable: the rendered text was refused —
a bug, logged with the ``nft`` message) or the netlink errors of ``base``. Nothing is retried
here; the caller keeps the ports of a failed apply from being reported ACTIVE and retries.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2.conntrack import Conntrack
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.dataplane.base import error_from_errno
from neutrino.agent.dataplane.netns import ensure_sysctl, inside, route
from neutrino.agent.dataplane.nftables import Nft, NftError
from neutrino.agent.sg_calc import CtDelete, Flow, SgRuleset, conntrack_deletions
from neutrino.agent.sg_nft import TABLE
from neutrino.domain.security_groups import PORT_PROTOCOL_NUMBERS as PORT_PROTOCOLS

__all__ = ["NftError", "NftManager", "NftReport"]

log = logging.getLogger(__name__)

SYSCTLS = (
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/bridge/bridge-nf-call-arptables",
)
BRIDGE_FLAGS = (
    "IFLA_BR_NF_CALL_IPTABLES",
    "IFLA_BR_NF_CALL_IP6TABLES",
    "IFLA_BR_NF_CALL_ARPTABLES",
)
OWN_TABLES = (f"table inet {TABLE}", f"table bridge {TABLE}")


@dataclass
class NftReport:
    changes: list[str] = field(default_factory=list)
    deleted_flows: int = 0


class NftManager:
    """Applies ``SgRuleset``s in namespace ``netns`` (None = the current one)."""

    def __init__(
        self,
        netns: str | None = None,
        nft: str = "nft",
        in_process: bool = True,
    ) -> None:
        self.netns = netns
        self.nft = Nft(netns, nft, in_process)
        self.applied: SgRuleset | None = None
        self._loaded: SgRuleset | None = None  # the ruleset the kernel holds, as we loaded it

    # --- the API the agent loop calls

    def apply(self, ruleset: SgRuleset, *, full: bool = True) -> NftReport:
        """Steps 1-3 of the module docstring; not ``full`` (between resyncs), step 1 only
        when the bridges changed and no check that the tables are still there."""
        report = NftReport()
        last, bridges = self.applied, (ruleset.bridges, ruleset.plain_bridges)
        if full or last is None or (last.bridges, last.plain_bridges) != bridges:
            self._ensure_netfilter(ruleset, report)
        missing = full and not self._tables_present()
        if self._loaded is None or _differ(ruleset, self._loaded) or missing:
            report.changes.append(self._converge(ruleset, reload=missing))
            self._loaded = ruleset
        deletions = conntrack_deletions(self.applied, ruleset)
        try:
            if self.applied is None:  # first apply (agent start): what nothing admits goes
                report.deleted_flows = self.reconcile_conntrack(ruleset)
            elif deletions:
                report.deleted_flows = self.delete_conntrack(deletions, ruleset)
        except NetlinkError as exc:
            raise error_from_errno(exc.code, "conntrack cleanup") from exc
        except OSError as exc:
            raise error_from_errno(exc.errno or 0, "conntrack cleanup") from exc
        if report.deleted_flows:
            report.changes.append(f"conntrack: {report.deleted_flows} entries deleted")
        self.applied = ruleset
        return report

    def remove(self) -> bool:
        """Delete both of our tables (agent teardown); whether any was there."""
        present = [t for t in OWN_TABLES if t in set(self.nft.run("list tables").splitlines())]
        if present:
            self.nft.run("".join(f"delete {t}\n" for t in present))
        self.applied = self._loaded = None
        return bool(present)

    def close(self) -> None:
        self.nft.close()

    # --- nft

    def _converge(self, ruleset: SgRuleset, *, reload: bool) -> str:
        """Load ``ruleset``: only the set and map elements that changed when the tables are
        in place with the same shape (a port binding is a few elements: no table reload, no
        re-parse of the whole ruleset), else the whole ruleset; a refused element delta
        (the kernel drifted from what we loaded) falls back to the whole ruleset."""
        delta = None if reload or self._loaded is None else ruleset.element_delta(self._loaded)
        if delta:
            try:
                self.nft.run(delta)
                return f"nft elements ({delta.count(chr(10))} set changes)"
            except NftError as exc:
                log.warning("nft element delta refused, reloading the tables: %s", exc)
        self.nft.run(ruleset.text)
        return f"nft ruleset ({len(ruleset.protected)} ports filtered)"

    def _tables_present(self) -> bool:
        listed = set(self.nft.run("list tables").splitlines())
        return all(t in listed for t in OWN_TABLES)

    # --- sysctls and bridges

    def _ensure_netfilter(self, ruleset: SgRuleset, report: NftReport) -> None:
        with route(self.netns) as ipr:
            self._ensure_sysctls(report)
            for bridge in ruleset.bridges:
                self._ensure_bridge_netfilter(ipr, bridge, report, on=True)
            for bridge in ruleset.plain_bridges:
                self._ensure_bridge_netfilter(ipr, bridge, report, on=False)

    def _ensure_sysctls(self, report: NftReport) -> None:
        with inside(self.netns):
            for key in SYSCTLS:
                if ensure_sysctl(key, "0"):
                    report.changes.append(f"sysctl {key.rsplit('/', 1)[-1]} = 0")

    def _ensure_bridge_netfilter(
        self, ipr: IPRoute, bridge: str, report: NftReport, *, on: bool
    ) -> None:
        state = "on" if on else "off"
        try:
            found = ipr.link_lookup(ifname=bridge)
            if not found:
                return
            msg = ipr.link("get", index=found[0])[0]
            data = msg.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
            if all(data.get_attr(flag) == int(on) for flag in BRIDGE_FLAGS):
                return
            ipr.link(
                "set",
                index=found[0],
                kind="bridge",
                br_nf_call_iptables=int(on),
                br_nf_call_ip6tables=int(on),
                br_nf_call_arptables=int(on),
            )
        except NetlinkError as exc:
            raise error_from_errno(exc.code, f"br_netfilter {state}: {bridge}") from exc
        report.changes.append(f"br_netfilter {state}: {bridge}")

    # --- conntrack

    def delete_conntrack(self, deletions: list[CtDelete], now: SgRuleset | None = None) -> int:
        """Delete the entries matching ``deletions`` that no flow of ``now`` (the ruleset
        just applied) still admits; how many were deleted."""
        by_host: dict[tuple[int, str], list[CtDelete]] = {}
        by_net: list[CtDelete] = []
        for d in deletions:
            if "/" in d.address:
                by_net.append(d)
            else:
                by_host.setdefault((d.zone, d.address), []).append(d)

        admitted_by = _filters_by_address(now) if now is not None else {}

        def still_admitted(entry: Any, d: CtDelete) -> bool:
            # another rule may admit what the withdrawn one did (a CIDR rule besides a
            # remote group the peer left): such a connection is not cut
            return any(
                _matches(entry, CtDelete(d.zone, d.address, flow))
                for flows in admitted_by.get((d.zone, d.address), ())
                for flow in flows
                if flow.direction == d.flow.direction
            )

        def withdrawn(entry: Any) -> bool:
            zone, orig = entry.zone or 0, entry.tuple_orig
            candidates = [
                *by_host.get((zone, str(orig.saddr)), ()),
                *by_host.get((zone, str(orig.daddr)), ()),
                *by_net,
            ]
            return any(_matches(entry, d) and not still_admitted(entry, d) for d in candidates)

        families = {_version(d.address) for d in deletions}
        return sum(self._sweep(family, withdrawn) for family in families)

    def reconcile_conntrack(self, ruleset: SgRuleset) -> int:
        """Delete every entry of a filtered port that none of its flows admits (run once, at
        start: rules removed while the agent was down). Judged by the original direction:
        the destination port's ingress flows, the source port's egress flows."""
        ports = _filters_by_address(ruleset)

        def unadmitted(entry: Any) -> bool:
            zone, orig = entry.zone or 0, entry.tuple_orig
            for address, direction in ((str(orig.daddr), "ingress"), (str(orig.saddr), "egress")):
                for flows in ports.get((zone, address), ()):
                    if not any(
                        _matches(entry, CtDelete(zone, address, flow))
                        for flow in flows
                        if flow.direction == direction
                    ):
                        return True
            return False

        return sum(self._sweep(family, unadmitted) for family in (4, 6)) if ports else 0

    def _sweep(self, version: int, doomed: Callable[[Any], bool]) -> int:
        """Dump the namespace's IPv``version`` conntrack table, delete the ``doomed``
        entries; how many were deleted."""
        with inside(self.netns):
            ct = Conntrack(nfgen_family=socket.AF_INET6 if version == 6 else socket.AF_INET)
            ct.count()  # opens the socket now, inside the namespace
        count = 0
        try:
            for entry in list(ct.dump_entries()):
                if doomed(entry):
                    with contextlib.suppress(NetlinkError):  # gone meanwhile
                        ct.entry("del", tuple_orig=entry.tuple_orig, zone=entry.zone)
                        count += 1
        finally:
            ct.close()
        return count


def _differ(a: SgRuleset, b: SgRuleset) -> bool:
    """Whether two rulesets' texts differ, without rendering them (their elements are mostly
    the very same sets: compared by identity first)."""
    return a.shape != b.shape or a.elements != b.elements


def _version(address: str) -> int:
    return 6 if ":" in address else 4


def _filters_by_address(ruleset: SgRuleset) -> dict[tuple[int, str], list[frozenset[Flow]]]:
    """(zone, address) -> the flows of each filtered port holding that host address."""
    ports: dict[tuple[int, str], list[frozenset[Flow]]] = {}
    for pf in ruleset.ports.values():
        if pf.groups is not None:
            for address in pf.addresses:
                if "/" not in address:
                    ports.setdefault((pf.zone, address), []).append(ruleset.flows(pf))
    return ports


def _matches(entry: Any, deletion: CtDelete) -> bool:
    """Whether a conntrack entry is one ``deletion.flow`` admitted for ``deletion.address``
    (judged on its original direction: who opened the flow)."""
    if (entry.zone or 0) != deletion.zone:
        return False
    orig = entry.tuple_orig
    try:
        src, dst = ipaddress.ip_address(orig.saddr), ipaddress.ip_address(orig.daddr)
    except ValueError:
        return False
    local = ipaddress.ip_network(deletion.address, strict=False)
    flow = deletion.flow
    if flow.direction == "any":
        return src in local or dst in local
    if src.version != (6 if flow.ethertype == "IPv6" else 4):
        return False
    mine, other = (dst, src) if flow.direction == "ingress" else (src, dst)
    if mine not in local:
        return False
    if flow.remote is not None and other not in ipaddress.ip_network(flow.remote):
        return False
    if flow.protocol is not None:
        if orig.proto != flow.protocol:
            return False
        ranged = flow.protocol in PORT_PROTOCOLS and flow.port_min is not None
        if ranged and not (flow.port_min or 0) <= (orig.dport or -1) <= (
            flow.port_max or flow.port_min or 0
        ):
            return False
        typed = flow.protocol in (1, 58) and flow.port_min is not None
        if typed and orig.icmp_type != flow.port_min:
            return False
    return True
