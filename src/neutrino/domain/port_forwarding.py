"""Floating-IP port forwarding rules, pure: the wire converters, the port-range arithmetic and
the forwarding pairs the data plane installs.

A port forwarding sends ``protocol`` traffic to ``floating address : external port`` on to
``internal address : internal port`` (Neutron's ``floating-ip-port-forwarding`` family). Ports
are stored as ranges (start, end); a single port is the range (p, p). The wire spells both
styles: ``external_port``/``internal_port`` (integers, null for a real range) and
``external_port_range``/``internal_port_range`` (``"start:end"`` strings, always shown).

Rules kept here (Neutron's, ``pf_plugin``):

- the relation between internal and external ranges is N-N (the same size: port i maps to
  port i) or 1-N (one internal port behind a range of external ones); N-1 is refused;
- two forwardings of one floating IP and protocol may not overlap on the outside, and two of
  one (internal port, address, protocol) may not overlap on the inside: both 400
  ``BadRequest`` ("There is a port collision ...") as Neutron answers.

Only TCP and UDP are accepted (DNAT needs a port; ``tcp``/``udp`` is what clients send).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import excerpt
from neutrino.domain.attributes import Invalid, described

PROTOCOLS = ("tcp", "udp")
MIN_PORT = 1
MAX_PORT = 65535

PortRange = tuple[int, int]


@described({"type": "string", "enum": list(PROTOCOLS)})
def protocol(value: Any) -> str:
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return value.lower()
    raise Invalid(f"'{excerpt(value)}' is not in {list(PROTOCOLS)}")


def _port_number(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid(f"'{excerpt(value)}' is not an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"'{excerpt(value)}' is not an integer") from None
    if number < MIN_PORT:
        raise Invalid(f"'{number}' is too small - must be at least '{MIN_PORT}'")
    if number > MAX_PORT:
        raise Invalid(f"'{number}' is too large - must be no larger than '{MAX_PORT}'")
    return number


@described({"type": ["integer", "null"], "minimum": MIN_PORT, "maximum": MAX_PORT})
def port_or_none(value: Any) -> int | None:
    """``external_port``/``internal_port``: a port number (an integer string too), or null."""
    return None if value is None else _port_number(value)


@described(
    {
        "oneOf": [
            {"type": "string", "pattern": "^[0-9]{1,5}(:[0-9]{1,5})?$"},
            {"type": "integer", "minimum": MIN_PORT, "maximum": MAX_PORT},
            {"type": "null"},
        ]
    }
)
def port_range_or_none(value: Any) -> PortRange | None:
    """``"start:end"``, ``"port"`` or a port number -> (start, end); null stays null."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        port = _port_number(value)
        return port, port
    if not isinstance(value, str) or len(value) > 11:
        raise Invalid(f"Invalid port range specified: '{excerpt(value)}'")
    start, sep, end = value.partition(":")
    try:
        low = _port_number(start)
        high = _port_number(end) if sep else low
    except Invalid as exc:
        raise Invalid(f"Invalid port range specified: '{excerpt(value)}': {exc}") from None
    if low > high:
        raise Invalid(f"Invalid port range specified: '{excerpt(value)}'")
    return low, high


def span(r: PortRange) -> int:
    return r[1] - r[0]


def check_relation(internal: PortRange, external: PortRange) -> None:
    """N-N or 1-N (Neutron's ``_validate_ranges``); raises ``ValueError`` with its message."""
    if span(internal) > 0 and span(internal) != span(external):
        raise ValueError(
            "Invalid ranges of internal and/or external ports. The relation between internal "
            "and external ports must be N-N or 1-N"
        )


def overlaps(a: PortRange, b: PortRange) -> bool:
    return max(a[0], b[0]) <= min(a[1], b[1])


def range_text(r: PortRange) -> str:
    return f"{r[0]}:{r[1]}"


@dataclass(frozen=True, order=True)
class Forwarding:
    """One port of a forwarding, as the data plane maps it: (floating address, protocol,
    external port) -> (internal address, internal port)."""

    floating_ip_address: str
    protocol: str
    external_port: int
    internal_ip_address: str
    internal_port: int


def unroll(
    floating_ip_address: str,
    protocol: str,
    external: PortRange,
    internal_ip_address: str,
    internal: PortRange,
) -> Iterator[Forwarding]:
    """Each external port with its internal port: port i -> port i (N-N), or every external
    port -> the one internal port (1-N)."""
    single = span(internal) == 0
    for i, port in enumerate(range(external[0], external[1] + 1)):
        yield Forwarding(
            floating_ip_address,
            protocol,
            port,
            internal_ip_address,
            internal[0] if single else internal[0] + i,
        )
