"""vmm fixtures: its tables migrated (by its own Alembic history) into the per-test database
of tests/conftest.py (SQLite, and PostgreSQL when NEUTRINO_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import migrate
from neutrino.vmm.storage.repo import VmmStore


@pytest.fixture
def vmm_store(db_url: str) -> Iterator[VmmStore]:
    migrate.upgrade(db_url)
    store = VmmStore(db_url, Cipher(Fernet.generate_key()))
    yield store
    store.dispose()
