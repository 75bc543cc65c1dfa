"""Helpers every resource service shares: project resolution, If-Match, timestamps, views."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, PreconditionFailed
from neutrino.service.context import RequestContext


def owner_project(ctx: RequestContext, body: Mapping[str, Any]) -> str:
    """The project a new resource belongs to: the caller's unless an admin names another."""
    project = body.get("project_id")
    tenant = body.get("tenant_id")
    if project is not None and tenant is not None and project != tenant:
        raise BadRequest("Both project_id and tenant_id were specified and do not match.")
    wanted = project if project is not None else tenant
    if wanted is None or wanted == ctx.project_id:
        return ctx.project_id
    if not ctx.is_admin:
        raise BadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated "
            "project in request requires admin privileges"
        )
    return str(wanted)


def per_project(ctx: RequestContext, items: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """How many of a bulk create's ``items`` each project gets, by project: quotas are
    checked (and their keys locked) in that order."""
    return sorted(Counter(owner_project(ctx, attrs) for attrs in items).items())


def new_row(
    row_id: str, project: str, attrs: Mapping[str, Any], *, revision: int = 0, **columns: Any
) -> dict[str, Any]:
    """A new resource's row: its id and owner, the name and description ``attrs`` give (else
    empty), created and updated now at ``revision``, then the resource's own ``columns``."""
    now = clock.now()
    return {
        "id": row_id,
        "project_id": project,
        "name": attrs.get("name", ""),
        "description": attrs.get("description", ""),
        "created_at": now,
        "updated_at": now,
        "revision_number": revision,
        **columns,
    }


def changed_attrs(
    attrs: Mapping[str, Any], row: Mapping[str, Any], keys: Iterable[str]
) -> dict[str, Any]:
    """The attributes among ``keys`` an update gives a value other than the row's."""
    return {k: attrs[k] for k in keys if k in attrs and attrs[k] != row[k]}


def check_revision(current: int, if_match: int | None) -> None:
    if if_match is not None and if_match != current:
        raise PreconditionFailed(f"Constrained to {if_match}, but current revision is {current}")


def standard_view(row: Mapping[str, Any], tags: list[str]) -> dict[str, Any]:
    return {
        "description": row["description"],
        "tags": tags,
        "created_at": clock.iso_seconds(row["created_at"]),
        "updated_at": clock.iso_seconds(row["updated_at"]),
        "revision_number": row["revision_number"],
    }
