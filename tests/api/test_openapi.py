"""The published OpenAPI document: valid, built without warnings, and describing what the code
really accepts (bodies from the attribute specs, list filters from the repositories)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from neutrino.api.app import create_app
from neutrino.api.openapi import neutron
from neutrino.common.settings import Settings
from neutrino.store import filters

# Write operations that take no body at all; every other POST/PUT/PATCH must describe one.
NO_BODY = {
    ("/v2.0/{collection}/{rid}/tags/{tag}", "put"),
    ("/v2.0/qos/policies/{policy_id}/tags/{tag}", "put"),
    ("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", "put"),
    ("/v2.0/agents", "post"),  # 405: agents register themselves
    ("/v2.0/ports/{port_id}/bindings/{host}/activate", "put"),  # an action, no body
    ("/v2.0/security-group-rules/{resource_id}", "put"),  # 405: immutable
    ("/v2.0/default-security-group-rules/{resource_id}", "put"),  # 405: immutable
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(token_key="k", db="sqlite://"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. FastAPI's "Duplicate Operation ID"
        return app.openapi()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))


def test_served_at_openapi_json(client: TestClient, document: dict[str, Any]) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json()["paths"].keys() == document["paths"].keys()


def test_every_public_write_describes_its_body(document: dict[str, Any]) -> None:
    missing = []
    for path, method, op in operations(document):
        if (
            method not in ("post", "put", "patch")
            or op.get("x-internal")
            or (path, method) in NO_BODY
        ):
            continue
        schema = (
            op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        )
        if not schema:
            missing.append((method, path))
    assert missing == []
    for path, method in NO_BODY:
        assert "requestBody" not in document["paths"][path][method]


def _single(document: dict[str, Any], path: str, member: str) -> dict[str, Any]:
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema["oneOf"][0]["properties"][member]  # type: ignore[no-any-return]


def test_bodies_come_from_the_attribute_specs(document: dict[str, Any]) -> None:
    port = _single(document, "/v2.0/ports", "port")
    assert port["required"] == ["network_id"]
    assert port["additionalProperties"] is False
    assert port["properties"]["admin_state_up"] == {"type": "boolean"}
    assert port["properties"]["binding:host_id"]["x-admin-only"] is True
    assert "status" not in port["properties"]  # allow_post=False
    update = document["paths"]["/v2.0/ports/{resource_id}"]["put"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["port"]
    assert "network_id" not in update["properties"]  # allow_put=False
    assert "name" in update["properties"]
    subnet = _single(document, "/v2.0/subnets", "subnet")
    assert subnet["properties"]["ip_version"] == {"enum": [4, 6]}
    for c in neutron.COLLECTIONS:
        if not c.creatable:
            continue
        spec = {n for n, a in c.spec.items() if a.allow_post}
        assert set(_single(document, f"/v2.0/{c.name}", c.member)["properties"]) == spec
        bulk = document["paths"][f"/v2.0/{c.name}"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]["oneOf"][1]
        assert bulk["required"] == [c.key]


def test_list_parameters_are_every_filter(document: dict[str, Any]) -> None:
    for collection in filters.collections():
        params = {
            p["name"]: p for p in document["paths"][f"/v2.0/{collection}"]["get"]["parameters"]
        }
        for f in filters.filters(collection):
            assert params[f.name]["schema"]["items"]["type"] == f.json_type
        for key in ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"):
            assert key in params
    ports = {p["name"]: p for p in document["paths"]["/v2.0/ports"]["get"]["parameters"]}
    assert ports["admin_state_up"]["schema"]["items"]["type"] == "boolean"
    assert ports["revision_number"]["schema"]["items"]["type"] == "integer"
    assert {"fixed_ips", "tags", "security_groups"} <= ports.keys()
    assert "mac_address" in ports["sort_key"]["schema"]["items"]["enum"]


def test_keystone_bodies(document: dict[str, Any]) -> None:
    auth = document["paths"]["/v3/auth/tokens"]["post"]
    assert auth["security"] == []
    identity = auth["requestBody"]["content"]["application/json"]["schema"]["properties"]["auth"][
        "properties"
    ]["identity"]
    assert identity["properties"]["methods"]["items"]["enum"] == ["password", "token"]
    for kind in ("project", "user", "role"):
        body = document["paths"][f"/v3/{kind}s"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        assert body["properties"][kind]["required"] == ["name"]
    assert (
        "passwordCredentials"
        in document["paths"]["/v2.0/tokens"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["properties"]["auth"]["properties"]
    )
    error = document["paths"]["/v3/users"]["post"]["responses"]["409"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("KeystoneError")


def test_responses_name_success_and_the_error_envelope(document: dict[str, Any]) -> None:
    post = document["paths"]["/v2.0/networks"]["post"]["responses"]
    assert "201" in post
    assert post["409"]["content"]["application/json"]["schema"]["$ref"].endswith("NeutronError")
    assert post["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "KeystoneError"
    )  # the token check answers in Keystone's envelope
    assert (
        "content"
        not in document["paths"]["/v2.0/networks/{resource_id}"]["delete"]["responses"]["204"]
    )


def test_agent_api_is_internal_and_only_it(document: dict[str, Any]) -> None:
    internal = {path for path, _, op in operations(document) if op.get("x-internal")}
    assert internal == {p for p in document["paths"] if p.startswith("/agent/v1/")}
    assert internal
    for path, _, op in operations(document):
        assert (op["tags"] == ["internal"]) == (path in internal)
