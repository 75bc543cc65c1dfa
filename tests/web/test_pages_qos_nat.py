"""The QoS, port-forwarding and HA-router pages through HTTP, as a browser without JavaScript
uses them: each form reaches Neutron's API with the body a user means, Neutron's refusals come
back next to the form, and admin-only controls are not offered to members."""

from __future__ import annotations

from typing import Any

from tests.api.test_l3_ha import _ha_router
from tests.api.test_qos import agent as qos_agent
from tests.conftest import Caller
from tests.web.conftest import Browser


def logged_in(client: Any, member: Caller) -> Browser:
    """A browser logged in as ``member`` (a user ``as_role`` made: password ``pw-<suffix>``)."""
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    b = Browser(client)
    b.login(user, "pw-" + user[2:], project)
    return b


def test_qos_policy_rules_and_a_ports_policy_through_forms(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    qos_agent(admin_api)  # an agent that can enforce bandwidth limits: rules are accepted
    r = b.submit("/ui/qos", "/ui/qos", {"name": "gold", "description": "10 Mbit/s"})
    assert r.status_code == 303
    page = r.headers["location"]
    policy_id = page.rsplit("/", 1)[1]
    r = b.submit(page, page + "/rules", {"direction": "ingress", "max_kbps": "10000"})
    assert r.status_code == 303
    (rule,) = admin_api.get(f"/v2.0/qos/policies/{policy_id}").json()["policy"]["rules"]
    assert (rule["direction"], rule["max_kbps"], rule["max_burst_kbps"]) == ("ingress", 10000, 0)
    assert "10000" in b.get(page).text and "gold" in b.get("/ui/qos").text

    bad = b.submit(page, page + "/rules", {"direction": "egress", "max_kbps": "fast"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "max_kbps" in bad.text
    same = b.submit(page, page + "/rules", {"direction": "ingress", "max_kbps": "5"})
    assert same.status_code == 409 and 'role="alert"' in same.text  # one limit per direction

    net = admin_api.network(name="n")
    admin_api.subnet(net["id"], "192.0.2.0/24")
    port = admin_api.port(net["id"])
    port_page = f"/ui/ports/{port['id']}"
    assert b.submit(port_page, port_page + "/qos", {"qos_policy_id": policy_id}).status_code == 303
    assert admin_api.get(f"/v2.0/ports/{port['id']}").json()["port"]["qos_policy_id"] == policy_id
    assert "gold" in b.get(port_page).text
    in_use = b.submit(page, page + "/delete", {})
    assert in_use.status_code == 409  # Neutron refuses to delete a policy a port uses
    assert b.submit(port_page, port_page + "/qos", {"qos_policy_id": ""}).status_code == 303
    assert admin_api.get(f"/v2.0/ports/{port['id']}").json()["port"]["qos_policy_id"] is None

    r = b.submit(page, f"{page}/rules/{rule['id']}/delete", {})
    assert r.status_code == 303
    assert admin_api.get(f"/v2.0/qos/policies/{policy_id}").json()["policy"]["rules"] == []
    assert b.submit(page, page + "/delete", {}).status_code == 303
    assert admin_api.get(f"/v2.0/qos/policies/{policy_id}").status_code == 404


def test_a_member_sees_shared_policies_without_admin_forms(
    ui_app_client: Any, admin_api: Caller
) -> None:
    shared = admin_api.create("qos/policies", "policy", name="shared-bronze", shared=True)
    admin_api.create("qos/policies", "policy", name="admins-only")
    b = logged_in(ui_app_client, admin_api.as_member())
    listed = b.get("/ui/qos").text
    assert "shared-bronze" in listed and "admins-only" not in listed
    assert 'action="/ui/qos"' not in listed  # no create form for a member
    detail = b.get(f"/ui/qos/{shared['id']}").text
    assert "Add a bandwidth limit" not in detail and "/delete" not in detail


def nat_world(admin: Caller) -> tuple[Caller, dict[str, Any], dict[str, Any]]:
    """A member's network behind its router on an external network, a free floating IP and
    a VM port: (member, floating IP, port)."""
    ext = admin.network(**{"router:external": True})
    admin.subnet(ext["id"], "203.0.113.0/24")
    member = admin.as_member()
    net = member.network()
    subnet = member.subnet(net["id"], "192.0.2.0/24")
    router = member.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    r = member.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    assert r.status_code == 200, r.text
    fip = member.create("floatingips", "floatingip", floating_network_id=ext["id"])
    return member, fip, member.port(net["id"])


def test_port_forwardings_through_the_floating_ip_page(
    ui_app_client: Any, admin_api: Caller
) -> None:
    member, fip, vm = nat_world(admin_api)
    b = logged_in(ui_app_client, member)
    assert f'href="/ui/floatingips/{fip["id"]}"' in b.get("/ui/floatingips").text
    page = f"/ui/floatingips/{fip['id']}"
    fields = {"protocol": "tcp", "external_port": "2222", "internal_port_id": vm["id"]}
    r = b.submit(page, page + "/port-forwardings", {**fields, "internal_port": "22"})
    assert r.status_code == 303
    r = b.submit(
        page,
        page + "/port-forwardings",
        {**fields, "external_port": "8000:8010", "internal_port": "9000:9010"},
    )
    assert r.status_code == 303
    made = member.get(f"/v2.0/floatingips/{fip['id']}/port_forwardings").json()
    shown = {
        (p["external_port_range"], p["internal_port_range"], p["internal_ip_address"])
        for p in made["port_forwardings"]
    }
    address = vm["fixed_ips"][0]["ip_address"]  # the blank address: the port's IPv4 one
    assert shown == {
        ("2222:2222", "22:22", address),
        ("8000:8010", "9000:9010", address),
    }
    html = b.get(page).text
    assert "8000:8010" in html and address in html
    assert "<td>2222</td>" in html  # a single port is shown as one number

    clash = b.submit(page, page + "/port-forwardings", {**fields, "internal_port": "23"})
    assert clash.status_code in (400, 409) and 'role="alert"' in clash.text
    bad = b.submit(page, page + "/port-forwardings", {**fields, "external_port": "70000"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert "Traceback" not in bad.text

    pf_id = next(p["id"] for p in made["port_forwardings"] if p["external_port"] == 2222)
    assert b.submit(page, f"{page}/port-forwardings/{pf_id}/delete", {}).status_code == 303
    left = member.get(f"/v2.0/floatingips/{fip['id']}/port_forwardings").json()
    assert [p["external_port_range"] for p in left["port_forwardings"]] == ["8000:8010"]


def test_an_ha_router_shows_its_agents_and_their_states(
    admin_browser: Browser, admin_api: Caller
) -> None:
    router, _ = _ha_router(admin_api)
    r = admin_api.post(
        f"/agent/v1/routers/{router['id']}/ha_state",
        {"router": {"host": "net2", "ha_state": "active"}},
    )
    assert r.status_code == 200, r.text
    html = admin_browser.get(f"/ui/routers/{router['id']}").text
    assert 'id="router-ha">yes' in html
    rows = html.split('id="l3-agents"', 1)[1].split("</table>", 1)[0]
    assert 'data-host="net1"' in rows and 'data-host="net2"' in rows
    net2 = rows.split('data-host="net2"', 1)[1].split("</tr>", 1)[0]
    net1 = rows.split('data-host="net1"', 1)[1].split("</tr>", 1)[0]
    assert "status-active" in net2 and "status-standby" in net1

    r = admin_browser.submit("/ui/routers", "/ui/routers", {"name": "r-ha", "ha": "on"})
    assert r.status_code == 303
    made = admin_api.get(f"/v2.0/routers/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert made["router"]["ha"] is True
    r = admin_browser.submit("/ui/routers", "/ui/routers", {"name": "r-plain"})
    made = admin_api.get(f"/v2.0/routers/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert made["router"]["ha"] is False


def test_a_member_gets_no_ha_box_and_no_agent_table(ui_app_client: Any, admin_api: Caller) -> None:
    member = admin_api.as_member()
    router = member.create("routers", "router", name="mine")
    b = logged_in(ui_app_client, member)
    assert "Highly available" not in b.get("/ui/routers").text
    html = b.get(f"/ui/routers/{router['id']}").text
    assert 'id="l3-agents"' not in html and 'id="router-ha"' not in html
    r = b.submit("/ui/routers", "/ui/routers", {"name": "sneaky", "ha": "on"})
    assert r.status_code == 303  # the box is ignored for a member, not sent to Neutron


def test_a_networks_segments_and_a_trunk_parents_sub_ports_are_shown(
    admin_browser: Browser, admin_api: Caller
) -> None:
    net = admin_api.network(name="multi")
    first = net["provider:segmentation_id"]
    second = admin_api.create("segments", "segment", network_id=net["id"], network_type="vxlan")
    html = admin_browser.get(f"/ui/networks/{net['id']}").text
    shown = html.split('id="network-segments">', 1)[1].split("</dd>", 1)[0]
    assert shown == f"vxlan {first}; vxlan {second['segmentation_id']}"

    admin_api.subnet(net["id"], "192.0.2.0/24")
    parent, child = admin_api.port(net["id"]), admin_api.port(net["id"])
    admin_api.create(
        "trunks",
        "trunk",
        port_id=parent["id"],
        sub_ports=[{"port_id": child["id"], "segmentation_type": "vlan", "segmentation_id": 42}],
    )
    html = admin_browser.get(f"/ui/ports/{parent['id']}").text
    rows = html.split('id="subports"', 1)[1].split("</table>", 1)[0]
    assert "<td>42</td>" in rows and child["id"] in rows
    assert 'id="subports"' not in admin_browser.get(f"/ui/ports/{child['id']}").text


def test_a_policys_other_rule_types_are_shown_and_deleted_by_type(
    admin_browser: Browser, admin_api: Caller
) -> None:
    b = admin_browser
    qos_agent(admin_api, types={"dscp_marking": [], "minimum_bandwidth": []})
    policy = admin_api.post("/v2.0/qos/policies", {"policy": {"name": "marks"}}).json()["policy"]
    base = f"/v2.0/qos/policies/{policy['id']}"
    mark = admin_api.post(f"{base}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 46}})
    floor = admin_api.post(
        f"{base}/minimum_bandwidth_rules", {"minimum_bandwidth_rule": {"min_kbps": 1000}}
    )
    assert mark.status_code == floor.status_code == 201
    page = f"/ui/qos/{policy['id']}"
    text = b.get(page).text
    assert "dscp_mark 46" in text and "min_kbps 1000, direction egress" in text
    assert "No rules: traffic is not limited." in text  # no bandwidth limit among them
    mark_id = mark.json()["dscp_marking_rule"]["id"]
    r = b.submit(page, f"{page}/rules/{mark_id}/delete", {"type": "dscp_marking"})
    assert r.status_code == 303
    left = admin_api.get(base).json()["policy"]["rules"]
    assert [x["type"] for x in left] == ["minimum_bandwidth"]
