"""Turning a page's data into HTML, and any failure into a page a person can read.

``page`` renders a template inside the layout (navigation, project switcher, logout) for the
logged-in ``Session``; ``guarded`` wraps every route so that a missing or revoked token sends the
browser to the login form and any ``NeutrinoError`` becomes an error page carrying Neutron's
message and status, never a stack trace. Forms that fail re-render themselves with
``field_errors``: Neutron names the attribute (``Invalid input for cidr``) or quotes the value
it refused, and either puts the message next to that field.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from neutrino.common.errors import NeutrinoError, NotAuthenticated
from neutrino.web.session import CSRF_FIELD, Session, csrf_value, current, keep_csrf, services

ENV = Environment(
    loader=PackageLoader("neutrino.web", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

ENV.filters["timestamp"] = lambda at: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))

Handler = Callable[..., Awaitable[Response]]


def template_globals(request: Request) -> dict[str, Any]:
    return {
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_value(request),
        "path": request.url.path,
        "vmm": getattr(request.app.state, "web_manager", None) is not None,
    }


def page(
    request: Request, session: Session | None, template: str, status: int = 200, **data: Any
) -> Response:
    """The template inside the layout; ``session`` fills the header (None: logged out)."""
    projects: list[dict[str, Any]] = []
    if session is not None:
        projects = sorted(
            services(request).identity.user_projects(session.ctx), key=lambda p: p["name"]
        )
    html = ENV.get_template(template).render(
        **template_globals(request),
        session=session,
        ctx=session.ctx if session else None,
        projects=projects,
        **data,
    )
    return keep_csrf(request, HTMLResponse(html, status_code=status))


def field_errors(exc: NeutrinoError, form: dict[str, str]) -> dict[str, str]:
    """Neutron's message, keyed by the form field it is about ("" when none is named)."""
    message = exc.message
    for name, value in form.items():
        if (
            f"for {name}." in message
            or f"for {name} " in message
            or f"'{name}'" in message
            or (len(value) >= 3 and value in message)
        ):
            return {name: message}
    return {"": message}


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def guarded(handler: Handler) -> Handler:
    """Login redirect on a missing or rejected token, an error page for any other failure."""

    @functools.wraps(handler)
    async def run(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(request, *args, **kwargs)
        except NotAuthenticated:
            return login_redirect(request)
        except NeutrinoError as exc:
            return error_page(request, exc)

    return run


def error_page(request: Request, exc: NeutrinoError) -> Response:
    try:  # the session may be what failed: then the page has no header
        session: Session | None = current(request)
    except NeutrinoError:
        session = None
    return page(request, session, "error.html", status=exc.status, error=exc)
