"""``heap.settle``: what is alive is frozen out of later collections, and garbage cycles
among frozen objects are collected at the next settle (nothing leaks past it)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from neutrino.common import heap


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # leave the test process as it was


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_what_is_alive_and_collects_frozen_cycles_next_time() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    assert heap.settle() >= 0
    assert gc.get_freeze_count() > 0
    del a, b
    gc.collect()  # a collection of its own skips the frozen cycle
    assert gone() is not None
    heap.settle()
    assert gone() is None
