"""Logging in and out, and switching project: the only routes that work without a session.

Login asks the identity service for a project-scoped token with the password method, exactly
the body ``POST /v3/auth/tokens`` takes (user name and password in a domain, scoped to a project
by name); the project is optional, as Keystone's default project is. A user with several
projects switches with the token method (re-scoping keeps the token's expiry); the old token is
revoked, as is the session's token at logout, so a copied cookie is worth nothing afterwards.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from neutrino.common.errors import NeutrinoError, NotAuthenticated
from neutrino.web import session as web_session
from neutrino.web.render import guarded, page
from neutrino.web.session import current, form, services

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only our own pages: never an absolute URL another site could slip in."""
    return target if target.startswith("/ui") and not target.startswith("//") else "/ui"


@router.get("/ui/login")
async def login_form(request: Request) -> Response:
    return page(
        request,
        None,
        "login.html",
        form={"domain": "Default", "next": _safe_next(request.query_params.get("next", "/ui"))},
        errors={},
    )


@router.post("/ui/login")
async def login(request: Request) -> Response:
    try:
        fields = await form(request)
    except NeutrinoError as exc:
        return page(
            request,
            None,
            "login.html",
            status=exc.status,
            form={"domain": "Default"},
            errors={"": exc.message},
        )
    user: dict[str, Any] = {
        "name": fields.get("username", ""),
        "password": fields.get("password", ""),
        "domain": {"name": fields.get("domain") or "Default"},
    }
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": user}}}
    if fields.get("project"):
        auth["scope"] = {
            "project": {
                "name": fields["project"],
                "domain": {"name": fields.get("domain") or "Default"},
            }
        }
    try:
        info = services(request).identity.authenticate(auth)
    except NeutrinoError as exc:
        fields.pop("password", None)
        return page(
            request,
            None,
            "login.html",
            status=exc.status,
            form=fields,
            errors={"": _login_message(exc)},
        )
    response = RedirectResponse(_safe_next(fields.get("next", "/ui")), status_code=303)
    web_session.start(request, response, info.token)
    return response


def _login_message(exc: NeutrinoError) -> str:
    if isinstance(exc, NotAuthenticated):
        return (
            "The user name, password, domain or project is wrong, or the user has no "
            "role on that project."
        )
    return exc.message


@router.post("/ui/logout")
@guarded
async def logout(request: Request) -> Response:
    await form(request)
    response = RedirectResponse("/ui/login", status_code=303)
    try:
        me = current(request)
        services(request).identity.revoke_token(me.ctx, me.token)
    except NeutrinoError:
        pass  # already revoked or expired: logging out still clears the cookies
    web_session.end(request, response)
    return response


@router.post("/ui/switch")
@guarded
async def switch_project(request: Request) -> Response:
    fields = await form(request)
    me = current(request)
    identity = services(request).identity
    info = identity.authenticate(
        {
            "identity": {"methods": ["token"], "token": {"id": me.token}},
            "scope": {"project": {"id": fields.get("project_id", "")}},
        }
    )
    identity.revoke_token(me.ctx, me.token)
    response = RedirectResponse("/ui", status_code=303)
    web_session.start(request, response, info.token)
    return response
