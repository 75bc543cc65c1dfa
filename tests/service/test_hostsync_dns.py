"""A port's DNS name reaches the hosts serving DHCP for its network: a rename wakes them (the
port's change names its network) and their new state, built from the change alone, carries
the new name, as the whole state computed afresh does."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from neutrino.service.context import admin_context
from neutrino.service.hoststate import compute
from neutrino.store import changelog
from neutrino.store.uow import Store
from tests.api.test_dhcp_ports import network_node
from tests.api.test_dns import dns_domain, settings  # noqa: F401 (fixtures: example.org.)
from tests.conftest import Caller


def _names(state: object) -> dict[str, str]:
    (served,) = state.dhcp  # type: ignore[attr-defined]
    assert served.dns_domain == "example.org."
    return {e.port_id: e.dns_name for e in served.entries}


def test_a_rename_wakes_the_dhcp_host_with_the_new_name(
    api: Caller, client: TestClient, store: Store
) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    network_node(api, "net1")
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    port = api.port(net["id"], dns_name="web-1")  # bound nowhere: only the DHCP host cares
    first = asyncio.run(sync.watch(admin_context(), "net1", None, 0))
    assert _names(first.state)[port["id"]] == "web-1"

    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"dns_name": "web-2"}})
    assert r.status_code == 200, r.text
    woken = asyncio.run(sync.watch(admin_context(), "net1", first.revision, 5, delta=True))
    assert woken.revision > first.revision
    assert woken.delta is not None and woken.delta["upsert"].get("dhcp")  # the DHCP item moved
    assert _names(woken.state)[port["id"]] == "web-2"
    with store.read() as conn:
        fresh = compute(conn, "net1", changelog.latest(conn), sync.ports.dns)
    assert woken.body == fresh.to_dict()
