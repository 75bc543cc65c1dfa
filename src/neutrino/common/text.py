"""Checks on decoded request text shared by every HTTP edge (the Neutron API, the vmm's)."""

from __future__ import annotations

from typing import Any


def holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string or key (PostgreSQL's
    text cannot store one, and no Neutron attribute means one)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
