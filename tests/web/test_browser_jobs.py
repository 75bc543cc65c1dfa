"""Progress and feedback in a real browser: a bulk delete from a list page follows its
progress page (with JavaScript: the bar moves in place; without: the page refreshes itself),
and a step Neutron refuses shows Neutron's message, never a stack trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, Caller
from tests.web.conftest import Tab
from tests.web.test_jobs import in_use_network


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


def delete_through_the_list(tab: Tab, names: list[str]) -> None:
    page = tab.page
    tab.go("/ui/networks")
    for name in names:
        page.get_by_label(f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Delete selected networks").click()
    page.wait_for_url("**/ui/jobs/*")
    page.wait_for_selector("#job[data-finished='yes']", timeout=20000)


def test_bulk_delete_shows_progress_and_neutrons_message(tab: Tab, live_admin: Caller) -> None:
    for i in range(12):
        live_admin.network(name=f"spare{i}")
    in_use_network(live_admin, "busy")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    delete_through_the_list(tab, [f"spare{i}" for i in range(12)] + ["busy"])
    page = tab.page
    assert page.locator("#job-progress").get_attribute("max") == "13"
    assert page.locator("#job-progress").get_attribute("value") == "13"
    assert "Finished: 12 of 13 done" in page.locator("#job-progress-label").text_content()
    alert = page.locator(".step-failed [role=alert]")
    assert alert.count() == 1
    assert alert.text_content().startswith("NetworkInUse: Unable to complete operation")
    assert "Traceback" not in page.content()
    page.get_by_role("link", name="Back", exact=True).click()
    page.wait_for_url("**/ui/networks")
    assert page.get_by_role("link", name="busy").is_visible()
    assert page.get_by_role("link", name="spare0").count() == 0
    tab.clean()


def test_progress_works_with_javascript_off(
    chromium: Any, live_ui: str, live_admin: Caller
) -> None:
    for i in range(3):
        live_admin.network(name=f"old{i}")
    context = chromium.new_context(java_script_enabled=False)
    try:
        tab = Tab(context.new_page(), live_ui)
        tab.login("admin", ADMIN_PASSWORD, "admin")
        delete_through_the_list(tab, ["old0", "old1", "old2"])
        assert "Finished: 3 of 3 done." in tab.page.locator("#job-progress-label").text_content()
        left = {n["name"] for n in live_admin.get("/v2.0/networks").json()["networks"]}
        assert not {"old0", "old1", "old2"} & left
        tab.clean()
    finally:
        context.close()


def test_a_bulk_delete_by_keyboard_alone(tab: Tab, live_admin: Caller) -> None:
    live_admin.network(name="keep")
    gone = live_admin.network(name="drop")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.go("/ui/networks")
    page = tab.page

    def focused(attr: str) -> str | None:
        return page.evaluate(f"document.activeElement.getAttribute('{attr}')")  # type: ignore[no-any-return]

    for _ in range(40):
        page.keyboard.press("Tab")
        if focused("aria-label") == "Select drop":
            break
    else:
        raise AssertionError("the row's checkbox is not reachable with Tab")
    page.keyboard.press("Space")
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.textContent") == "Delete selected networks":
            break
    else:
        raise AssertionError("the bulk delete button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#job[data-finished='yes']", timeout=20000)
    left = {n["id"] for n in live_admin.get("/v2.0/networks").json()["networks"]}
    assert gone["id"] not in left and len(left) == 1
    tab.clean()
