"""Concurrency against a real HTTP server: 32 clients creating ports on one /24 get distinct
addresses and MACs, and everything past the last free address is a clean 409."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import ADMIN_PASSWORD

CLIENTS = 32


def _token(url: str) -> str:
    r = httpx.post(
        f"{url}/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": ADMIN_PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        },
    )
    assert r.status_code == 201
    return r.headers["X-Subject-Token"]


def test_concurrent_port_creates_never_duplicate_and_exhaust_with_409(live_url: str) -> None:
    headers = {"X-Auth-Token": _token(live_url)}
    with httpx.Client(base_url=live_url, headers=headers) as c:
        net = c.post("/v2.0/networks", json={"network": {"name": "race"}}).json()["network"]
        r = c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "192.0.2.0/24"}},
        )
        assert r.status_code == 201

    def worker(_: int) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
        out = []
        with httpx.Client(base_url=live_url, headers=headers, timeout=60) as c:
            for _ in range(10):
                r = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
                out.append((r.status_code, r.json()))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [x for chunk in pool.map(worker, range(CLIENTS)) for x in chunk]

    statuses = [s for s, _ in results]
    assert set(statuses) <= {201, 409}, statuses
    created = [b["port"] for s, b in results if s == 201]
    assert len(created) == 253  # 192.0.2.2 - .254
    addresses = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(set(addresses)) == 253
    assert len({p["mac_address"] for p in created}) == 253
    assert "192.0.2.1" not in addresses
    failures = [b for s, b in results if s == 409]
    assert len(failures) == CLIENTS * 10 - 253
    assert all(f["NeutronError"]["type"] == "IpAddressGenerationFailure" for f in failures)


def test_sixteen_clients_carving_one_pool_never_overlap(live_url: str) -> None:
    """Room for 24 /28s, 16 clients creating 3 subnets each (on their own networks): 24
    distinct cidrs, then a clean 409 ``SubnetAllocationError``."""
    headers = {"X-Auth-Token": _token(live_url)}
    with httpx.Client(base_url=live_url, headers=headers) as c:
        body = {"subnetpool": {"name": "p", "prefixes": ["198.51.100.0/24", "192.0.2.0/25"]}}
        pool = c.post("/v2.0/subnetpools", json=body).json()["subnetpool"]

    def worker(_: int) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
        out = []
        with httpx.Client(base_url=live_url, headers=headers, timeout=60) as c:
            net = c.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
            for _ in range(3):
                # each for its own project: creates of one project queue on its quota key,
                # so only distinct projects test the pool's own lock
                sub = {
                    "network_id": net["id"],
                    "ip_version": 4,
                    "subnetpool_id": pool["id"],
                    "project_id": uuid.uuid4().hex,
                }
                r = c.post("/v2.0/subnets", json={"subnet": {**sub, "prefixlen": 28}})
                out.append((r.status_code, r.json()))
        return out

    with ThreadPoolExecutor(16) as workers:
        results = [x for chunk in workers.map(worker, range(16)) for x in chunk]
    made = [body["subnet"]["cidr"] for status, body in results if status == 201]
    refused = [body["NeutronError"]["type"] for status, body in results if status == 409]
    assert len(made) == 24 and len(set(made)) == 24, made
    assert refused == ["SubnetAllocationError"] * 24, results
