"""Fixtures of the web UI tests: the app with the UI installed, and browsers-without-a-browser
(``TestClient``s that keep cookies) logged in through the real login form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.web import install
from tests.conftest import ADMIN_PASSWORD, Caller, token_caller

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Browser:
    """A cookie-keeping client that submits forms the way a browser does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.last = ""

    def get(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        r = self.client.get(path, **kw)  # type: ignore[arg-type]
        self.last = r.text
        return r

    def submit(self, page: str, action: str, fields: dict[str, str], follow: bool = False):  # type: ignore[no-untyped-def]
        """GET ``page`` (for its CSRF token), then POST ``fields`` to ``action``."""
        token = csrf_of(self.get(page).text)
        return self.client.post(
            action, data={"csrf_token": token, **fields}, follow_redirects=follow
        )

    def login(self, user: str, password: str, project: str = "") -> None:
        r = self.submit(
            "/ui/login",
            "/ui/login",
            {"username": user, "password": password, "domain": "Default", "project": project},
        )
        assert r.status_code == 303, r.text


def ui_client(settings: Settings, store: Store) -> TestClient:
    return TestClient(create_app(settings, store, extensions=(install,)))


@pytest.fixture
def ui_app_client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with ui_client(settings, store) as c:
        c.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def admin_api(ui_app_client: TestClient) -> Caller:
    return token_caller(
        ui_app_client,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )


@pytest.fixture
def admin_browser(ui_app_client: TestClient) -> Browser:
    b = Browser(ui_app_client)
    b.login("admin", ADMIN_PASSWORD, "admin")
    return b
