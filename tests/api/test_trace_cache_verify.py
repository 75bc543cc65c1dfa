"""The trace's model cache and its ``verify`` through the HTTP API, on SQLite and PostgreSQL.

Cache: a port is taken admin down behind the API's back (as another server would write), and
the next trace must see it exactly when the change log says so: a ``port`` entry rebuilds the
model, an ignored kind (``quota``) does not, and an unlogged write stays unseen (the control
that the model is really kept).

Verify: admins only; the agent side of the long-poll (``/agent/v1/hosts/{host}/checks``) keeps
the agent API's auth (403 for a member) and refuses bad or stray answers (400, 404); a check
answered with a difference names the hop relying on it, an agent that does not answer leaves
the trace ``unverified``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest

from neutrino.domain.hoststate import tap_name
from neutrino.service.kernel_checks import MAX_DIFFERENCES
from neutrino.store import raw
from neutrino.store.uow import Store, Tx
from tests.api.test_trace import PATH, _trace, _world
from tests.conftest import Caller


def _admin_down_elsewhere(store: Store, port: dict[str, Any], logged: str | None) -> None:
    def write(tx: Tx) -> None:
        raw.run(tx.conn, "UPDATE ports SET admin_state_up = ? WHERE id = ?", (False, port["id"]))
        if logged is not None:
            target = port["id"] if logged == "port" else port["project_id"]
            tx._record(logged, target, "update", port["project_id"], port["network_id"])

    store.write(write)


@pytest.mark.parametrize("entry, seen", [("port", True), ("quota", False), (None, False)], ids=str)
def test_the_model_is_rebuilt_exactly_when_the_log_says_so(
    api: Caller, store: Store, entry: str | None, seen: bool
) -> None:
    member = api.as_member()
    w = _world(member, api)
    source = {"port_id": w["a"]["id"]}
    first = _trace(member, source, w["b_ip"], protocol="tcp", destination_port=22)
    assert first["verdict"] == "delivered"  # the model is kept now
    _admin_down_elsewhere(store, w["b"], entry)
    again = _trace(member, source, w["b_ip"], protocol="tcp", destination_port=22)
    assert (again["verdict"] == "dropped") == seen, again
    if seen:
        assert "admin down" in again["hops"][-1]["detail"]


def _services(api: Caller) -> Any:
    return api.client.app.state.services  # type: ignore[attr-defined]


def test_verify_is_for_admins_and_the_agent_side_keeps_its_auth(api: Caller) -> None:
    member = api.as_member()
    w = _world(member, api)
    body = {"trace": {"source": {"port_id": w["a"]["id"]}, "destination": w["b_ip"]}}
    r = member.post(PATH, {"trace": {**body["trace"], "verify": True}})
    assert r.status_code == 403, r.text
    r = api.post(PATH, {"trace": {**body["trace"], "verify": "yes"}})
    assert r.status_code == 400 and "verify" in r.text
    assert member.get("/agent/v1/hosts/hv1/checks?timeout=0").status_code == 403
    answer = {"check": {"differences": []}}
    assert member.post("/agent/v1/hosts/hv1/checks/x", answer).status_code == 403
    assert api.get("/agent/v1/hosts/hv1/checks?timeout=0").json() == {"checks": []}
    r = api.post("/agent/v1/hosts/hv1/checks/nosuch", answer)
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "HTTPNotFound"
    for bad in (
        {"differences": "x"},
        {"differences": [1]},
        {"differences": ["x"] * (MAX_DIFFERENCES + 1)},
        {"differences": [], "probe": {"lines": "x"}},
        {"differences": [], "probe": {"sent": "yes"}},
        {"differences": [], "probe": {"milliseconds": {"setup": "slow"}}},
    ):
        r = api.post("/agent/v1/hosts/hv1/checks/nosuch", {"check": bad})
        assert r.status_code == 400, (bad, r.text)


def _verify_answered(
    api: Caller,
    w: dict[str, Any],
    answers: dict[str, list[str]],
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run a verify in a thread while this one plays the agents of ``answers``."""
    _services(api).trace.verify_timeout = 5.0
    result: dict[str, Any] = {}

    def ask() -> None:
        result["trace"] = _trace(
            api,
            {"port_id": w["a"]["id"]},
            w["b_ip"],
            protocol="tcp",
            destination_port=22,
            verify=True,
        )

    asker = threading.Thread(target=ask)
    asker.start()
    pending = dict(answers)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for host in list(pending):
            checks = api.get(f"/agent/v1/hosts/{host}/checks?timeout=0.2").json()["checks"]
            for check in checks:
                if seen is not None:
                    seen.append(check)
                body = {"check": {"differences": pending.pop(host)}}  # an agent of before
                r = api.post(f"/agent/v1/hosts/{host}/checks/{check['id']}", body)
                assert r.status_code == 204, r.text
    asker.join(15)
    return result["trace"]["verify"]  # type: ignore[no-any-return]


def test_verify_names_the_hop_relying_on_a_difference(api: Caller) -> None:
    w = _world(api.as_member(), api)
    tap_b = tap_name(w["b"]["id"])
    line = f"missing nft bridge port_in {tap_b} : jump in-0123456789"
    seen: list[dict[str, Any]] = []
    found = _verify_answered(api, w, {"hv1": ["extra tapunrelated0"], "hv2": [line]}, seen)
    # every host of the path is asked to take part in the probe, from a's tap on hv1
    assert [c["probe"]["source"]["tap"] for c in seen] == [tap_name(w["a"]["id"])] * 2
    assert {c["probe"]["match"] for c in seen} == {seen[0]["probe"]["match"]}
    # these agents answer as agents of before did: no probe report, so no probe judged
    assert found["probe"] == {
        "verdict": "unavailable",
        "reason": "the agent of host hv1 does not know the probe (older than the server)",
    }
    assert found["hosts"] == {"hv1": "answered", "hv2": "answered"}
    assert found["differences"] == {"hv1": 1, "hv2": 1}
    assert (found["verdict"], found["step"]) == ("differs", "ingress rules"), found
    assert found["detail"] == [f"hv2: {line}"]
    agrees = _verify_answered(api, w, {"hv1": [], "hv2": ["extra tapunrelated0"]})
    assert agrees["verdict"] == "agrees", agrees


def test_a_silent_or_dead_agent_leaves_the_trace_unverified(api: Caller, store: Store) -> None:
    w = _world(api.as_member(), api)
    _services(api).trace.verify_timeout = 0.3
    t = _trace(api, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="icmp", verify=True)
    assert t["verify"]["verdict"] == "unverified"
    assert t["verify"]["hosts"] == {"hv1": "no answer", "hv2": "no answer"}
    assert t["verify"]["probe"] == {
        "verdict": "unavailable",
        "reason": "host hv1 did not answer in time",
    }
    long_ago = dt.datetime(2000, 1, 1)  # hv2's agent silent for years: dead, not waited for
    store.write(
        lambda tx: raw.run(
            tx.conn, "UPDATE agents SET heartbeat_timestamp = ? WHERE host = 'hv2'", (long_ago,)
        )
    )
    t = _trace(api, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="icmp", verify=True)
    assert t["verify"]["hosts"] == {"hv1": "no answer", "hv2": "no agent"}
    reason = "host hv2 of the path has no live agent to follow the probe"
    assert t["verify"]["probe"] == {"verdict": "unavailable", "reason": reason}
