"""The manager's pages in a real browser, against a real provider (this very server, as the
vmm tests use it): data center, cluster and hosts; a provider added, its connection tested
(good and bad credentials, in plain words); the import dialog listing the provider's networks
not yet imported; a VM defined with a vNIC, started (its port ACTIVE), migrated and stopped
through progress pages. Admin pages are hidden from a member, who still has its VMs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.web.conftest import ManagerWorld, Tab

ADMIN_PAGES = ["/ui/providers", "/ui/datacenters", "/ui/hosts"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


@pytest.fixture
def mtab(chromium: Any, live_manager: ManagerWorld) -> Any:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), live_manager.url)
    finally:
        context.close()


def follow_job(tab: Tab) -> Any:
    """On a job's page: waits for its end, returns the steps' table rows."""
    tab.page.wait_for_url("**/ui/jobs/*")
    tab.page.wait_for_selector("#job[data-finished='yes']", timeout=30000)
    return tab.page.locator("#job tbody tr")


def add_provider(tab: Tab, name: str, url: str, password: str) -> None:
    page = tab.page
    tab.go("/ui/providers")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Networking URL").fill(url)
    page.get_by_label("Identity URL").fill(url + "/v3")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Add provider").click()
    page.wait_for_selector(f"#provider-name:has-text('{name}')")


def test_manager_pages_from_provider_to_a_running_vm(mtab: Tab, live_manager: ManagerWorld) -> None:
    tab, page, api = mtab, mtab.page, live_manager.api
    red = api.create_network(name="red")
    api.create_subnet(red["id"], "192.0.2.0/24")
    api.create_network(name="blue")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    for name in ("Providers", "Data centers", "Hosts", "VMs"):
        assert page.get_by_role("link", name=name, exact=True).is_visible()

    page.get_by_role("link", name="Data centers").click()
    page.get_by_label("Name", exact=True).fill("dc1")
    page.get_by_role("button", name="Add data center").click()
    page.wait_for_selector("#datacenter-name:has-text('dc1')")
    tab.go("/ui/datacenters")
    page.get_by_label("Cluster name").fill("c1")
    page.get_by_role("button", name="Add cluster").click()
    page.wait_for_selector("#clusters li:has-text('c1')")
    for host in ("hv1", "hv2"):
        tab.go("/ui/hosts")
        page.get_by_label("Name", exact=True).fill(f"host-{host}")
        page.get_by_label("Provider host").fill(host)
        page.get_by_role("button", name="Add host").click()
        page.wait_for_selector(f"#hosts td:has-text('host-{host}')")
    tab.clean()

    add_provider(tab, "wrong", live_manager.url, "not-the-password")
    page.get_by_role("button", name="Test connection").click()
    step = follow_job(tab).first
    assert "failed" in step.text_content()
    assert step.locator("[role=alert]").text_content().startswith("bad_credentials:")
    add_provider(tab, "self", live_manager.url, ADMIN_PASSWORD)
    page.get_by_role("button", name="Test connection").click()
    assert "Connection OK" in follow_job(tab).first.text_content()
    page.get_by_role("link", name="Back", exact=True).click()
    tab.clean()

    page.get_by_label("Into data center").select_option(label="dc1")
    page.get_by_role("button", name="Choose networks…").click()
    offers = page.locator("#offers tbody tr")
    assert {offers.nth(i).get_attribute("data-id") for i in range(offers.count())} >= {red["id"]}
    page.get_by_label("Import red", exact=True).check()
    page.get_by_role("button", name="Import selected").click()
    page.wait_for_selector("#dc-networks td:has-text('red')")
    assert page.locator("#dc-networks tr", has_text="red").get_by_role("link").text_content() == (
        "self"
    )
    page.go_back()
    page.reload()
    assert page.get_by_label("Import red", exact=True).count() == 0  # imported: not offered
    assert page.get_by_label("Import blue", exact=True).count() == 1
    tab.clean()

    tab.go("/ui/vms")
    page.get_by_label("Name", exact=True).fill("vm1")
    page.get_by_label("First vNIC profile").select_option(label="red")
    page.get_by_role("button", name="Define VM").click()
    page.wait_for_selector("#vm-name:has-text('vm1')")
    assert "no port" in page.locator("#vnics tr", has_text="nic1").text_content()
    page.get_by_label("Start on").select_option(label="host-hv1")
    page.get_by_role("button", name="Start").click()
    assert "Running on host host-hv1; ports: ACTIVE" in follow_job(tab).first.text_content()
    page.get_by_role("link", name="Back", exact=True).click()
    nic = page.locator("#vnics tr", has_text="nic1")
    assert "ACTIVE" in nic.text_content() and "hv1" in nic.text_content()
    assert "192.0.2." in nic.text_content()
    assert page.locator("#vm-host").text_content() == "host-hv1"

    page.get_by_label("Migrate to").select_option(label="host-hv2")
    page.get_by_role("button", name="Migrate").click()
    assert "Running on host host-hv2" in follow_job(tab).first.text_content()
    page.get_by_role("link", name="Back", exact=True).click()
    assert "hv2" in page.locator("#vnics tr", has_text="nic1").text_content()
    assert [h for h, _ in live_manager.plugged] == ["hv1", "hv2"]
    page.get_by_role("button", name="Stop").click()
    assert "is down" in follow_job(tab).first.text_content()
    tab.clean()

    for path in [*ADMIN_PAGES, "/ui/vms", page.url.replace(tab.base, "")]:
        tab.go(path)
        assert tab.low_contrast() == [], path
    tab.clean()


def test_a_member_has_its_vms_but_no_manager_admin_pages(
    mtab: Tab, live_manager: ManagerWorld
) -> None:
    api = live_manager.api
    project = api.session.request(
        "POST", "/v3/projects", json={"project": {"name": "tenant", "domain_id": "default"}}
    )["project"]
    user = api.session.request(
        "POST",
        "/v3/users",
        json={"user": {"name": "alice", "password": "alice-pw", "domain_id": "default"}},
    )["user"]
    roles = {r["name"]: r["id"] for r in api.session.request("GET", "/v3/roles")["roles"]}
    api.session.request(
        "PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['member']}"
    )
    mtab.login("alice", "alice-pw", "tenant")
    page = mtab.page
    assert page.get_by_role("link", name="VMs").is_visible()
    for name in ("Providers", "Data centers", "Hosts"):
        assert page.get_by_role("link", name=name, exact=True).count() == 0
    for path in ADMIN_PAGES:
        response = mtab.go(path)
        assert response.status == 403 and "disallowed by policy" in page.content()
    assert mtab.go("/ui/vms").status == 200
    assert "No VMs." in page.locator("#vms").text_content()
