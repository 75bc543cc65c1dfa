"""``GET /v2.0/service-providers`` (extension ``service-type``): neutrino's one router
provider, with Neutron's list semantics for a collection without ids."""

from __future__ import annotations

from tests.conftest import Caller

SINGLE_NODE = {"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": True}


def test_lists_the_router_provider_to_every_caller_with_a_role(api: Caller) -> None:
    assert api.get("/v2.0/service-providers").json() == {"service_providers": [SINGLE_NODE]}
    member = api.as_member()
    assert member.get("/v2.0/service-providers").json()["service_providers"] == [SINGLE_NODE]
    assert api.client.get("/v2.0/service-providers").status_code == 401
    extensions = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert "service-type" in extensions


def test_filters_fields_and_sorts(api: Caller) -> None:
    get = api.get
    r = get("/v2.0/service-providers?service_type=L3_ROUTER_NAT&fields=name").json()
    assert r == {"service_providers": [{"name": "single_node"}]}
    assert get("/v2.0/service-providers?default=true").json()["service_providers"]
    assert get("/v2.0/service-providers?default=False").json() == {"service_providers": []}
    assert get("/v2.0/service-providers?name=ha").json() == {"service_providers": []}
    r = get("/v2.0/service-providers?sort_key=name&sort_dir=desc&limit=1").json()
    assert r == {"service_providers": [SINGLE_NODE]}
    for query in ("?bogus=1", "?sort_key=id", "?marker=x", "?limit=-2", "?limit=x"):
        r = get("/v2.0/service-providers" + query)
        assert r.status_code == 400, query
        assert r.json()["NeutronError"]["message"]
