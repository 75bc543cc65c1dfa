"""The liveness sweep: a dead L2 agent's ACTIVE ports go DOWN once; a dead DHCP agent's
networks move to a live DHCP agent, and stay put when there is none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from neutrino.common import clock
from neutrino.service.liveness import LivenessSweeper
from tests.api.test_agent_api import register
from tests.api.test_dhcp_ports import dhcp_ports, network_node
from tests.conftest import Caller


@contextmanager
def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """``clock.now`` runs ``seconds`` ahead inside the block."""
    real = clock.now
    with monkeypatch.context() as patch:
        patch.setattr(clock, "now", lambda: real() + dt.timedelta(seconds=seconds))
        yield


def sweeper(client: TestClient) -> LivenessSweeper:
    return client.app.state.services.liveness  # type: ignore[attr-defined,no-any-return]


def test_ports_of_a_silent_l2_agent_go_down_once(
    api: Caller, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(api, "hv1")
    register(api, "hv2", tunnel_ip="198.51.100.2")
    net = api.network()
    on_hv1 = api.port(net["id"], **{"binding:host_id": "hv1"})
    on_hv2 = api.port(net["id"], **{"binding:host_id": "hv2"})
    for port, host in ((on_hv1, "hv1"), (on_hv2, "hv2")):
        r = api.post(
            f"/agent/v1/ports/{port['id']}/status", {"port": {"status": "ACTIVE", "host": host}}
        )
        assert r.status_code == 200, r.text
    revision = api.get(f"/v2.0/ports/{on_hv1['id']}").json()["port"]["revision_number"]

    assert sweeper(client).sweep().ports_down == []  # everyone reported just now
    with later(monkeypatch, 80):
        register(api, "hv2", tunnel_ip="198.51.100.2")  # hv2 keeps reporting, hv1 does not
        assert sweeper(client).sweep().ports_down == [on_hv1["id"]]
        assert sweeper(client).sweep().ports_down == []  # idempotent
    down = api.get(f"/v2.0/ports/{on_hv1['id']}").json()["port"]
    assert (down["status"], down["revision_number"]) == ("DOWN", revision + 1)
    assert down["binding:host_id"] == "hv1"  # still where the VM runs
    assert api.get(f"/v2.0/ports/{on_hv2['id']}").json()["port"]["status"] == "ACTIVE"

    # the agent comes back and reports its wired port again
    r = api.post(
        f"/agent/v1/ports/{on_hv1['id']}/status", {"port": {"status": "ACTIVE", "host": "hv1"}}
    )
    assert r.status_code == 200 and r.json()["port"]["status"] == "ACTIVE"


def test_dhcp_moves_off_a_dead_agent_only_when_a_live_one_is_free(
    api: Caller, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    network_node(api, "net1")
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    (first,) = dhcp_ports(api, net["id"])
    assert first["binding:host_id"] == "net1"

    with later(monkeypatch, 80):  # net1 silent, no other DHCP agent: nothing moves
        assert sweeper(client).sweep().dhcp_moved == []
        assert [p["id"] for p in dhcp_ports(api, net["id"])] == [first["id"]]

        network_node(api, "net2")  # a live DHCP agent appears
        assert sweeper(client).sweep().dhcp_moved == [net["id"]]
        (moved,) = dhcp_ports(api, net["id"])
        assert moved["binding:host_id"] == "net2" and moved["id"] != first["id"]
        assert moved["binding:vif_type"] == "bridge"
        assert len(moved["fixed_ips"]) == 1
        assert sweeper(client).sweep().dhcp_moved == []


def test_a_heartbeat_after_the_down_time_asks_the_agent_to_report_again(
    api: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "resync_statuses" not in register(api, "hv1")  # new
    assert "resync_statuses" not in register(api, "hv1")  # on time
    with later(monkeypatch, 80):  # a round longer than the down time, or an outage
        assert register(api, "hv1")["resync_statuses"] is True
        assert "resync_statuses" not in register(api, "hv1")
