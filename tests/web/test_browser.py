"""The web UI in a real browser (Debian's chromium through Playwright): logging in, building a
small topology through the forms, seeing it in the lists and the picture, isolation between
projects, Neutron's messages on the form, no console errors, and a port turning green live.

The browser runs against a live server on loopback; these tests use SQLite only (what they
test is the UI, and the store suites cover PostgreSQL). They skip, with the reason, where
chromium or playwright is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.test_qos import agent as register_qos_agent
from tests.conftest import ADMIN_PASSWORD, Caller
from tests.web.conftest import Tab

MAIN_PAGES = [
    "/ui",
    "/ui/networks",
    "/ui/routers",
    "/ui/security-groups",
    "/ui/floatingips",
    "/ui/qos",
    "/ui/agents",
    "/ui/quotas",
    "/ui/topology",
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


def register_agent(api: Caller, host: str) -> None:
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": host,
                "agent_type": "L2 agent",
                "binary": "neutrino-agent",
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.1"},
            }
        },
    )
    assert r.status_code == 200, r.text


def test_admin_builds_a_topology_through_the_forms(tab: Tab, live_admin: Caller) -> None:
    ext = live_admin.network(name="public", **{"router:external": True})
    live_admin.subnet(ext["id"], "203.0.113.0/24")
    page = tab.page
    tab.go("/")  # a browser asking for / lands on the UI, then on the login form
    assert "/ui/login" in page.url
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.clean()

    page.get_by_role("link", name="Networks").click()
    page.get_by_role("link", name="Create network").click()
    page.get_by_label("Name").fill("blue")
    page.get_by_role("button", name="Create").click()
    page.get_by_label("Subnet name").fill("blue-v4")
    page.get_by_label("CIDR").fill("192.0.2.0/24")
    page.get_by_role("button", name="Add subnet").click()
    page.wait_for_selector("#subnets td:has-text('192.0.2.0/24')")
    tab.clean()

    page.get_by_role("link", name="Routers").click()
    page.get_by_label("Name").fill("edge")
    page.get_by_role("button", name="Create router").click()
    page.get_by_label("Subnet").select_option(label="blue blue-v4 192.0.2.0/24")
    page.get_by_role("button", name="Add interface").click()
    page.wait_for_selector("#interfaces td:has-text('192.0.2.1')")
    page.get_by_label("External network").select_option(label="public")
    page.get_by_role("button", name="Set gateway").click()
    page.wait_for_selector("#job[data-finished='yes']")  # its progress page, then back
    assert page.locator("#job-progress").get_attribute("value") == "1"
    page.get_by_role("link", name="Back", exact=True).click()
    page.wait_for_selector("#gateway a:has-text('public')")
    tab.clean()

    page.get_by_role("link", name="Security groups").click()
    page.get_by_label("Name").fill("web")
    page.get_by_role("button", name="Create group").click()
    page.get_by_label("Protocol").select_option("tcp")
    page.get_by_label("Port from").fill("443")
    page.get_by_label("Port to").fill("443")
    page.get_by_label("Remote prefix").fill("0.0.0.0/0")
    page.get_by_role("button", name="Add rule").click()
    page.wait_for_selector("#rules tr:has-text('443'):has-text('0.0.0.0/0')")
    tab.clean()

    tab.go("/ui/networks")
    assert page.get_by_role("link", name="blue").is_visible()
    assert page.locator("td", has_text="192.0.2.0/24").is_visible()
    tab.go("/ui/routers")
    assert page.locator("tr", has_text="edge").locator("td", has_text="public").is_visible()
    tab.go("/ui/security-groups")
    assert page.get_by_role("link", name="web").is_visible()

    blue = live_admin.get("/v2.0/networks?name=blue").json()["networks"][0]
    router = live_admin.get("/v2.0/routers?name=edge").json()["routers"][0]
    tab.go("/ui/topology")
    bars = page.locator("#topology-svg a.net")
    assert bars.nth(0).get_attribute("data-network-id") == ext["id"]  # external on top
    assert (
        page.locator(f"#topology-svg a[data-network-id='{blue['id']}'] text").first.text_content()
        == "blue"
    )
    router_link = page.locator(f"#topology-svg a[href='/ui/routers/{router['id']}']")
    assert router_link.locator("text").text_content() == "edge"
    joints = page.locator(f"#topology-svg g[data-router-id='{router['id']}'] circle.port")
    assert joints.count() == 2  # its interface on blue and its gateway on public
    router_link.click()
    page.wait_for_url(f"**/ui/routers/{router['id']}")
    assert page.locator("#router-name").text_content() == "edge"
    tab.clean()


def test_a_bad_cidr_shows_the_validation_message(tab: Tab, live_admin: Caller) -> None:
    net = live_admin.network(name="red")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.go(f"/ui/networks/{net['id']}")
    tab.page.get_by_label("CIDR").fill("10.0.0.300/24")
    tab.page.get_by_role("button", name="Add subnet").click()
    message = tab.page.locator("#e-cidr")
    assert (
        message.text_content()
        == "Invalid input for operation: 10.0.0.300/24 is not in a CIDR format."
    )
    assert tab.page.get_by_label("CIDR").get_attribute("aria-invalid") == "true"
    assert tab.page.get_by_label("CIDR").input_value() == "10.0.0.300/24"  # kept to fix


def test_a_bandwidth_limit_set_in_the_browser_reaches_the_port(
    tab: Tab, live_admin: Caller
) -> None:
    register_qos_agent(live_admin)
    net = live_admin.network(name="n")
    live_admin.subnet(net["id"], "192.0.2.0/24")
    port = live_admin.port(net["id"], name="vm1")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.go("/ui/qos")
    tab.page.get_by_label("Name").fill("silver")
    tab.page.get_by_role("button", name="Create policy").click()
    tab.page.get_by_label("Direction").select_option("ingress")
    tab.page.get_by_label("Limit (kbit/s)").fill("2000")
    tab.page.get_by_role("button", name="Add limit").click()
    assert tab.page.locator("#qos-rules tbody tr td").nth(1).text_content() == "2000"
    assert tab.errors == []
    tab.page.get_by_label("Limit (kbit/s)").fill("lots")
    tab.page.get_by_role("button", name="Add limit").click()
    assert "max_kbps" in (tab.page.locator("[role=alert]").first.text_content() or "")
    assert ["400" in e for e in tab.errors] == [True]  # the refused form's own status only
    tab.errors.clear()
    tab.go(f"/ui/ports/{port['id']}")
    tab.page.get_by_label("QoS policy").select_option(label="silver")
    tab.page.get_by_role("button", name="Save").click()
    assert tab.page.locator("#port-qos").text_content() == "silver"
    shown = live_admin.get(f"/v2.0/ports/{port['id']}").json()["port"]
    rules = live_admin.get(f"/v2.0/qos/policies/{shown['qos_policy_id']}").json()["policy"]
    assert [(r["direction"], r["max_kbps"]) for r in rules["rules"]] == [("ingress", 2000)]
    assert tab.errors == []


def test_a_member_sees_neither_other_projects_nor_admin_pages(tab: Tab, live_admin: Caller) -> None:
    live_admin.network(name="admins-only")
    member = live_admin.as_member()
    member.network(name="mine")
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    tab.login(user, "pw-" + user[2:], project)
    assert tab.page.locator("#user-name").text_content() == user
    assert tab.page.get_by_role("link", name="Agents").count() == 0
    tab.go("/ui/networks")
    assert tab.page.get_by_role("link", name="mine").is_visible()
    assert tab.page.get_by_text("admins-only").count() == 0
    tab.go("/ui/topology")
    assert tab.page.get_by_text("admins-only").count() == 0
    tab.clean()
    r = tab.go("/ui/agents")
    assert r.status == 403 and "disallowed by policy" in tab.page.content()


def test_no_console_errors_on_any_page(tab: Tab, live_admin: Caller) -> None:
    net = live_admin.network(name="n1")
    sub = live_admin.subnet(net["id"], "198.51.100.0/24")
    port = live_admin.port(net["id"], name="p1")
    router = live_admin.create("routers", "router", name="r1")
    live_admin.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    group = live_admin.create("security-groups", "security_group", name="g1")
    policy = live_admin.create("qos/policies", "policy", name="q1")
    ext = live_admin.network(name="ext", **{"router:external": True})
    live_admin.subnet(ext["id"], "203.0.113.0/24")
    fip = live_admin.create("floatingips", "floatingip", floating_network_id=ext["id"])
    tab.login("admin", ADMIN_PASSWORD, "admin")
    for path in [
        *MAIN_PAGES,
        f"/ui/networks/{net['id']}",
        f"/ui/networks/{net['id']}/edit",
        "/ui/networks/new",
        f"/ui/routers/{router['id']}",
        f"/ui/ports/{port['id']}",
        f"/ui/security-groups/{group['id']}",
        f"/ui/qos/{policy['id']}",
        f"/ui/floatingips/{fip['id']}",
    ]:
        response = tab.go(path)
        assert response.status == 200, path
        tab.page.wait_for_load_state("load")
        assert tab.errors == [], (path, tab.errors)
        assert tab.low_contrast() == [], path
    tab.page.wait_for_timeout(500)  # the topology's live script has started polling
    tab.clean()


def test_the_topology_turns_a_port_green_without_reload(tab: Tab, live_admin: Caller) -> None:
    register_agent(live_admin, "hv1")
    net = live_admin.network(name="live")
    live_admin.subnet(net["id"], "192.0.2.0/24")
    port = live_admin.port(
        net["id"], name="vm-live", device_owner="compute:nova", **{"binding:host_id": "hv1"}
    )
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.go("/ui/topology")
    dot = tab.page.locator(f"#topology-svg a[data-port-id='{port['id']}'] circle")
    assert dot.get_attribute("data-status") == "DOWN"
    assert "status-down" in (dot.get_attribute("class") or "")
    tab.page.evaluate("window.notReloaded = true")
    tab.page.wait_for_function(
        "document.getElementById('live-state').textContent.startsWith('Live')"
    )
    r = live_admin.post(
        f"/agent/v1/ports/{port['id']}/status", {"port": {"status": "ACTIVE", "host": "hv1"}}
    )
    assert r.status_code == 200, r.text
    tab.page.wait_for_selector(
        f"#topology-svg a[data-port-id='{port['id']}'] circle.status-active", timeout=15000
    )
    assert tab.page.evaluate("window.notReloaded") is True
    fill = tab.page.locator(f"#topology-svg a[data-port-id='{port['id']}'] circle").evaluate(
        "c => getComputedStyle(c).fill"
    )
    assert re.fullmatch(r"rgb\(30, 142, 62\)", fill)  # green
    tab.clean()


def test_keyboard_alone_reaches_the_content_and_the_topology_links(
    tab: Tab, live_admin: Caller
) -> None:
    net = live_admin.network(name="by-keyboard")
    tab.login("admin", ADMIN_PASSWORD, "admin")
    tab.go("/ui/topology")
    page = tab.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    target = f"/ui/networks/{net['id']}"
    for _ in range(60):  # header links, switcher, logout, then the picture's shapes
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == target:
            break
    else:
        raise AssertionError("the network's bar is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{target}")
    assert page.locator("#network-name").text_content() == "by-keyboard"
    tab.clean()


def test_the_contrast_check_catches_faint_text(tab: Tab, live_admin: Caller) -> None:
    """The check used on every page above can fail: faint grey on white is caught."""
    tab.login("admin", ADMIN_PASSWORD, "admin")
    assert tab.low_contrast() == []
    tab.page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<p style=\"color:#aaaaaa\">faint words</p>')"
    )
    assert [t.rsplit(" ", 1)[0] for t in tab.low_contrast()] == ["faint words"]
