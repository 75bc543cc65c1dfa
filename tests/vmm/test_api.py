"""The vmm's REST API (/vmm/v1) mounted on a neutrino app, with a real neutrino served over
HTTP as its provider: tokens and roles, the error envelope for bad input, and the whole flow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.vmm.routes import VmmExtension
from neutrino.vmm.usecases.container import Vmm
from tests.conftest import ADMIN_PASSWORD, Caller, token_caller
from tests.vmm.world import TUNNEL_IPS, provider_api

V = "/vmm/v1"


@pytest.fixture
def app_client(settings: Settings, store: Store, vmm: Vmm) -> Iterator[TestClient]:
    app = create_app(settings, store, extensions=[VmmExtension(vmm, sync=False)])
    with TestClient(app) as c:
        c.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def admin(app_client: TestClient) -> Caller:
    return token_caller(
        app_client,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["NeutronError"]  # type: ignore[no-any-return]


def provider_body(url: str, **over: Any) -> dict[str, Any]:
    return {
        "provider": {
            "name": "prov1",
            "url": url,
            "auth_url": url + "/v3",
            "username": "admin",
            "password": ADMIN_PASSWORD,
            **over,
        }
    }


def test_tokens_roles_and_bad_input(app_client: TestClient, admin: Caller, live_url: str) -> None:
    assert app_client.get(f"{V}/providers").status_code == 401
    member = admin.as_member()
    assert error(member.get(f"{V}/providers"), 403)["type"] == "PolicyNotAuthorized"
    assert error(member.post(f"{V}/datacenters", {"datacenter": {"name": "x"}}), 403)
    assert error(
        admin.post(
            f"{V}/providers", None, content=b"{nope", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert (
        "Unable to find 'provider'" in error(admin.post(f"{V}/providers", {"x": 1}), 400)["message"]
    )
    bad = error(admin.post(f"{V}/providers", provider_body(live_url, colour="blue")), 400)
    assert bad["type"] == "InvalidInput" and "colour" in bad["message"]
    bad = error(admin.post(f"{V}/providers", provider_body("ftp://x")), 400)
    assert "url" in bad["message"]
    bad = error(admin.post(f"{V}/providers", provider_body(live_url, sync_interval=-5)), 400)
    assert "sync_interval" in bad["message"]
    missing = error(admin.get(f"{V}/providers/nope"), 404)
    assert missing["type"] == "ProviderNotFound"
    assert error(admin.post(f"{V}/vms/nope/start", {}), 404)["type"] == "VmNotFound"
    assert (
        error(admin.post(f"{V}/vms", {"vm": {"name": "v", "cluster_id": "nope"}}), 404)["type"]
        == "ClusterNotFound"
    )
    p = ok(admin.post(f"{V}/providers", provider_body(live_url)), 201)["provider"]
    assert "password" not in p and p["keystone_version"] == "v3"
    assert error(admin.post(f"{V}/providers", provider_body(live_url)), 409)["type"] == "NameInUse"
    assert error(admin.get(f"{V}/providers/{p['id']}/networks"), 400)  # datacenter_id needed
    assert error(admin.delete(f"{V}/networks/x?from_provider=maybe"), 400)


def test_the_whole_flow_over_http(
    app_client: TestClient, admin: Caller, live_url: str, vmm: Vmm
) -> None:
    provider = provider_api(live_url)
    for host, ip in TUNNEL_IPS.items():
        provider.report_agent(host, {"tunnel_ip": ip, "tunnel_types": ["vxlan"]}, start_flag=True)
    vmm.set_host_plug(
        lambda vm, host, nic, port: provider.report_port_status(
            port["id"], "ACTIVE", host.provider_host
        ),
        None,
    )
    existing = provider.create_network(name="existing")

    p = ok(admin.post(f"{V}/providers", provider_body(live_url)), 201)["provider"]
    check = ok(admin.post(f"{V}/providers/{p['id']}/test"))["check"]
    assert check["ok"] and check["kind"] == "ok"
    wrong = ok(
        admin.post(f"{V}/providers", provider_body(live_url, name="wrong", password="nope")), 201
    )["provider"]
    assert ok(admin.post(f"{V}/providers/{wrong['id']}/test"))["check"]["kind"] == "bad_credentials"
    dc = ok(admin.post(f"{V}/datacenters", {"datacenter": {"name": "dc1"}}), 201)["datacenter"]
    cl = ok(
        admin.post(f"{V}/clusters", {"cluster": {"name": "c1", "datacenter_id": dc["id"]}}), 201
    )["cluster"]
    for h in TUNNEL_IPS:
        ok(
            admin.post(
                f"{V}/hosts",
                {"host": {"name": f"host-{h}", "cluster_id": cl["id"], "provider_host": h}},
            ),
            201,
        )
    offered = ok(admin.get(f"{V}/providers/{p['id']}/networks?datacenter_id={dc['id']}"))
    assert existing["id"] in {n["id"] for n in offered["networks"]}
    [imported] = ok(
        admin.post(
            f"{V}/providers/{p['id']}/import",
            {"datacenter_id": dc["id"], "external_ids": [existing["id"]]},
        ),
        201,
    )["networks"]
    made = ok(
        admin.post(
            f"{V}/networks",
            {
                "network": {
                    "provider_id": p["id"],
                    "datacenter_id": dc["id"],
                    "name": "made",
                    "subnets": [{"cidr": "192.0.2.0/24"}],
                }
            },
        ),
        201,
    )["network"]
    assert (
        ok(admin.get(f"{V}/networks/{made['id']}"))["network"]["subnets"][0]["cidr"]
        == "192.0.2.0/24"
    )
    prof = ok(
        admin.post(
            f"{V}/vnicprofiles",
            {"vnicprofile": {"name": "open", "network_id": made["id"], "security_groups": []}},
        ),
        201,
    )["vnicprofile"]
    default = ok(admin.get(f"{V}/vnicprofiles?network_id={imported['id']}"))["vnicprofiles"]

    member = admin.as_member()
    vm = ok(
        member.post(
            f"{V}/vms",
            {
                "vm": {
                    "name": "web",
                    "cluster_id": cl["id"],
                    "nics": [
                        {"name": "eth0", "profile_id": prof["id"]},
                        {"name": "eth1", "profile_id": default[0]["id"]},
                    ],
                }
            },
        ),
        201,
    )["vm"]
    assert vm["project_id"] == member.project_id
    started = ok(member.post(f"{V}/vms/{vm['id']}/start", {}))["vm"]
    assert started["status"] == "up" and len(started["ports"]) == 2
    nics = ok(member.get(f"{V}/vms/{vm['id']}/nics"))["nics"]
    assert {n["port_status"] for n in nics} == {"ACTIVE"}
    eth0 = next(n for n in nics if n["name"] == "eth0")
    assert provider.get_port(eth0["port_id"])["security_groups"] == []
    moved = ok(member.post(f"{V}/vms/{vm['id']}/migrate", {}))["vm"]
    assert moved["host"] != started["host"]
    ok(member.delete(f"{V}/vms/{vm['id']}/nics/{eth0['id']}"), 204)
    assert provider.list_ports(device_id=eth0["id"]) == []
    other = admin.as_member()
    assert error(other.get(f"{V}/vms/{vm['id']}"), 404)["type"] == "VmNotFound"
    in_use = error(admin.delete(f"{V}/providers/{p['id']}"), 409)
    assert in_use["type"] == "ProviderInUse" and "web/eth1" in in_use["message"]
    assert error(member.delete(f"{V}/vms/{vm['id']}"), 409)["type"] == "VmIsRunning"
    ok(member.post(f"{V}/vms/{vm['id']}/stop", {}))
    ok(member.delete(f"{V}/vms/{vm['id']}"), 204)
    ok(admin.delete(f"{V}/networks/{made['id']}?from_provider=true"), 204)
    assert made["external_id"] not in {n["id"] for n in provider.list_networks()}
    ok(admin.delete(f"{V}/providers/{p['id']}"), 204)
    assert ok(admin.get(f"{V}/networks"))["networks"] == []
