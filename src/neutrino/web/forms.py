"""The one shape of every form handler: read the form, make one service call, and either go
on (303 to the page the result names) or come back filled in with Neutron's message next to
the field it is about.

``submit`` owns that sequence so each route only says what differs: the call, where success
leads, and how to draw the refused form again. The CSRF check happens while the form is read
(``session.form``), before the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import NeutrinoError
from neutrino.web.render import field_errors
from neutrino.web.session import form

Fields = dict[str, str]
INVALID_INPUT = "Invalid input for operation: "  # what InvalidInput puts before the reason
# (fields, errors, status) -> the form again (awaited when it gives an awaitable)
Refill = Callable[[Fields, Fields, int], Response | Awaitable[Response]]


async def submit(
    request: Request,
    call: Callable[[Fields], Any],  # a result, or an awaitable of one
    then: Callable[[Any], str],
    refill: Refill,
    errors: Callable[[NeutrinoError, Fields], Fields] = field_errors,
) -> Response:
    """``call(fields)`` (awaited when it gives an awaitable: the manager's use cases run in
    a worker thread); on success 303 to ``then(result)``, on a ``NeutrinoError`` the form
    again via ``refill`` with ``errors(exc, fields)`` (by default the message next to the field
    it names) and the error's status."""
    fields = await form(request)
    try:
        made = call(fields)
        result = await made if inspect.isawaitable(made) else made
    except NeutrinoError as exc:
        again = refill(fields, errors(exc, fields), exc.status)
        return await again if inspect.isawaitable(again) else again
    return RedirectResponse(then(result), status_code=303)


def named_first(exc: NeutrinoError, fields: Fields) -> Fields:
    """The vmm's messages start with the attribute they refuse (``url 'x' is not an http(s)
    URL``, ``password is required``), after Neutron's "Invalid input for operation: ": that
    field; otherwise as ``field_errors``."""
    reason = exc.message.removeprefix(INVALID_INPUT)
    for name in sorted(fields, key=len, reverse=True):
        if reason.startswith(f"{name} "):
            return {name: exc.message}
    return field_errors(exc, fields)


def on_top(exc: NeutrinoError, fields: Fields) -> Fields:
    """For pages with several small forms: the message above them all."""
    return {"": exc.message}
