"""Host-state deltas over the watch API: after a snapshot, ``delta=1`` watches carry only
what changed, and patching the agent's copy gives exactly the controller's new state."""

from __future__ import annotations

from typing import Any

from neutrino.client import Controller, Credentials, Session
from neutrino.domain.hoststate import HostState, body_digest
from neutrino.domain.statedelta import patch
from tests.api.test_agent_api import register, state
from tests.conftest import ADMIN_PASSWORD, Caller


def test_a_port_change_comes_as_a_delta_that_patches_to_the_full_state(api: Caller) -> None:
    register(api, "hv1")
    register(api, "hv2", tunnel_ip="198.51.100.2")
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24", enable_dhcp=False)
    ports = [api.port(net["id"], **{"binding:host_id": "hv1"}) for _ in range(20)]
    first = state(api, "hv1")
    assert first["snapshot"] is True and len(first["state"]["ports"]) == 20

    api.port(net["id"], **{"binding:host_id": "hv2"})  # a remote port: l2pop on hv1 changes
    api.delete(f"/v2.0/ports/{ports[3]['id']}")
    answer = state(api, "hv1", since=first["revision"], timeout=5, delta=1)
    assert answer["snapshot"] is False and answer["state"] is None
    delta = answer["delta"]
    assert delta["remove"]["ports"]["keys"] == [ports[3]["id"]]
    assert "ports" not in delta["upsert"]  # the other 19 are not resent
    assert "l2pop" in delta["upsert"]  # and remote-group members: the new port joined default

    fresh = state(api, "hv1")["state"]
    assert patch(first["state"], delta) == {**fresh, "revision": answer["revision"]}

    # without delta=1 (an older agent) the same watch answers a full state
    full = state(api, "hv1", since=first["revision"], timeout=5)
    assert full["snapshot"] is True and "delta" not in full


def host_with_a_port(api: Caller, live_url: str) -> tuple[dict[str, Any], Session]:
    """hv1 registered with one bound port; an admin session on the live server."""
    register(api, "hv1")
    net = api.network()
    api.port(net["id"], **{"binding:host_id": "hv1"})
    return net, Session(
        Credentials(
            auth_url=f"{live_url}/v3",
            username="admin",
            password=ADMIN_PASSWORD,
            project_name="admin",
        )
    )


def test_the_client_keeps_its_copy_and_asks_for_deltas(api: Caller, live_url: str) -> None:
    net, session = host_with_a_port(api, live_url)
    ctl = Controller(session)
    first = ctl.watch_host_state("hv1")
    assert first.snapshot and first.state is not None and len(first.state.ports) == 1
    api.port(net["id"], **{"binding:host_id": "hv1"})
    second = ctl.watch_host_state("hv1", since=first.revision, timeout=5)
    assert not second.snapshot and second.state is not None  # came as a delta
    assert len(second.state.ports) == 2
    again = ctl.watch_host_state("hv1")  # a snapshot: the same content
    assert again.state is not None and second.state.digest() == again.state.digest()
    session.close()


def test_an_interface_only_router_reaches_its_l3_host_through_the_watch(api: Caller) -> None:
    register(api, "net1", tunnel_ip="198.51.100.9")
    register(api, "net1", tunnel_ip="198.51.100.9", agent_type="L3 agent")
    first = state(api, "net1")
    net = api.network()
    subnet = api.subnet(net["id"], "192.0.2.0/24")
    router = api.create("routers", "router", name="r")
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    assert r.status_code == 200, r.text
    held, revision = first["state"], first["revision"]
    for _ in range(10):  # follow the watch as the agent does, patching deltas
        answer = state(api, "net1", since=revision, timeout=1, delta=1)
        if answer.get("delta"):
            held = patch(held, answer["delta"])
        elif answer["state"] is not None:
            held = answer["state"]
        revision = answer["revision"]
        if answer["state"] is None and "delta" not in answer:
            break
    fresh = state(api, "net1")["state"]
    assert [r["id"] for r in fresh["routers"]] == [router["id"]]
    assert {**held, "revision": 0} == {**fresh, "revision": 0}


def test_a_client_whose_copy_drifted_gets_a_snapshot(api: Caller, live_url: str) -> None:
    net, session = host_with_a_port(api, live_url)
    ctl = Controller(session)
    first = ctl.watch_host_state("hv1")
    revision, body, *_ = ctl._bases["hv1"]
    drifted = {**body, "ports": []}  # our copy lost a port somehow (and its digest with it)
    ctl._bases["hv1"] = (revision, drifted, HostState.from_dict(drifted), body_digest(drifted))
    api.port(net["id"], **{"binding:host_id": "hv1"})
    second = ctl.watch_host_state("hv1", since=first.revision, timeout=5)
    assert second.snapshot and second.state is not None  # the digest check refetched
    assert len(second.state.ports) == 2
    session.close()
