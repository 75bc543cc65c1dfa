"""Admin-only attributes come from one place, the attribute specs (``Attr.admin_only``): the
policy check and the OpenAPI marks both read them. Each one is refused to a member on create
(unless given with its default) and on update, with nothing written; an admin may give it."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.service.networks import SPEC as NETWORK_SPEC
from neutrino.service.port_attrs import SPEC as PORT_SPEC
from tests.conftest import Caller

NETWORK = {
    "shared": True,
    "router:external": True,
    "is_default": True,
    "provider:network_type": "vxlan",
    "provider:physical_network": "physnet1",
    "provider:segmentation_id": 4000,
    "segments": [{"provider:network_type": "vxlan"}],
}
PORT: dict[str, Any] = {"binding:host_id": "hv1", "binding:profile": {"a": "b"}}


def test_the_specs_mark_exactly_neutrons_admin_only_attributes() -> None:
    assert {n for n, a in NETWORK_SPEC.items() if a.admin_only} == set(NETWORK)
    assert {n for n, a in PORT_SPEC.items() if a.admin_only} == set(PORT)


def test_the_openapi_marks_follow_the_specs(api: Caller) -> None:
    doc = api.get("/openapi.json").json()
    for path, spec in (("/v2.0/networks", NETWORK_SPEC), ("/v2.0/ports", PORT_SPEC)):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        marked = _marked(doc, body["schema"])
        assert marked == {n for n, a in spec.items() if a.admin_only and a.allow_post}, path


def _marked(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Names of properties marked ``x-admin-only`` anywhere below ``schema``."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if "$ref" in node:
            _, _, *parts = node["$ref"].split("/")
            target = doc
            for part in parts:
                target = target[part]
            node = target
        for name, prop in node.get("properties", {}).items():
            if prop.get("x-admin-only"):
                found.add(name)
            stack.append(prop)
        stack.extend(node.get("oneOf", []) + node.get("anyOf", []))
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])
    return found


@pytest.mark.parametrize("name", sorted(NETWORK))
def test_a_member_may_not_give_an_admin_only_network_attribute(api: Caller, name: str) -> None:
    member = api.as_member()
    r = member.post("/v2.0/networks", {"network": {"name": "x", name: NETWORK[name]}})
    assert r.status_code == 403, r.text
    assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert member.get("/v2.0/networks").json()["networks"] == []  # nothing half-written
    net = member.network(name="mine")
    r = member.put(f"/v2.0/networks/{net['id']}", {"network": {name: NETWORK[name]}})
    assert r.status_code == 403, r.text
    after = member.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert after["revision_number"] == net["revision_number"]


@pytest.mark.parametrize("name", ["shared", "router:external", "is_default"])
def test_a_member_may_give_the_default_on_create_but_not_on_update(api: Caller, name: str) -> None:
    member = api.as_member()
    net = member.network(**{name: False})
    assert net[name] is False
    r = member.put(f"/v2.0/networks/{net['id']}", {"network": {name: False}})
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("name", sorted(PORT))
def test_a_member_may_not_give_an_admin_only_port_attribute(api: Caller, name: str) -> None:
    member = api.as_member()
    net = member.network()
    r = member.post("/v2.0/ports", {"port": {"network_id": net["id"], name: PORT[name]}})
    assert r.status_code == 403, r.text
    assert member.get("/v2.0/ports").json()["ports"] == []
    port = member.port(net["id"])
    r = member.put(f"/v2.0/ports/{port['id']}", {"port": {name: PORT[name]}})
    assert r.status_code == 403, r.text
    admin = api.put(f"/v2.0/ports/{port['id']}", {"port": {name: PORT[name]}})
    assert admin.status_code == 200, admin.text
    assert admin.json()["port"][name] == PORT[name]
