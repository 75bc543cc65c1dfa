"""The link- and FDB-dump parsers on crafted netlink datagrams: fields read, errors and interrupted
dumps surfaced (the kernel side is exercised by the L2 kernel tests)."""

from __future__ import annotations

import errno
import struct

import pytest

from neutrino.agent.dataplane.rtnl import Interrupted, parse_links
from neutrino.agent.dataplane.rtnl_fdb import RawFdb, parse_fdb

SEQ = 7


def attr(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def newlink(index: int, name: str, *, flags: int = 0, master: int = 0, seq: int = SEQ) -> bytes:
    body = struct.pack("=BxHiII", 0, 1, index, 1, 0)
    body += attr(3, name.encode() + b"\0") + attr(4, struct.pack("=I", 1450))
    if master:
        body += attr(10, struct.pack("=I", master))
    body += attr(18, attr(1, b"veth\0"))
    return struct.pack("=IHHII", 16 + len(body), 16, flags, seq, 0) + body


def done(seq: int = SEQ, flags: int = 0) -> bytes:
    return struct.pack("=IHHII", 20, 3, flags, seq, 0) + b"\0" * 4


def test_links_are_read_and_the_end_of_the_dump_seen() -> None:
    links, finished = parse_links(newlink(3, "tapaaaaaaaa-11", master=2) + done(), SEQ)
    assert finished
    (link,) = links
    assert (link.index, link.name, link.mtu, link.master, link.kind) == (
        3,
        "tapaaaaaaaa-11",
        1450,
        2,
        "veth",
    )
    assert parse_links(newlink(4, "x", seq=SEQ + 1), SEQ) == ([], False)  # another request


def test_errors_truncation_and_interrupted_dumps() -> None:
    error = struct.pack("=IHHII", 20, 2, 0, SEQ, 0) + struct.pack("=i", -errno.EPERM)
    with pytest.raises(OSError) as exc:
        parse_links(error, SEQ)
    assert exc.value.errno == errno.EPERM
    with pytest.raises(OSError) as exc:
        parse_links(newlink(3, "tap")[:-4], SEQ)  # length says more than arrived
    assert exc.value.errno == errno.EIO
    with pytest.raises(Interrupted):
        parse_links(newlink(3, "tap", flags=0x10) + done(flags=0x10), SEQ)


def newneigh(mac: bytes, *, dst: bytes = b"", master: int = 0, flags: int = 0) -> bytes:
    body = struct.pack("=BxHiHBB", 7, 0, 5, 0x80, 2, 0) + attr(2, mac)
    if dst:
        body += attr(1, dst)
    if master:
        body += attr(9, struct.pack("=I", master))
    return struct.pack("=IHHII", 16 + len(body), 28, flags, SEQ, 0) + body


def test_fdb_entries_are_read_with_their_vtep_and_bridge() -> None:
    vtep = newneigh(bytes([0xFA, 0x16, 0x3E, 0, 0, 1]), dst=bytes([198, 51, 100, 2]))
    learned = newneigh(bytes([0xFA, 0x16, 0x3E, 0, 0, 2]), master=4)
    entries, finished = parse_fdb(vtep + learned + done(), SEQ)
    assert finished
    assert entries == [
        RawFdb("fa:16:3e:00:00:01", "198.51.100.2", 0),
        RawFdb("fa:16:3e:00:00:02", None, 4),
    ]
    with pytest.raises(Interrupted):
        parse_fdb(learned + done(flags=0x10), SEQ)
