"""Deltas between two wire forms of a host state (``HostState.to_dict()``): what changed.

The host-state watch sends a full snapshot on start and after a gap, and after that only the
difference from the state the agent already holds, so a change to one port on a host with a
thousand costs one port's bytes. Generic over the wire form, so new host-state sections
(security groups, routers) get deltas without code here:

* a list whose items all carry an ``id`` (or, for per-network sections, a ``network_id``)
  is diffed item by item: ``upsert`` lists new and changed items, ``remove`` the keys of
  items gone;
* any other value (scalars, lists without keys) is sent whole under ``set`` when it differs.

Both forms have the same fields (the wire form of one ``HostState`` version); a field only in
``old`` is kept by ``patch``.

``patch(old, diff(old, new)) == new`` for any two states, item order included: items of a
keyed list are kept sorted by key, which is the order ``HostState`` lists them in. ``patch``
and ``advance_digest`` rely on it: they find the items a delta names by bisection and copy
the runs between them whole, so one port changed on a 5,000-port host costs no walk of the
other 4,999 in Python (one port upserted there: ``patch`` 0.48 -> 0.02 ms,
``advance_digest`` 0.38 -> 0.006 ms).

The digest (``digest``) is a sum, modulo 2²⁵⁶, of one hash per list item (and per other
field), ``revision`` left out: so the digest of a patched state follows from the old digest
and the items the delta replaces (``advance_digest``), without hashing the thousands of items
it keeps — what lets a watch answer a 5,000-port host as fast as a 50-port one. It checks
that two copies agree (not a defence against a forger).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import orjson

__all__ = ["advance_digest", "diff", "digest", "find", "is_empty", "merged", "patch"]

KEYS = ("id", "network_id")


def _key_name(items: list[Any]) -> str | None:
    """The key every item of ``items`` has (None: not a keyed list)."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for name in KEYS:
        if all(name in i for i in items):
            return name
    return None


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The delta taking ``old`` to ``new`` (see the module docstring)."""
    out: dict[str, Any] = {"set": {}, "upsert": {}, "remove": {}}
    for field, value in new.items():
        before = old.get(field)
        if before == value:
            continue
        key = _key_name(value) if isinstance(value, list) else None
        old_key = _key_name(before) if isinstance(before, list) else None
        if key is None or (before and old_key != key):
            out["set"][field] = value
            continue
        have = {i[key]: i for i in before or ()}
        want = {i[key]: i for i in value}
        upsert = [i for k, i in want.items() if have.get(k) != i]
        remove = sorted(k for k in have if k not in want)
        if upsert:
            out["upsert"][field] = {"key": key, "items": upsert}
        if remove:
            out["remove"][field] = {"key": key, "keys": remove}
    return out


def is_empty(delta: dict[str, Any]) -> bool:
    return not (delta["set"] or delta["upsert"] or delta["remove"])


def patch(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``old`` with ``delta`` applied (a new dict; ``old`` is not modified)."""
    new = dict(old)
    new.update(delta["set"])
    for field in set(delta["upsert"]) | set(delta["remove"]):
        spec = delta["upsert"].get(field) or delta["remove"][field]
        changes: dict[Any, Any] = dict.fromkeys(delta["remove"].get(field, {}).get("keys", ()))
        changes.update((i[spec["key"]], i) for i in delta["upsert"].get(field, {}).get("items", ()))
        new[field] = merged(old.get(field) or [], itemgetter(spec["key"]), changes)
    return new


def merged(items: Sequence[Any], key: Callable[[Any], Any], changes: dict[Any, Any]) -> list[Any]:
    """``items`` (sorted by ``key(item)``) with each key of ``changes`` set to its item (None:
    removed), still sorted: the runs between changed keys are copied as slices, so one change
    among 5,000 items costs no walk of the others in Python."""
    out: list[Any] = []
    at = 0
    for k in sorted(changes):
        pos, found = _position(items, key, k, at)
        out += items[at:pos]
        at = pos + found
        if changes[k] is not None:
            out.append(changes[k])
    return out + list(items[at:])


def _position(
    items: Sequence[Any], key: Callable[[Any], Any], k: Any, lo: int = 0
) -> tuple[int, bool]:
    """Where key ``k`` is, or would go, in ``items`` (sorted by ``key``), and whether it is."""
    pos = bisect.bisect_left(items, k, lo, key=key)
    return pos, pos < len(items) and key(items[pos]) == k


def find(items: list[Any], key: str, k: Any) -> Any:
    """The item of ``items`` (a keyed list, sorted by ``key``) whose ``key`` is ``k``, or None."""
    pos, found = _position(items, itemgetter(key), k)
    return items[pos] if found else None


def _named(items: list[Any], key: str, keys: set[Any]) -> Iterator[Any]:
    """The items of ``items`` (sorted by ``key``) whose key is one of ``keys``."""
    return (i for i in (find(items, key, k) for k in keys) if i is not None)


_MOD = 1 << 256


def _hash(field: str, value: Any) -> int:
    data = orjson.dumps([field, value], option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(data, digest_size=32).digest(), "big")


def _part(field: str, value: Any) -> int:
    """A field's share of the digest: its items' hashes for a list of objects (none for an
    empty list), else the hash of the value."""
    if isinstance(value, list) and all(isinstance(i, dict) for i in value):
        return sum(_hash(field, i) for i in value)
    return _hash(field, value)


def digest(state: dict[str, Any]) -> str:
    """The content digest of a wire form (``revision`` excluded): equal content, equal digest."""
    total = sum(_part(f, v) for f, v in state.items() if f != "revision")
    return f"{total % _MOD:064x}"


def advance_digest(old_digest: str, old: dict[str, Any], delta: dict[str, Any]) -> str:
    """``digest(patch(old, delta))`` from ``digest(old)``: only the items the delta names are
    hashed (those it replaces or removes in ``old``, those it brings)."""
    total = int(old_digest, 16)
    for field, value in delta["set"].items():
        if field != "revision":
            total += _part(field, value) - (_part(field, old[field]) if field in old else 0)
    for field in set(delta["upsert"]) | set(delta["remove"]):
        spec = delta["upsert"].get(field) or delta["remove"][field]
        key = spec["key"]
        items = delta["upsert"].get(field, {}).get("items", ())
        keys = {i[key] for i in items} | set(delta["remove"].get(field, {}).get("keys", ()))
        before = old.get(field, [])
        # HostState's lists are of one kind: the first item tells a list of objects
        if not isinstance(before, list) or (before and not isinstance(before[0], dict)):
            total -= _part(field, before)  # was no list of objects: replaced whole
            before = []
        total -= sum(_hash(field, i) for i in _named(before, key, keys))
        total += sum(_hash(field, i) for i in items)
    return f"{total % _MOD:064x}"
