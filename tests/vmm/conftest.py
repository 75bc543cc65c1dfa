"""vmm fixtures: its tables migrated (by its own Alembic history) into the per-test database
of tests/conftest.py (SQLite, and PostgreSQL when NEUTRINO_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import migrate
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.container import Vmm
from tests.vmm.world import World, make_world


@pytest.fixture
def vmm_store(db_url: str) -> Iterator[VmmStore]:
    migrate.upgrade(db_url)
    store = VmmStore(db_url, Cipher(Fernet.generate_key()))
    yield store
    store.dispose()


@pytest.fixture
def vmm(vmm_store: VmmStore) -> Iterator[Vmm]:
    v = Vmm(vmm_store, timeout=10, wait_timeout=5)
    yield v
    v.clients.close()


@pytest.fixture
def world(live_url: str, vmm: Vmm) -> World:
    return make_world(live_url, vmm)
