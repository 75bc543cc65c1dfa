"""What the ``neutrino vmm`` commands share: the ``/vmm/v1`` caller with ``OS_*`` credentials,
name-or-id resolution, and rich tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from neutrino.cli.options import console, fail
from neutrino.client import ClientError, Credentials, HttpError, Session

V = "/vmm/v1"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="NEUTRINO_VMM_URL",
        metavar="URL",
        help="The neutrino server (default: the catalog's network endpoint).",
    ),
]


class Api:
    """Calls of ``/vmm/v1`` with a token from the ``OS_*`` credentials."""

    def __init__(self, url: str | None = None, timeout: float = 120.0) -> None:
        try:
            creds = Credentials.from_env()
        except KeyError as exc:
            raise fail(f"set {exc.args[0]} (and the other OS_* variables) first") from None
        if url:
            creds = Credentials(**{**creds.__dict__, "endpoint": url})
        self.session = Session(creds, timeout=timeout)

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        try:
            return self.session.request(method, V + path, json=body, params=params)
        except HttpError as exc:
            raise fail(f"{exc.status} {exc.type}: {exc.message}") from None
        except ClientError as exc:
            raise fail(str(exc)) from None

    def resolve(self, plural: str, ref: str) -> str:
        """An id from a name or id."""
        if UUID.match(ref):
            return ref
        found = self.call("GET", f"/{plural}", params={"name": ref})[plural]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise fail(f"{what} {plural} named {ref!r}")
        return str(found[0]["id"])


def table(title: str, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*(escape(cell(row.get(c))) for c in columns))
    console.print(t)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "[]"
    return str(value)


def show(title: str, item: dict[str, Any]) -> None:
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    for key, value in item.items():
        if not isinstance(value, dict | list) or key == "security_groups":
            t.add_row(key, escape(cell(value)))
    console.print(t)
