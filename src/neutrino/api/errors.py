"""The single error handler: ``NeutrinoError`` -> Neutron's envelope (or Keystone's for 401s
and identity paths), plus the framework's own 404/405/422 mapped the way Neutron answers them.

Unexpected exceptions are answered by ``UnexpectedErrorMiddleware`` rather than by Starlette's
``ServerErrorMiddleware``: that one sends its 500 and then re-raises, and uvicorn answers a
re-raised exception by closing the connection, so every 500 also cost the client its
keep-alive connection. Ours logs the traceback, answers 500 in the right envelope and returns
normally, so the connection stays usable.

Messages are capped at ``MAX_MESSAGE_CHARS``: whatever a message quotes, an error never
echoes a large request back.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.common.errors import NeutrinoError, NotAuthenticated, excerpt

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1024
_GENERIC = {
    400: (
        "HTTPBadRequest",
        "The server could not comply with the request since it is either "
        "malformed or otherwise incorrect.",
    ),
    404: ("HTTPNotFound", "The resource could not be found."),
    405: (
        "HTTPMethodNotAllowed",
        "The server could not comply with the request since it is "
        "either malformed or otherwise incorrect.",
    ),
}
_KEYSTONE_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_INTERNAL_NEUTRON = "Request Failed: internal server error while processing your request."
_INTERNAL_KEYSTONE = "An unexpected error prevented the server from fulfilling your request."


def neutron_error(
    status: int, type_: str, message: str, detail: str = "", headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps(
        {
            "NeutronError": {
                "type": type_,
                "message": excerpt(message, MAX_MESSAGE_CHARS),
                "detail": excerpt(detail, MAX_MESSAGE_CHARS),
            }
        }
    )
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def keystone_error(
    status: int, title: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps(
        {"error": {"code": status, "title": title, "message": excerpt(message, MAX_MESSAGE_CHARS)}}
    )
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def is_identity_path(path: str) -> bool:
    return (
        path.startswith("/v3")
        or path.startswith("/identity")
        or path == "/v2.0/tokens"
        or path.startswith("/v2.0/tenants")
    )


def error_response(
    path: str, exc: NeutrinoError, headers: dict[str, str] | None = None
) -> Response:
    """``exc`` in the envelope the API at ``path`` speaks (401s always in Keystone's)."""
    if is_identity_path(path):
        return keystone_error(
            exc.status, _KEYSTONE_TITLES.get(exc.status, "Error"), exc.message, headers
        )
    return neutron_error(exc.status, exc.type, exc.message, exc.detail, headers)


def internal_error(path: str) -> Response:
    if is_identity_path(path):
        return keystone_error(500, _KEYSTONE_TITLES[500], _INTERNAL_KEYSTONE)
    return neutron_error(500, "HTTPInternalServerError", _INTERNAL_NEUTRON)


def install(app: FastAPI, identity_url: str) -> None:
    www_auth = {"WWW-Authenticate": f'Keystone uri="{identity_url}"'}

    @app.exception_handler(NeutrinoError)
    async def _neutrino(request: Request, exc: NeutrinoError) -> Response:
        if isinstance(exc, NotAuthenticated):
            return keystone_error(401, "Unauthorized", exc.message, www_auth)
        return error_response(request.url.path, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        type_, message = _GENERIC.get(exc.status_code, ("HTTPError", str(exc.detail)))
        if is_identity_path(request.url.path):
            return keystone_error(exc.status_code, type_.removeprefix("HTTP"), message)
        return neutron_error(exc.status_code, type_, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return neutron_error(400, "HTTPBadRequest", "Body contains invalid data")


class UnexpectedErrorMiddleware:
    """A bug (any exception the handlers above did not take) -> a logged traceback and a 500
    in the path's envelope, with the connection kept open. An exception after the response
    started cannot be answered any more: it propagates and the server drops the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # the client went away while we read its body: no one to answer
        except Exception:
            if started:
                raise
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            await internal_error(scope["path"])(scope, receive, send)
