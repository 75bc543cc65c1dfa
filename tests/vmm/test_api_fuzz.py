"""The vmm's API (/vmm/v1) in the OpenAPI document, and fuzzed from it.

``test_document_describes_every_vmm_route``: the server's document with the vmm mounted is
valid OpenAPI and every /vmm/v1 operation is described (summary, who may call it, its body,
its answers with Neutron's envelope, the ``vmm`` tag, the token).

``test_fuzz_vmm``: the public fuzzer (tests/api/fuzzing.py) on the /vmm/v1 operations of that
document, against a live server holding a real provider (the same server, over loopback), a
data center, cluster, host, networks, profiles, a VM and its vNIC: hostile paths, queries and
bodies as the admin, a member of another project, or nobody. No answer may be a server error
except 502, the documented answer when the provider itself fails or refuses the manager's own
credentials (the fuzz may change the provider's password), and that one in the envelope.
Every provider call goes through a transport that refuses anything but loopback, since the
fuzz may point the provider at any URL. ``NEUTRINO_VMM_FUZZ_REQUESTS`` (default 1,500),
``NEUTRINO_FUZZ_SEED`` to replay.
"""

from __future__ import annotations

import os
import random
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.vmm.routes import VmmExtension
from neutrino.vmm.usecases.container import Vmm
from tests.api.fuzz_world import World
from tests.api.fuzzing import Fuzzer
from tests.conftest import ADMIN_PASSWORD

REQUESTS = int(os.environ.get("NEUTRINO_VMM_FUZZ_REQUESTS", "1500"))
PREFIX = "/vmm/v1"


class LoopbackOnly(httpx.HTTPTransport):
    """Provider calls may reach loopback only (no name lookup, no traffic elsewhere)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", "localhost", "::1"):
            raise httpx.ConnectError(f"test transport: {request.url.host} is not loopback")
        return super().handle_request(request)


def test_document_describes_every_vmm_route(settings: Settings, store: Store, vmm: Vmm) -> None:
    app = create_app(settings, store, extensions=[VmmExtension(vmm, sync=False)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = app.openapi()
    validate(doc)
    ops = [
        (p, m, op) for p, ms in doc["paths"].items() if p.startswith(PREFIX) for m, op in ms.items()
    ]
    assert len(ops) >= 35
    for path, method, op in ops:
        where = f"{method.upper()} {path}"
        assert op["tags"] == ["vmm"] and op["security"] == [{"token": []}], where
        assert op.get("summary") and op.get("description"), where  # what, and who may
        assert "x-operation" not in op, where
        errors = {s for s in op["responses"] if s >= "400"}
        assert {"400", "401", "403", "404"} <= errors, where
        ref = op["responses"]["403"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/NeutronError"), where
        if method in ("post", "put") and not path.endswith(("/test", "/sync", "/stop")):
            assert "requestBody" in op, where
    body = doc["paths"][f"{PREFIX}/providers"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]["properties"]["provider"]
    assert {"name", "url", "auth_url", "username", "password"} <= set(schema["required"])


@pytest.fixture
def vmm_url(settings: Settings, store: Store, vmm: Vmm) -> Iterator[str]:
    from tests.live import live_server

    vmm.clients.transport = LoopbackOnly()
    with live_server(settings, store, [VmmExtension(vmm, sync=False)]) as url:
        yield url


def _made(base: str, token: str, plural: str, member: str, body: dict[str, Any]) -> str:
    r = httpx.post(f"{base}{PREFIX}/{plural}", json={member: body}, headers={"X-Auth-Token": token})
    assert r.status_code == 201, r.text
    return str(r.json()[member]["id"])


def _vmm_world(base: str, admin: str) -> dict[str, list[str]]:
    """Real ids of every kind a /vmm/v1 path names."""
    pid = _made(
        base,
        admin,
        "providers",
        "provider",
        {
            "name": "fuzzed",
            "url": base,
            "auth_url": base + "/v3",
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "sync_interval": 0,
        },
    )
    dc = _made(base, admin, "datacenters", "datacenter", {"name": "dc"})
    cluster = _made(base, admin, "clusters", "cluster", {"name": "c", "datacenter_id": dc})
    host = _made(base, admin, "hosts", "host", {"name": "h", "cluster_id": cluster})
    own = _made(base, admin, "networks", "network", {"name": "own", "datacenter_id": dc})
    linked = _made(
        base,
        admin,
        "networks",
        "network",
        {
            "name": "linked",
            "datacenter_id": dc,
            "provider_id": pid,
            "subnets": [{"cidr": "192.0.2.0/28"}],
        },
    )
    profile = _made(
        base,
        admin,
        "vnicprofiles",
        "vnicprofile",
        {"name": "none", "network_id": linked, "security_groups": []},
    )
    vm = httpx.post(
        f"{base}{PREFIX}/vms",
        json={
            "vm": {
                "name": "vm",
                "cluster_id": cluster,
                "nics": [{"name": "eth0", "profile_id": profile}],
            }
        },
        headers={"X-Auth-Token": admin},
    )
    assert vm.status_code == 201, vm.text
    return {
        "pid": [pid],
        "dcid": [dc],
        "rid": [host, profile],
        "nid": [own, linked],
        "vid": [vm.json()["vm"]["id"]],
        "nic": [n["id"] for n in vm.json()["vm"]["nics"]],
        "network_id": [own, linked],
        "datacenter_id": [dc],
        "cluster_id": [cluster],
        "profile_id": [profile],
        "provider_id": [pid],
    }


def test_fuzz_vmm(vmm_url: str, db_url: str) -> None:
    seed = int(os.environ.get("NEUTRINO_FUZZ_SEED", random.randrange(2**32)))
    print(f"\nvmm fuzz: seed {seed} on {db_url.split(':', 1)[0]}")
    world = World(vmm_url)
    document = httpx.get(vmm_url + "/openapi.json").json()
    document["paths"] = {p: v for p, v in document["paths"].items() if p.startswith(PREFIX)}
    ids = _vmm_world(vmm_url, world.admin)
    fuzzer = Fuzzer(
        random.Random(seed),
        document,
        ids,
        {"admin": world.admin, "member": world.member, "victim": world.victim},
    )
    statuses: Counter[int] = Counter()
    operations: Counter[str] = Counter()
    failures: list[str] = []
    with httpx.Client(base_url=vmm_url, timeout=60) as client:
        for index in range(REQUESTS):
            req = fuzzer.request(index)
            response = client.request(
                req.method, req.path, params=req.query, headers=req.headers, content=req.body
            )
            statuses[response.status_code] += 1
            operations[req.operation] += 1
            bad = response.status_code >= 500 and response.status_code != 502
            if response.status_code >= 400 and "NeutronError" not in response.text[:200]:
                bad = bad or response.status_code != 401  # 401 is Keystone's envelope
            if bad:
                failures.append(
                    f"#{index} {response.status_code}: {req.describe()}\n  -> {response.text[:400]}"
                )
    print(f"vmm fuzz: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert failures == [], f"seed {seed}:\n" + "\n\n".join(failures[:15])
    public = {f"{m.upper()} {p}" for p, ms in document["paths"].items() for m in ms}
    assert set(operations) == public
    assert sum(n for s, n in statuses.items() if s < 300) > REQUESTS * 0.03, statuses


def test_hostile_strings_are_400_on_every_database(
    settings: Settings, store: Store, vmm: Vmm
) -> None:
    """What SQLite stores but PostgreSQL refuses (a NUL, a string past its column) is a 400
    before it reaches either (on PostgreSQL these were 500s)."""
    from fastapi.testclient import TestClient

    from tests.conftest import token_caller

    app = create_app(settings, store, extensions=[VmmExtension(vmm, sync=False)])
    with TestClient(app) as client:
        client.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        admin = token_caller(
            client,
            {"name": "admin", "domain": {"name": "Default"}},
            ADMIN_PASSWORD,
            {"name": "admin", "domain": {"name": "Default"}},
        )
        good = {
            "name": "p",
            "url": "http://127.0.0.1:9",
            "auth_url": "http://127.0.0.1:9/v3",
            "username": "u",
            "password": "pw",
        }
        long_url = "http://127.0.0.1/" + "a" * 1100
        for change in (
            {"name": "a\u0000b"},
            {"username": "u\u0000"},
            {"url": long_url},
            {"auth_url": long_url},
            {"username": "u" * 300},
            {"project": "p" * 300},
            {"user_domain": "d" * 300},
        ):
            r = admin.post(f"{PREFIX}/providers", {"provider": {**good, **change}})
            assert r.status_code == 400, (change, r.text)
            assert r.json()["NeutronError"]["message"], r.text
        assert (
            admin.post(f"{PREFIX}/datacenters", {"datacenter": {"na\u0000me": "x"}}).status_code
            == 400
        )
        dc = admin.post(f"{PREFIX}/datacenters", {"datacenter": {"name": "dc"}}).json()
        cluster = {"name": "c", "datacenter_id": dc["datacenter"]["id"]}
        made = admin.post(f"{PREFIX}/clusters", {"cluster": cluster})
        assert made.status_code == 201, made.text
        vm = {"name": "vm", "cluster_id": made.json()["cluster"]["id"], "project_id": "x" * 65}
        r = admin.post(f"{PREFIX}/vms", {"vm": vm})
        assert r.status_code == 400 and "project_id" in r.text, r.text
        assert admin.post(f"{PREFIX}/providers", {"provider": good}).status_code == 201
