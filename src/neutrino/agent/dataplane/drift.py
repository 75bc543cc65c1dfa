"""Drift check, L2 part: how the kernel differs from calc's ``L2State``, changing nothing.

``l2_drift(kernel, desired)`` reads what the L2 manager owns (``brq…``, ``vxlan-…`` and
``tap…`` devices, the FDB and neighbour entries of its VXLAN devices) through the same
``L2Kernel`` reads the manager uses, and lists every difference the manager's ``apply`` would
repair — a missing, drifted or undesired device, a wrong MTU, master or link state, an FDB or
neighbour entry missing or extra — as one ``Drift`` each, sorted. It never writes: on a
converged host it returns nothing, and after a fault it names exactly what was changed by
hand. A desired tap that does not exist (VM not plugged) is not drift: the manager waits for
it too.

Not yet covered: nftables sets and maps, dnsmasq hosts, router namespaces (issue 16, part 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.agent.dataplane.base import L2Kernel, Link
from neutrino.agent.model import BRIDGE_PREFIX, OWNED_PREFIXES, TAP_PREFIX, VXLAN_PREFIX, L2State

__all__ = ["Drift", "l2_drift"]


@dataclass(frozen=True, order=True)
class Drift:
    """One difference: the kernel object, what kind of difference, and the two sides."""

    obj: str
    kind: str  # missing | extra | mtu | master | down | identity
    want: str = ""
    have: str = ""

    def __str__(self) -> str:
        sides = f": want {self.want}, have {self.have}" if self.want or self.have else ""
        return f"{self.kind} {self.obj}{sides}"


def l2_drift(kernel: L2Kernel, desired: L2State) -> list[Drift]:
    links = kernel.list_links(OWNED_PREFIXES)
    out: list[Drift] = []
    for spec in desired.bridges.values():
        out += _device(spec.name, links.get(spec.name), spec.mtu, None)
    for vx in desired.vxlans.values():
        link = links.get(vx.name)
        want = (vx.vni, vx.local_ip, vx.dev, False, True)
        if link is not None and (link.kind != "vxlan" or link.vxlan != want):
            out.append(Drift(vx.name, "identity", str(want), str(link.vxlan)))
            continue
        out += _device(vx.name, link, vx.mtu, vx.bridge)
    for att in desired.attachments.values():
        link = links.get(att.name)
        if link is None and not att.name.startswith(OWNED_PREFIXES):
            link = kernel.get_link(att.name)
        if link is not None:  # absent: not plugged yet, which the manager waits for too
            out += _device(att.name, link, att.mtu, att.bridge)
    for vx in desired.vxlans.values():
        if vx.name not in links:
            continue  # the device is reported missing; its entries go with it
        fdb = {f"fdb {e.device} {e.mac} dst {e.dst}" for e in desired.fdb if e.device == vx.name}
        fdb_have = {f"fdb {e.device} {e.mac} dst {e.dst}" for e in kernel.list_fdb(vx.name)}
        neigh = {
            f"neigh {e.device} {e.ip} lladdr {e.mac}" for e in desired.neigh if e.device == vx.name
        }
        neigh_have = {f"neigh {e.device} {e.ip} lladdr {e.mac}" for e in kernel.list_neigh(vx.name)}
        for intended, present in ((fdb, fdb_have), (neigh, neigh_have)):
            out += [Drift(obj, "missing") for obj in intended - present]
            out += [Drift(obj, "extra") for obj in present - intended]
    for name, link in links.items():
        if (
            name.startswith(TAP_PREFIX)
            and name not in desired.attachments
            and (link.master is not None and link.master.startswith(BRIDGE_PREFIX))
        ):
            out.append(Drift(name, "extra", "", f"enslaved to {link.master}"))
        elif (name.startswith(VXLAN_PREFIX) and name not in desired.vxlans) or (
            name.startswith(BRIDGE_PREFIX) and name not in desired.bridges
        ):
            out.append(Drift(name, "extra", "", link.kind))
    return sorted(out)


def _device(name: str, link: Link | None, mtu: int | None, master: str | None) -> list[Drift]:
    if link is None:
        return [Drift(name, "missing")]
    out = []
    if mtu is not None and link.mtu != mtu:
        out.append(Drift(name, "mtu", str(mtu), str(link.mtu)))
    if master is not None and link.master != master:
        out.append(Drift(name, "master", master, str(link.master)))
    if not link.up:
        out.append(Drift(name, "down", "up", "down"))
    return out
