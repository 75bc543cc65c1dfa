"""Host sync and binding rules below HTTP: which changes concern a host, which agent
configurations can serve a segment, watch semantics (cursors, clamps, roles)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from neutrino.common.errors import PolicyNotAuthorized
from neutrino.domain import statedelta
from neutrino.service import hostdelta, hostsync
from neutrino.service.binding import can_serve, parse_configurations, tunnel_ip_of
from neutrino.service.context import RequestContext, admin_context
from neutrino.service.hostsync import Served, WatchResult, may_concern
from tests.api.test_agent_api import register
from tests.conftest import Caller


def test_changes_concern_the_hosts_networks_ports_and_agents_but_no_status() -> None:
    served = Served(frozenset({"A"}), "digest", remote_groups=False)

    def may(*changes: tuple[str, str, str | None, str | None]) -> bool:
        return may_concern([(i, *c) for i, c in enumerate(changes)], "hv1", served)

    assert may(("port", "update", "A", "hv2"))
    assert may(("network", "update", "B", None), ("subnet", "create", "A", None))
    assert not may(("port", "create", "B", "hv2"), ("quota", "update", None, None))
    assert may(("port", "create", "B", "hv1"))  # bound here: its network comes with it
    assert not may(("port", "status", "A", "hv1"))  # no host state carries a status
    assert may(("agent", "update", None, None))
    assert may(("security_group", "create", None, None))
    assert may(("security_group_rule", "delete", None, None))
    assert not may()
    grouped = Served(frozenset({"A"}), "digest", remote_groups=True)
    assert may_concern([(1, "port", "create", "B", "hv2")], "hv1", grouped)


def test_can_serve_rules() -> None:
    vx = {"tunnel_ip": "198.51.100.1", "tunnel_types": ["vxlan"]}
    assert can_serve(vx, "vxlan", None)
    assert can_serve({"local_ip": "198.51.100.1"}, "vxlan", None)
    assert not can_serve({"tunnel_types": ["vxlan"]}, "vxlan", None)
    assert not can_serve({**vx, "tunnel_types": ["geneve"]}, "vxlan", None)
    mapped = {"interface_mappings": {"physnet1": "eth1"}}
    assert can_serve(mapped, "flat", "physnet1")
    assert can_serve({"bridge_mappings": {"physnet1": "br-ex"}}, "vlan", "physnet1")
    assert not can_serve(mapped, "flat", "public")
    assert not can_serve({**mapped, "segment_types": ["vxlan"]}, "flat", "physnet1")
    assert not can_serve(vx, "geneve", None)
    assert parse_configurations("not json") == {} and parse_configurations("[1]") == {}
    assert tunnel_ip_of({}) is None


def test_watch_requires_agent_role_and_keeps_per_cursor_memory(
    api: Caller, client: TestClient
) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    member = RequestContext(user_id="u", project_id="p", roles=frozenset({"member"}))
    with pytest.raises(PolicyNotAuthorized):
        asyncio.run(sync.watch(member, "hv1", None, 0))
    service_user = RequestContext(user_id="s", project_id="p", roles=frozenset({"service"}))
    register(api, "hv1")
    net = api.network()
    api.port(net["id"], **{"binding:host_id": "hv1"})
    first = asyncio.run(sync.watch(service_user, "hv1", None, 0))
    assert first.state is not None and len(first.state.ports) == 1
    # two agents of one host with different cursors both keep long-polling (no snapshot storm)
    api.port(net["id"], **{"binding:host_id": "hv1"})
    second = asyncio.run(sync.watch(admin_context(), "hv1", first.revision, 5))
    assert second.state is not None and len(second.state.ports) == 2
    started = time.monotonic()
    assert asyncio.run(sync.watch(service_user, "hv1", second.revision, 0.3)).state is None
    assert time.monotonic() - started >= 0.3
    assert asyncio.run(sync.watch(service_user, "hv1", first.revision, 0)).state is not None
    # a revision with nothing concerning the host since returns no state on timeout
    api.network()
    idle = asyncio.run(sync.watch(admin_context(), "hv1", second.revision, 0.2))
    assert idle.state is None and idle.revision > second.revision
    # a negative/huge timeout is clamped
    assert asyncio.run(sync.watch(admin_context(), "hv1", idle.revision, -5)).state is None


def test_served_bodies_keep_the_last_two_revisions_of_each_host(client: TestClient) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    for revision in (1, 2, 3):
        sync.memory.keep_body("hv1", revision, {"revision": revision})
    sync.memory.keep_body("hv2", 3, {"revision": 3})
    memory = sync.memory
    assert memory.body("hv1", 1) is None
    assert memory.body("hv1", 2) == {"revision": 2} and memory.body("hv1", 3) == {"revision": 3}
    assert memory.body("hv2", 3) == {"revision": 3}


def test_a_status_report_wakes_no_host(
    api: Caller, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent's ACTIVE report changes no host's state: other hosts' long-polls (and the
    reporting host's own) run to their timeout without a recompute; a port bound on the
    network does wake the other host."""
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    register(api, "hv1", tunnel_ip="198.51.100.11")
    register(api, "hv2", tunnel_ip="198.51.100.12")
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": "hv1"})
    api.port(net["id"], **{"binding:host_id": "hv2"})
    ctx = admin_context()
    first = {h: asyncio.run(sync.watch(ctx, h, None, 0)) for h in ("hv1", "hv2")}
    computed: list[str] = []  # hosts whose state was made, whole or from the changes
    real_compute, real_advance = hostsync.compute, hostdelta.advance
    monkeypatch.setattr(
        hostsync,
        "compute",
        lambda conn, host, rev: computed.append(host) or real_compute(conn, host, rev),
    )
    monkeypatch.setattr(
        hostdelta,
        "advance",
        lambda conn, host, *a: computed.append(host) or real_advance(conn, host, *a),
    )

    async def watch_while(host: str, since: int, act: Callable[[], object]) -> WatchResult:
        waiting = asyncio.create_task(sync.watch(ctx, host, since, 1.0))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(act)
        return await waiting

    status = {"port": {"status": "ACTIVE", "host": "hv1"}}
    report = lambda: api.post(f"/agent/v1/ports/{port['id']}/status", status)  # noqa: E731
    for host in ("hv1", "hv2"):
        started = time.monotonic()
        result = asyncio.run(watch_while(host, first[host].revision, report))
        assert result.state is None and result.revision > first[host].revision
        assert time.monotonic() - started >= 1.0  # not answered before its timeout
        status["port"]["status"] = "DOWN" if host == "hv1" else "ACTIVE"
    assert computed == []
    since = result.revision
    bound = lambda: api.port(net["id"], **{"binding:host_id": "hv1"})  # noqa: E731
    woken = asyncio.run(watch_while("hv2", since, bound))
    assert woken.state is not None and computed == ["hv2"]
    assert len(woken.state.l2pop[0].ports) == 2


def test_changes_a_watch_passed_over_are_not_read_again_to_make_its_delta(
    api: Caller, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes that did not concern the host (status reports here) move the watch's cursor
    while it waits; the state it then makes is built from the changes after the cursor, not
    from all those since the revision the agent holds: more of those than ``MAX_LOGGED``
    would force a whole recompute (and a whole diff) on the first change that matters."""
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    register(api, "hv1", tunnel_ip="198.51.100.11")
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": "hv1"})
    ctx = admin_context()
    first = asyncio.run(sync.watch(ctx, "hv1", None, 0))
    monkeypatch.setattr(hostsync, "MAX_LOGGED", 4)
    computed: list[str] = []
    real_compute = hostsync.compute
    monkeypatch.setattr(
        hostsync, "compute", lambda *a: computed.append("whole") or real_compute(*a)
    )

    def act() -> None:
        for status in ("ACTIVE", "DOWN") * 3:  # six changes concerning no host
            body = {"port": {"status": status, "host": "hv1"}}
            api.post(f"/agent/v1/ports/{port['id']}/status", body)
            time.sleep(0.05)  # each one passed over by the waiting watch
        api.port(net["id"], **{"binding:host_id": "hv1"})

    async def watch_while() -> WatchResult:
        waiting = asyncio.create_task(sync.watch(ctx, "hv1", first.revision, 5.0, delta=True))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(act)
        return await waiting

    result = asyncio.run(watch_while())
    assert computed == [] and result.delta is not None and result.body is not None
    assert statedelta.patch(first.body, result.delta) == result.body
    with sync.store.read() as conn:
        assert result.body == real_compute(conn, "hv1", result.revision).to_dict()
    assert len(result.body["ports"]) == 2
