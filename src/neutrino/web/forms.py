"""The one shape of every form handler: read the form, make one service call, and either go
on (303 to the page the result names) or come back filled in with Neutron's message next to
the field it is about.

``submit`` owns that sequence so each route only says what differs: the call, where success
leads, and how to draw the refused form again. The CSRF check happens while the form is read
(``session.form``), before the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import NeutrinoError
from neutrino.web.render import field_errors
from neutrino.web.session import form

T = TypeVar("T")

Fields = dict[str, str]
Refill = Callable[[Fields, Fields, int], Response]  # (fields, errors, status) -> the form again


async def submit(
    request: Request,
    call: Callable[[Fields], T],
    then: Callable[[T], str],
    refill: Refill,
    errors: Callable[[NeutrinoError, Fields], Fields] = field_errors,
) -> Response:
    """``call(fields)``; on success 303 to ``then(result)``, on a ``NeutrinoError`` the form
    again via ``refill`` with ``errors(exc, fields)`` (by default the message next to the field
    it names) and the error's status."""
    fields = await form(request)
    try:
        result = call(fields)
    except NeutrinoError as exc:
        return refill(fields, errors(exc, fields), exc.status)
    return RedirectResponse(then(result), status_code=303)


def on_top(exc: NeutrinoError, fields: Fields) -> Fields:
    """For pages with several small forms: the message above them all."""
    return {"": exc.message}
