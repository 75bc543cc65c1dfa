"""The probe packet of ``trace --verify``: one IPv4 or IPv6 packet, crafted byte by byte (pure).

The probe carries the trace's 5-tuple (addresses, protocol, ports or ICMP type and code) and a
**mark** that tells it apart from any real packet with the same tuple: the IPv4 header's
identification field, or the IPv6 flow label, set to a random value per probe. Both survive
every hop the probe crosses (bridges, VXLAN, a router's forwarding and NAT rewrite addresses
and ports, never these fields), so one nft match (``match``) finds the probe on every host.
The payload names it too (``MAGIC``), for whoever meets it in a capture.

TCP probes are a SYN (what a connection's first packet is, and what security groups and NAT
see first); ICMP probes are an echo request unless the trace names another type.
"""

from __future__ import annotations

import ipaddress
import secrets
import struct
from dataclasses import dataclass

__all__ = ["MAGIC", "ProbePacket", "checksum", "new_mark"]

MAGIC = b"neutrino-probe\x00\x00"
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58}
ETHERTYPES = {4: 0x0800, 6: 0x86DD}


def new_mark(version: int) -> int:
    """A random, non-zero mark: 16 bits for IPv4's identification, 20 for a flow label."""
    return 1 + secrets.randbelow((1 << (16 if version == 4 else 20)) - 1)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


@dataclass(frozen=True)
class ProbePacket:
    src: str
    dst: str
    protocol: str  # icmp, ipv6-icmp, tcp, udp
    mark: int
    dport: int | None = None
    sport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.dst).version

    @property
    def number(self) -> int:
        if self.protocol == "icmp" and self.version == 6:
            return 58
        return PROTOCOLS[self.protocol]

    def match(self) -> str:
        """The nft expression that matches this probe and nothing else in practice."""
        if self.version == 4:
            return f"ip id {self.mark} ip protocol {self.number}"
        return f"ip6 flowlabel {self.mark} ip6 nexthdr {self.number}"

    def _transport(self, pseudo: bytes) -> bytes:
        number = self.number
        if number in (1, 58):
            kind = self.icmp_type if self.icmp_type is not None else (8 if number == 1 else 128)
            code = self.icmp_code or 0
            body = struct.pack("!HH", self.mark & 0xFFFF, 1) + MAGIC
            head = struct.pack("!BBH", kind, code, 0)
            covered = (pseudo if number == 58 else b"") + head + body
            return struct.pack("!BBH", kind, code, checksum(covered)) + body
        sport = self.sport or 40000 + self.mark % 20000
        dport = self.dport or 0
        if number == 17:
            length = 8 + len(MAGIC)
            head = struct.pack("!HHHH", sport, dport, length, 0)
            value = checksum(pseudo + head + MAGIC) or 0xFFFF
            return struct.pack("!HHHH", sport, dport, length, value) + MAGIC
        # TCP: a SYN with a 20-byte header and no options
        head = struct.pack("!HHIIBBHHH", sport, dport, self.mark, 0, 5 << 4, 0x02, 64240, 0, 0)
        value = checksum(pseudo + head + MAGIC)
        return head[:16] + struct.pack("!H", value) + head[18:] + MAGIC

    def ip(self) -> bytes:
        """The IP packet, header included."""
        src = ipaddress.ip_address(self.src).packed
        dst = ipaddress.ip_address(self.dst).packed
        number = self.number
        if self.version == 4:
            length = 20 + len(self._transport(b"\x00" * 12))
            pseudo = src + dst + struct.pack("!BBH", 0, number, length - 20)
            payload = self._transport(pseudo)
            head = struct.pack("!BBHHHBBH", 0x45, 0, length, self.mark, 0x4000, 64, number, 0)
            head += src + dst
            head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
            return head + payload
        size = len(self._transport(b"\x00" * 40))
        pseudo = src + dst + struct.pack("!IxxxB", size, number)
        payload = self._transport(pseudo)
        head = struct.pack("!IHBB", (6 << 28) | self.mark, len(payload), number, 64)
        return head + src + dst + payload

    def frame(self, src_mac: str, dst_mac: str) -> bytes:
        """The Ethernet frame carrying the packet."""
        ether = struct.pack("!H", ETHERTYPES[self.version])
        return _mac(dst_mac) + _mac(src_mac) + ether + self.ip()


def _mac(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))
