"""``VmmStore`` and ``Repo``: the vmm's resources in and out of its tables.

``VmmStore.write()`` / ``read()`` give a ``Repo`` bound to one transaction (a write commits on
leaving the block, rolls back on an exception). The repo maps each model dataclass to its table
field by field, except two columns: a provider's password is encrypted on the way in and
decrypted on the way out (``Cipher``, the key in the state dir), and a profile's
security-groups property is JSON text where NULL means unset.

Constraint violations become ``neutrino.common.errors`` conflicts that say which rule was
broken (``NameInUse``, ``NetworkAlreadyImported``, ``MacAddressInUse``...), so no raw driver
error reaches the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from neutrino.common.errors import NamedConflict
from neutrino.vmm import model as m
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import tables as t
from neutrino.vmm.storage.engine import Engines

T = TypeVar("T")

TABLES: dict[type, Table] = {
    m.Provider: t.providers,
    m.DataCenter: t.datacenters,
    m.Cluster: t.clusters,
    m.Host: t.hosts,
    m.Network: t.networks,
    m.Profile: t.profiles,
    m.Vm: t.vms,
    m.Vnic: t.vnics,
}

# (what the driver's message names, the Neutron-style type, the message)
_CONFLICTS = [
    (
        ("uq_vmm_networks_link", "vmm_networks.external_id"),
        "NetworkAlreadyImported",
        "this provider network is already imported into that data center",
    ),
    (
        ("uq_vmm_vnics_mac", "vmm_vnics.mac"),
        "MacAddressInUse",
        "the MAC address is held by another vNIC",
    ),
    (
        ("uq_vmm_", "UNIQUE constraint failed: vmm_", "unique constraint"),
        "NameInUse",
        "the name is already in use there",
    ),
    (
        ("foreign key", "FOREIGN KEY"),
        "InUse",
        "the resource is referenced by another one, or references one that does not exist",
    ),
]


def _conflict(exc: IntegrityError) -> NamedConflict:
    text = str(exc.orig)
    for needles, kind, message in _CONFLICTS:
        if any(n in text for n in needles):
            return NamedConflict(kind, message)
    return NamedConflict("Conflict", "the change conflicts with the stored state")


class Repo:
    """One transaction's view of the vmm's tables."""

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    # --- mapping -------------------------------------------------------------------------

    def _row(self, obj: Any) -> dict[str, Any]:
        values = {f.name: getattr(obj, f.name) for f in fields(obj)}
        if isinstance(obj, m.Provider):
            values["password_encrypted"] = self.cipher.encrypt(values.pop("password"))
        elif isinstance(obj, m.Profile):
            groups = values["security_groups"]
            values["security_groups"] = None if groups is None else orjson.dumps(groups).decode()
        return values

    def _obj(self, kind: type[T], row: Any) -> T:
        values = dict(row._mapping)
        if kind is m.Provider:
            values["password"] = self.cipher.decrypt(values.pop("password_encrypted"))
        elif kind is m.Profile and values["security_groups"] is not None:
            values["security_groups"] = orjson.loads(values["security_groups"])
        return kind(**values)

    def _run(self, statement: Any) -> Any:
        try:
            return self.conn.execute(statement)
        except IntegrityError as exc:
            raise _conflict(exc) from None

    # --- generic -------------------------------------------------------------------------

    def add(self, obj: T) -> T:
        self._run(insert(TABLES[type(obj)]).values(self._row(obj)))
        return obj

    def add_all(self, objs: list[Any]) -> None:
        """Insert many rows with one executemany per table (an import of 1,000 networks)."""
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for obj in objs:
            by_table.setdefault(TABLES[type(obj)], []).append(self._row(obj))
        for table in (t.networks, *by_table):  # parents first: profiles reference networks
            rows = by_table.pop(table, None)
            if rows:
                self._run_many(insert(table), rows)

    def _run_many(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        try:
            self.conn.execute(statement, rows)
        except IntegrityError as exc:
            raise _conflict(exc) from None

    def save(self, obj: T) -> T:
        """Write every field of ``obj`` over its row."""
        table = TABLES[type(obj)]
        row = self._row(obj)
        self._run(update(table).where(table.c.id == row.pop("id")).values(row))
        return obj

    def get(self, kind: type[T], rid: str) -> T | None:
        table = TABLES[kind]
        row = self.conn.execute(select(table).where(table.c.id == rid)).first()
        return None if row is None else self._obj(kind, row)

    def find(self, kind: type[T], **where: Any) -> list[T]:
        """Rows whose columns equal ``where``'s values (a list or set value: any of them)."""
        table = TABLES[kind]
        query = select(table)
        for key, value in where.items():
            column = table.c[key]
            if isinstance(value, list | set | tuple):
                query = query.where(column.in_(list(value)))
            else:
                query = query.where(column.is_(None) if value is None else column == value)
        rows = self.conn.execute(query.order_by(*self._order(table))).all()
        return [self._obj(kind, r) for r in rows]

    @staticmethod
    def _order(table: Table) -> list[Any]:
        return [table.c.name, table.c.id] if "name" in table.c else [table.c.id]

    def first(self, kind: type[T], **where: Any) -> T | None:
        found = self.find(kind, **where)
        return found[0] if found else None

    def remove(self, kind: type, rid: str) -> bool:
        table = TABLES[kind]
        return bool(self._run(delete(table).where(table.c.id == rid)).rowcount)

    def count(self, kind: type, **where: Any) -> int:
        table = TABLES[kind]
        query = select(func.count()).select_from(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        return int(self.conn.execute(query).scalar_one())

    # --- queries the use cases need ----------------------------------------------------------

    def macs_in_datacenter(self, datacenter_id: str) -> list[str]:
        query = (
            select(t.vnics.c.mac)
            .join(t.profiles, t.profiles.c.id == t.vnics.c.profile_id)
            .join(t.networks, t.networks.c.id == t.profiles.c.network_id)
            .where(t.networks.c.datacenter_id == datacenter_id)
        )
        return list(self.conn.execute(query).scalars())

    def vnics_using_provider(self, provider_id: str) -> list[m.Vnic]:
        """vNICs whose profile's network is linked to the provider, or that hold a port on it."""
        linked = (
            select(t.vnics)
            .join(t.profiles, t.profiles.c.id == t.vnics.c.profile_id)
            .join(t.networks, t.networks.c.id == t.profiles.c.network_id)
            .where(t.networks.c.provider_id == provider_id)
        )
        holding = select(t.vnics).where(t.vnics.c.port_provider_id == provider_id)
        rows = self.conn.execute(linked.union(holding)).all()
        return [self._obj(m.Vnic, r) for r in rows]

    def vnics_on_network(self, network_id: str) -> list[m.Vnic]:
        query = (
            select(t.vnics)
            .join(t.profiles, t.profiles.c.id == t.vnics.c.profile_id)
            .where(t.profiles.c.network_id == network_id)
            .order_by(t.vnics.c.id)
        )
        return [self._obj(m.Vnic, r) for r in self.conn.execute(query).all()]

    # --- events --------------------------------------------------------------------------

    def add_event(self, kind: str, message: str, provider_id: str | None = None) -> None:
        self.conn.execute(
            insert(t.events).values(
                at=time.time(), kind=kind, message=message, provider_id=provider_id
            )
        )

    def events(self, provider_id: str | None = None, limit: int = 50) -> list[m.Event]:
        query = select(t.events).order_by(t.events.c.id.desc()).limit(limit)
        if provider_id is not None:
            query = query.where(t.events.c.provider_id == provider_id)
        return [m.Event(**dict(r._mapping)) for r in self.conn.execute(query).all()]


class VmmStore:
    """Transactions on the vmm's tables (see the module docstring)."""

    def __init__(self, url: str, cipher: Cipher) -> None:
        self.engines = Engines(url)
        self.cipher = cipher

    @contextmanager
    def write(self) -> Iterator[Repo]:
        with self.engines.write_lock(), self.engines.write.connect() as conn:
            try:
                with conn.begin():
                    yield Repo(conn, self.cipher)
            except IntegrityError as exc:  # raised at commit (deferred checks)
                raise _conflict(exc) from None

    @contextmanager
    def read(self) -> Iterator[Repo]:
        with self.engines.read.connect() as conn, conn.begin():
            yield Repo(conn, self.cipher)

    def dispose(self) -> None:
        self.engines.dispose()
