"""Logging for every neutrino process: one format, request ids in every line, JSON optional.

``configure(level, json=False)`` sets up the root logger (and uvicorn's loggers, so their
lines look the same): ``2026-01-02 10:11:12,345 INFO neutrino.api.http [req-…]: message``,
or one JSON object per line with ``time``, ``level``, ``logger``, ``request_id``,
``message`` (and ``exc`` with the traceback). ``request_id`` is a context variable: the API's
request-id middleware sets it for the request's task, and the worker threads it starts copy
the context, so every line logged while serving a request names it; other lines show ``-``.

``httpx``/``httpcore`` request lines go to DEBUG: an agent's heartbeat every 10 s is not news.
"""

from __future__ import annotations

import contextvars
import json as jsonlib
import logging
import sys
from typing import Any

__all__ = ["JsonFormatter", "configure", "request_id"]

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
QUIET = ("httpx", "httpcore")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class Demote(logging.Filter):
    """Logs a chatty library's INFO lines at DEBUG (and drops them unless DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return jsonlib.dumps(out)


def configure(level: int = logging.INFO, *, json: bool = False) -> None:
    """Root logger to stderr in the chosen format; uvicorn's loggers through it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Demote) for f in logger.filters):
            logger.addFilter(Demote())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's ``log_config``: leave the loggers to ``configure`` (no handlers of its own)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
