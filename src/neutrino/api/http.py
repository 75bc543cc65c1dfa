"""Request/response plumbing shared by every endpoint: JSON in and out, the caller's context
from ``X-Auth-Token``, the list query from the query string, ``If-Match``, bounded numeric
query parameters.

Every request body is parsed by ``json_body``: it refuses NUL characters in any string or key
of the document (PostgreSQL cannot store them), the body's size having been checked by
``api.guard`` before it was read.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from neutrino.common.errors import BadRequest, NotAuthenticated, excerpt
from neutrino.common.text import holds_nul
from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from neutrino.service.context import RequestContext

PAGING_KEYS = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
# A limit past the number of rows any table can hold means "everything"; the databases'
# LIMIT is a signed 64-bit integer.
MAX_LIMIT = 2**63 - 1


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def no_content() -> Response:
    return Response(status_code=204)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def context(request: Request) -> RequestContext:
    token = request.headers.get("x-auth-token")
    if not token:
        raise NotAuthenticated("The request you have made requires authentication.")
    return services(request).identity.context_for_token(token)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Body contains invalid data") from None
    # Raw NULs are invalid JSON already; an escaped one can only come from a "\u0000"
    # escape, so the walk runs only for bodies that hold that text.
    if b"\\u0000" in raw and holds_nul(body):
        raise BadRequest("Body contains invalid data: NUL characters are not allowed")
    return body


async def member_body(request: Request, member: str) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get(member), dict):
        raise BadRequest(f"Unable to find '{member}' in request body")
    return body[member]  # type: ignore[no-any-return]


def if_match(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if not header:
        return None
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "revision_number":
            try:
                return int(value)
            except ValueError:
                break
    raise BadRequest("If-Match header must be of the form 'revision_number=N'")


def list_query(request: Request) -> ListQuery:
    params = request.query_params
    query = ListQuery()
    for key in params:
        if key in PAGING_KEYS:
            continue
        # empty-string-filtering: ``?name=`` matches the empty name; each column's parser
        # says what an empty value means elsewhere (a 400 for a boolean or an integer)
        query.filters[key] = params.getlist(key)
    query.fields = [f for v in params.getlist("fields") for f in v.split(",") if f]
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise BadRequest("The number of sort_keys and sort_dirs must be same")
    for i, key in enumerate(keys):
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise BadRequest(
                f"{excerpt(direction)} is invalid value for sort_dirs, valid value is "
                f"'asc' and 'desc'"
            )
        query.sorts.append((key, direction == "asc"))
    limit = params.get("limit")
    if limit is not None:
        try:
            n = int(limit)
        except ValueError:
            n = -1
        if n < 0:
            raise BadRequest(f"Limit must be an integer 0 or greater and not '{excerpt(limit)}'")
        query.limit = min(n, MAX_LIMIT) or None
    query.marker = params.get("marker")
    query.page_reverse = params.get("page_reverse", "false").lower() == "true"
    return query


def select_fields(items: list[dict[str, Any]], fields: list[str]) -> list[dict[str, Any]]:
    if not fields:
        return items
    return [{k: item[k] for k in fields if k in item} for item in items]


def query_number(
    request: Request, name: str, maximum: float, *, clamp: bool = False
) -> float | None:
    """A numeric query parameter (seconds, a revision), or None when absent. It must be a
    finite number from 0: ``nan``, ``inf`` and ``1e400`` are refused, never computed with.
    Above ``maximum`` it is refused, or with ``clamp`` taken as ``maximum``."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"'{name}' must be a number, not '{excerpt(value)}'") from None
    if not math.isfinite(number) or number < 0 or (number > maximum and not clamp):
        raise BadRequest(f"'{name}' must be a number from 0 to {maximum:g}, not '{excerpt(value)}'")
    return min(number, maximum)
