"""Long operations over HTTP: bulk deletes and a router's gateway run as jobs with a progress
page; a step Neutron refuses shows Neutron's message (never a traceback) and the others still
run; a job is visible only to the session that started it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Caller
from tests.web.conftest import Browser


def in_use_network(api: Caller, name: str) -> dict[str, str]:
    """A network a router has an interface on: Neutron refuses to delete it (409)."""
    net = api.network(name=name)
    sub = api.subnet(net["id"], "198.51.100.0/24")
    router = api.create("routers", "router", name=f"{name}-r")
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    return net


def test_bulk_delete_of_networks_reports_each_step(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    free = [admin_api.network(name=f"free{i}") for i in range(3)]
    busy = in_use_network(admin_api, "busy")
    html = b.get("/ui/networks").text
    assert 'form="bulk-delete"' in html and 'aria-label="Select free0"' in html
    ids = [n["id"] for n in free] + [busy["id"]]
    r = b.submit("/ui/networks", "/ui/networks/delete", {"id": ids})
    assert r.status_code == 303
    state = b.finish(r.headers["location"])
    assert (state["total"], state["done"], state["failed"]) == (4, 3, 1)
    failed = [s for s in state["steps"] if s["state"] == "failed"]
    assert failed[0]["label"] == "Delete network busy"
    assert failed[0]["type"] == "NetworkInUse" and "ports still in use" in failed[0]["message"]
    page = b.get(r.headers["location"]).text
    assert "Finished: 3 of 4 done" in page and "NetworkInUse: Unable to complete" in page
    assert '<progress id="job-progress" max="4" value="4"' in page
    assert 'http-equiv="refresh"' not in page  # over: no more refreshing
    assert "Traceback" not in page
    left = {n["name"] for n in admin_api.get("/v2.0/networks").json()["networks"]}
    assert "busy" in left and not {"free0", "free1", "free2"} & left


def test_bulk_deletes_of_routers_groups_and_floating_ips(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    ext = admin_api.network(name="public", **{"router:external": True})
    admin_api.subnet(ext["id"], "203.0.113.0/24")
    routers = [admin_api.create("routers", "router", name=f"r{i}")["id"] for i in range(2)]
    groups = [admin_api.create("security-groups", "security_group", name="g")["id"]]
    fips = [
        admin_api.create("floatingips", "floatingip", floating_network_id=ext["id"])["id"]
        for _ in range(2)
    ]
    for page, ids, collection in (
        ("/ui/routers", routers, "routers"),
        ("/ui/security-groups", groups, "security-groups"),
        ("/ui/floatingips", fips, "floatingips"),
    ):
        r = b.submit(page, page + "/delete", {"id": ids})
        state = b.finish(r.headers["location"])
        assert (state["done"], state["failed"]) == (len(ids), 0), state
        key = collection.replace("-", "_")
        assert not {x["id"] for x in admin_api.get(f"/v2.0/{collection}").json()[key]} & set(ids)


def test_a_job_in_progress_refreshes_itself_and_is_private(
    ui_app_client: TestClient, admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    net = admin_api.network(name="gone")
    r = b.submit("/ui/networks", "/ui/networks/delete", {"id": net["id"]})
    location = r.headers["location"]
    page = b.get(location).text  # maybe still running: then it says so and refreshes
    if "Working:" in page:
        assert '<noscript><meta http-equiv="refresh" content="1"></noscript>' in page
    b.finish(location)
    member = admin_api.as_member()
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    other = Browser(TestClient(ui_app_client.app))
    other.login(user, "pw-" + user[2:], project)
    assert other.get(location).status_code == 404
    assert other.get(location + "/state").status_code == 404


def test_a_bulk_delete_with_nothing_selected_says_so(admin_browser: Browser) -> None:
    r = admin_browser.submit("/ui/networks", "/ui/networks/delete", {})
    assert r.status_code == 400 and "Select the networks to delete first." in r.text


def test_a_failed_gateway_shows_neutrons_message(admin_browser: Browser, admin_api: Caller) -> None:
    inside = admin_api.network(name="inside")  # not external: Neutron refuses it as a gateway
    router = admin_api.create("routers", "router", name="edge")
    page = f"/ui/routers/{router['id']}"
    r = admin_browser.submit(page, page + "/gateway", {"network_id": inside["id"]})
    state = admin_browser.finish(r.headers["location"])
    assert state["failed"] == 1 and state["steps"][0]["label"] == (
        "Set router edge's gateway on network inside"
    )
    assert state["steps"][0]["type"] == "BadRequest"
    assert inside["id"] in state["steps"][0]["message"]
