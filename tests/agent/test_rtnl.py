"""The link-dump parser on crafted netlink datagrams: fields read, errors and interrupted
dumps surfaced (the kernel side is exercised by the L2 kernel tests)."""

from __future__ import annotations

import errno
import struct

import pytest

from neutrino.agent.dataplane.rtnl import Interrupted, parse_links

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
