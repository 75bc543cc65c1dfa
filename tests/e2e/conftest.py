"""End-to-end tests: a live controller plus agents managing namespace hypervisors. Marked
``e2e`` (and ``kernel``), skipped cleanly without root or ``ip netns``."""

from __future__ import annotations

import pytest

from tests.kernel.lab import skip_reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: controller + agents in a namespace lab")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = skip_reason()
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.kernel)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
