"""Kernel tests: marked ``kernel``, skipped cleanly without root or ``ip netns``; every test
gets a ``NetnsLab`` whose namespaces are removed at teardown even when the test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kernel.lab import NetnsLab, skip_reason


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = skip_reason()
    for item in items:
        if "tests/kernel/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.kernel)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def lab() -> Iterator[NetnsLab]:
    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.cleanup()
