"""The request guard: malformed or oversized requests are refused here, before any endpoint,
token check or database sees them.

- A URL (path and query) longer than ``MAX_URL_BYTES`` -> 414.
- A NUL character in the path, the query string or a header value -> 400: PostgreSQL cannot
  store or even compare text holding NUL, so it must never reach a query. (NULs inside JSON
  strings are refused where bodies are parsed, ``api.http.json_body``.)
- A body over ``max_body_bytes`` -> 413, decided from ``Content-Length`` before a byte of the
  body is read; a chunked body is counted as the endpoint reads it and refused the moment it
  passes the limit. Either way the response says ``Connection: close``, so the rest of the
  body is not read either.

Errors come in the envelope of the API the path belongs to (``api.errors``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.api.errors import error_response
from neutrino.common.errors import BadRequest, NeutrinoError, RequestTooLarge, RequestURITooLong

MAX_URL_BYTES = 16 * 1024
_CLOSE = {"Connection": "close"}


def too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"Request is too large: the body exceeds {limit} bytes.")


class RequestGuard:
    """Pure ASGI middleware (no per-request task or copy of the body)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = screen(scope)
        if problem is None and _declared_length(scope) > self.max_body_bytes:
            problem = too_large(self.max_body_bytes)
        if problem is not None:
            headers = _CLOSE if isinstance(problem, RequestTooLarge) else None
            await error_response(scope["path"], problem, headers)(scope, receive, send)
            return
        await self.app(scope, *self._counted(receive, send))

    def _counted(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """``receive`` that refuses a body past the limit (chunked bodies declare no length),
        and ``send`` that then closes the connection instead of reading the rest."""
        limit = self.max_body_bytes
        seen = 0
        tripped = False

        async def counted_receive() -> Message:
            nonlocal seen, tripped
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    tripped = True
                    raise too_large(limit)  # the error handler answers it: 413
            return message

        async def closing_send(message: Message) -> None:
            if tripped and message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"connection", b"close"))
            await send(message)

        return counted_receive, closing_send


def screen(scope: Scope) -> NeutrinoError | None:
    """What is wrong with the request line and headers, if anything."""
    query: bytes = scope.get("query_string", b"")
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    if len(raw_path) + len(query) > MAX_URL_BYTES:
        return RequestURITooLong(f"The request URI is longer than {MAX_URL_BYTES} bytes.")
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        return BadRequest("NUL characters are not allowed in the request URI.")
    for name, value in scope["headers"]:
        if b"\x00" in value:
            return BadRequest(
                f"NUL characters are not allowed in the {name.decode('latin-1')} header."
            )
    return None


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the HTTP parser refuses such a request before it gets here
    return 0
