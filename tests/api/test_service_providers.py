"""``GET /v2.0/service-providers`` (extension ``service-type``): neutrino's two router
providers, with Neutron's list semantics for a collection without ids."""

from __future__ import annotations

from tests.conftest import Caller

SINGLE_NODE = {"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": True}
HA = {"service_type": "L3_ROUTER_NAT", "name": "ha", "default": False}


def test_lists_the_router_providers_to_every_caller_with_a_role(api: Caller) -> None:
    both = [HA, SINGLE_NODE]  # by service type, then name
    assert api.get("/v2.0/service-providers").json() == {"service_providers": both}
    member = api.as_member()
    assert member.get("/v2.0/service-providers").json()["service_providers"] == both
    assert api.client.get("/v2.0/service-providers").status_code == 401
    extensions = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert "service-type" in extensions


def test_filters_fields_and_sorts(api: Caller) -> None:
    get = api.get
    r = get("/v2.0/service-providers?service_type=L3_ROUTER_NAT&fields=name").json()
    assert r == {"service_providers": [{"name": "ha"}, {"name": "single_node"}]}
    assert get("/v2.0/service-providers?default=true").json()["service_providers"] == [SINGLE_NODE]
    assert get("/v2.0/service-providers?default=False").json()["service_providers"] == [HA]
    assert get("/v2.0/service-providers?name=dvr").json() == {"service_providers": []}
    r = get("/v2.0/service-providers?sort_key=name&sort_dir=desc&limit=1").json()
    assert r == {"service_providers": [SINGLE_NODE]}
    for query in ("?bogus=1", "?sort_key=id", "?marker=x", "?limit=-2", "?limit=x"):
        r = get("/v2.0/service-providers" + query)
        assert r.status_code == 400, query
        assert r.json()["NeutronError"]["message"]
