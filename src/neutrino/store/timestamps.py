"""The ``changed_since`` list filter of the ``standard-attr-timestamp`` extension: the rows
whose ``updated_at`` is at or after the given instant (an ISO 8601 time; one given as local
time with an offset is compared in UTC, as the stored times are)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Table

from neutrino.common.errors import InvalidInput


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 time as a naive UTC datetime; 400 ``InvalidInput`` otherwise, worded as
    Neutron words it."""
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            "The input changed_since must be in the following format: YYYY-MM-DDTHH:MM:SSZ"
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def changed_since_filter(table: Table) -> dict[str, Any]:
    """The filter hook for ``changed_since`` (only its first value counts, as in Neutron)."""

    def hook(values: list[Any]) -> ColumnElement[bool]:
        return table.c.updated_at >= parse_instant(str(values[0]))

    return {"changed_since": hook}
