"""The database-rendered port list is the Python-rendered one, byte for byte in meaning and key
order: for admins and members, with every kind of child row, filters, sorting and pages."""

from __future__ import annotations

import json

import orjson
import pytest

from neutrino.domain.listing import ListQuery
from neutrino.service.container import Services
from tests.conftest import Caller


def _both(services: Services, caller: Caller, query: ListQuery) -> tuple:  # type: ignore[type-arg]
    ctx = services.identity.context_for_token(caller.token)
    fast = services.ports.search_json(ctx, query)
    slow = services.ports.search(ctx, query)
    return fast, slow


def test_database_rendering_matches_python_rendering(api: Caller) -> None:
    services: Services = api.client.app.state.services  # type: ignore[attr-defined]
    with services.store.read() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("the database renderer is SQLite's")
    member = api.as_member()
    net = member.network()
    member.subnet(net["id"], "192.0.2.0/24")
    member.subnet(net["id"], "2001:db8:7::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    member.port(net["id"], name="plain")
    member.port(
        net["id"],
        name="rich",
        admin_state_up=False,
        device_owner="oVirt",
        device_id="vm-1",
        tags=["b", "a"],
        allowed_address_pairs=[{"ip_address": "198.51.100.9"}, {"ip_address": "192.0.2.128/25"}],
        extra_dhcp_opts=[
            {"opt_name": "tftp-server", "opt_value": "192.0.2.1"},
            {"opt_name": "bootfile-name", "opt_value": "x.0"},
        ],
    )
    api.port(
        net["id"],
        name="bound",
        tenant_id=member.project_id,
        **{"binding:host_id": "hv1", "binding:profile": {"k": [1, 2]}},
    )
    queries = [
        ListQuery(),
        ListQuery(sorts=[("name", False)]),
        ListQuery(filters={"device_owner": ["oVirt"]}),
        ListQuery(limit=2, sorts=[("name", True)]),
    ]
    for caller in (api, member):
        for query in queries:
            fast, slow = _both(services, caller, query)
            assert fast is not None
            assert [rid for rid, _ in fast] == [p["id"] for p in slow]
            for (_, text), port in zip(fast, slow, strict=True):
                decoded = json.loads(text)
                assert decoded == port
                assert list(decoded) == list(port)  # key order too
                assert orjson.loads(orjson.dumps(port)) == decoded


def test_cached_views_follow_every_kind_of_port_change(api: Caller) -> None:
    """The cached list stays equal to a fresh rendering through updates, tags, address
    changes caused by subnets, status reports and deletes."""
    services: Services = api.client.app.state.services  # type: ignore[attr-defined]
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ports = [api.port(net["id"], name=f"p{i}") for i in range(3)]

    def check() -> None:
        for caller in (api,):
            fast, slow = _both(services, caller, ListQuery())
            assert [json.loads(t) for _, t in fast] == slow

    check()  # fills the cache
    api.put(f"/v2.0/ports/{ports[0]['id']}", {"port": {"name": "renamed"}})
    check()
    api.put(f"/v2.0/ports/{ports[1]['id']}/tags/blue")
    check()
    api.subnet(net["id"], "2001:db8:9::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    check()  # every port gained an EUI-64 address
    api.put(
        f"/v2.0/ports/{ports[2]['id']}",
        {"port": {"fixed_ips": [{"subnet_id": sub["id"], "ip_address": "192.0.2.77"}]}},
    )
    check()
    api.delete(f"/v2.0/ports/{ports[1]['id']}")
    check()
    assert len(api.get("/v2.0/ports").json()["ports"]) == 2
