"""Fixtures of the web UI tests: the app with the UI installed, and browsers-without-a-browser
(``TestClient``s that keep cookies) logged in through the real login form."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.cli.vmm_app import vmm_caller
from neutrino.client import Controller
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.vmm.routes import VmmExtension
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import migrate
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.container import Vmm
from neutrino.web import WebUI
from neutrino.web.manager import Manager
from tests.conftest import ADMIN_PASSWORD, Caller, token_caller
from tests.live import live_server
from tests.vmm.world import TUNNEL_IPS, provider_api

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

    def submit(self, page: str, action: str, fields: dict[str, Any], follow: bool = False):  # type: ignore[no-untyped-def]
        """GET ``page`` (for its CSRF token), then POST ``fields`` to ``action``."""
        token = csrf_of(self.get(page).text)
        return self.client.post(
            action, data={"csrf_token": token, **fields}, follow_redirects=follow
        )

    def finish(self, job_page: str, timeout: float = 20.0) -> dict[str, Any]:
        """Follows a job's progress page (``location`` of the 303) until it is over."""
        assert job_page.startswith("/ui/jobs/"), job_page
        deadline = time.monotonic() + timeout
        while True:
            state: dict[str, Any] = self.client.get(job_page + "/state").json()
            if state["finished"]:
                return state
            assert time.monotonic() < deadline, f"job still running: {state}"
            time.sleep(0.02)

    def login(self, user: str, password: str, project: str = "") -> None:
        r = self.submit(
            "/ui/login",
            "/ui/login",
            {"username": user, "password": password, "domain": "Default", "project": project},
        )
        assert r.status_code == 303, r.text


def ui_client(settings: Settings, store: Store) -> TestClient:
    return TestClient(create_app(settings, store, extensions=[WebUI()]))


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


# --- a real browser: Debian's chromium driven by Playwright --------------------------------

CHROMIUM = os.environ.get("NEUTRINO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One browser per test worker; skips (with the reason) where it cannot run."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e .[dev])")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_ui(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store, [WebUI()]) as url:
        yield url


@pytest.fixture
def live_admin(live_ui: str) -> Iterator[Caller]:
    with httpx.Client(base_url=live_ui, timeout=30) as http:
        yield token_caller(
            http,
            {"name": "admin", "domain": {"name": "Default"}},  # type: ignore[arg-type]
            ADMIN_PASSWORD,
            {"name": "admin", "domain": {"name": "Default"}},
        )


@dataclass
class ManagerWorld:
    """A live server with the vmm and the UI's manager pages, its provider being itself."""

    url: str
    vmm: Vmm
    api: Controller  # the provider's admin, as the vmm tests use it
    plugged: list[tuple[str, str]]  # (provider host, port id) the host plug wired


@pytest.fixture
def live_manager(settings: Settings, store: Store, db_url: str) -> Iterator[ManagerWorld]:
    """Two provider hosts with L2 agents reported (hv1, hv2) and a host plug that does what
    a hypervisor and its agent do once a VM's tap exists: report the port ACTIVE."""
    migrate.upgrade(db_url)
    vmm = Vmm(VmmStore(db_url, Cipher(Fernet.generate_key())), timeout=10, wait_timeout=10)
    extensions = [VmmExtension(vmm, sync=False), WebUI(Manager(vmm, vmm_caller))]
    with live_server(settings, store, extensions) as url:
        api = provider_api(url)
        for host, ip in TUNNEL_IPS.items():
            api.report_agent(host, {"tunnel_ip": ip, "tunnel_types": ["vxlan"]}, start_flag=True)
        world = ManagerWorld(url, vmm, api, [])

        def plug(vm: Any, host: Any, nic: Any, port: dict[str, Any]) -> None:
            world.plugged.append((host.provider_host, port["id"]))
            api.report_port_status(port["id"], "ACTIVE", host.provider_host)

        vmm.set_host_plug(plug, lambda vm, nic: None)
        try:
            yield world
        finally:
            api.session.close()


CONTRAST_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest("svg, .sr-only, .skip, option")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(n.textContent.trim().slice(0, 40) + " " + ratio.toFixed(2));
  }
  return bad;
}"""


class Tab:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def login(self, user: str, password: str, project: str) -> None:
        self.go("/ui/login")
        self.page.get_by_label("User name").fill(user)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_label("Project").fill(project)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base + "/ui")

    def low_contrast(self) -> list[str]:
        """Texts on the page whose colour against their background is below WCAG's 4.5:1
        (computed styles: the first opaque background up the tree; white at the top)."""
        return self.page.evaluate(CONTRAST_JS)  # type: ignore[no-any-return]

    def clean(self) -> None:
        """No console error nor uncaught exception since the last check."""
        found, self.errors = self.errors, []
        assert found == []


@pytest.fixture
def tab(chromium: Any, live_ui: str) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), live_ui)
    finally:
        context.close()
