"""The browser session: a Keystone token in a cookie, and the CSRF token beside it.

- ``neutrino_token``: the project-scoped token from the login form. HttpOnly (no script reads
  it), SameSite=Strict (no other site's page sends it), Secure when the page came over HTTPS.
  Every page verifies it exactly as the API verifies ``X-Auth-Token`` (a signature check and
  the revocation cache), so a token revoked anywhere stops working here too.
- ``neutrino_csrf``: a random value, new at every login and logout (one per session), that every
  form carries in a hidden ``csrf_token`` field; a POST whose field differs from the cookie is
  refused before anything else runs (the double-submit pattern: another site can make the
  browser send the cookie, never read it into a form). The login form has one too, so nobody
  can log a browser into someone else's account.

Form bodies are ``application/x-www-form-urlencoded`` (no file uploads), parsed here.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.responses import Response

from neutrino.common.errors import Forbidden, NotAuthenticated
from neutrino.service.container import Services
from neutrino.service.context import RequestContext

TOKEN_COOKIE = "neutrino_token"
CSRF_COOKIE = "neutrino_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 64 * 1024


class CsrfRejected(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "The form is out of date or came from another site: reload the page "
            "and submit it again."
        )


@dataclass(frozen=True)
class Session:
    """A logged-in browser: its token and who the token says it is."""

    token: str
    ctx: RequestContext


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def current(request: Request) -> Session:
    """The caller's session; ``NotAuthenticated`` without a valid token."""
    token = request.cookies.get(TOKEN_COOKIE, "")
    if not token:
        raise NotAuthenticated("Please log in.")
    return Session(token, services(request).identity.context_for_token(token))


def csrf_value(request: Request) -> str:
    """The CSRF token forms must carry: the cookie's, or a fresh one (set by ``remember``)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if existing:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = request.state.new_csrf = secrets.token_urlsafe(32)
    return fresh


def keep_csrf(request: Request, response: Response) -> Response:
    """Sets the CSRF cookie when this request made a new one."""
    fresh = getattr(request.state, "new_csrf", None)
    if fresh:
        _set(request, response, CSRF_COOKIE, fresh)
    return response


async def form(request: Request) -> dict[str, str]:
    """The POSTed form, after the CSRF check (the first value of each field)."""
    fields: dict[str, str] = {}
    for key, values in (await form_lists(request)).items():
        fields[key] = values[0]
    return fields


async def form_lists(request: Request) -> dict[str, list[str]]:
    """The POSTed form, after the CSRF check, every value of each field (checkbox lists)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise CsrfRejected()
    fields: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, []).append(value)
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = fields.pop(CSRF_FIELD, [""])[0]
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected()
    return fields


def start(request: Request, response: Response, token: str) -> None:
    """Logged in (or switched project): the token cookie and a new CSRF token."""
    _set(request, response, TOKEN_COOKIE, token)
    _set(request, response, CSRF_COOKIE, secrets.token_urlsafe(32))


def end(request: Request, response: Response) -> None:
    response.delete_cookie(
        TOKEN_COOKIE, path="/ui", httponly=True, samesite="strict", secure=_secure(request)
    )
    response.delete_cookie(
        CSRF_COOKIE, path="/ui", httponly=True, samesite="strict", secure=_secure(request)
    )


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/ui", httponly=True, samesite="strict", secure=_secure(request)
    )
