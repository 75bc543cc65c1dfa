"""The MAC pool of a data center: a range ``start-end`` of unicast addresses; a new vNIC gets
the lowest address of the range that no vNIC of the data center holds. A unique key on the
address in storage settles races between two allocations (the loser retries)."""

from __future__ import annotations

from collections.abc import Collection

from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.vmm.model import check_mac


def _int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def _mac(value: int) -> str:
    text = f"{value:012x}"
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


def parse_range(pool: str) -> tuple[int, int]:
    """``"aa:..:00-aa:..:ff"`` as two integers; InvalidInput when malformed or empty."""
    start, sep, end = pool.partition("-")
    if not sep:
        raise InvalidInput(f"MAC pool '{pool}' is not of the form START-END")
    low, high = _int(check_mac(start.strip())), _int(check_mac(end.strip()))
    if low > high:
        raise InvalidInput(f"MAC pool '{pool}' ends before it starts")
    if (low >> 40) != (high >> 40):
        # the first octet decides unicast/multicast: a range across it would hand out both
        raise InvalidInput(f"MAC pool '{pool}' must keep its first octet")
    return low, high


def allocate(pool: str, used: Collection[str]) -> str:
    """The lowest address of ``pool`` not in ``used``; 409 MacPoolExhausted when none is left."""
    low, high = parse_range(pool)
    taken = {_int(m) for m in used}
    for value in range(low, high + 1):
        if value not in taken:
            return _mac(value)
    raise NamedConflict("MacPoolExhausted", f"MAC pool {pool} has no free address")


def contains(pool: str, mac: str) -> bool:
    low, high = parse_range(pool)
    return low <= _int(mac) <= high
