"""An in-memory L2 kernel with the same interface and errors as ``netlink.NetlinkKernel``.

``FakeKernel`` models the behaviour calc and the L2 manager depend on, and
tests/agent/test_fake_dataplane.py runs one contract suite against both backends to keep the
two in step:

* devices have unique names of at most 15 bytes (IFNAMSIZ) and stable ifindexes; a device is
  never recreated unless deleted;
* deleting a bridge releases its ports; deleting any device drops its FDB and neighbour
  entries and those of nothing else;
* a VXLAN device needs its underlay device to exist; a bridge's port must not be a bridge;
* a VLAN sub-interface needs the device it is on, and goes when that device is deleted;
  ``FakeKernel(vlan=False)`` refuses VLAN sub-interfaces as a kernel without 8021q does.

Tests can seed devices the agent does not create (an underlay ``eth1``, a VM's ``tap…``)
with ``add_device``, and count kernel writes in ``writes`` to prove a re-apply is a no-op.
"""

from __future__ import annotations

import errno
from dataclasses import replace

from neutrino.agent.dataplane.base import (
    DataplaneError,
    Link,
    LinkExists,
    LinkNotFound,
    NotSupported,
)
from neutrino.agent.model import FdbEntry, NeighEntry

__all__ = ["FakeKernel"]

IFNAMSIZ = 15


class FakeKernel:
    """``L2Kernel`` in memory (see the module docstring for what it models)."""

    def __init__(self, *, vlan: bool = True) -> None:
        self.vlan_supported = vlan
        self.links: dict[str, Link] = {}
        self.fdb: set[FdbEntry] = set()
        self.neigh: set[NeighEntry] = set()
        self.learned: set[tuple[str, str]] = set()  # (bridge port, mac) a bridge learned
        self.writes = 0
        self._next_index = 2  # 1 is lo

    # --- seeding (tests only) ---------------------------------------------------------------

    def add_device(self, name: str, kind: str = "veth", mtu: int = 1500) -> int:
        """Create a device the agent does not own (underlay NIC, a VM's tap)."""
        self._add(Link(name=name, index=0, kind=kind, mtu=mtu, master=None, up=True))
        return self.links[name].index

    # --- links -----------------------------------------------------------------------------

    def ensure_bridge(self, name: str, mtu: int) -> int:
        link = self.links.get(name)
        if link is None:
            self._add(Link(name=name, index=0, kind="bridge", mtu=mtu, master=None, up=False))
            return self.links[name].index
        if link.kind != "bridge":
            raise LinkExists(f"{name} exists as {link.kind}, not bridge")
        if link.mtu != mtu:
            self.set_mtu(name, mtu)
        return link.index

    def ensure_vxlan(self, name: str, vni: int, local_ip: str, dev: str, mtu: int) -> int:
        want = (vni, local_ip, dev, False, True)
        link = self.links.get(name)
        if link is not None:
            if link.kind != "vxlan" or link.vxlan != want:
                raise LinkExists(f"{name} exists as {link.kind} {link.vxlan}, want {want}")
            if link.mtu != mtu:
                self.set_mtu(name, mtu)
            return link.index
        self._get(dev)
        self._add(
            Link(name=name, index=0, kind="vxlan", mtu=mtu, master=None, up=False, vxlan=want)
        )
        return self.links[name].index

    def ensure_vlan(self, name: str, link: str, vlan_id: int) -> int:
        found = self.links.get(name)
        if found is not None:
            if found.kind != "vlan" or found.vlan != (vlan_id, link):
                raise LinkExists(f"{name} exists as {found.kind} {found.vlan}, want vlan")
            return found.index
        lower = self._get(link)
        if not self.vlan_supported:
            raise NotSupported(f"create vlan {name}: EOPNOTSUPP", errno.EOPNOTSUPP)
        spec = Link(name, 0, "vlan", lower.mtu, None, False, vlan=(vlan_id, link))
        self._add(spec)
        return self.links[name].index

    def attach(self, port_dev: str, bridge: str) -> None:
        port, master = self._get(port_dev), self._get(bridge)
        if master.kind != "bridge" or port.kind == "bridge" or port_dev == bridge:
            raise LinkExists(f"cannot enslave {port_dev} to {bridge}")
        self._set(replace(port, master=bridge))

    def detach(self, port_dev: str) -> None:
        self._set(replace(self._get(port_dev), master=None))

    def set_mtu(self, name: str, mtu: int) -> None:
        self._set(replace(self._get(name), mtu=mtu))

    def set_up(self, name: str) -> None:
        self._set(replace(self._get(name), up=True))

    def delete_link(self, name: str) -> bool:
        if name not in self.links:
            return False
        self.writes += 1
        del self.links[name]
        for other in list(self.links.values()):
            if other.name not in self.links:
                continue  # deleted meanwhile with a device it was on
            if other.vlan is not None and other.vlan[1] == name:
                self.delete_link(other.name)  # the kernel deletes a device's VLANs with it
            elif other.master == name:
                self.links[other.name] = replace(other, master=None)
        self.fdb = {e for e in self.fdb if e.device != name}
        self.neigh = {e for e in self.neigh if e.device != name}
        return True

    def list_links(self, prefixes: tuple[str, ...]) -> dict[str, Link]:
        return {n: ln for n, ln in self.links.items() if n.startswith(prefixes)}

    def get_link(self, name: str) -> Link | None:
        return self.links.get(name)

    # --- fdb / neighbours --------------------------------------------------------------------

    def list_fdb(self, device: str) -> set[FdbEntry]:
        self._get(device)
        return {e for e in self.fdb if e.device == device}

    def ensure_fdb(self, entry: FdbEntry) -> None:
        self._get(entry.device)
        if not entry.is_flood:  # replace: one destination per unicast MAC
            self.fdb = {
                e for e in self.fdb if not (e.device == entry.device and e.mac == entry.mac)
            }
        self.fdb.add(entry)
        self.writes += 1

    def forget_learned(self, device: str, mac: str) -> None:
        if (device, mac) in self.learned:
            self.learned.discard((device, mac))
            self.writes += 1

    def remove_fdb(self, entry: FdbEntry) -> None:
        if entry in self.fdb:
            self.fdb.discard(entry)
            self.writes += 1

    def list_neigh(self, device: str) -> set[NeighEntry]:
        self._get(device)
        return {e for e in self.neigh if e.device == device}

    def ensure_neigh(self, entry: NeighEntry) -> None:
        self._get(entry.device)
        self.neigh = {e for e in self.neigh if not (e.device == entry.device and e.ip == entry.ip)}
        self.neigh.add(entry)
        self.writes += 1

    def remove_neigh(self, entry: NeighEntry) -> None:
        before = len(self.neigh)
        self.neigh = {e for e in self.neigh if not (e.device == entry.device and e.ip == entry.ip)}
        self.writes += before != len(self.neigh)

    # --- internals ---------------------------------------------------------------------------

    def _get(self, name: str) -> Link:
        link = self.links.get(name)
        if link is None:
            raise LinkNotFound(f"{name}: no such device")
        return link

    def _add(self, link: Link) -> None:
        if link.name in self.links:
            raise LinkExists(f"{link.name} exists")
        if not link.name or len(link.name.encode()) > IFNAMSIZ:
            raise DataplaneError(f"invalid device name {link.name!r}", errno.EINVAL)
        self.links[link.name] = replace(link, index=self._next_index)
        self._next_index += 1
        self.writes += 1

    def _set(self, link: Link) -> None:
        if self.links[link.name] != link:
            self.links[link.name] = link
            self.writes += 1
