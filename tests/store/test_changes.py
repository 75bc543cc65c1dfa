"""The change model (store/changes.py), its one write call (``Tx.updated``/``created``/
``deleted``) and the change-log reads (store/changelog.py), on SQLite and PostgreSQL; and
every cache's declaration of the kinds that invalidate it."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import neutrino.service.hostsync
import neutrino.service.ipam_floors
import neutrino.service.port_views
import neutrino.service.trace_model
from neutrino.common import clock
from neutrino.service.changes import INTERESTS
from neutrino.store import changelog, raw
from neutrino.store.changes import ALL_KINDS, Op, Resource, kind_of, kinds
from neutrino.store.uow import Store, Tx

SERVICE = Path(neutrino.service.port_views.__file__).parent
CACHES = {"port views", "IPAM floors", "host state", "trace model"}


def test_every_cache_classifies_every_kind() -> None:
    """A new resource or op makes this fail until each cache says whether it cares."""
    assert {i.cache for i in INTERESTS} >= CACHES
    for interest in INTERESTS:
        assert interest.unclassified() == frozenset(), interest.cache
        assert interest.invalidating & interest.ignored == frozenset(), interest.cache


def test_kinds_round_trip_and_unknown_kinds_count_as_invalidating() -> None:
    assert len(ALL_KINDS) == len(Resource) * len(Op)
    for kind in ALL_KINDS:
        assert kind_of(kind.resource.type, kind.op.value) == kind
    (floors,) = [i for i in INTERESTS if i.cache == "IPAM floors"]
    assert floors.ignores("port", "create")
    assert not floors.ignores("port", "delete")
    assert not floors.ignores("subnet_pool", "delete")  # a type this code does not know


def test_service_code_records_only_through_the_typed_calls() -> None:
    """No ``tx.record``/``tx._record`` with free strings in ``service``."""
    calls = []
    for path in SERVICE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("record", "_record", "_append"):
                calls.append(f"{path.name}:{node.lineno}")
    assert calls == []


def _network(tx: Tx, network_id: str, project: str = "p1") -> None:
    now = clock.now()
    raw.run(
        tx.conn,
        "INSERT INTO networks (id, project_id, name, description, created_at, updated_at, "
        "revision_number, admin_state_up, status, shared, mtu, port_security_enabled, "
        "router_external, is_default) VALUES (?, ?, '', '', ?, ?, 1, ?, 'ACTIVE', ?, 1500, ?, "
        "?, ?)",
        (network_id, project, *[raw.db_time(tx.conn, now)] * 2, True, False, True, False, False),
    )


def _logged(store: Store, since: int) -> list[tuple[str, str, str, str, str | None]]:
    with store.read() as conn:
        return raw.rows(  # type: ignore[return-value]
            conn,
            "SELECT resource_type, resource_id, op, project_id, network_id FROM changes "
            "WHERE revision > ? ORDER BY revision",
            (since,),
        )


def test_updated_sets_bumps_stamps_and_names_the_rows_own_network(store: Store) -> None:
    store.write(_network, "n1")
    with store.read() as conn:
        before = raw.one(conn, "SELECT updated_at FROM networks WHERE id = 'n1'")
    start = store.current_revision()

    def rename(tx: Tx) -> tuple[int | None, int | None]:
        return (
            tx.updated(Resource.NETWORK, "n1", {"name": "renamed", "mtu": 1400}),
            tx.updated(Resource.NETWORK, "missing"),
        )

    assert store.write(rename) == (2, None)  # a missing row: no revision, nothing logged
    with store.read() as conn:
        row = raw.one(conn, "SELECT name, mtu, revision_number, updated_at FROM networks")
    assert row is not None and row[:3] == ("renamed", 1400, 2)
    assert before is not None and str(row[3]) > str(before[0])
    assert _logged(store, start) == [("network", "n1", "update", "p1", "n1")]


def test_updated_refuses_a_column_the_table_does_not_have(store: Store) -> None:
    store.write(_network, "n1")
    with pytest.raises(ValueError, match="has no column"):
        store.write(lambda tx: tx.updated(Resource.NETWORK, "n1", {"name; DROP": "x"}))


def test_created_and_deleted_read_project_and_network_from_the_row(store: Store) -> None:
    start = store.current_revision()

    def write(tx: Tx) -> None:
        _network(tx, "n2", project="p2")
        tx.created(Resource.NETWORK, "n2")  # by id: read back
        tx.deleted(Resource.RBAC_POLICY, {"id": "r1", "project_id": "p2"})  # the row at hand
        tx.updated(Resource.AGENT, {"id": "a1"})  # no revision, no project: records only

    store.write(write)
    assert _logged(store, start) == [
        ("network", "n2", "create", "p2", "n2"),
        ("rbac_policy", "r1", "delete", "p2", None),
        ("agent", "a1", "update", "", None),
    ]


def test_reads_latest_since_and_touched(store: Store) -> None:
    with store.read() as conn:
        assert changelog.latest(conn) == 0

    def write(tx: Tx) -> None:
        _network(tx, "n1")
        tx.created(Resource.NETWORK, "n1")
        tx.updated(Resource.NETWORK, "n1")

    store.write(write)
    creates = kinds(Resource.NETWORK, ops=(Op.CREATE,))
    with store.read() as conn:
        assert changelog.latest(conn) == 2
        assert [c.op for c in changelog.since(conn, 0)] == ["create", "update"]
        assert [c.op for c in changelog.since(conn, 0, 1)] == ["create"]
        assert changelog.since(conn, 2) == []
        assert changelog.touched(conn, "n1", 1, creates) == (2, True)  # the update
        assert changelog.touched(conn, "n1", 0, kinds(Resource.NETWORK)) == (2, False)
        assert changelog.touched(conn, "other", 0, creates) == (2, False)
        assert changelog.touched(conn, "n1", 2, creates) == (2, False)  # nothing after 2
        (recent,) = changelog.recent(conn, "p1", 1)
    assert recent["op"] == "update" and recent["revision"] == 2
    assert dt.datetime.fromisoformat(recent["created_at"].replace("Z", "+00:00"))
