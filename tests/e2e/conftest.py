"""End-to-end tests: a live controller plus agents managing namespace hypervisors. Marked
``e2e`` (and ``kernel``), skipped cleanly without root or ``ip netns``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrino.lab import Lab
from neutrino.lab.netns import list_namespaces
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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The controller's database: SQLite only. These tests prove the data plane (devices,
    rules, traffic) an agent builds from what the API says; the store and API suites prove the
    database behaviour on SQLite and PostgreSQL, so running each lab twice proved nothing
    more and doubled the suite's longest tests."""
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


@pytest.fixture
def lab_dir() -> Iterator[tuple[Path, str]]:
    """A lab dir dnsmasq can traverse and a unique namespace prefix; whatever the test
    leaves is removed (``lab down``, then any namespace with the prefix, its ``qdhcp-`` and
    ``qrouter-`` namespaces included)."""
    directory = Path(tempfile.mkdtemp(prefix="neutrino-lab-", dir="/tmp"))
    directory.chmod(0o755)
    prefix = f"nl{uuid.uuid4().hex[:6]}-"
    try:
        yield directory, prefix
    finally:
        try:
            Lab(directory).down()
        finally:
            for name in list_namespaces():
                if name.startswith(prefix) or (
                    name.startswith(("qdhcp-", "qrouter-")) and f"-{prefix}" in name
                ):
                    subprocess.run(["ip", "netns", "del", name], capture_output=True)
            shutil.rmtree(directory, ignore_errors=True)
