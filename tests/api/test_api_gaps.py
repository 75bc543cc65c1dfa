"""Small gaps in what exists: security-group tags, ``ha`` on routers for admins, the
``GET /v2.0/`` listing, and the ``changed_since`` filter of ``standard-attr-timestamp``."""

from __future__ import annotations

import datetime as dt
import time

from tests.conftest import Caller


def test_security_group_tags(api: Caller) -> None:
    member = api.as_member()
    sg = member.create("security-groups", "security_group", name="web")
    base = f"/v2.0/security-groups/{sg['id']}/tags"
    assert member.get(base).json() == {"tags": []}
    r = member.put(base, {"tags": ["b", "a"]})
    assert r.status_code == 200 and r.json() == {"tags": ["a", "b"]}
    shown = member.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert shown["tags"] == ["a", "b"] and shown["revision_number"] == sg["revision_number"] + 1
    assert member.put(base + "/c").status_code == 201
    assert member.get(base + "/c").status_code == 204
    r = member.get(base + "/zz")
    assert r.status_code == 404 and "security_group" in r.json()["NeutronError"]["message"]
    listed = member.get("/v2.0/security-groups?tags=a,c").json()["security_groups"]
    assert [g["id"] for g in listed] == [sg["id"]]
    assert member.delete(base + "/a").status_code == 204
    assert member.get(base).json()["tags"] == ["b", "c"]
    # another project neither sees nor tags it; a bad tag is a 400
    other = api.as_member()
    assert other.get(base).status_code == 404
    assert other.put(base, {"tags": ["x"]}).status_code == 404
    assert member.put(base, {"tags": ["a,b"]}).status_code == 400
    assert member.put(base, {"tags": "a"}).status_code == 400
    assert member.delete(base).status_code == 204
    assert member.get(base).json()["tags"] == []
    # tags go with the group
    assert member.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 204
    assert member.get(base).status_code == 404


def test_router_ha_false_for_admins_only(api: Caller) -> None:
    member = api.as_member()
    router = member.create("routers", "router", name="r")
    assert "ha" not in router
    assert "ha" not in member.get(f"/v2.0/routers/{router['id']}").json()["router"]
    shown = api.get(f"/v2.0/routers/{router['id']}").json()["router"]
    assert shown["ha"] is False
    assert all(r["ha"] is False for r in api.get("/v2.0/routers").json()["routers"])
    assert api.create("routers", "router", name="mine")["ha"] is False
    r = api.put(f"/v2.0/routers/{router['id']}", {"router": {"name": "s"}})
    assert r.json()["router"]["ha"] is False
    assert api.get(f"/v2.0/routers/{router['id']}?fields=ha").json() == {"router": {"ha": False}}


def test_v2_root_lists_core_collections_in_neutrons_order(api: Caller) -> None:
    body = api.client.get("/v2.0/").json()
    assert [r["collection"] for r in body["resources"]] == [
        "networks",
        "subnets",
        "subnetpools",
        "ports",
    ]
    first = body["resources"][0]
    assert first["name"] == "network"
    assert first["links"] == [{"rel": "self", "href": "http://testserver/v2.0/networks"}]


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_changed_since_filter(api: Caller) -> None:
    old = api.network(name="old")
    sg_old = api.create("security-groups", "security_group", name="old")
    time.sleep(1.1)  # timestamps have one-second resolution on the wire
    cut = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(0.05)
    new = api.network(name="new")
    api.subnet(new["id"], "192.0.2.0/24")
    port = api.port(new["id"])
    sg_new = api.create("security-groups", "security_group", name="new")
    router = api.create("routers", "router", name="new")
    since = _iso(cut)
    ids = {n["id"] for n in api.get(f"/v2.0/networks?changed_since={since}").json()["networks"]}
    assert new["id"] in ids and old["id"] not in ids
    for coll, expect in (
        ("ports", port["id"]),
        ("routers", router["id"]),
        ("security-groups", sg_new["id"]),
    ):
        listed = api.get(f"/v2.0/{coll}?changed_since={since}").json()[coll.replace("-", "_")]
        assert expect in {x["id"] for x in listed}, coll
    groups = api.get(f"/v2.0/security-groups?changed_since={since}").json()["security_groups"]
    assert sg_old["id"] not in {g["id"] for g in groups}
    assert len(api.get(f"/v2.0/subnets?changed_since={since}").json()["subnets"]) == 1
    # an update moves the old network past the cut; an offset is read as such
    api.put(f"/v2.0/networks/{old['id']}", {"network": {"name": "touched"}})
    local = (cut + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    listed = api.get("/v2.0/networks", params={"changed_since": local}).json()["networks"]
    ids = {n["id"] for n in listed}
    assert old["id"] in ids
    future = _iso(cut + dt.timedelta(days=1))
    assert api.get(f"/v2.0/networks?changed_since={future}").json()["networks"] == []
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "%00"):
        r = api.get("/v2.0/networks", params={"changed_since": bad})
        assert r.status_code == 400, bad
        assert r.json()["NeutronError"]["type"] == "InvalidInput"
