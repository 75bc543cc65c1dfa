"""The topology: the pure layout (bars, router lines, dots, pages) and the pages serving it,
with the long-poll that wakes the live script."""

from __future__ import annotations

import threading
import time
from typing import Any

from neutrino.web.topology import PAGE_SIZE, lay_out, page_networks
from tests.conftest import Caller
from tests.web.conftest import Browser


def net(i: int, external: bool = False) -> dict[str, Any]:
    return {"id": f"n{i:03d}", "name": f"net{i:03d}", "router:external": external}


def port(
    pid: str, network: str, owner: str = "compute:nova", device: str = "", status: str = "ACTIVE"
) -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid,
        "network_id": network,
        "device_owner": owner,
        "device_id": device,
        "status": status,
        "fixed_ips": [{"ip_address": "192.0.2.5", "subnet_id": "s"}],
    }


def test_external_networks_come_first_on_every_page() -> None:
    networks = [net(i) for i in range(2 * PAGE_SIZE + 3)] + [net(999, external=True)]
    first, page, pages = page_networks(networks, 1)
    assert pages == 3 and page == 1 and first[0]["id"] == "n999"
    last, page, _ = page_networks(networks, 3)
    assert page == 3 and [n["id"] for n in last] == ["n999", "n080", "n081", "n082"]
    assert page_networks(networks, 99)[1] == 3  # clamped


def test_layout_places_routers_across_their_networks_and_labels_floating_ips() -> None:
    networks = [net(1), net(2), net(0, external=True)]
    ports = [
        port("vm1", "n001"),
        port("vm2", "n002", status="DOWN"),
        port("gw", "n000", "network:router_gateway", "r1"),
        port("if1", "n001", "network:router_interface", "r1"),
        port("fipport", "n000", "network:floatingip", "f1"),
    ]
    routers = [{"id": "r1", "name": "edge"}, {"id": "r2", "name": "unused"}]
    fips = [{"port_id": "vm1", "floating_ip_address": "203.0.113.7"}]
    pic = lay_out(networks, [{"network_id": "n001", "cidr": "192.0.2.0/24"}], ports, routers, fips)
    assert [b.id for b in pic.bars] == ["n000", "n001", "n002"]
    assert pic.bars[0].y < pic.bars[1].y < pic.bars[2].y and pic.bars[0].external
    assert pic.bars[1].cidrs == "192.0.2.0/24"
    (router,) = pic.routers  # r2 has no port on the page: not drawn
    assert router.name == "edge"
    assert [j.gateway for j in router.joints] == [True, False]
    assert router.y_top == pic.bars[0].y + 10 and router.y_bottom == pic.bars[1].y + 10
    dots = {d.id: d for d in pic.dots}
    assert set(dots) == {"vm1", "vm2"}  # router and floating-IP ports are not VMs
    assert dots["vm1"].floating == "203.0.113.7" and dots["vm2"].status == "DOWN"
    assert pic.bars[1].y < dots["vm1"].y < pic.bars[2].y


def test_many_ports_wrap_onto_more_lines_of_their_row() -> None:
    ports = [port(f"p{i:02d}", "n001") for i in range(30)]
    pic = lay_out([net(1), net(2)], [], ports, [], [])
    ys = sorted({d.y for d in pic.dots})
    assert len(ys) > 1 and all(y < pic.bars[1].y for y in ys)
    assert max(d.x for d in pic.dots) < pic.width


def test_topology_page_draws_objects_with_links(admin_browser: Browser, admin_api: Caller) -> None:
    ext = admin_api.network(name="public", **{"router:external": True})
    admin_api.subnet(ext["id"], "203.0.113.0/24")
    inside = admin_api.network(name="inside")
    sub = admin_api.subnet(inside["id"], "198.51.100.0/24")
    router = admin_api.create(
        "routers", "router", name="edge", external_gateway_info={"network_id": ext["id"]}
    )
    admin_api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    vm = admin_api.port(inside["id"], name="vm-a", device_owner="compute:nova")
    fip = admin_api.create(
        "floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm["id"]
    )
    html = admin_browser.get("/ui/topology").text
    assert f'href="/ui/networks/{ext["id"]}" class="net external"' in html
    assert html.index(ext["id"]) < html.index(inside["id"])  # external on top
    assert f'href="/ui/routers/{router["id"]}"' in html and ">edge<" in html
    assert f'href="/ui/ports/{vm["id"]}" class="vm"' in html and "vm-a" in html
    assert f"FIP {fip['floating_ip_address']}" in html
    svg = admin_browser.get("/ui/topology/svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and 'class="port status-down"' in svg.text


def test_the_long_poll_answers_when_the_change_log_moves(
    admin_browser: Browser, admin_api: Caller
) -> None:
    svc = admin_browser.client.app.state.services  # type: ignore[attr-defined]
    since = svc.store.current_revision()
    r = admin_browser.get(f"/ui/topology/changes?since={since}&timeout=0.2")
    assert r.json() == {"revision": since}  # nothing happened: the same revision, on time
    timer = threading.Timer(0.3, lambda: admin_api.network(name="later"))
    timer.start()
    started = time.monotonic()
    r = admin_browser.get(f"/ui/topology/changes?since={since}&timeout=20")
    timer.join()
    assert r.json()["revision"] > since and time.monotonic() - started < 15
    assert admin_browser.get("/ui/topology/changes?since=x").status_code == 400


def test_names_are_escaped_in_the_svg() -> None:
    from neutrino.web.topology_svg import render

    hostile = {**net(1), "name": '<script>alert("x")</script>'}
    pic = lay_out([hostile], [], [port("p&1", "n001")], [], [])
    svg = render(pic, 7)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "p&amp;1" in svg
    assert 'data-revision="7"' in svg and svg.endswith("</svg>")
