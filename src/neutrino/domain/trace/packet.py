"""A packet to trace, and the hops a trace reports (pure data).

``Packet`` is what a VM would send: the destination address, a protocol (a name as security
group rules say it, or a number), the destination (and optionally source) port for
TCP/UDP/SCTP/DCCP/UDPLITE, the ICMP type and code for ICMP, and optionally a forged source
address or MAC (to ask "what happens if it spoofs"). ``with_`` gives the packet after NAT.

A ``Hop`` is one step of the path: what was checked (``step``), the object it came from
(``obj``: a port, group, rule, network, router), the ``verdict`` (``pass``, ``nat``, ``drop``,
``deliver``, ``leave``, ``warn``), a sentence saying why and, for a drop, ``fix``: the change
that would let the packet through.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Protocol

from neutrino.domain.security_groups import PORT_PROTOCOL_NUMBERS, PROTOCOLS

__all__ = ["Hop", "Labelled", "Packet", "Trace", "make_hop", "protocol_number"]

VERDICTS = ("pass", "nat", "drop", "deliver", "leave", "warn")


def protocol_number(protocol: str | int | None) -> int | None:
    """A protocol name or number as a number; None, ``any``, ``ip`` and 0 mean any."""
    if protocol is None or protocol == "any":
        return None
    if isinstance(protocol, int):
        return protocol or None
    value = PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)
    return value or None


@dataclass(frozen=True)
class Packet:
    dst: str
    protocol: str = "icmp"
    dport: int | None = None
    sport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    src: str | None = None  # None: the source port's own address of dst's family
    src_mac: str | None = None  # None: the source port's MAC

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.dst).version

    @property
    def ethertype(self) -> str:
        return f"IPv{self.version}"

    @property
    def number(self) -> int | None:
        """The protocol number; ICMP follows the address family (icmp on IPv6 is 58)."""
        number = protocol_number(self.protocol)
        if number in (1, 58):
            return 58 if self.version == 6 else 1
        return number

    @property
    def has_ports(self) -> bool:
        return self.number in PORT_PROTOCOL_NUMBERS

    @property
    def icmp(self) -> bool:
        return self.number in (1, 58)

    def echo_type(self) -> int:
        """The ICMP type the packet carries: given, else an echo request."""
        if self.icmp_type is not None:
            return self.icmp_type
        return 128 if self.version == 6 else 8

    def describe(self) -> str:
        name = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}.get(
            self.number or 0, str(self.number) if self.number else "any protocol"
        )
        if self.has_ports and self.dport is not None:
            return f"{name}/{self.dport}"
        if self.icmp:
            code = f"/{self.icmp_code}" if self.icmp_code is not None else ""
            return f"{name} type {self.echo_type()}{code}"
        return name

    def with_(self, **changes: object) -> Packet:
        return replace(self, **changes)  # type: ignore[arg-type]


class Labelled(Protocol):
    """A model object a hop came from: it says what it is and whose it is."""

    @property
    def owner(self) -> str: ...

    def label(self) -> str: ...


@dataclass(frozen=True)
class Hop:
    step: str
    obj: str
    verdict: str
    detail: str
    fix: str | None = None
    owner: str | None = None  # project of ``obj``; "" = every project's; None = no object
    # the kernel objects this hop relies on (``kernel.KernelRef``: host and drift-object
    # prefix), for ``--verify``; not part of the API's answer
    refs: tuple[tuple[str, str], ...] = ()


@dataclass
class Trace:
    packet: Packet
    hops: list[Hop] = field(default_factory=list)
    reply: list[Hop] = field(default_factory=list)  # how the answer gets back (conntrack)

    @property
    def verdict(self) -> str:
        """``delivered``, ``dropped`` or ``left`` (forwarded out of the modelled network)."""
        last = self.hops[-1].verdict if self.hops else "drop"
        return {"deliver": "delivered", "leave": "left"}.get(last, "dropped")

    @property
    def reply_verdict(self) -> str | None:
        """``allowed`` or ``dropped`` for the answer to a delivered packet; None otherwise."""
        if self.verdict != "delivered":
            return None
        return "dropped" if any(h.verdict == "drop" for h in self.reply) else "allowed"

    @property
    def drop(self) -> Hop | None:
        return next((h for h in self.hops if h.verdict == "drop"), None)

    def add(
        self, step: str, obj: Labelled | str, verdict: str, detail: str, fix: str | None = None
    ) -> Hop:
        hop = make_hop(step, obj, verdict, detail, fix)
        self.hops.append(hop)
        return hop

    def rely(self, since: int, step: str, refs: list[tuple[str, str]]) -> None:
        """Hops ``step`` added from index ``since`` on rely on the kernel objects ``refs``."""
        for i in range(since, len(self.hops)):
            if self.hops[i].step == step and refs:
                self.hops[i] = replace(self.hops[i], refs=self.hops[i].refs + tuple(refs))


def make_hop(
    step: str, obj: Labelled | str, verdict: str, detail: str, fix: str | None = None
) -> Hop:
    assert verdict in VERDICTS, verdict
    if isinstance(obj, str):
        return Hop(step, obj, verdict, detail, fix)
    return Hop(step, obj.label(), verdict, detail, fix, obj.owner)
