"""Port forwarding rows (``port_forwardings``) and the queries the port forwarding service,
the floating IP views and the routers' host state need.

List filters are Neutron's: ``id``, ``protocol``, ``internal_port_id``, ``description``,
``external_port`` (a single port: start = end = the value) and ``external_port_range``
(``"start:end"``, a hook); ``internal_ip_address`` and ``internal_port`` are refused (400
``PortForwardingNotSupportFilterField``, as Neutron). Sort keys: the columns (``external_port``
sorts by the range's start).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, delete, insert, or_, select
from sqlalchemy import update as sql_update

from neutrino.common.errors import InvalidInput, NamedBadRequest
from neutrino.domain import port_forwarding as pfd
from neutrino.domain.attributes import Invalid
from neutrino.domain.listing import ListQuery
from neutrino.store.models_l3 import FloatingIp, PortForwarding
from neutrino.store.query import Column, listed

port_forwardings = PortForwarding.__table__
floating_ips = FloatingIp.__table__
c = port_forwardings.c
NOT_FILTERABLE = ("internal_ip_address", "internal_port")


def _range(value: str) -> tuple[int, int]:
    parsed = pfd.port_range_or_none(value)
    if parsed is None:  # pragma: no cover - a string is never null
        raise ValueError(value)
    return parsed


def _single(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"'{value[:64]}' is not an integer") from None


def _same_range(values: list[str]) -> ColumnElement[bool]:
    """``external_port_range=start:end`` (or a single port): exactly that range."""
    ranges = []
    for value in values:
        try:
            ranges.append(_range(value))
        except Invalid as exc:
            raise InvalidInput(str(exc)) from None
    return or_(*(and_(c.external_port_start == s, c.external_port_end == e) for s, e in ranges))


def _one_port(column: Any, values: list[int]) -> ColumnElement[bool]:
    return and_(c.external_port_start.in_(values), c.external_port_end == c.external_port_start)


COLUMNS: dict[str, Column] = {
    "id": Column(c.id),
    "protocol": Column(c.protocol),
    "internal_port_id": Column(c.internal_port_id),
    "description": Column(c.description),
    "external_port": Column(c.external_port_start, _single, _one_port),
}
HOOKS: dict[str, Any] = {"external_port_range": _same_range}


def list_rows(conn: Connection, fip_id: str, query: ListQuery) -> list[RowMapping]:
    for key in query.filters:
        if key in NOT_FILTERABLE:
            raise NamedBadRequest(
                "PortForwardingNotSupportFilterField",
                f"Port Forwarding filter {key} is not supported.",
            )
    scope = c.floatingip_id == fip_id
    return listed(conn, port_forwardings, query, COLUMNS, HOOKS, "Port Forwarding", scope)


def find(conn: Connection, pf_id: str) -> RowMapping | None:
    return conn.execute(select(port_forwardings).where(c.id == pf_id)).mappings().first()


def of_floating_ip(conn: Connection, fip_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(port_forwardings).where(c.floatingip_id == fip_id).order_by(c.id)
        ).mappings()
    )


def of_floating_ips(conn: Connection, fip_ids: Sequence[str]) -> dict[str, list[RowMapping]]:
    """floating IP id -> its port forwardings (one query for a page of floating IPs)."""
    out: dict[str, list[RowMapping]] = defaultdict(list)
    ids = sorted(set(fip_ids))
    if not ids:
        return out
    stmt = (
        select(port_forwardings)
        .where(c.floatingip_id.in_(ids))
        .order_by(c.floatingip_id, c.protocol, c.external_port_start, c.id)
    )
    for row in conn.execute(stmt).mappings():
        out[row["floatingip_id"]].append(row)
    return out


def of_internal_port(conn: Connection, port_id: str) -> list[RowMapping]:
    return list(
        conn.execute(
            select(port_forwardings).where(c.internal_port_id == port_id).order_by(c.id)
        ).mappings()
    )


def exists_for(conn: Connection, fip_id: str) -> bool:
    return conn.execute(select(c.id).where(c.floatingip_id == fip_id).limit(1)).first() is not None


def insert_row(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(port_forwardings).values(**values))


def update_row(conn: Connection, pf_id: str, values: dict[str, Any]) -> None:
    conn.execute(sql_update(port_forwardings).where(c.id == pf_id).values(**values))


def delete_row(conn: Connection, pf_id: str) -> None:
    conn.execute(delete(port_forwardings).where(c.id == pf_id))


def on_routers(conn: Connection, router_ids: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """router id -> [(pf id, floating IP id, floating address, protocol, external start,
    external end, internal address, internal start, internal end)] of the forwardings of
    the floating IPs the routers serve, sorted (one query for all the routers of a host)."""
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    if not router_ids:
        return out
    f = floating_ips.c
    stmt = (
        select(
            f.router_id,
            c.id,
            f.id,
            f.floating_ip_address,
            c.protocol,
            c.external_port_start,
            c.external_port_end,
            c.internal_ip_address,
            c.internal_port_start,
            c.internal_port_end,
        )
        .join(floating_ips, f.id == c.floatingip_id)
        .where(f.router_id.in_(sorted(set(router_ids))))
        .order_by(f.router_id, f.floating_ip_address, c.protocol, c.external_port_start, c.id)
    )
    for row in conn.execute(stmt):
        out[row[0]].append(tuple(row[1:]))
    return out
