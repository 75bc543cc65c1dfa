"""``/v2.0/ports/{port_id}/bindings`` (``binding-extended``): the live-migration sequence
(bind on the destination, activate, drop the source's), Neutron's errors and policy, the
list's filters, fields and paging, racing activations, and what the port shows meanwhile.
Runs on SQLite and on PostgreSQL (``NEUTRINO_TEST_PG_URL``)."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.api.test_agent_api import register
from tests.conftest import Caller


def _world(api: Caller) -> tuple[Caller, dict[str, Any]]:
    """A service-role caller and a VM's port bound to hv1 (agents on hv1, hv2, hv3)."""
    for i, host in enumerate(("hv1", "hv2", "hv3"), start=1):
        register(api, host, tunnel_ip=f"198.51.100.{i}")
    net = api.network(name="migrate", **{"provider:network_type": "vxlan"})
    api.subnet(net["id"], "192.0.2.0/24")
    port = api.port(net["id"], device_owner="compute:nova", **{"binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "bridge"
    return api.as_role("service"), port


def _bindings(caller: Caller, port_id: str, query: str = "") -> list[dict[str, Any]]:
    r = caller.get(f"/v2.0/ports/{port_id}/bindings{query}")
    assert r.status_code == 200, r.text
    return r.json()["bindings"]  # type: ignore[no-any-return]


def _error(r: Any, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["NeutronError"]["type"] == kind, r.text


def test_live_migration_sequence(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"binding", "binding-extended"} <= aliases
    service, port = _world(api)
    pid = port["id"]
    base = f"/v2.0/ports/{pid}/bindings"
    (active,) = _bindings(api, pid)
    assert active == {
        "host": "hv1",
        "vif_type": "bridge",
        "vnic_type": "normal",
        "status": "ACTIVE",
        "profile": {},
        "vif_details": port["binding:vif_details"],
    }
    r = service.post(base, {"binding": {"host": "hv2", "profile": {"migrating_to": "hv2"}}})
    assert r.status_code == 201, r.text
    created = r.json()["binding"]
    assert created["status"] == "INACTIVE" and created["host"] == "hv2"
    assert created["vif_type"] == "bridge" and created["profile"] == {"migrating_to": "hv2"}
    assert created["vif_details"]["tap_name"] == "tap" + pid[:11]
    shown = api.get(f"/v2.0/ports/{pid}").json()["port"]
    assert shown["binding:host_id"] == "hv1"  # an inactive binding moves nothing
    assert shown["revision_number"] == port["revision_number"] + 1
    _error(service.post(base, {"binding": {"host": "hv2"}}), 409, "PortBindingAlreadyExists")
    _error(service.post(base, {"binding": {"host": "hv1"}}), 409, "PortBindingAlreadyExists")
    assert api.get(f"{base}/hv2").json()["binding"] == created

    r = service.put(f"{base}/hv2/activate")
    assert r.status_code == 200, r.text
    assert r.json()["binding"]["status"] == "ACTIVE"
    moved = api.get(f"/v2.0/ports/{pid}").json()["port"]
    assert moved["binding:host_id"] == "hv2"
    assert moved["binding:profile"] == {"migrating_to": "hv2"}
    assert moved["binding:vif_type"] == "bridge"
    assert moved["status"] == "DOWN"  # until hv2's agent reports it wired
    by_host = {b["host"]: b for b in _bindings(service, pid)}
    assert by_host["hv2"]["status"] == "ACTIVE"
    assert by_host["hv1"]["status"] == "INACTIVE"
    assert by_host["hv1"]["vif_type"] == "unbound"  # Neutron clears the old VIF
    _error(service.put(f"{base}/hv2/activate"), 409, "PortBindingAlreadyActive")
    _error(service.put(f"{base}/hv3/activate"), 404, "PortBindingNotFound")

    assert service.delete(f"{base}/hv1").status_code == 204
    assert [b["host"] for b in _bindings(service, pid)] == ["hv2"]
    _error(service.delete(f"{base}/hv1"), 404, "PortBindingNotFound")


def test_changes_reach_the_port_views_and_the_change_log(api: Caller) -> None:
    """Hosts and caches follow port updates: each write is one, naming the port's network."""
    service, port = _world(api)
    pid = port["id"]
    listed = api.get(f"/v2.0/ports?id={pid}").json()["ports"][0]  # primes the view cache
    assert listed["binding:host_id"] == "hv1"
    service.post(f"/v2.0/ports/{pid}/bindings", {"binding": {"host": "hv3"}})
    assert service.put(f"/v2.0/ports/{pid}/bindings/hv3/activate").status_code == 200
    listed = api.get(f"/v2.0/ports?id={pid}").json()["ports"][0]
    assert listed["binding:host_id"] == "hv3" and listed["status"] == "DOWN"
    # a plain port update onto the host of an inactive binding (hv1's, since the switch)
    # supersedes that binding: one binding per host, the active one
    r = api.put(f"/v2.0/ports/{pid}", {"port": {"binding:host_id": "hv1"}})
    assert r.status_code == 200, r.text
    assert [(b["host"], b["status"]) for b in _bindings(api, pid)] == [("hv1", "ACTIVE")]


def test_bodies_and_ports_refused(api: Caller) -> None:
    service, port = _world(api)
    base = f"/v2.0/ports/{port['id']}/bindings"
    for body, kind in (
        ({}, "HTTPBadRequest"),
        ({"binding": {}}, "HTTPBadRequest"),
        ({"binding": {"host": 5}}, "HTTPBadRequest"),
        ({"binding": {"host": "x" * 256}}, "HTTPBadRequest"),
        ({"binding": {"host": ""}}, "InvalidInput"),
        ({"binding": {"host": "hv2", "vnic_type": "warp"}}, "HTTPBadRequest"),
        ({"binding": {"host": "hv2", "profile": "x"}}, "HTTPBadRequest"),
        ({"binding": {"host": "hv2", "profile": {"k": "v" * 5000}}}, "InvalidInput"),
        ({"binding": {"host": "hv2", "status": "ACTIVE"}}, "HTTPBadRequest"),
        ({"binding": {"host": "hv2", "colour": "red"}}, "HTTPBadRequest"),
    ):
        _error(service.post(base, body), 400, kind)
    # a host without a live agent: the binding fails, nothing is written
    r = service.post(base, {"binding": {"host": "nowhere"}})
    _error(r, 409, "PortBindingError")
    assert "no L2 agent" in r.json()["NeutronError"]["message"]
    assert len(_bindings(api, port["id"])) == 1
    _error(service.get("/v2.0/ports/nope/bindings"), 404, "PortNotFound")
    _error(
        service.post("/v2.0/ports/nope/bindings", {"binding": {"host": "hv2"}}), 404, "PortNotFound"
    )
    plain = api.port(port["network_id"])  # not a compute port: no bindings
    r = service.get(f"/v2.0/ports/{plain['id']}/bindings")
    _error(r, 400, "BadRequest")
    assert "only valid on compute" in r.json()["NeutronError"]["message"]
    _error(service.get(f"{base}?colour=red"), 400, "HTTPBadRequest")
    _error(service.get(f"{base}?sort_key=profile"), 400, "HTTPBadRequest")
    _error(service.put(f"{base}/hv1"), 405, "HTTPMethodNotAllowed")


def test_list_filters_fields_sorting_paging(api: Caller) -> None:
    service, port = _world(api)
    pid = port["id"]
    base = f"/v2.0/ports/{pid}/bindings"
    for host in ("hv2", "hv3"):
        assert service.post(base, {"binding": {"host": host}}).status_code == 201
    assert [b["host"] for b in _bindings(api, pid, "?status=INACTIVE")] == ["hv2", "hv3"]
    assert [b["host"] for b in _bindings(api, pid, "?host=hv3&host=hv1")] == ["hv1", "hv3"]
    assert _bindings(api, pid, "?vif_type=unbound") == []
    assert _bindings(api, pid, "?fields=host&fields=status") == [
        {"host": "hv1", "status": "ACTIVE"},
        {"host": "hv2", "status": "INACTIVE"},
        {"host": "hv3", "status": "INACTIVE"},
    ]
    desc = _bindings(api, pid, "?sort_key=status&sort_dir=desc&sort_key=host&sort_dir=desc")
    assert [b["host"] for b in desc] == ["hv3", "hv2", "hv1"]
    r = api.get(f"{base}?limit=2")
    page = r.json()
    assert [b["host"] for b in page["bindings"]] == ["hv1", "hv2"]
    assert any(
        link["rel"] == "next" and "marker=hv2" in link["href"] for link in page["bindings_links"]
    )
    assert [b["host"] for b in _bindings(api, pid, "?limit=2&marker=hv2")] == ["hv3"]
    back = _bindings(api, pid, "?limit=1&marker=hv3&page_reverse=True")
    assert [b["host"] for b in back] == ["hv2"]
    _error(api.get(f"{base}?marker=hv9"), 404, "PortBindingNotFound")
    assert api.get(f"{base}/hv2?fields=status").json() == {"binding": {"status": "INACTIVE"}}


def test_policy_admin_reads_service_writes_members_see_nothing(api: Caller) -> None:
    service, port = _world(api)
    pid = port["id"]
    base = f"/v2.0/ports/{pid}/bindings"
    assert service.post(base, {"binding": {"host": "hv2"}}).status_code == 201
    # the admin reads; creating, activating and deleting are the service role's (Neutron)
    assert len(_bindings(api, pid)) == 2
    _error(api.post(base, {"binding": {"host": "hv3"}}), 403, "PolicyNotAuthorized")
    _error(api.put(f"{base}/hv2/activate"), 403, "PolicyNotAuthorized")
    _error(api.delete(f"{base}/hv2"), 403, "PolicyNotAuthorized")
    # the port's own project: its bindings are hidden, not forbidden
    owner = api.as_member()
    net = owner.network()
    owner.subnet(net["id"], "198.51.100.0/24")
    own = owner.port(net["id"], device_owner="compute:nova")
    own_base = f"/v2.0/ports/{own['id']}/bindings"
    assert _bindings(owner, own["id"]) == []
    _error(owner.get(f"{own_base}/hv1"), 404, "PortBindingNotFound")
    _error(owner.post(own_base, {"binding": {"host": "hv2"}}), 403, "PolicyNotAuthorized")
    # another project's port: not found, whatever the verb
    _error(owner.get(base), 404, "PortNotFound")
    _error(owner.get(f"{base}/hv2"), 404, "PortNotFound")
    _error(owner.put(f"{base}/hv2/activate"), 404, "PortNotFound")
    _error(owner.delete(f"{base}/hv2"), 404, "PortNotFound")
    _error(owner.post(base, {"binding": {"host": "hv3"}}), 403, "PolicyNotAuthorized")
    # the active binding of an unbound port is shown, with host "" (as Neutron's)
    (unbound,) = _bindings(api, own["id"])
    assert unbound["host"] == "" and unbound["vif_type"] == "unbound"
    # an admin binding the member's port for a host: the owner still sees no binding
    api.put(f"/v2.0/ports/{own['id']}", {"port": {"binding:host_id": "hv1"}})
    _error(owner.get(f"{own_base}/hv1"), 404, "HTTPNotFound")
    _error(owner.put(f"{own_base}/hv1/activate"), 404, "HTTPNotFound")
    _error(owner.delete(f"{own_base}/hv1"), 404, "HTTPNotFound")
    assert len(_bindings(service, pid)) == 2  # nothing changed


def test_deleting_the_active_binding_unbinds_the_port(api: Caller) -> None:
    service, port = _world(api)
    pid = port["id"]
    assert service.delete(f"/v2.0/ports/{pid}/bindings/hv1").status_code == 204
    shown = api.get(f"/v2.0/ports/{pid}").json()["port"]
    assert shown["binding:host_id"] == "" and shown["binding:vif_type"] == "unbound"
    assert [b["host"] for b in _bindings(api, pid)] == [""]


def test_racing_activations_one_wins(live_url: str, api: Caller) -> None:
    """Over real HTTP (threads), on each backend: of activations of one host exactly one wins
    and the rest get 409; activations of two hosts leave exactly one ACTIVE binding, the
    port's own, and every host still bound once."""
    service, port = _world(api)
    pid = port["id"]
    base = f"/v2.0/ports/{pid}/bindings"
    headers = {"X-Auth-Token": service.token}

    def race(paths: list[str]) -> list[httpx.Response]:
        barrier = threading.Barrier(len(paths))
        out: list[httpx.Response] = []
        lock = threading.Lock()

        def run(path: str) -> None:
            with httpx.Client(base_url=live_url, headers=headers, timeout=60) as c:
                c.get("/")
                barrier.wait(timeout=30)
                r = c.put(path)
                with lock:
                    out.append(r)

        threads = [threading.Thread(target=run, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    for _ in range(3):
        active = api.get(f"/v2.0/ports/{pid}").json()["port"]["binding:host_id"]
        target = next(h for h in ("hv2", "hv3", "hv1") if h != active)
        if not any(b["host"] == target for b in _bindings(service, pid)):
            assert service.post(base, {"binding": {"host": target}}).status_code == 201
        got = race([f"{base}/{target}/activate"] * 4)
        assert sorted(r.status_code for r in got) == [200, 409, 409, 409], [r.text for r in got]
        assert {r.json()["NeutronError"]["type"] for r in got if r.status_code == 409} == {
            "PortBindingAlreadyActive"
        }
    for host in ("hv1", "hv2", "hv3"):
        if not any(b["host"] == host for b in _bindings(service, pid)):
            service.post(base, {"binding": {"host": host}})
    got = race([f"{base}/{h}/activate" for h in ("hv1", "hv2", "hv3")])
    assert all(r.status_code in (200, 409) for r in got), [r.text for r in got]
    final = _bindings(service, pid)
    assert sorted(b["host"] for b in final) == ["hv1", "hv2", "hv3"]
    (winner,) = [b for b in final if b["status"] == "ACTIVE"]
    assert api.get(f"/v2.0/ports/{pid}").json()["port"]["binding:host_id"] == winner["host"]
