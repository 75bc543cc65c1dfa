"""Tenant networks created concurrently over real HTTP draw distinct VNIs from their ranges,
and the one past the last free id is Neutron's ``NoNetworkAvailable`` (a 409, never a 5xx).

The configured (default) VNI range is shrunk to 1-4 here, so exhaustion is reachable: one
project owns 1000-1007, another 2000-2003 (which the first may not draw from); the first
project's 16 clients then hold at most 8 + 4 ids between them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from neutrino.common.settings import Settings
from tests.api.test_concurrency import _token
from tests.conftest import ADMIN_PASSWORD

CLIENTS = 16


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        db=db_url,
        listen="127.0.0.1:9696",
        token_key="test-key",
        admin_password=ADMIN_PASSWORD,
        vxlan_vni_ranges="1:4",
    )


def _project(c: httpx.Client, name: str) -> str:
    r = c.post("/v3/projects", json={"project": {"name": name, "domain_id": "default"}})
    assert r.status_code == 201, r.text
    return str(r.json()["project"]["id"])


def test_concurrent_tenant_networks_share_no_vni_and_exhaust_with_409(live_url: str) -> None:
    headers = {"X-Auth-Token": _token(live_url)}
    with httpx.Client(base_url=live_url, headers=headers) as c:
        mine, theirs = _project(c, "mine"), _project(c, "theirs")
        for project, lo, hi in ((mine, 1000, 1007), (theirs, 2000, 2003)):
            body = {"shared": False, "project_id": project, "network_type": "vxlan"}
            r = c.post(
                "/v2.0/network_segment_ranges",
                json={"network_segment_range": {**body, "minimum": lo, "maximum": hi}},
            )
            assert r.status_code == 201, r.text

    def worker(_: int) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
        out = []
        with httpx.Client(base_url=live_url, headers=headers, timeout=120) as c:
            for _ in range(2):
                r = c.post("/v2.0/networks", json={"network": {"project_id": mine}})
                out.append((r.status_code, r.json()))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [x for chunk in pool.map(worker, range(CLIENTS)) for x in chunk]

    assert {s for s, _ in results} <= {201, 409}, results
    vnis = sorted(b["network"]["provider:segmentation_id"] for s, b in results if s == 201)
    assert vnis == [1, 2, 3, 4, *range(1000, 1008)]  # own range and the shared one, no other's
    failures = [b["NeutronError"] for s, b in results if s == 409]
    assert len(failures) == CLIENTS * 2 - 12
    assert {f["type"] for f in failures} == {"NoNetworkAvailable"}
