"""Service flavors (``flavors``) and router flavors (``l3-flavors``) on SQLite and PostgreSQL:
Neutron's attributes and validation, the admin-only writes and reader-wide reads, profile
bindings and the in-use rules, list semantics, and routers made with a flavor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

FLAVORS = "/v2.0/flavors"
PROFILES = "/v2.0/service_profiles"
L3 = "neutron.services.l3_router.service_providers."
SINGLE = L3 + "single_node.SingleNodeDriver"
HA = L3 + "ha.HaDriver"


def flavor(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    attrs.setdefault("service_type", "L3_ROUTER_NAT")
    r = caller.post(FLAVORS, {"flavor": attrs})
    assert r.status_code == status, r.text
    return r.json()["flavor"] if status == 201 else r.json()["NeutronError"]


def profile(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(PROFILES, {"service_profile": attrs})
    assert r.status_code == status, r.text
    return r.json()["service_profile"] if status == 201 else r.json()["NeutronError"]


def bind(caller: Caller, flavor_id: str, profile_id: str, status: int = 201) -> Any:
    r = caller.post(
        f"{FLAVORS}/{flavor_id}/service_profiles", {"service_profile": {"id": profile_id}}
    )
    assert r.status_code == status, r.text
    return r.json()


def test_flavor_and_profile_lifecycle(api: Caller) -> None:
    made = flavor(api, name="gold", description="d")
    assert made == {
        "id": made["id"],
        "name": "gold",
        "description": "d",
        "service_type": "L3_ROUTER_NAT",
        "enabled": True,
        "service_profiles": [],
    }
    assert api.get(f"{FLAVORS}/{made['id']}").json()["flavor"] == made
    sp = profile(api, metainfo='{"data": "value"}', driver="")
    assert sp == {
        "id": sp["id"],
        "description": "",
        "driver": "",
        "enabled": True,
        "metainfo": '{"data": "value"}',
    }
    assert bind(api, made["id"], sp["id"]) == {"service_profile": {"id": sp["id"]}}
    assert api.get(f"{FLAVORS}/{made['id']}").json()["flavor"]["service_profiles"] == [sp["id"]]
    err = bind(api, made["id"], sp["id"], 409)["NeutronError"]
    assert err["type"] == "FlavorServiceProfileBindingExists"
    # a bound profile can be neither changed nor deleted; the flavor can
    for r in (
        api.put(f"{PROFILES}/{sp['id']}", {"service_profile": {"enabled": False}}),
        api.delete(f"{PROFILES}/{sp['id']}"),
    ):
        assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "ServiceProfileInUse"
    r = api.put(f"{FLAVORS}/{made['id']}", {"flavor": {"enabled": False, "name": "g2"}})
    assert r.status_code == 200 and r.json()["flavor"]["enabled"] is False
    assert api.delete(f"{FLAVORS}/{made['id']}/service_profiles/{sp['id']}").status_code == 204
    r = api.delete(f"{FLAVORS}/{made['id']}/service_profiles/{sp['id']}")
    assert r.status_code == 404
    assert r.json()["NeutronError"]["type"] == "FlavorServiceProfileBindingNotFound"
    r = api.put(f"{PROFILES}/{sp['id']}", {"service_profile": {"enabled": False}})
    assert r.status_code == 200 and r.json()["service_profile"]["enabled"] is False
    assert api.delete(f"{PROFILES}/{sp['id']}").status_code == 204
    assert api.delete(f"{FLAVORS}/{made['id']}").status_code == 204
    for path, kind in ((FLAVORS, "FlavorNotFound"), (PROFILES, "ServiceProfileNotFound")):
        r = api.get(f"{path}/{made['id'] if path == FLAVORS else sp['id']}")
        assert r.status_code == 404 and r.json()["NeutronError"]["type"] == kind
    assert api.get(f"{FLAVORS}?id={made['id']}").json() == {"flavors": []}


def test_a_profile_deleted_with_its_flavor_binding_and_bulk_create(api: Caller) -> None:
    r = api.post(
        FLAVORS,
        {
            "flavors": [
                {"flavor": {"name": "a", "service_type": "FLAVORS"}},
                {"name": "b", "service_type": "QOS"},
            ]
        },
    )
    assert r.status_code == 201, r.text
    a, _b = r.json()["flavors"]
    sp = profile(api, driver=SINGLE)
    bind(api, a["id"], sp["id"])
    assert api.delete(f"{FLAVORS}/{a['id']}").status_code == 204  # bindings go with it
    assert api.delete(f"{PROFILES}/{sp['id']}").status_code == 204
    assert [f["name"] for f in api.get(FLAVORS).json()["flavors"]] == ["b"]


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ({"service_type": "VPN"}, "InvalidServiceType"),
        ({"service_type": 7}, "InvalidServiceType"),
        ({"service_type": None}, "InvalidServiceType"),
        ({"name": " lead"}, "HTTPBadRequest"),
        ({"name": "bell\x07"}, "HTTPBadRequest"),
        ({"name": "x" * 256}, "HTTPBadRequest"),
        ({"description": "x" * 1025}, "HTTPBadRequest"),
        ({"enabled": "maybe"}, "HTTPBadRequest"),
        ({"service_profiles": ["nope"]}, "HTTPBadRequest"),
        ({"tenant_id": "p"}, "HTTPBadRequest"),
    ],
)
def test_flavor_create_refused(api: Caller, attrs: dict[str, Any], kind: str) -> None:
    err = flavor(api, 400, **attrs)
    assert err["type"] == kind, err
    assert api.get(FLAVORS).json() == {"flavors": []}


def test_flavor_body_rules(api: Caller) -> None:
    err = api.post(FLAVORS, {"flavor": {"name": "x"}}).json()["NeutronError"]
    assert "service_type" in err["message"]
    # service_profiles is checked, then ignored (bindings are made by their own call)
    assert flavor(api, service_profiles=[L3_ID])["service_profiles"] == []
    made = flavor(api, description=None, name="")
    assert made["description"] is None and made["name"] == ""
    r = api.put(f"{FLAVORS}/{made['id']}", {"flavor": {"service_type": "L3_ROUTER_NAT"}})
    assert r.status_code == 400 and "read-only" in r.json()["NeutronError"]["message"]


L3_ID = "7c793e5f-9b64-44e0-8b1f-902e59c85a01"


def test_profile_rules(api: Caller) -> None:
    err = profile(api, 400)
    assert err["type"] == "ServiceProfileEmpty"
    assert err["message"] == "Service Profile needs either a driver or metainfo."
    err = profile(api, 404, driver=L3 + "dvr.DvrDriver")
    assert err["type"] == "ServiceProfileDriverNotFound"
    assert profile(api, driver=HA)["driver"] == HA
    sp = profile(api, metainfo="m")
    r = api.put(f"{PROFILES}/{sp['id']}", {"service_profile": {"driver": "bogus"}})
    assert r.status_code == 404
    r = api.put(f"{PROFILES}/{sp['id']}", {"service_profile": {"driver": SINGLE, "metainfo": None}})
    assert r.json()["service_profile"]["metainfo"] is None
    for attrs in ({"metainfo": {"a": 1}}, {"driver": None}, {"enabled": None}, {"flavors": []}):
        assert profile(api, 400, **attrs)["type"] == "HTTPBadRequest", attrs
    err = bind(api, L3_ID, sp["id"], 404)["NeutronError"]
    assert err["type"] == "FlavorNotFound"
    made = flavor(api)
    assert bind(api, made["id"], L3_ID, 404)["NeutronError"]["type"] == "ServiceProfileNotFound"
    assert bind(api, made["id"], "x", 400)["NeutronError"]["type"] == "HTTPBadRequest"
    r = api.post(f"{FLAVORS}/{made['id']}/service_profiles", {"id": sp["id"]})
    assert r.status_code == 400


def test_policy_admin_writes_reader_reads(api: Caller) -> None:
    made = flavor(api, name="f")
    sp = profile(api, metainfo="m")
    member = api.as_member()
    reader = api.as_reader(member.project_id)
    for who in (member, reader):
        assert who.get(FLAVORS).json()["flavors"] == [made]
        assert who.get(f"{FLAVORS}/{made['id']}").json()["flavor"] == made
        assert who.get(PROFILES).json() == {"service_profiles": []}
        r = who.get(f"{PROFILES}/{sp['id']}")
        assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "HTTPNotFound"
        checks = [
            (who.post(FLAVORS, {"flavor": {"service_type": "FLAVORS"}}), 403),
            (who.put(f"{FLAVORS}/{made['id']}", {"flavor": {"name": "n"}}), 403),
            (who.delete(f"{FLAVORS}/{made['id']}"), 403),
            (who.put(f"{FLAVORS}/{L3_ID}", {"flavor": {"name": "n"}}), 404),
            (who.post(PROFILES, {"service_profile": {"metainfo": "m"}}), 403),
            (who.put(f"{PROFILES}/{sp['id']}", {"service_profile": {"metainfo": "n"}}), 404),
            (who.delete(f"{PROFILES}/{sp['id']}"), 404),
            (
                who.post(
                    f"{FLAVORS}/{made['id']}/service_profiles",
                    {"service_profile": {"id": sp["id"]}},
                ),
                403,
            ),
            (who.delete(f"{FLAVORS}/{made['id']}/service_profiles/{sp['id']}"), 403),
            # bodies first, as Neutron: a malformed one is a 400 for anyone
            (who.post(FLAVORS, {"flavor": {"service_type": "nope"}}), 400),
        ]
        for r, status in checks:
            assert r.status_code == status, (r.request.method, r.request.url, r.text)
    assert api.get(f"{FLAVORS}/{made['id']}").json()["flavor"] == made
    assert api.client.get(FLAVORS).status_code == 401


def test_list_filters_fields_sorting_paging(api: Caller) -> None:
    made = [
        flavor(api, name=n, enabled=n != "b", service_type=t)
        for n, t in (("a", "L3_ROUTER_NAT"), ("b", "FLAVORS"), ("c", "L3_ROUTER_NAT"))
    ]
    get = api.get
    names = lambda r: [f["name"] for f in r.json()["flavors"]]  # noqa: E731
    assert names(get(f"{FLAVORS}?service_type=L3_ROUTER_NAT&sort_key=name&sort_dir=desc")) == [
        "c",
        "a",
    ]
    assert names(get(f"{FLAVORS}?enabled=false")) == ["b"]
    assert names(get(f"{FLAVORS}?name=a&name=b&sort_key=name")) == ["a", "b"]
    assert get(f"{FLAVORS}?fields=name&fields=id&id={made[0]['id']}").json() == {
        "flavors": [{"name": "a", "id": made[0]["id"]}]
    }
    first = get(f"{FLAVORS}?sort_key=name&limit=2").json()
    assert [f["name"] for f in first["flavors"]] == ["a", "b"]
    nxt = next(link for link in first["flavors_links"] if link["rel"] == "next")["href"]
    assert names(get(nxt.split("testserver", 1)[-1])) == ["c"]
    for bad in ("?enabled=maybe", "?bogus=1", "?sort_key=service_profiles", "?limit=x"):
        r = get(FLAVORS + bad)
        assert r.status_code == 400, bad
    r = get(f"{FLAVORS}?marker={L3_ID}")
    assert r.status_code == 404
    sps = [profile(api, driver=d, metainfo="m") for d in (SINGLE, HA, "")]
    r = get(f"{PROFILES}?driver={HA}&fields=id").json()
    assert r == {"service_profiles": [{"id": sps[1]["id"]}]}
    assert len(get(f"{PROFILES}?enabled=true&sort_key=driver").json()["service_profiles"]) == 3
    assert get(f"{PROFILES}?metainfo=m").status_code == 400  # Neutron: not a filter


def router(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post("/v2.0/routers", {"router": {"name": "r", **attrs}})
    assert r.status_code == status, r.text
    return r.json()["router"] if status == 201 else r.json()["NeutronError"]


def test_routers_with_a_flavor(api: Caller) -> None:
    single, ha = flavor(api, name="single"), flavor(api, name="ha")
    for f, driver in ((single, SINGLE), (ha, HA)):
        bind(api, f["id"], profile(api, driver=driver)["id"])
    member = api.as_member()
    plain = router(member)
    assert plain["flavor_id"] is None
    mine = router(member, flavor_id=single["id"])
    assert mine["flavor_id"] == single["id"] and "ha" not in mine
    assert api.get(f"/v2.0/routers/{mine['id']}").json()["router"]["ha"] is False
    hard = router(member, flavor_id=ha["id"])
    assert api.get(f"/v2.0/routers/{hard['id']}").json()["router"]["ha"] is True
    # the provider decides ha: asking for another is refused, and so is changing it
    err = router(api, 400, flavor_id=single["id"], ha=True)
    assert err["message"] == (
        "Invalid input for operation: Provider single_node does not support ha=True."
    )
    router(api, flavor_id=ha["id"], ha=True)
    err = router(api, 400, flavor_id=single["id"], distributed=True)
    assert err["type"] == "HTTPBadRequest"
    r = api.put(f"/v2.0/routers/{mine['id']}", {"router": {"ha": True, "admin_state_up": False}})
    assert (
        r.status_code == 400 and "associated with a flavor" in r.json()["NeutronError"]["message"]
    )
    r = api.put(f"/v2.0/routers/{mine['id']}", {"router": {"flavor_id": ha["id"]}})
    assert r.status_code == 400
    assert member.get(f"/v2.0/routers?flavor_id={single['id']}").status_code == 400
    # the flavor is in use
    r = api.delete(f"{FLAVORS}/{single['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "FlavorInUse"
    assert member.delete(f"/v2.0/routers/{mine['id']}").status_code == 204
    assert api.delete(f"{FLAVORS}/{single['id']}").status_code == 204


def test_router_flavor_refusals(api: Caller) -> None:
    err = router(api, 404, flavor_id=L3_ID)
    assert err["type"] == "FlavorNotFound"
    assert router(api, 404, flavor_id=None)["message"] == "Flavor None could not be found."
    assert router(api, 400, flavor_id=5)["type"] == "HTTPBadRequest"
    empty = flavor(api)
    err = router(api, 404, flavor_id=empty["id"])
    assert err["type"] == "FlavorServiceProfileBindingNotFound"
    off = flavor(api, enabled=False)
    bind(api, off["id"], profile(api, driver=SINGLE)["id"])
    assert router(api, 503, flavor_id=off["id"])["type"] == "FlavorDisabled"
    other = flavor(api, service_type="QOS")
    bind(api, other["id"], profile(api, driver=SINGLE)["id"])
    assert router(api, 400, flavor_id=other["id"])["type"] == "InvalidInput"
    meta = flavor(api)
    bind(api, meta["id"], profile(api, metainfo="m")["id"])
    assert router(api, 404, flavor_id=meta["id"])["type"] == "ServiceProfileDriverNotFound"
    dis = flavor(api)
    sp = profile(api, driver=SINGLE, enabled=False)
    bind(api, dis["id"], sp["id"])
    assert router(api, 503, flavor_id=dis["id"])["type"] == "ServiceProfileDisabled"
    assert api.get("/v2.0/routers").json() == {"routers": []}


def test_extensions_advertised(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"flavors", "l3-flavors"} <= aliases


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{FLAVORS}/%00", None),
        ("GET", f"{FLAVORS}/{'x' * 5000}", None),
        ("PUT", f"{FLAVORS}/{'x' * 300}", {"flavor": {"name": "n"}}),
        ("DELETE", f"{PROFILES}/{'y' * 300}", None),
        ("POST", FLAVORS, {"flavor": {"service_type": "x" * 100_000}}),
        ("POST", FLAVORS, {"flavor": {"service_type": ["L3_ROUTER_NAT"]}}),
        ("POST", FLAVORS, {"flavor": {"service_type": {"a": 1}}}),
        ("POST", FLAVORS, {"flavor": []}),
        ("POST", FLAVORS, {"flavors": [1]}),
        ("POST", PROFILES, {"service_profile": {"driver": "d" * 2000}}),
        ("POST", PROFILES, {"service_profile": {"metainfo": "m" * 5000}}),
        ("POST", PROFILES, {"service_profile": {"driver": ["x"]}}),
        ("POST", f"{FLAVORS}/{L3_ID}/service_profiles", {"service_profile": []}),
        ("POST", f"{FLAVORS}/{L3_ID}/service_profiles", {"service_profile": {"id": None}}),
        ("POST", f"{FLAVORS}/{'z' * 300}/service_profiles", {"service_profile": {"id": L3_ID}}),
        ("DELETE", f"{FLAVORS}/{'z' * 300}/service_profiles/{'w' * 300}", None),
        ("POST", "/v2.0/routers", {"router": {"flavor_id": "f" * 10_000}}),
        ("POST", "/v2.0/routers", {"router": {"flavor_id": {"id": L3_ID}}}),
        ("GET", f"{FLAVORS}?id={'i' * 100}&name={'n' * 1000}&enabled=1", None),
        ("GET", f"{FLAVORS}?sort_key=name&marker={'m' * 100}", None),
        ("GET", f"{PROFILES}?driver={'d' * 5000}", None),
    ],
)
def test_hostile_input_is_a_4xx(api: Caller, method: str, path: str, body: Any) -> None:
    r = api.client.request(method, path, json=body, headers={"X-Auth-Token": api.token})
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(r.json()["NeutronError"]) == {"type", "message", "detail"}
        assert len(r.json()["NeutronError"]["message"]) < 1100
