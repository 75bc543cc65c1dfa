"""The single error handler: ``NeutrinoError`` -> Neutron's envelope (or Keystone's for 401s
and identity paths), plus the framework's own 404/405/422 mapped the way Neutron answers them.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from neutrino.common.errors import NeutrinoError, NotAuthenticated

log = logging.getLogger(__name__)

_GENERIC = {
    400: ("HTTPBadRequest", "The server could not comply with the request since it is either "
          "malformed or otherwise incorrect."),
    404: ("HTTPNotFound", "The resource could not be found."),
    405: ("HTTPMethodNotAllowed", "The server could not comply with the request since it is "
          "either malformed or otherwise incorrect."),
}


def neutron_error(status: int, type_: str, message: str, detail: str = "") -> Response:
    body = orjson.dumps({"NeutronError": {"type": type_, "message": message, "detail": detail}})
    return Response(body, status_code=status, media_type="application/json")


def keystone_error(status: int, title: str, message: str, headers: dict[str, str] | None = None
                   ) -> Response:
    body = orjson.dumps({"error": {"code": status, "title": title, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _is_identity(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/v3") or path.startswith("/identity") or path == "/v2.0/tokens" \
        or path.startswith("/v2.0/tenants")


def install(app: FastAPI, identity_url: str) -> None:
    www_auth = {"WWW-Authenticate": f'Keystone uri="{identity_url}"'}

    @app.exception_handler(NeutrinoError)
    async def _neutrino(request: Request, exc: NeutrinoError) -> Response:
        if isinstance(exc, NotAuthenticated):
            return keystone_error(401, "Unauthorized", exc.message, www_auth)
        if _is_identity(request):
            titles = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
            return keystone_error(exc.status, titles.get(exc.status, "Error"), exc.message)
        return neutron_error(exc.status, exc.type, exc.message, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        type_, message = _GENERIC.get(exc.status_code, ("HTTPError", str(exc.detail)))
        if _is_identity(request):
            return keystone_error(exc.status_code, type_.removeprefix("HTTP"), message)
        return neutron_error(exc.status_code, type_, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return neutron_error(400, "HTTPBadRequest", "Body contains invalid data")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return neutron_error(500, "HTTPInternalServerError",
                             "Request Failed: internal server error while processing your request.")
