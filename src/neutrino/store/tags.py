"""Tags of any standard-attribute resource (the ``standard-attr-tag`` extension)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, exists, func, insert, select

from neutrino.store import raw
from neutrino.store.models import Tag
from neutrino.store.query import rows_by_key

tags = Tag.__table__


def tags_of(conn: Connection, resource_ids: Iterable[str]) -> dict[str, list[str]]:
    stmt = select(tags.c.resource_id, tags.c.tag).order_by(tags.c.tag)
    return rows_by_key(conn, stmt, list(resource_ids))


def replace_tags(conn: Connection, resource_type: str, resource_id: str, new: list[str]) -> None:
    conn.execute(delete(tags).where(tags.c.resource_id == resource_id))
    if new:
        conn.execute(
            insert(tags),
            [
                {"resource_id": resource_id, "tag": t, "resource_type": resource_type}
                for t in sorted(set(new))
            ],
        )


def add_tag(conn: Connection, resource_type: str, resource_id: str, tag: str) -> None:
    present = conn.execute(
        select(tags.c.tag).where(tags.c.resource_id == resource_id, tags.c.tag == tag)
    ).first()
    if present is None:
        conn.execute(
            insert(tags).values(resource_id=resource_id, tag=tag, resource_type=resource_type)
        )


def remove_tag(conn: Connection, resource_id: str, tag: str) -> bool:
    result = conn.execute(delete(tags).where(tags.c.resource_id == resource_id, tags.c.tag == tag))
    return bool(result.rowcount)


def delete_all(conn: Connection, resource_id: str) -> None:
    raw.run(conn, "DELETE FROM tags WHERE resource_id = ?", (resource_id,))


def tag_filters(table: Table) -> dict[str, object]:
    """Filter hooks for ``tags``, ``tags-any``, ``not-tags``, ``not-tags-any`` (comma lists)."""

    def _split(values: list[str]) -> list[str]:
        # no tag is empty: ``?tags=`` (or ``a,,b``) names one that no resource carries
        return [t for v in values for t in str(v).split(",")]

    def _count_of(wanted: list[str]) -> object:
        return (
            select(func.count())
            .select_from(tags)
            .where(tags.c.resource_id == table.c.id, tags.c.tag.in_(wanted))
            .scalar_subquery()
        )

    def all_of(values: list[str]) -> ColumnElement[bool]:
        wanted = sorted(set(_split(values)))
        return _count_of(wanted) == len(wanted)  # type: ignore[return-value]

    def any_of(values: list[str]) -> ColumnElement[bool]:
        return exists().where(
            and_(tags.c.resource_id == table.c.id, tags.c.tag.in_(_split(values)))
        )

    return {
        "tags": all_of,
        "tags-any": any_of,
        "not-tags": lambda v: ~all_of(v),
        "not-tags-any": lambda v: ~any_of(v),
    }
