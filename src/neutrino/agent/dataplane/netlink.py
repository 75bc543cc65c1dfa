"""The real L2 kernel of one network namespace, through a pyroute2 ``IPRoute`` opened there.

``NetlinkKernel`` implements ``base.L2Kernel``: small typed functions over pyroute2's string
verbs, each turning a ``NetlinkError`` errno into a named ``DataplaneError`` at this edge. It
owns its netlink sockets (opened in the target namespace, ``None`` = the current one) and holds
no state besides them: every call reads or writes the kernel directly. It does not retry;
``Busy`` errors are marked retryable for the caller's loop.

One ``IPRoute`` per calling thread, as pyroute2 binds a socket to the thread that first uses
it, held in a ``threading.local`` and never keyed by thread id: a new thread often gets a dead
one's id, and an ``IPRoute`` used by another thread than its own opens a fresh socket in that
thread's namespace (the host's) while link indexes still come from our namespace's dump, which
built bridges and VXLAN devices in the host namespace.

Devices are created with the properties DATAPLANE.md §1 proved: bridges with multicast snooping
off (so they never send IGMP into a tenant network), VXLAN in l2population mode (``nolearning
proxy``, UDP 4789, on the underlay device), FDB unicast entries ``replace``d with ``NTF_SELF``
(else they land on the bridge) and flood entries ``append``ed, neighbour entries permanent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from pyroute2 import IPRoute

from neutrino.agent.dataplane.base import (
    Link,
    LinkExists,
    LinkNotFound,
    error_from_errno,
)
from neutrino.agent.dataplane.netns import call, ensure_sysctl, inside, route
from neutrino.agent.dataplane.rtnl import RawLink, dump_links, open_route_socket
from neutrino.agent.dataplane.rtnl import get_link as rtnl_get_link
from neutrino.agent.dataplane.rtnl_fdb import dump_fdb, open_strict_socket
from neutrino.agent.model import FLOOD_MAC, FdbEntry, NeighEntry

__all__ = ["NetlinkKernel"]

VXLAN_PORT = 4789
NTF_SELF, NTF_MASTER = 0x02, 0x04
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
IFF_UP = 0x1
IN6_ADDR_GEN_MODE_NONE = 1


class NetlinkKernel:
    """``L2Kernel`` over one pyroute2 ``IPRoute`` socket in namespace ``netns``."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._local = threading.local()  # .ipr: this thread's IPRoute
        self._iprs: list[IPRoute] = []  # every thread's, to close
        with inside(netns):
            self._dump_sock = open_route_socket()
            self._fdb_sock = open_strict_socket()
        self._seq = 0
        self._indexes: dict[str, int] = {}  # name -> ifindex as of the last dump
        self._names: dict[int, str] = {}  # and back (a 5,000-tap host's index is not walked)
        self._learned: dict[str, set[str]] = {}  # device -> MACs its bridge learned, this apply

    def close(self) -> None:
        for ipr in self._iprs:
            ipr.close()
        self._dump_sock.close()
        self._fdb_sock.close()

    @property
    def _ipr(self) -> IPRoute:
        ipr: IPRoute | None = getattr(self._local, "ipr", None)
        if ipr is None:
            ipr = self._local.ipr = route(self.netns)
            self._iprs.append(ipr)
        return ipr

    def __enter__(self) -> NetlinkKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- links ---------------------------------------------------------------------------

    def ensure_bridge(self, name: str, mtu: int) -> int:
        link = self.get_link(name)
        if link is None:
            self._call(
                "create bridge " + name,
                "link",
                "add",
                ifname=name,
                kind="bridge",
                br_mcast_snooping=0,
                mtu=mtu,
            )
            return self._index(name)
        if link.kind != "bridge":
            raise LinkExists(f"{name} exists as {link.kind}, not bridge")
        if link.mtu != mtu:
            self.set_mtu(name, mtu)
        return link.index

    def ensure_vxlan(self, name: str, vni: int, local_ip: str, dev: str, mtu: int) -> int:
        want = (vni, local_ip, dev, False, True)
        link = self.get_link(name)
        if link is not None:
            if link.kind != "vxlan" or link.vxlan != want:
                raise LinkExists(f"{name} exists as {link.kind} {link.vxlan}, want {want}")
            if link.mtu != mtu:
                self.set_mtu(name, mtu)
            return link.index
        self._call(
            "create vxlan " + name,
            "link",
            "add",
            ifname=name,
            kind="vxlan",
            vxlan_id=vni,
            vxlan_local=local_ip,
            vxlan_port=VXLAN_PORT,
            vxlan_link=self._index(dev),
            vxlan_learning=0,
            vxlan_proxy=1,
            mtu=mtu,
        )
        index = self._index(name)
        # IPv6 neighbour entries (ND proxy) need IPv6 on the device; addrgenmode none first,
        # while it is down, so it never gets a link-local address to talk with.
        self._call(
            "addrgenmode none on " + name,
            "link",
            "set",
            index=index,
            IFLA_AF_SPEC={
                "attrs": [
                    ("AF_INET6", {"attrs": [("IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE)]})
                ]
            },
        )
        self._write_sysctl(f"net/ipv6/conf/{name}/disable_ipv6", "0")
        return index

    def ensure_vlan(self, name: str, link: str, vlan_id: int) -> int:
        found = self.get_link(name)
        if found is not None:
            if found.kind != "vlan" or found.vlan != (vlan_id, link):
                raise LinkExists(f"{name} exists as {found.kind} {found.vlan}, want vlan")
            return found.index
        self._call(
            f"create vlan {name} ({link} tag {vlan_id})",
            "link",
            "add",
            ifname=name,
            kind="vlan",
            link=self._index(link),
            vlan_id=vlan_id,
        )
        return self._index(name)

    def _write_sysctl(self, key: str, value: str) -> None:
        """Write /proc/sys/<key> of this kernel's namespace (setns there and back)."""
        with inside(self.netns):
            ensure_sysctl(key, value)

    def attach(self, port_dev: str, bridge: str) -> None:
        master = self._index(bridge)
        self._call(
            f"attach {port_dev} to {bridge}",
            "link",
            "set",
            index=self._index(port_dev),
            master=master,
        )

    def detach(self, port_dev: str) -> None:
        self._call("detach " + port_dev, "link", "set", index=self._index(port_dev), master=0)

    def set_mtu(self, name: str, mtu: int) -> None:
        self._call(f"set mtu {mtu} on {name}", "link", "set", index=self._index(name), mtu=mtu)

    def set_up(self, name: str) -> None:
        self._call("set up " + name, "link", "set", index=self._index(name), state="up")

    def delete_link(self, name: str) -> bool:
        try:
            self._call("delete " + name, "link", "del", index=self._index(name))
        except LinkNotFound:
            return False
        finally:
            self._names.pop(self._indexes.pop(name, 0), None)
        return True

    def list_links(self, prefixes: tuple[str, ...]) -> dict[str, Link]:
        self._learned.clear()  # an apply starts here: what was learned is known from its dumps
        self._seq += 1
        try:
            raw = dump_links(self._dump_sock, self._seq)
        except OSError as exc:
            raise error_from_errno(exc.errno or 0, "list links") from exc
        self._names = {r.index: r.name for r in raw}
        self._indexes = {r.name: r.index for r in raw}
        return {r.name: _from_raw(r, self._names) for r in raw if r.name.startswith(prefixes)}

    def get_link(self, name: str) -> Link | None:
        """One device, asked of the kernel alone (its master's and lower device's names too,
        when the last dump does not know their index)."""
        self._learned.clear()  # as ``list_links``: an apply's first look at the kernel
        raw = self._get_raw(name=name)
        if raw is None:
            return None
        self._learn(raw.name, raw.index)
        wanted = {raw.master, raw.vxlan[2] if raw.vxlan else 0, raw.vlan[1] if raw.vlan else 0}
        for index in wanted - self._names.keys() - {0}:
            other = self._get_raw(index=index)
            if other is not None:
                self._learn(other.name, other.index)
        return _from_raw(raw, self._names)

    def _get_raw(self, name: str = "", index: int = 0) -> RawLink | None:
        self._seq += 1
        try:
            return rtnl_get_link(self._dump_sock, self._seq, name, index)
        except OSError as exc:
            raise error_from_errno(exc.errno or 0, f"get link {name or index}") from exc

    # --- fdb -----------------------------------------------------------------------------

    def list_fdb(self, device: str) -> set[FdbEntry]:
        self._seq += 1
        try:  # this device's entries only, filtered by the kernel (``rtnl_fdb``)
            entries = dump_fdb(self._fdb_sock, self._seq, self._index(device))
        except OSError as exc:
            raise error_from_errno(exc.errno or 0, "list fdb of " + device) from exc
        self._learned[device] = {e.mac for e in entries if e.master and e.mac}
        return {FdbEntry(device=device, mac=e.mac, dst=e.dst) for e in entries if e.dst and e.mac}

    def ensure_fdb(self, entry: FdbEntry) -> None:
        # a flood list holds one entry per VTEP: appended (a present one is a no-op); a
        # unicast entry replaces the MAC's
        verb, what = ("append", "flood") if entry.mac == FLOOD_MAC else ("replace", "fdb")
        self._call(
            f"add {what} {entry}",
            "fdb",
            verb,
            ifindex=self._index(entry.device),
            lladdr=entry.mac,
            dst=entry.dst,
            flags=NTF_SELF,
            state=NUD_PERMANENT | NUD_NOARP,
        )

    def forget_learned(self, device: str, mac: str) -> None:
        if mac not in self._learned.get(device, {mac}):
            return  # not learned as of this apply's dump (none: call)
        with contextlib.suppress(LinkNotFound):  # nothing learned: nothing to forget
            index = self._index(device)
            # not ``_call``: its ENOENT is the entry's, which must not drop the index cache
            # (every later round would look the bridge and VXLAN devices up again)
            call(
                self._ipr,
                f"forget {mac} on {device}",
                "fdb",
                "del",
                ifindex=index,
                lladdr=mac,
                flags=NTF_MASTER,
            )

    def remove_fdb(self, entry: FdbEntry) -> None:
        self._remove(
            f"fdb {entry}", "fdb", entry.device, lladdr=entry.mac, dst=entry.dst, flags=NTF_SELF
        )

    # --- neighbours ----------------------------------------------------------------------

    def list_neigh(self, device: str) -> set[NeighEntry]:
        msgs = self._call("list neigh of " + device, "neigh", "dump", ifindex=self._index(device))
        return {
            NeighEntry(device=device, ip=m.get("dst"), mac=m.get("lladdr").lower())
            for m in msgs
            if m["state"] & NUD_PERMANENT and m.get("lladdr") and m.get("dst")
        }

    def ensure_neigh(self, entry: NeighEntry) -> None:
        self._call(
            f"add neigh {entry}",
            "neigh",
            "replace",
            ifindex=self._index(entry.device),
            dst=entry.ip,
            lladdr=entry.mac,
            state=NUD_PERMANENT,
            family=_family(entry),
        )

    def remove_neigh(self, entry: NeighEntry) -> None:
        self._remove(f"neigh {entry}", "neigh", entry.device, dst=entry.ip, family=_family(entry))

    # --- the edge ------------------------------------------------------------------------

    def _index(self, name: str) -> int:
        # The last dump's index saves a lookup per operation (a round lists links first);
        # a device replaced since then fails with ENODEV, which drops the whole cache.
        if name in self._indexes:
            return self._indexes[name]
        found = self._call("lookup " + name, "link_lookup", ifname=name)
        if not found:
            raise LinkNotFound(f"{name}: no such device")
        self._learn(name, int(found[0]))
        return self._indexes[name]

    def _learn(self, name: str, index: int) -> None:
        if self._names.get(self._indexes.get(name, 0)) == name:
            del self._names[self._indexes[name]]  # the device was made again
        self._indexes[name], self._names[index] = index, name

    def _remove(self, what: str, table: str, device: str, **kwargs: Any) -> None:
        with contextlib.suppress(LinkNotFound):  # no such device or entry: already gone
            self._call("remove " + what, table, "del", ifindex=self._index(device), **kwargs)

    def _call(self, what: str, verb: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``IPRoute.<verb>(*args, **kwargs)``; errno becomes a named ``DataplaneError``."""
        try:
            return call(self._ipr, what, verb, *args, **kwargs)
        except LinkNotFound:  # ENODEV / ENOENT: a device may have been replaced
            self._indexes.clear()
            self._names.clear()
            raise


def _from_raw(raw: RawLink, names: dict[int, str]) -> Link:
    vxlan = None
    if raw.vxlan is not None:
        vni, local, dev, learning, proxy = raw.vxlan
        vxlan = (vni, local, names.get(dev) if dev else None, learning, proxy)
    vlan = None
    if raw.vlan is not None:
        vlan = (raw.vlan[0], names.get(raw.vlan[1]))
    return Link(
        name=raw.name,
        index=raw.index,
        kind=raw.kind or "device",
        mtu=raw.mtu,
        master=names.get(raw.master) if raw.master else None,
        up=bool(raw.flags & IFF_UP),
        vxlan=vxlan,
        vlan=vlan,
    )


def _family(entry: NeighEntry) -> int:
    return socket.AF_INET6 if ":" in entry.ip else socket.AF_INET
