"""Host sync wakes a host exactly for the changes the log maps to it.

A subnet's gateway is changed behind the API's back, as another server would, and logged
with or without the network it belongs to: a host bound on that network is handed a new
state only when the entry names the network. That is why the write calls (``Tx.updated`` and
co.) read the network from the row itself; ``tx._record`` writes the entry by hand here, as a
faulty writer would (the write-log test checks every entry names its row's network).
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from neutrino.service.context import admin_context
from neutrino.store import raw
from neutrino.store.uow import Store, Tx
from tests.api.test_agent_api import register
from tests.conftest import Caller


@pytest.mark.parametrize("with_network", [True, False])
def test_a_change_wakes_the_host_only_through_its_network(
    api: Caller, client: TestClient, store: Store, with_network: bool
) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    register(api, "hv1")
    net = api.network()
    subnet = api.subnet(net["id"], "192.0.2.0/24")
    api.port(net["id"], **{"binding:host_id": "hv1"})
    first = asyncio.run(sync.watch(admin_context(), "hv1", None, 0))
    assert first.state is not None
    (served,) = first.state.networks
    assert [s.gateway_ip for s in served.subnets] == ["192.0.2.1"]

    def write(tx: Tx) -> None:
        raw.run(
            tx.conn, "UPDATE subnets SET gateway_ip = ? WHERE id = ?", ("192.0.2.254", subnet["id"])
        )
        tx._record(
            "subnet",
            subnet["id"],
            "update",
            subnet["project_id"],
            net["id"] if with_network else None,
        )

    store.write(write)
    woken = asyncio.run(sync.watch(admin_context(), "hv1", first.revision, 0.2))
    assert woken.revision > first.revision
    if with_network:
        assert woken.state is not None
        (served,) = woken.state.networks
        assert [s.gateway_ip for s in served.subnets] == ["192.0.2.254"]
    else:
        assert woken.state is None  # nothing named this host's network: not woken
