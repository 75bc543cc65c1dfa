"""The web UI's pages through HTTP, as a browser without JavaScript uses them: the login form,
cookies, CSRF, the forms of each area and Neutron's messages next to the fields."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, Caller
from tests.web.conftest import Browser


def test_root_redirects_a_browser_and_answers_json_to_api_clients(
    ui_app_client: TestClient,
) -> None:
    r = ui_app_client.get(
        "/", headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    r = ui_app_client.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["versions"][0]["id"] == "v2.0"
    assert ui_app_client.get("/").json()["versions"]  # no Accept at all: JSON too


def test_pages_need_a_login(ui_app_client: TestClient) -> None:
    r = ui_app_client.get("/ui/networks", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/networks"


def test_login_sets_a_strict_httponly_cookie_and_logout_revokes_the_token(
    ui_app_client: TestClient, admin_api: Caller
) -> None:
    b = Browser(ui_app_client)
    token = b.get("/ui/login").text
    r = b.submit(
        "/ui/login",
        "/ui/login",
        {"username": "admin", "password": ADMIN_PASSWORD, "domain": "Default", "project": "admin"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("neutrino_token="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/ui" in session
    assert "Secure" not in session  # plain http here; see the https test below
    value = session.split(";", 1)[0].split("=", 1)[1]
    assert ui_app_client.get("/v2.0/networks", headers={"X-Auth-Token": value}).status_code == 200
    assert "admin" in b.get("/ui").text and token
    r = b.submit("/ui", "/ui/logout", {})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert ui_app_client.get("/v2.0/networks", headers={"X-Auth-Token": value}).status_code == 401
    assert b.get("/ui", follow_redirects=False).status_code == 303


def test_cookies_are_secure_over_https(settings, store) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import ui_client

    with ui_client(settings, store) as c:
        c.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        c.base_url = "https://testserver"  # type: ignore[assignment]
        b = Browser(c)
        r = b.submit(
            "/ui/login",
            "/ui/login",
            {
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "domain": "Default",
                "project": "admin",
            },
        )
        assert r.status_code == 303
        assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


def test_a_wrong_password_is_told_on_the_form(ui_app_client: TestClient) -> None:
    b = Browser(ui_app_client)
    r = b.submit(
        "/ui/login",
        "/ui/login",
        {"username": "admin", "password": "nope", "domain": "Default", "project": "admin"},
    )
    assert r.status_code == 401
    assert 'role="alert"' in r.text and "password" in r.text and "Traceback" not in r.text
    assert 'value="nope"' not in r.text  # the password is never echoed back


def test_a_post_without_the_csrf_token_changes_nothing(
    admin_browser: Browser, admin_api: Caller
) -> None:
    c = admin_browser.client
    r = c.post("/ui/networks/new", data={"name": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and "another site" in r.text
    r = c.post(
        "/ui/networks/new", data={"name": "forged", "csrf_token": "guess"}, follow_redirects=False
    )
    assert r.status_code == 403
    names = [n["name"] for n in admin_api.get("/v2.0/networks").json()["networks"]]
    assert "forged" not in names


def test_network_subnet_create_edit_delete_through_forms(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    r = b.submit(
        "/ui/networks/new", "/ui/networks/new", {"name": "web-net", "admin_state_up": "on"}
    )
    assert r.status_code == 303
    page = r.headers["location"]
    net_id = page.rsplit("/", 1)[1]
    assert admin_api.get(f"/v2.0/networks/{net_id}").json()["network"]["name"] == "web-net"
    r = b.submit(
        page,
        page + "/subnets",
        {"name": "web-sub", "cidr": "192.0.2.0/24", "ip_version": "4", "enable_dhcp": "on"},
    )
    assert r.status_code == 303
    html = b.get(page).text
    assert "192.0.2.0/24" in html and "web-sub" in html
    assert "192.0.2.0/24" in b.get("/ui/networks").text
    r = b.submit(page + "/edit", page + "/edit", {"name": "web-net-2", "admin_state_up": "on"})
    assert r.status_code == 303
    assert admin_api.get(f"/v2.0/networks/{net_id}").json()["network"]["name"] == "web-net-2"
    subnet_id = admin_api.get(f"/v2.0/subnets?network_id={net_id}").json()["subnets"][0]["id"]
    assert b.submit(page, f"/ui/subnets/{subnet_id}/delete", {}).status_code == 303
    assert b.submit(page, page + "/delete", {}).status_code == 303
    assert admin_api.get(f"/v2.0/networks/{net_id}").status_code == 404


def test_a_bad_cidr_shows_neutrons_message_next_to_the_field(
    admin_browser: Browser, admin_api: Caller
) -> None:
    net = admin_api.network(name="n")
    page = f"/ui/networks/{net['id']}"
    r = admin_browser.submit(page, page + "/subnets", {"cidr": "10.0.0.300/24", "ip_version": "4"})
    assert r.status_code == 400
    field = r.text.split('<label for="f-cidr">', 1)[1].split("</div>", 1)[0]
    assert "10.0.0.300/24 is not in a CIDR format" in field and 'aria-invalid="true"' in field
    assert admin_api.get(f"/v2.0/subnets?network_id={net['id']}").json()["subnets"] == []


def test_router_interface_and_gateway_through_forms(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    ext = admin_api.network(name="public", **{"router:external": True})
    admin_api.subnet(ext["id"], "203.0.113.0/24")
    net = admin_api.network(name="inside")
    sub = admin_api.subnet(net["id"], "198.51.100.0/24")
    r = b.submit("/ui/routers", "/ui/routers", {"name": "r1", "admin_state_up": "on"})
    assert r.status_code == 303
    page = r.headers["location"]
    router_id = page.rsplit("/", 1)[1]
    assert b.submit(page, page + "/interfaces", {"subnet_id": sub["id"]}).status_code == 303
    job = b.submit(page, page + "/gateway", {"network_id": ext["id"]})
    assert job.status_code == 303
    assert b.finish(job.headers["location"])["done"] == 1
    router = admin_api.get(f"/v2.0/routers/{router_id}").json()["router"]
    assert router["external_gateway_info"]["network_id"] == ext["id"]
    html = b.get(page).text
    assert "198.51.100.1" in html and "public" in html
    again = b.submit(page, page + "/interfaces", {"subnet_id": net["id"]})  # not a subnet
    assert again.status_code in (400, 404) and 'role="alert"' in again.text
    assert "Traceback" not in again.text
    assert b.finish(b.submit(page, page + "/gateway/clear", {}).headers["location"])["done"] == 1
    assert (
        admin_api.get(f"/v2.0/routers/{router_id}").json()["router"]["external_gateway_info"]
        is None
    )


def test_security_group_and_rule_through_forms(admin_browser: Browser, admin_api: Caller) -> None:
    b = admin_browser
    r = b.submit(
        "/ui/security-groups", "/ui/security-groups", {"name": "web", "description": "http"}
    )
    assert r.status_code == 303
    page = r.headers["location"]
    group_id = page.rsplit("/", 1)[1]
    r = b.submit(
        page,
        page + "/rules",
        {
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": "80",
            "port_range_max": "80",
            "remote_ip_prefix": "0.0.0.0/0",
        },
    )
    assert r.status_code == 303
    rules = admin_api.get(f"/v2.0/security-group-rules?security_group_id={group_id}").json()[
        "security_group_rules"
    ]
    assert any(x["port_range_min"] == 80 and x["protocol"] == "tcp" for x in rules)
    bad = b.submit(
        page,
        page + "/rules",
        {
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": "90",
            "port_range_max": "80",
        },
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text


def test_floating_ip_allocate_and_release(admin_browser: Browser, admin_api: Caller) -> None:
    ext = admin_api.network(name="public", **{"router:external": True})
    admin_api.subnet(ext["id"], "203.0.113.0/24")
    b = admin_browser
    r = b.submit("/ui/floatingips", "/ui/floatingips", {"floating_network_id": ext["id"]})
    assert r.status_code == 303
    fips = admin_api.get("/v2.0/floatingips").json()["floatingips"]
    assert len(fips) == 1 and fips[0]["floating_ip_address"] in b.get("/ui/floatingips").text
    assert (
        b.submit("/ui/floatingips", f"/ui/floatingips/{fips[0]['id']}/delete", {}).status_code
        == 303
    )
    assert admin_api.get("/v2.0/floatingips").json()["floatingips"] == []


def test_a_member_sees_only_its_project_and_no_admin_pages(
    ui_app_client: TestClient, admin_api: Caller
) -> None:
    admin_api.network(name="admins-secret")
    member = admin_api.as_member()
    member.network(name="members-own")
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    b = Browser(ui_app_client)
    b.login(user, "pw-" + user[2:], project)
    html = b.get("/ui/networks").text
    assert "members-own" in html and "admins-secret" not in html
    assert "/ui/agents" not in b.get("/ui").text
    r = b.get("/ui/agents")
    assert r.status_code == 403 and "disallowed by policy" in r.text
    secret = admin_api.get("/v2.0/networks?name=admins-secret").json()["networks"][0]
    r = b.get(f"/ui/networks/{secret['id']}")
    assert r.status_code == 404 and "could not be found" in r.text


def test_the_project_switcher_rescopes_the_session(
    ui_app_client: TestClient, admin_api: Caller
) -> None:
    other = admin_api.post(
        "/v3/projects", {"project": {"name": "second", "domain_id": "default"}}
    ).json()
    roles = {x["name"]: x["id"] for x in admin_api.get("/v3/roles").json()["roles"]}
    admin_api.put(
        f"/v3/projects/{other['project']['id']}/users/{admin_api.user_id}/roles/{roles['member']}"
    )
    b = Browser(ui_app_client)
    b.login("admin", ADMIN_PASSWORD, "admin")
    html = b.get("/ui").text
    assert 'id="switch-project"' in html and ">second</option>" in html
    r = b.submit("/ui", "/ui/switch", {"project_id": other["project"]["id"]})
    assert r.status_code == 303
    html = b.get("/ui").text
    assert "selected>second</option>" in html and "/ui/agents" not in html  # member there


def test_quotas_are_an_admin_page_with_neutrons_checks(
    ui_app_client: TestClient, admin_browser: Browser, admin_api: Caller
) -> None:
    member = admin_api.as_member()
    member.network(name="one")
    page = f"/ui/quotas/{member.project_id}"
    assert "1 / 100" in admin_browser.get("/ui/quotas").text  # the member's one network
    r = admin_browser.submit(page, page, {"network": "0", "port": "50"})
    assert r.status_code == 400
    field = r.text.split('<label for="f-network">', 1)[1].split("</div>", 1)[0]
    assert "must be greater than or equal to already used 1" in field
    r = admin_browser.submit(page, page, {"network": "5", "port": "50"})
    assert r.status_code == 303
    limits = admin_api.get(f"/v2.0/quotas/{member.project_id}").json()["quota"]
    assert limits["network"] == 5 and limits["port"] == 50
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    b = Browser(ui_app_client)
    b.login(user, "pw-" + user[2:], project)
    assert "/ui/quotas" not in b.get("/ui").text
    assert b.get("/ui/quotas").status_code == 403
    assert b.get(page).status_code == 403


def test_the_overview_lists_recent_changes_the_caller_may_know_of(
    ui_app_client: TestClient, admin_browser: Browser, admin_api: Caller
) -> None:
    secret = admin_api.network(name="admins")
    member = admin_api.as_member()
    own = member.network(name="members")
    html = admin_browser.get("/ui").text
    changes = html.split('id="changes"', 1)[1].split("</table>", 1)[0]
    assert f'href="/ui/networks/{own["id"]}"' in changes
    assert f'href="/ui/networks/{secret["id"]}"' in changes
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    b = Browser(ui_app_client)
    b.login(user, "pw-" + user[2:], project)
    changes = b.get("/ui").text.split('id="changes"', 1)[1].split("</table>", 1)[0]
    assert f'href="/ui/networks/{own["id"]}"' in changes and ">create<" in changes
    assert secret["id"][:8] not in changes


def test_router_extra_routes_through_forms(admin_browser: Browser, admin_api: Caller) -> None:
    net = admin_api.network(name="inside")
    sub = admin_api.subnet(net["id"], "198.51.100.0/24")
    router = admin_api.create("routers", "router", name="r")
    admin_api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    page = f"/ui/routers/{router['id']}"
    route = {"destination": "203.0.113.0/25", "nexthop": "198.51.100.7"}
    assert admin_browser.submit(page, page + "/routes", route).status_code == 303
    shown = admin_api.get(f"/v2.0/routers/{router['id']}").json()["router"]["routes"]
    assert shown == [route]
    assert "203.0.113.0/25" in admin_browser.get(page).text.split('id="routes"', 1)[1]
    bad = admin_browser.submit(
        page, page + "/routes", {"destination": "203.0.113.128/25", "nexthop": "192.0.2.9"}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "192.0.2.9" in bad.text
    assert admin_browser.submit(page, page + "/routes/remove", route).status_code == 303
    assert admin_api.get(f"/v2.0/routers/{router['id']}").json()["router"]["routes"] == []
