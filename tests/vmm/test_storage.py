"""The vmm's storage on SQLite and PostgreSQL: its own migrations beside the controller's,
passwords encrypted at rest, and the keys that carry the model's rules."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import inspect, select

from neutrino.common.errors import NamedConflict
from neutrino.store import migrate as controller_migrate
from neutrino.vmm import model as m
from neutrino.vmm.secrets import Cipher, load_or_create_key
from neutrino.vmm.storage import migrate, tables
from neutrino.vmm.storage.repo import VmmStore


def _dc_with_provider(store: VmmStore) -> tuple[m.DataCenter, m.Provider]:
    with store.write() as repo:
        dc = repo.add(m.DataCenter(name="dc1"))
        p = repo.add(
            m.Provider(
                name="p1",
                url="http://n:9696",
                auth_url="http://n:9696/v3",
                username="admin",
                password="s3cret-pw",
            )
        )
    return dc, p


def test_migrated_schema_matches_the_tables(vmm_store: VmmStore) -> None:
    with vmm_store.engines.write.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "version_table": migrate.VERSION_TABLE,
                "include_object": _only_vmm,
            },
        )
        assert compare_metadata(ctx, tables.metadata) == []
        names = set(inspect(conn).get_table_names())
    assert "vmm_alembic_version" in names
    assert "alembic_version" not in names  # the controller's version table is not ours


def _only_vmm(obj: object, name: str | None, type_: str, *_: object) -> bool:
    return type_ != "table" or bool(name and name.startswith("vmm_"))


def test_both_histories_live_in_one_database(db_url: str) -> None:
    controller_migrate.upgrade(db_url)
    migrate.upgrade(db_url)
    assert controller_migrate.is_up_to_date(db_url)
    assert migrate.is_up_to_date(db_url)
    assert migrate.current(db_url) == migrate.head() == "vmm_0002"
    assert controller_migrate.current(db_url) != migrate.current(db_url)
    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    assert controller_migrate.is_up_to_date(db_url)  # untouched by the vmm's downgrade


def test_password_is_encrypted_at_rest(vmm_store: VmmStore) -> None:
    _, p = _dc_with_provider(vmm_store)
    with vmm_store.read() as repo:
        raw = repo.conn.execute(select(tables.providers.c.password_encrypted)).scalar_one()
        assert "s3cret-pw" not in raw
        loaded = repo.get(m.Provider, p.id)
    assert loaded is not None and loaded.password == "s3cret-pw"
    other = VmmStore(vmm_store.engines.url, Cipher(Fernet.generate_key()))
    try:
        with other.read() as repo, pytest.raises(ValueError, match="cannot be decrypted"):
            repo.get(m.Provider, p.id)
    finally:
        other.dispose()


def test_key_file_is_private_and_stable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state" / "vmm.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert Cipher(key).decrypt(Cipher(key).encrypt("x")) == "x"


def test_a_provider_network_is_imported_once_per_datacenter(vmm_store: VmmStore) -> None:
    dc, p = _dc_with_provider(vmm_store)
    with vmm_store.write() as repo:
        dc2 = repo.add(m.DataCenter(name="dc2"))
        repo.add(m.Network(name="a", datacenter_id=dc.id, provider_id=p.id, external_id="x"))
        repo.add(m.Network(name="a", datacenter_id=dc2.id, provider_id=p.id, external_id="x"))
        repo.add(m.Network(name="own", datacenter_id=dc.id))
        repo.add(m.Network(name="own2", datacenter_id=dc.id))  # own networks: no link key
    with pytest.raises(NamedConflict) as err, vmm_store.write() as repo:
        repo.add(m.Network(name="b", datacenter_id=dc.id, provider_id=p.id, external_id="x"))
    assert err.value.type == "NetworkAlreadyImported"
    with vmm_store.read() as repo:
        assert len(repo.find(m.Network, datacenter_id=dc.id)) == 3


def test_profile_security_groups_round_trip(vmm_store: VmmStore) -> None:
    dc, _ = _dc_with_provider(vmm_store)
    with vmm_store.write() as repo:
        net = repo.add(m.Network(name="n", datacenter_id=dc.id))
        for name, groups in (("unset", None), ("none", []), ("two", ["g1", "g2"])):
            repo.add(m.Profile(name=name, network_id=net.id, security_groups=groups))
    with vmm_store.read() as repo:
        got = {p.name: p.security_groups for p in repo.find(m.Profile, network_id=net.id)}
    assert got == {"unset": None, "none": [], "two": ["g1", "g2"]}


def test_macs_vnics_and_provider_usage(vmm_store: VmmStore) -> None:
    dc, p = _dc_with_provider(vmm_store)
    with vmm_store.write() as repo:
        cl = repo.add(m.Cluster(name="c", datacenter_id=dc.id))
        net = repo.add(m.Network(name="n", datacenter_id=dc.id, provider_id=p.id, external_id="x"))
        prof = repo.add(m.Profile(name="n", network_id=net.id))
        vm = repo.add(m.Vm(name="vm", cluster_id=cl.id, project_id="proj"))
        repo.add(m.Vnic(name="nic1", vm_id=vm.id, profile_id=prof.id, mac="02:6e:00:00:00:01"))
    with pytest.raises(NamedConflict) as err, vmm_store.write() as repo:
        repo.add(m.Vnic(name="nic2", vm_id=vm.id, profile_id=prof.id, mac="02:6e:00:00:00:01"))
    assert err.value.type == "MacAddressInUse"
    with pytest.raises(NamedConflict) as err, vmm_store.write() as repo:
        repo.add(m.Vnic(name="nic1", vm_id=vm.id, profile_id=prof.id, mac="02:6e:00:00:00:02"))
    assert err.value.type == "NameInUse"
    with vmm_store.read() as repo:
        assert repo.macs_in_datacenter(dc.id) == ["02:6e:00:00:00:01"]
        assert [v.name for v in repo.vnics_using_provider(p.id)] == ["nic1"]
        assert [v.name for v in repo.vnics_on_network(net.id)] == ["nic1"]
    # a profile held by a vNIC cannot go; a VM's deletion takes its vNICs
    with pytest.raises(NamedConflict) as err, vmm_store.write() as repo:
        repo.remove(m.Profile, prof.id)
    assert err.value.type == "InUse"
    with vmm_store.write() as repo:
        assert repo.remove(m.Vm, vm.id)
        assert repo.remove(m.Provider, p.id)  # cascades to its linked network and profile
    with vmm_store.read() as repo:
        assert repo.find(m.Vnic) == [] and repo.find(m.Network) == []
        assert repo.find(m.Profile) == []


def test_save_and_events(vmm_store: VmmStore) -> None:
    _, p = _dc_with_provider(vmm_store)
    p.password = "new-pw"
    p.sync_status = "auth_failed"
    with vmm_store.write() as repo:
        repo.save(p)
        repo.add_event("sync_auth_failed", "bad credentials", p.id)
        repo.add_event("other", "x")
    with vmm_store.read() as repo:
        got = repo.get(m.Provider, p.id)
        assert got is not None and (got.password, got.sync_status) == ("new-pw", "auth_failed")
        assert [e.kind for e in repo.events(p.id)] == ["sync_auth_failed"]
        assert [e.kind for e in repo.events()] == ["other", "sync_auth_failed"]


def test_add_all_inserts_parents_first_and_keeps_the_keys(vmm_store: VmmStore) -> None:
    dc, p = _dc_with_provider(vmm_store)
    nets = [
        m.Network(name=f"n{i}", datacenter_id=dc.id, provider_id=p.id, external_id=str(i))
        for i in range(3)
    ]
    with vmm_store.write() as repo:  # profiles listed before their networks on purpose
        repo.add_all([*(m.Profile(name=n.name, network_id=n.id) for n in nets), *nets])
    with vmm_store.read() as repo:
        assert repo.count(m.Network) == 3 and repo.count(m.Profile) == 3
    with pytest.raises(NamedConflict) as err, vmm_store.write() as repo:
        repo.add_all(
            [m.Network(name="again", datacenter_id=dc.id, provider_id=p.id, external_id="1")]
        )
    assert err.value.type == "NetworkAlreadyImported"
