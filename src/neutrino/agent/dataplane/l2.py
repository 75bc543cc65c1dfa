"""The L2 manager: make the kernel's neutrino-owned L2 objects equal to calc's ``L2State``.

``L2Manager.apply(desired)`` reads what neutrino owns in the kernel (devices named ``brq…``,
``vxlan-…``, ``tap…``, and the FDB / neighbour entries of its VXLAN devices), computes the
difference with ``desired`` and writes only that difference:

* a device that matches is never touched, so an agent restart or a periodic full resync over
  a converged host writes nothing and every ifindex stays the same (no dropped packet);
* a device that drifted is fixed in place (MTU, master, up); only a VXLAN device whose identity
  changed (VNI, local IP, underlay device, l2pop flags) is deleted and recreated;
* owned bridges and VXLAN devices that are not desired are deleted (their FDB and neighbour
  entries go with them); taps are not ours to delete (whoever plugs a VM creates and removes
  them), so an undesired tap is only released from its ``brq`` bridge, which unwires it;
* VLAN sub-interfaces (a VLAN network's ``<physical>.<vid>``, a trunk sub-port's tap on its
  parent's tap) are made before the attachments that enslave them, recreated when their tag
  or lower device changed, and deleted when not desired: a sub-port's tap of kind ``vlan`` is
  neutrino's (unlike a VM's tap), and so is a ``vlan`` sub-interface of a mapped physical
  interface (``L2State.vlan_uplinks``) enslaved to a ``brq`` bridge; a VLAN whose lower
  device is missing (the parent's tap, before its VM is plugged) is reported in ``missing``;
* a desired tap that does not exist yet (VM not plugged) is reported in ``missing`` and
  picked up by a later apply; when it is attached, its port's MAC is unlearned from the
  network's VXLAN port of the bridge: a VM that was remote (migrated here) would else stay
  reachable only through the tunnel, to the host it left, until it sends a frame itself.

Between resyncs (``apply(desired, applied)``, ``applied`` being what the last apply wrote) the
FDB and neighbour entries of a VXLAN device that is unchanged and in place are not read: only
the difference between ``applied`` and ``desired`` is written. Those dumps were most of an
agent's round (a bridge FDB dump returns every tap's local entries); the periodic resync and a
failed round read them again and repair any drift. When the caller also passes ``touched``
(the link watcher's names of the devices that appeared or vanished since the last apply), the
links are not dumped either (a dump of a host with 5,000 taps costs ~0.3 s of CPU): only the
devices that differ between ``applied`` and ``desired``, the ones missing last time and the
touched ones are looked up, one by one; every other desired attachment is wired as it was.

Order: bridges, then VXLAN and VLAN devices, then attachments, then entries, then removals
(VLANs before bridges), so a device is never enslaved to a missing bridge. Errors propagate
as ``DataplaneError``: the caller's loop retries retryable ones with backoff and re-applies
the whole state, which converges because every step is computed from a fresh read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrino.agent.dataplane.base import L2Kernel, Link
from neutrino.agent.model import (
    BRIDGE_PREFIX,
    OWNED_PREFIXES,
    TAP_PREFIX,
    VXLAN_PREFIX,
    AttachmentSpec,
    FdbEntry,
    L2State,
    VlanSpec,
    VxlanSpec,
)

__all__ = ["ApplyReport", "L2Manager"]


@dataclass
class ApplyReport:
    """What one ``apply`` changed; ``changes`` is empty when the kernel already matched."""

    changes: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    wired: set[str] = field(default_factory=set)
    attached: set[str] = field(default_factory=set)  # wired now, by this apply

    def note(self, what: str) -> None:
        self.changes.append(what)


class L2Manager:
    """Applies desired ``L2State`` to one ``L2Kernel`` (see the module docstring)."""

    def __init__(self, kernel: L2Kernel) -> None:
        self.kernel = kernel
        self._last: ApplyReport | None = None  # the last apply's report, when it completed
        self._last_applied: L2State | None = None  # what it applied

    def _apply_changed(
        self, desired: L2State, applied: L2State, touched: set[str], missing: set[str]
    ) -> ApplyReport:
        """``apply`` between resyncs with the link watcher's ``touched`` names (and the
        devices ``missing`` last time): no dump."""
        names = touched | missing
        for want, had in (
            (desired.bridges, applied.bridges),
            (desired.vxlans, applied.vxlans),
            (desired.attachments, applied.attachments),
            (desired.vlans, applied.vlans),
        ):
            names |= {n for n, spec in want.items() if not _same(had.get(n), spec)}
            names |= had.keys() - want.keys()
        names |= {v.link for v in desired.vlans.values() if v.name in names}
        links = {n: link for n in sorted(names) if (link := self.kernel.get_link(n)) is not None}
        return self._converge(desired, applied, links, names)

    def apply(
        self, desired: L2State, applied: L2State | None = None, touched: set[str] | None = None
    ) -> ApplyReport:
        """Converge to ``desired``. With ``applied`` (what the last apply wrote, between
        resyncs) a VXLAN device that did not change gets only the FDB and neighbour entries
        that differ between the two, trusted and not dumped (the dumps are most of a round);
        with ``touched`` as well, the links are looked up, not dumped (module docstring)."""
        last, self._last = self._last, None  # known again only once this apply is done
        known = last is not None and applied is not None and applied is self._last_applied
        if known and touched is not None:
            assert last is not None and applied is not None
            report = self._apply_changed(desired, applied, touched, last.missing)
        else:
            report = self._converge(desired, applied, self.kernel.list_links(OWNED_PREFIXES))
        self._last, self._last_applied = report, desired
        return report

    def _converge(
        self,
        desired: L2State,
        applied: L2State | None,
        links: dict[str, Link],
        names: set[str] | None = None,
    ) -> ApplyReport:
        """Converge the devices in ``links`` (all of them, or only those in ``names``: the
        others were wired by an earlier apply and nothing vanished), then the entries."""
        report = ApplyReport()

        def due(name: str) -> bool:
            return names is None or name in names

        for spec in desired.bridges.values():
            if due(spec.name):
                self._apply_bridge(spec.name, spec.mtu, links.get(spec.name), report)
        old_vx = applied.vxlans if applied is not None else {}
        trusted = {  # not looked at, or unchanged and in place: its entries are as applied
            vx.name
            for vx in desired.vxlans.values()
            if not due(vx.name)
            or (self._apply_vxlan(vx, links.get(vx.name), report) and old_vx.get(vx.name) == vx)
        }
        for vlan in desired.vlans.values():
            if due(vlan.name):
                self._apply_vlan(vlan, links, report)
        vxlan_of = {vx.bridge: vx.name for vx in desired.vxlans.values()}
        fresh: dict[str, set[str]] = {vx.name: set() for vx in desired.vxlans.values()}
        for att in desired.attachments.values():
            if not due(att.name):
                report.wired.add(att.name)
            elif self._apply_attachment(att, links, report) and att.mac and att.bridge in vxlan_of:
                fresh[vxlan_of[att.bridge]].add(att.mac)  # a VM that may have been remote
        for vx in desired.vxlans.values():
            have = applied if vx.name in trusted else None
            self._apply_entries(vx.name, desired, have, report, fresh[vx.name])
        self._remove_undesired(desired, links, report)
        return report

    def wire(self, desired: L2State, taps: set[str]) -> ApplyReport:
        """Attach only ``taps`` (made since ``apply``: a DHCP or router port) as ``desired``
        says: those devices looked up, not a whole apply."""
        report = ApplyReport()
        # a parent's tap just made carries its trunk's sub-ports: their VLANs come with it
        riding = {v.name for v in desired.vlans.values() if v.link in taps}
        wanted = sorted((taps | riding) & desired.attachments.keys())
        names = {*wanted, *riding, *(desired.vlans[n].link for n in riding)}
        links = {n: link for n in sorted(names) if (link := self.kernel.get_link(n)) is not None}
        for name in sorted(riding):
            self._apply_vlan(desired.vlans[name], links, report)
        for name in wanted:
            self._apply_attachment(desired.attachments[name], links, report)
        return report

    # --- devices ---------------------------------------------------------------------------

    def _apply_bridge(self, name: str, mtu: int, link: Link | None, report: ApplyReport) -> None:
        if link is None or link.mtu != mtu:
            self.kernel.ensure_bridge(name, mtu)
            report.note(f"bridge {name} mtu {mtu}")
        if link is None or not link.up:
            self.kernel.set_up(name)
            report.note(f"up {name}")

    def _apply_vxlan(self, vx: VxlanSpec, link: Link | None, report: ApplyReport) -> bool:
        """Converge one VXLAN device; True when it was there already (not made anew)."""
        want = (vx.vni, vx.local_ip, vx.dev, False, True)
        if link is not None and (link.kind != "vxlan" or link.vxlan != want):
            self.kernel.delete_link(vx.name)
            report.note(f"delete drifted {vx.name} {link.vxlan}")
            link = None
        if link is None or link.mtu != vx.mtu:
            self.kernel.ensure_vxlan(vx.name, vx.vni, vx.local_ip, vx.dev, vx.mtu)
            report.note(f"vxlan {vx.name} vni {vx.vni} mtu {vx.mtu}")
        if link is None or link.master != vx.bridge:
            self.kernel.attach(vx.name, vx.bridge)
            report.note(f"attach {vx.name} to {vx.bridge}")
        if link is None or not link.up:
            self.kernel.set_up(vx.name)
            report.note(f"up {vx.name}")
        return link is not None

    def _apply_vlan(self, spec: VlanSpec, links: dict[str, Link], report: ApplyReport) -> None:
        link = self._find(spec.name, links)
        if link is not None and (link.kind != "vlan" or link.vlan != (spec.vlan_id, spec.link)):
            self.kernel.delete_link(spec.name)
            report.note(f"delete drifted {spec.name} {link.kind} {link.vlan}")
            links.pop(spec.name, None)
            link = None
        if link is not None:
            return
        if self._find(spec.link, links) is None:
            report.missing.add(spec.name)  # its parent's tap is not plugged yet
            return
        self.kernel.ensure_vlan(spec.name, spec.link, spec.vlan_id)
        report.note(f"vlan {spec.name} on {spec.link} tag {spec.vlan_id}")
        made = self.kernel.get_link(spec.name)
        if made is not None:
            links[spec.name] = made

    def _find(self, name: str, links: dict[str, Link]) -> Link | None:
        """A device from this apply's dump (owned names), else asked of the kernel."""
        if name.startswith(OWNED_PREFIXES):
            return links.get(name)
        return self.kernel.get_link(name)

    def _apply_attachment(
        self, att: AttachmentSpec, links: dict[str, Link], report: ApplyReport
    ) -> bool:
        """Wire ``att``; True when it was not attached to its bridge before."""
        link = links.get(att.name)
        if link is None and not att.name.startswith(OWNED_PREFIXES):
            link = self.kernel.get_link(att.name)  # a flat network's physical interface
        if link is None:
            report.missing.add(att.name)
            return False
        if att.mtu is not None and link.mtu != att.mtu:
            self.kernel.set_mtu(att.name, att.mtu)
            report.note(f"mtu {att.mtu} on {att.name}")
        if link.master != att.bridge:
            self.kernel.attach(att.name, att.bridge)
            report.note(f"attach {att.name} to {att.bridge}")
            report.attached.add(att.name)
        if not link.up:
            self.kernel.set_up(att.name)
            report.note(f"up {att.name}")
        report.wired.add(att.name)
        return link.master != att.bridge

    # --- entries ---------------------------------------------------------------------------

    def _apply_entries(
        self,
        device: str,
        desired: L2State,
        trusted: L2State | None,
        report: ApplyReport,
        fresh: set[str],
    ) -> None:
        """Entries of ``device``: from the kernel's, or from ``trusted`` (applied before)."""
        want_fdb = {e for e in desired.fdb if e.device == device}
        if trusted is None:
            have_fdb, have_neigh = self.kernel.list_fdb(device), self.kernel.list_neigh(device)
        else:
            have_fdb = {e for e in trusted.fdb if e.device == device}
            have_neigh = {e for e in trusted.neigh if e.device == device}
        for mac in sorted(fresh):  # just wired here: not behind the tunnel any more
            self.kernel.forget_learned(device, mac)
        for fdb in sorted(have_fdb - want_fdb, key=_fdb_order):
            self.kernel.remove_fdb(fdb)
            report.note(f"remove {fdb}")
        for fdb in sorted(want_fdb - have_fdb, key=_fdb_order):
            self.kernel.ensure_fdb(fdb)
            report.note(f"add {fdb}")
        want_neigh = {e for e in desired.neigh if e.device == device}
        wanted_ips = {n.ip for n in want_neigh}
        for neigh in sorted(have_neigh - want_neigh):
            if neigh.ip not in wanted_ips:  # else replaced in place below
                self.kernel.remove_neigh(neigh)
                report.note(f"remove {neigh}")
        for neigh in sorted(want_neigh - have_neigh):
            self.kernel.ensure_neigh(neigh)
            report.note(f"add {neigh}")

    # --- removals --------------------------------------------------------------------------

    def _remove_undesired(
        self, desired: L2State, links: dict[str, Link], report: ApplyReport
    ) -> None:
        for name, link in sorted(links.items()):
            if name.startswith(TAP_PREFIX) and link.kind == "vlan" and name not in desired.vlans:
                self.kernel.delete_link(name)  # a sub-port's tap: made by us
                report.note(f"delete {name}")
        self._remove_uplink_vlans(desired, report)
        for name, link in sorted(links.items()):
            if (
                name.startswith(TAP_PREFIX)
                and link.kind != "vlan"
                and name not in desired.attachments
                and link.master is not None
                and link.master.startswith(BRIDGE_PREFIX)
            ):
                self.kernel.detach(name)
                report.note(f"detach {name}")
        for prefix, wanted in ((VXLAN_PREFIX, desired.vxlans), (BRIDGE_PREFIX, desired.bridges)):
            for name in sorted(links):
                if name.startswith(prefix) and name not in wanted:
                    self.kernel.delete_link(name)
                    report.note(f"delete {name}")

    def _remove_uplink_vlans(self, desired: L2State, report: ApplyReport) -> None:
        """Delete the VLAN sub-interfaces of mapped physical interfaces that we enslaved to a
        ``brq`` bridge and no VLAN network wants any more (an operator's own are left)."""
        if not desired.vlan_uplinks:
            return
        prefixes = tuple(sorted({up[:10] for up in desired.vlan_uplinks}))
        for name, link in sorted(self.kernel.list_links(prefixes).items()):
            if (
                link.kind == "vlan"
                and link.vlan is not None
                and link.vlan[1] in desired.vlan_uplinks
                and link.master is not None
                and link.master.startswith(BRIDGE_PREFIX)
                and name not in desired.vlans
            ):
                self.kernel.delete_link(name)
                report.note(f"delete {name}")


def _same(a: object, b: object) -> bool:
    """``a == b``, at once for the same object (the calculator keeps unchanged items)."""
    return a is b or a == b


def _fdb_order(entry: FdbEntry) -> tuple[bool, FdbEntry]:
    """Unicast entries before flood entries, so a new port is reachable before it floods."""
    return (entry.is_flood, entry)
