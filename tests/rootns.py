"""What our tests may never leave behind: devices and nft tables in the namespace they run in.

Every kernel test works in namespaces of its own; an agent, L2 manager or lab wired without
its namespace builds in the test process's own one instead (the "root" namespace of the run)
and, unless cleaned up, leaves ``brq…`` bridges, ``vxlan-…`` devices and the like there.
``RootWatch`` lists, with one netlink dump each, the links and the nf_tables tables of that
namespace whose names are ours (``OURS``, ``TABLES``); ``tests/conftest.py`` compares the
lists before and after every test (and over the whole session), so only what appeared meanwhile
and stayed counts: whatever other processes of the machine had made before is never blamed.

The sockets are opened once, in the session's first test, by the thread running it: they
stay in that namespace whatever namespace a test moves a thread into. Without root (no
device can be made then) or off Linux there is nothing to watch: ``RootWatch.open`` is None.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

__all__ = ["OURS", "TABLES", "RootWatch"]

# brq<net>, vxlan-<vni>, tap<port> (VM, DHCP and router ports), qr-/qg- (router ports),
# nt-/ntb- (the agent's external uplink veth), ul- (the lab's underlay veths)
OURS = ("brq", "vxlan-", "tap", "qr-", "qg-", "nt-", "ntb-", "ul-")
TABLES = "neutrino"  # nf_tables tables named neutrino* (any family)
FAMILIES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

NETLINK_NETFILTER = 12
RTM_NEWLINK, RTM_GETLINK, IFLA_IFNAME, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 16, 18, 3, 29, 8
NFT_NEWTABLE, NFT_GETTABLE, NFTA_TABLE_NAME = 10 << 8 | 0, 10 << 8 | 1, 1  # subsystem 10
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP, NLM_F_DUMP_INTR = 0x1, 0x300, 0x10
_NLMSG = struct.Struct("=IHHII")
_NLA = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_NFGEN = struct.Struct("=BBH")  # family, version, resource id


class RootWatch:
    """Our devices and tables in one namespace (the one the sockets were opened in)."""

    def __init__(self, links: socket.socket, tables: socket.socket) -> None:
        self._links = links
        self._tables = tables
        self._seq = 0

    @classmethod
    def open(cls) -> RootWatch | None:
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            return None
        links = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        tables = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        for sock in (links, tables):
            sock.bind((0, 0))
        return cls(links, tables)

    def close(self) -> None:
        self._links.close()
        self._tables.close()

    def ours(self) -> frozenset[str]:
        """Names of our links (``link brq…``) and tables (``nft table <family> neutrino…``)."""
        mask = _NLA.pack(8, IFLA_EXT_MASK) + struct.pack("=I", RTEXT_FILTER_SKIP_STATS)
        links = self._dump(
            self._links, RTM_GETLINK, _IFINFO.pack(0, 0, 0, 0, 0) + mask, IFLA_IFNAME
        )
        tables = self._dump(self._tables, NFT_GETTABLE, _NFGEN.pack(0, 0, 0), NFTA_TABLE_NAME)
        found = {
            f"link {name}"
            for kind, _, name in links
            if kind == RTM_NEWLINK and name.startswith(OURS)
        }
        found |= {
            f"nft table {FAMILIES.get(family, family)} {name}"
            for kind, family, name in tables
            if kind == NFT_NEWTABLE and name.startswith(TABLES)
        }
        return frozenset(found)

    def _dump(
        self, sock: socket.socket, kind: int, body: bytes, name: int
    ) -> list[tuple[int, int, str]]:
        """(message type, family byte, attribute ``name``) of each answer to one dump request
        (taken again when the kernel flags the dump interrupted by a change)."""
        header = _IFINFO.size if kind == RTM_GETLINK else _NFGEN.size
        while True:
            self._seq += 1
            flags = NLM_F_REQUEST | NLM_F_DUMP
            sock.send(_NLMSG.pack(_NLMSG.size + len(body), kind, flags, self._seq, 0) + body)
            out: list[tuple[int, int, str]] = []
            interrupted = False
            while True:
                data = sock.recv(1 << 16)
                done = False
                offset = 0
                while offset + _NLMSG.size <= len(data):
                    length, got, got_flags, seq, _ = _NLMSG.unpack_from(data, offset)
                    if length < _NLMSG.size:
                        break
                    interrupted |= bool(got_flags & NLM_F_DUMP_INTR)
                    if got == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, offset + _NLMSG.size)
                        if code:
                            raise OSError(-code, "netlink dump")
                    elif got == NLMSG_DONE:
                        done = True
                    elif seq == self._seq:
                        start = offset + _NLMSG.size + header
                        family = data[offset + _NLMSG.size]
                        out.append((got, family, _attr(data, start, offset + length, name)))
                    offset += (length + 3) & ~3
                if done:
                    break
            if not interrupted:
                return out


def _attr(data: bytes, start: int, end: int, wanted: int) -> str:
    """The string attribute ``wanted`` of one message (its attributes: ``start``..``end``)."""
    while start + _NLA.size <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < _NLA.size:
            break
        if kind & 0x3FFF == wanted:
            return data[start + _NLA.size : start + length].split(b"\0", 1)[0].decode()
        start += (length + 3) & ~3
    return ""
