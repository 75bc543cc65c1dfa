"""Subnets' service types (``models_flavors.SubnetServiceType``): read for a page of
subnets or for one network (IPAM), and replaced as a whole."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, insert, select

from neutrino.store import raw
from neutrino.store.models import Subnet
from neutrino.store.models_flavors import SubnetServiceType
from neutrino.store.query import rows_by_key

types = SubnetServiceType.__table__
subnets = Subnet.__table__


def of(conn: Connection, subnet_ids: Iterable[str]) -> dict[str, list[str]]:
    """subnet id -> its service types, sorted."""
    stmt = select(types.c.subnet_id, types.c.service_type).order_by(types.c.service_type)
    return rows_by_key(conn, stmt, list(subnet_ids))


def on_network(conn: Connection, network_id: str) -> dict[str, list[str]]:
    """subnet id -> its service types, for the subnets of one network that have any."""
    # raw (``store.raw``): IPAM asks it on every port create
    rows = raw.rows(
        conn,
        f"SELECT t.subnet_id, t.service_type FROM {types.name} t "
        f"JOIN {subnets.name} s ON s.id = t.subnet_id WHERE s.network_id = ? "
        f"ORDER BY t.service_type",
        (network_id,),
    )
    out: dict[str, list[str]] = defaultdict(list)
    for subnet_id, service_type in rows:
        out[subnet_id].append(service_type)
    return out


def replace(conn: Connection, subnet_id: str, values: Sequence[str]) -> None:
    conn.execute(delete(types).where(types.c.subnet_id == subnet_id))
    if values:
        conn.execute(insert(types), [{"subnet_id": subnet_id, "service_type": v} for v in values])


def remove(conn: Connection, subnet_id: str) -> None:
    conn.execute(delete(types).where(types.c.subnet_id == subnet_id))
