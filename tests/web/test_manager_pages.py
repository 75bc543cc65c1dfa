"""The manager pages over HTTP: the vmm's refusals come back next to the field they name,
never as a stack trace; without a vmm the pages and their links are absent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from neutrino.vmm.usecases.base import ADMIN
from tests.conftest import ADMIN_PASSWORD
from tests.web.conftest import Browser, ManagerWorld


@pytest.fixture
def admin(live_manager: ManagerWorld) -> Iterator[Browser]:
    with httpx.Client(base_url=live_manager.url, timeout=30) as http:
        b = Browser(http)  # type: ignore[arg-type]
        b.login("admin", ADMIN_PASSWORD, "admin")
        yield b


def field_error(html: str, field: str) -> str:
    return html.split(f'<label for="f-{field}">', 1)[1].split("</div>", 1)[0]


PROVIDER = {
    "name": "p",
    "url": "ftp://nowhere",
    "auth_url": "http://127.0.0.1:1/v3",
    "username": "admin",
    "password": "x",
    "sync_interval": "300",
}


def test_refused_forms_show_the_vmm_message_next_to_the_field(admin: Browser) -> None:
    r = admin.submit("/ui/providers", "/ui/providers", PROVIDER)
    assert r.status_code == 400
    assert "url &#39;ftp://nowhere&#39; is not an http(s) URL" in field_error(r.text, "url")
    assert 'value="ftp://nowhere"' in r.text  # kept to be fixed
    r = admin.submit(
        "/ui/providers", "/ui/providers", {**PROVIDER, "url": "http://x", "sync_interval": "soon"}
    )
    assert "sync_interval must be an integer" in field_error(r.text, "sync_interval")
    assert "Traceback" not in r.text
    r = admin.submit("/ui/datacenters", "/ui/datacenters", {"name": " "})
    assert r.status_code == 400 and "name must be a non-empty string" in field_error(r.text, "name")
    dc = admin.submit("/ui/datacenters", "/ui/datacenters", {"name": "dc1"})
    dc_id = dc.headers["location"].rsplit("/", 1)[1]
    r = admin.submit(
        "/ui/datacenters", "/ui/clusters", {"cluster_name": "", "datacenter_id": dc_id}
    )
    assert "name must be a non-empty string" in field_error(r.text, "cluster_name")


def test_an_unreachable_provider_is_said_in_plain_words(admin: Browser) -> None:
    r = admin.submit("/ui/providers", "/ui/providers", {**PROVIDER, "url": "http://127.0.0.1:1"})
    assert r.status_code == 303
    page = r.headers["location"]
    state = admin.finish(admin.submit(page, page + "/test", {}).headers["location"])
    step = state["steps"][0]
    assert (step["state"], step["type"]) == ("failed", "unreachable"), step
    dc = admin.submit("/ui/datacenters", "/ui/datacenters", {"name": "dc1"})
    dc_id = dc.headers["location"].rsplit("/", 1)[1]
    r = admin.get(f"{page}/import?datacenter_id={dc_id}")  # discovery needs the provider
    assert r.status_code == 502 and "unreachable" in r.text and "Traceback" not in r.text


def test_without_a_vmm_there_are_no_manager_pages(admin_browser: Browser) -> None:
    assert "/ui/vms" not in admin_browser.get("/ui").text
    for path in ("/ui/vms", "/ui/providers", "/ui/datacenters", "/ui/hosts"):
        r = admin_browser.get(path)
        assert r.status_code == 404 and "runs no manager" in r.text, path


def test_bulk_delete_of_vms_keeps_a_running_one_with_its_reason(
    admin: Browser, live_manager: ManagerWorld
) -> None:
    vmm, api = live_manager.vmm, live_manager.api
    provider = vmm.providers.add(
        ADMIN,
        {
            "name": "self",
            "url": live_manager.url,
            "auth_url": live_manager.url + "/v3",
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc1"})
    cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c1", "datacenter_id": dc["id"]})
    vmm.inventory.add_host(
        ADMIN, {"name": "h1", "cluster_id": cluster["id"], "provider_host": "hv1"}
    )
    net = api.create_network(name="red")
    api.create_subnet(net["id"], "192.0.2.0/24")
    vmm.networks.import_(ADMIN, provider["id"], dc["id"], [net["id"]])
    profile = vmm.inventory.list_profiles(ADMIN)[0]["id"]
    ids = [
        vmm.vms.create(
            ADMIN,
            {
                "name": name,
                "cluster_id": cluster["id"],
                "nics": [{"name": "n", "profile_id": profile}],
            },
        )["id"]
        for name in ("idle", "busy")
    ]
    vmm.vms.start(ADMIN, ids[1])
    assert 'aria-label="Select idle"' in admin.get("/ui/vms").text
    r = admin.submit("/ui/vms", "/ui/vms/delete", {"id": ids})
    state = admin.finish(r.headers["location"])
    assert (state["done"], state["failed"]) == (1, 1)
    failed = next(s for s in state["steps"] if s["state"] == "failed")
    assert failed["label"] == "Delete VM busy" and failed["type"] == "VmIsRunning"
    assert [v["name"] for v in vmm.vms.list_vms(ADMIN)] == ["busy"]
