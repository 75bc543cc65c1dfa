"""Screenshots of the main pages and the topology, from a small lab topology: an external
network, two networks, a router joining all three, four VMs (three wired, one not yet) and a
floating IP; and of the manager's pages (a provider, a data center, hosts, VMs, the import
dialog, a job's progress page).

In the ordinary suite the pictures go to a temporary folder (the test still proves that every
page renders in the browser without a console error); ``scripts/screenshots.sh`` sets
``NEUTRINO_SCREENSHOTS=docs/screenshots`` so the ones in the docs stay current.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino.vmm.usecases.base import ADMIN
from tests.conftest import ADMIN_PASSWORD, Caller
from tests.web.conftest import ManagerWorld, Tab
from tests.web.test_browser import register_agent

PAGES = {
    "overview": "/ui",
    "networks": "/ui/networks",
    "routers": "/ui/routers",
    "security-groups": "/ui/security-groups",
    "floating-ips": "/ui/floatingips",
    "agents": "/ui/agents",
    "quotas": "/ui/quotas",
    "topology": "/ui/topology",
}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'neutrino.db'}"


def build_lab(api: Caller) -> dict[str, str]:
    register_agent(api, "hv1")
    register_agent(api, "hv2")
    public = api.network(name="public", **{"router:external": True})
    api.subnet(public["id"], "203.0.113.0/24", name="public-v4")
    ids = {"public": public["id"]}
    router = api.create(
        "routers", "router", name="edge", external_gateway_info={"network_id": public["id"]}
    )
    ids["router"] = router["id"]
    vms = []
    for name, cidr in (("web", "192.0.2.0/24"), ("db", "198.51.100.0/24")):
        net = api.network(name=name)
        ids[name] = net["id"]
        sub = api.subnet(net["id"], cidr, name=f"{name}-v4")
        api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
        for i, host in ((1, "hv1"), (2, "hv2")):
            vms.append(
                api.port(
                    net["id"],
                    name=f"{name}-vm{i}",
                    device_owner="compute:nova",
                    device_id=f"{name}-vm{i}",
                    **{"binding:host_id": host},
                )
            )
    for vm in vms[:3]:  # the fourth is still being plugged: DOWN
        r = api.post(
            f"/agent/v1/ports/{vm['id']}/status",
            {"port": {"status": "ACTIVE", "host": vm["binding:host_id"]}},
        )
        assert r.status_code == 200, r.text
    api.create("floatingips", "floatingip", floating_network_id=public["id"], port_id=vms[0]["id"])
    group = api.create(
        "security-groups", "security_group", name="web", description="HTTPS from anywhere"
    )
    api.create(
        "security-group-rules",
        "security_group_rule",
        security_group_id=group["id"],
        direction="ingress",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
    )
    return ids


def test_screenshots_of_the_main_pages(tab: Tab, live_admin: Caller, tmp_path: Path) -> None:
    out = Path(os.environ.get("NEUTRINO_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    ids = build_lab(live_admin)
    tab.page.set_viewport_size({"width": 1280, "height": 760})
    tab.go("/ui/login")
    tab.page.screenshot(path=str(out / "login.png"))
    tab.login("admin", ADMIN_PASSWORD, "admin")
    shots = {
        **PAGES,
        "network": f"/ui/networks/{ids['web']}",
        "router": f"/ui/routers/{ids['router']}",
    }
    for name, path in shots.items():
        assert tab.go(path).status == 200, path
        if name == "topology":
            assert tab.page.locator("#topology-svg circle.status-active").count() >= 3
        tab.page.screenshot(path=str(out / f"{name}.png"), full_page=name != "topology")
        assert (out / f"{name}.png").stat().st_size > 5_000  # a real picture, not a blank
    tab.clean()


MANAGER_PAGES = {
    "providers": "/ui/providers",
    "datacenters": "/ui/datacenters",
    "hosts": "/ui/hosts",
    "vms": "/ui/vms",
}


@pytest.fixture
def manager_tab(chromium: Any, live_manager: ManagerWorld) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1280, "height": 760})
    try:
        yield Tab(context.new_page(), live_manager.url)
    finally:
        context.close()


def build_manager(world: ManagerWorld) -> dict[str, str]:
    """A provider (this server), a data center with a cluster and two hosts, two of the
    provider's three networks imported, two VMs (one running)."""
    vmm, api = world.vmm, world.api
    provider = vmm.providers.add(
        ADMIN,
        {
            "name": "neutrino",
            "url": world.url,
            "auth_url": world.url + "/v3",
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc1", "description": "the lab"})
    cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c1", "datacenter_id": dc["id"]})
    for host in ("hv1", "hv2"):
        vmm.inventory.add_host(
            ADMIN, {"name": f"host-{host}", "cluster_id": cluster["id"], "provider_host": host}
        )
    nets = []
    for name, cidr in (("web", "192.0.2.0/24"), ("db", "198.51.100.0/24"), ("spare", "")):
        net = api.create_network(name=name)
        if cidr:
            api.create_subnet(net["id"], cidr)
            nets.append(net["id"])
    vmm.networks.import_(ADMIN, provider["id"], dc["id"], nets)
    profiles = {p["name"]: p["id"] for p in vmm.inventory.list_profiles(ADMIN)}
    vms = {}
    for name, profile in (("web-vm1", "web"), ("db-vm1", "db")):
        vms[name] = vmm.vms.create(
            ADMIN,
            {
                "name": name,
                "cluster_id": cluster["id"],
                "nics": [{"name": "nic1", "profile_id": profiles[profile]}],
            },
        )["id"]
    vmm.vms.start(ADMIN, vms["web-vm1"])
    return {"provider": provider["id"], "dc": dc["id"], "vm": vms["web-vm1"]}


def test_screenshots_of_the_manager_pages(
    manager_tab: Tab, live_manager: ManagerWorld, tmp_path: Path
) -> None:
    out = Path(os.environ.get("NEUTRINO_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    ids = build_manager(live_manager)
    tab = manager_tab
    tab.login("admin", ADMIN_PASSWORD, "admin")
    shots = {
        **MANAGER_PAGES,
        "provider": f"/ui/providers/{ids['provider']}",
        "provider-import": f"/ui/providers/{ids['provider']}/import?datacenter_id={ids['dc']}",
        "datacenter": f"/ui/datacenters/{ids['dc']}",
        "vm": f"/ui/vms/{ids['vm']}",
    }
    for name, path in shots.items():
        assert tab.go(path).status == 200, path
        tab.page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        assert (out / f"{name}.png").stat().st_size > 5_000
    tab.go(shots["provider"])
    tab.page.get_by_role("button", name="Test connection").click()
    tab.page.wait_for_selector("#job[data-finished='yes']", timeout=30000)
    tab.page.screenshot(path=str(out / "job.png"), full_page=True)
    tab.clean()
