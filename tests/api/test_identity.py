"""The Keystone-compatible identity API through real HTTP: token forms tempest sends, catalog,
rescoping, errors, expiry, revocation (seen by the Neutron endpoints too), tempest's
dynamic-credentials sequence, authorization, Keystone v2.0 tokens, and an external Keystone.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common import clock
from neutrino.common.settings import Settings
from neutrino.service.identity import ExternalValidator
from neutrino.store.uow import Store

PASSWORD = "test-admin-secret"  # tests/conftest.py's ADMIN_PASSWORD
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
NETWORK_PROBE = "/v2.0/networks"  # a Neutron endpoint behind token auth


def token_body(
    user: dict[str, Any], password: str, project: dict[str, Any] | None = None
) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "identity": {"methods": ["password"], "password": {"user": {**user, "password": password}}}
    }
    if project is not None:
        auth["scope"] = {"project": project}
    return {"auth": auth}


def issue(client: TestClient, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = client.post("/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"], r.json()["token"]


def admin_names_body() -> dict[str, Any]:
    return token_body(
        {"name": "admin", "domain": {"name": "Default"}},
        PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )


def hdr(token: str, **extra: str) -> dict[str, str]:
    return {"X-Auth-Token": token, **extra}


def new_user(api: Any, password: str, **attrs: Any) -> dict[str, Any]:
    r = api.post(
        "/v3/users",
        {
            "user": {
                "name": "u-" + uuid.uuid4().hex[:8],
                "password": password,
                "domain_id": "default",
                **attrs,
            }
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["user"]  # type: ignore[no-any-return]


def new_project(api: Any) -> dict[str, Any]:
    r = api.post("/v3/projects", {"project": {"name": "p-" + uuid.uuid4().hex[:8]}})
    assert r.status_code == 201, r.text
    return r.json()["project"]  # type: ignore[no-any-return]


def role_ids(api: Any) -> dict[str, str]:
    r = api.get("/v3/roles")
    assert r.status_code == 200
    return {x["name"]: x["id"] for x in r.json()["roles"]}


def test_token_by_names_has_the_fields_tempest_reads(client: TestClient) -> None:
    token, body = issue(client, admin_names_body())
    assert token and body["methods"] == ["password"]
    assert body["user"]["name"] == "admin"
    assert body["user"]["domain"] == {"id": "default", "name": "Default"}
    assert body["user"]["password_expires_at"] is None
    assert body["project"]["name"] == "admin"
    assert body["project"]["domain"] == {"id": "default", "name": "Default"}
    assert body["is_domain"] is False
    assert {r["name"] for r in body["roles"]} == {"admin", "member", "reader"}  # implied
    assert all(r["id"] for r in body["roles"])
    assert TIMESTAMP.match(body["expires_at"]) and TIMESTAMP.match(body["issued_at"])
    assert body["expires_at"] > body["issued_at"]
    assert len(body["audit_ids"]) == 1


def test_catalog_has_identity_and_network_endpoints(client: TestClient, settings: Settings) -> None:
    _, body = issue(client, admin_names_body())
    services = {s["type"]: s for s in body["catalog"]}
    assert services["identity"]["name"] == "keystone"
    assert services["network"]["name"] == "neutron"
    for kind, url in (
        ("identity", settings.base_url + "/v3"),
        ("network", settings.base_url + "/"),
    ):
        endpoints = services[kind]["endpoints"]
        assert {e["interface"] for e in endpoints} == {"public", "internal", "admin"}
        for e in endpoints:
            assert e["url"] == url and e["region"] == e["region_id"] == "RegionOne"
            assert e["id"]
    assert not services["network"]["endpoints"][0]["url"].rstrip("/").endswith("v2.0")
    r = client.get("/v3/auth/catalog", headers=hdr(issue(client, admin_names_body())[0]))
    assert r.status_code == 200 and r.json()["catalog"] == body["catalog"]


def test_wrong_password_and_unknown_user_get_keystone_401(client: TestClient) -> None:
    for user in (
        {"name": "admin", "domain": {"name": "Default"}},
        {"name": "nobody", "domain": {"id": "default"}},
        {"id": "does-not-exist"},
    ):
        r = client.post(
            "/v3/auth/tokens",
            json=token_body(user, "wrong", {"name": "admin", "domain": {"name": "Default"}}),
        )
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == UNAUTHORIZED


def test_user_without_role_on_project_cannot_scope_to_it(api: Any, client: TestClient) -> None:
    user = new_user(api, "pw-1")
    project = new_project(api)
    r = client.post(
        "/v3/auth/tokens", json=token_body({"id": user["id"]}, "pw-1", {"id": project["id"]})
    )
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


def test_unscoped_token_then_token_method_rescope(api: Any, client: TestClient) -> None:
    user = new_user(api, "pw-2")
    project = new_project(api)
    roles = role_ids(api)
    assert (
        api.put(
            f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['member']}"
        ).status_code
        == 204
    )
    unscoped, body = issue(client, token_body({"id": user["id"]}, "pw-2"))
    assert "project" not in body and "catalog" not in body and "roles" not in body
    r = client.get("/v3/auth/projects", headers=hdr(unscoped))
    assert [p["id"] for p in r.json()["projects"]] == [project["id"]]

    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"id": project["id"]}},
        }
    }
    scoped, body2 = issue(client, rescope)
    assert body2["project"]["id"] == project["id"]
    assert "token" in body2["methods"] and "password" in body2["methods"]
    assert {r["name"] for r in body2["roles"]} == {"member", "reader"}
    assert body2["expires_at"] == body["expires_at"]  # rescoping never extends a token
    assert client.get(NETWORK_PROBE, headers=hdr(scoped)).status_code == 200


def test_expired_token_is_rejected(
    api: Any, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get(NETWORK_PROBE, headers=hdr(api.token)).status_code == 200
    real = clock.epoch
    monkeypatch.setattr(clock, "epoch", lambda: real() + settings.token_ttl_seconds + 1)
    r = client.get(NETWORK_PROBE, headers=hdr(api.token))
    assert r.status_code == 401
    assert client.get("/v3/auth/projects", headers=hdr(api.token)).status_code == 401


def test_tampered_token_is_rejected(api: Any, client: TestClient) -> None:
    payload, sig = api.token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for bad in (f"{payload}.{flipped}", f"{payload[:-4]}AAAA.{sig}", "garbage", ""):
        r = client.get(NETWORK_PROBE, headers=hdr(bad))
        assert r.status_code == 401, bad


def test_delete_auth_token_revokes_only_that_token(api: Any, client: TestClient) -> None:
    member = api.as_role("member")
    other, _ = issue(
        client, token_body({"id": member.user_id}, _password_of(member), {"id": member.project_id})
    )
    r = client.delete(
        "/v3/auth/tokens", headers=hdr(api.token, **{"X-Subject-Token": member.token})
    )
    assert r.status_code == 204 and r.content == b""
    assert client.get(NETWORK_PROBE, headers=hdr(member.token)).status_code == 401
    assert (
        client.get(
            "/v3/auth/tokens", headers=hdr(api.token, **{"X-Subject-Token": member.token})
        ).status_code
        == 404
    )
    assert client.get(NETWORK_PROBE, headers=hdr(other)).status_code == 200


def test_deleting_user_or_project_revokes_their_tokens(api: Any, client: TestClient) -> None:
    by_user = api.as_role("member")
    by_project = api.as_role("member")
    for caller in (by_user, by_project):
        assert client.get(NETWORK_PROBE, headers=hdr(caller.token)).status_code == 200
    assert api.delete(f"/v3/users/{by_user.user_id}").status_code == 204
    assert api.delete(f"/v3/projects/{by_project.project_id}").status_code == 204
    for caller in (by_user, by_project):
        assert client.get(NETWORK_PROBE, headers=hdr(caller.token)).status_code == 401
    assert client.get(NETWORK_PROBE, headers=hdr(api.token)).status_code == 200


def test_validate_token(api: Any, client: TestClient) -> None:
    member = api.as_role("member")
    h = hdr(api.token, **{"X-Subject-Token": member.token})
    r = client.get("/v3/auth/tokens", headers=h)
    assert r.status_code == 200 and r.headers["X-Subject-Token"] == member.token
    assert r.json()["token"]["user"]["id"] == member.user_id
    assert r.json()["token"]["project"]["id"] == member.project_id
    assert client.head("/v3/auth/tokens", headers=h).status_code == 200
    # A member may not validate someone else's token.
    r = client.get("/v3/auth/tokens", headers=hdr(member.token, **{"X-Subject-Token": api.token}))
    assert r.status_code == 403
    bad = hdr(api.token, **{"X-Subject-Token": member.token + "x"})
    assert client.head("/v3/auth/tokens", headers=bad).status_code == 404


def test_tempest_dynamic_credentials_sequence(client: TestClient) -> None:
    admin, _ = issue(client, admin_names_body())
    r = client.get("/v3/domains?name=Default", headers=hdr(admin))
    assert r.status_code == 200
    domain = r.json()["domains"][0]
    assert domain["name"] == "Default"
    name = "tempest-NetworksTest-" + uuid.uuid4().hex[:8]
    r = client.post(
        "/v3/projects",
        headers=hdr(admin),
        json={
            "project": {"name": name + "-project", "description": "d", "domain_id": domain["id"]}
        },
    )
    assert r.status_code == 201
    project = r.json()["project"]
    assert project["name"] == name + "-project" and project["domain_id"] == domain["id"]
    r = client.post(
        "/v3/projects",
        headers=hdr(admin),
        json={"project": {"name": name + "-project", "domain_id": domain["id"]}},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == 409
    r = client.post(
        "/v3/users",
        headers=hdr(admin),
        json={"user": {"name": name, "password": "s3cret", "domain_id": domain["id"]}},
    )
    assert r.status_code == 201
    user = r.json()["user"]
    assert "password" not in user and "password_hash" not in user
    roles = {
        x["name"].lower(): x["id"]
        for x in client.get("/v3/roles", headers=hdr(admin)).json()["roles"]
    }
    grant = f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['admin']}"
    for _ in range(2):  # tempest assigns admin twice
        r = client.put(grant, headers=hdr(admin))
        assert r.status_code == 204 and r.content == b""
    token, body = issue(
        client,
        token_body(
            {"id": user["id"], "domain": {"id": domain["id"]}},
            "s3cret",
            {"id": project["id"], "domain": {"id": domain["id"]}},
        ),
    )
    assert body["project"]["id"] == project["id"] and body["user"]["id"] == user["id"]
    # The dynamic admin holds admin on its own throw-away project: admin everywhere.
    assert client.get(f"/v3/projects/{project['id']}", headers=hdr(token)).status_code == 200
    assert client.get("/v3/users", headers=hdr(token)).status_code == 200
    r = client.get(f"/v3/role_assignments?user.id={user['id']}", headers=hdr(admin))
    assert [a["role"]["id"] for a in r.json()["role_assignments"]] == [roles["admin"]]
    for path in (f"/v3/users/{user['id']}", f"/v3/projects/{project['id']}"):
        r = client.delete(path, headers=hdr(admin))
        assert r.status_code == 204 and r.content == b""
        assert client.delete(path, headers=hdr(admin)).status_code == 404
    assert client.get(NETWORK_PROBE, headers=hdr(token)).status_code == 401


def test_project_create_defaults_to_token_domain(api: Any) -> None:
    project = new_project(api)
    assert project["domain_id"] == "default" and project["enabled"] is True
    r = api.client.patch(
        f"/v3/projects/{project['id']}",
        headers=hdr(api.token),
        json={"project": {"description": "new"}},
    )
    assert r.status_code == 200 and r.json()["project"]["description"] == "new"
    r = api.get(f"/v3/projects?name={project['name']}")
    assert [p["id"] for p in r.json()["projects"]] == [project["id"]]


def test_member_is_not_an_identity_admin(api: Any, client: TestClient) -> None:
    member = api.as_role("member")
    r = member.post("/v3/users", {"user": {"name": "x", "password": "x"}})
    assert r.status_code == 403 and r.json()["error"]["code"] == 403
    assert member.post("/v3/projects", {"project": {"name": "x"}}).status_code == 403
    assert member.get("/v3/users").status_code == 403
    assert member.get("/v3/projects").status_code == 403
    assert member.get(f"/v3/users/{api.user_id}").status_code == 403
    assert member.get(f"/v3/projects/{api.project_id}").status_code == 403
    assert (
        member.put(
            f"/v3/projects/{member.project_id}/users/{member.user_id}/roles/"
            f"{role_ids(api)['admin']}"
        ).status_code
        == 403
    )
    assert member.get(f"/v3/users/{member.user_id}").status_code == 200
    assert member.get(f"/v3/projects/{member.project_id}").status_code == 200


def test_grants_list_check_and_remove(api: Any) -> None:
    member = api.as_role("member")
    roles = role_ids(api)
    base = f"/v3/projects/{member.project_id}/users/{member.user_id}/roles"
    assert [r["name"] for r in api.get(base).json()["roles"]] == ["member"]
    r = api.get(f"/v3/role_assignments?scope.project.id={member.project_id}&include_names")
    assert [(a["user"]["id"], a["role"]["name"]) for a in r.json()["role_assignments"]] == [
        (member.user_id, "member")
    ]
    assert member.get(f"/v3/role_assignments?user.id={member.user_id}").status_code == 200
    assert member.get("/v3/role_assignments").status_code == 403
    assert api.client.head(f"{base}/{roles['member']}", headers=hdr(api.token)).status_code == 204
    assert api.client.head(f"{base}/{roles['reader']}", headers=hdr(api.token)).status_code == 404
    assert api.delete(f"{base}/{roles['member']}").status_code == 204
    assert api.get(base).json()["roles"] == []
    assert member.get(NETWORK_PROBE).status_code == 401  # the role is gone from its tokens


def test_role_removal_revokes_only_tokens_scoped_to_that_project(
    api: Any, client: TestClient
) -> None:
    """Keystone: removing a user's role on P revokes that user's tokens for P; its tokens for
    other projects and its unscoped token stay valid, and another user's token for P too."""
    roles = role_ids(api)
    user = new_user(api, "pw-grant")
    p1, p2 = new_project(api), new_project(api)
    for project, role in ((p1, "member"), (p2, "reader")):
        r = api.put(f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles[role]}")
        assert r.status_code == 204
    on_p1, _ = issue(client, token_body({"id": user["id"]}, "pw-grant", {"id": p1["id"]}))
    on_p2, _ = issue(client, token_body({"id": user["id"]}, "pw-grant", {"id": p2["id"]}))
    unscoped, _ = issue(client, token_body({"id": user["id"]}, "pw-grant"))
    other = api.as_role("member", p1["id"])
    r = api.delete(f"/v3/projects/{p1['id']}/users/{user['id']}/roles/{roles['member']}")
    assert r.status_code == 204
    assert client.get(NETWORK_PROBE, headers=hdr(on_p1)).status_code == 401
    assert client.get(NETWORK_PROBE, headers=hdr(on_p2)).status_code == 200
    assert client.get("/v3/auth/projects", headers=hdr(unscoped)).status_code == 200
    assert other.get(NETWORK_PROBE).status_code == 200
    # P1 needs a role again; the new grant gives a token that works.
    assert (
        client.post(
            "/v3/auth/tokens", json=token_body({"id": user["id"]}, "pw-grant", {"id": p1["id"]})
        ).status_code
        == 401
    )
    r = api.put(f"/v3/projects/{p1['id']}/users/{user['id']}/roles/{roles['reader']}")
    assert r.status_code == 204
    again, _ = issue(client, token_body({"id": user["id"]}, "pw-grant", {"id": p1["id"]}))
    assert client.get(NETWORK_PROBE, headers=hdr(again)).status_code == 200


def test_disabling_a_project_revokes_its_tokens_only(api: Any, client: TestClient) -> None:
    """Keystone: a disabled project's tokens are revoked; the same user's other projects not."""
    roles = role_ids(api)
    user = new_user(api, "pw-proj")
    p1, p2 = new_project(api), new_project(api)
    for project in (p1, p2):
        r = api.put(f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['member']}")
        assert r.status_code == 204
    on_p1, _ = issue(client, token_body({"id": user["id"]}, "pw-proj", {"id": p1["id"]}))
    on_p2, _ = issue(client, token_body({"id": user["id"]}, "pw-proj", {"id": p2["id"]}))
    r = api.client.patch(
        f"/v3/projects/{p1['id']}", headers=hdr(api.token), json={"project": {"enabled": False}}
    )
    assert r.status_code == 200
    assert client.get(NETWORK_PROBE, headers=hdr(on_p1)).status_code == 401
    assert client.get(NETWORK_PROBE, headers=hdr(on_p2)).status_code == 200


def test_password_change_revokes_and_new_password_works(api: Any, client: TestClient) -> None:
    member = api.as_role("member")
    r = api.client.patch(
        f"/v3/users/{member.user_id}",
        headers=hdr(api.token),
        json={"user": {"password": "changed"}},
    )
    assert r.status_code == 200
    assert member.get(NETWORK_PROBE).status_code == 401
    issue(client, token_body({"id": member.user_id}, "changed", {"id": member.project_id}))


def test_bootstrap_is_idempotent_and_resets_the_password(client: TestClient) -> None:
    identity = client.app.state.services.identity  # type: ignore[attr-defined]
    identity.bootstrap(PASSWORD)
    admin, _ = issue(client, admin_names_body())
    assert [d["id"] for d in client.get("/v3/domains", headers=hdr(admin)).json()["domains"]] == [
        "default"
    ]
    identity.bootstrap("another")
    assert client.post("/v3/auth/tokens", json=admin_names_body()).status_code == 401
    body = admin_names_body()
    body["auth"]["identity"]["password"]["user"]["password"] = "another"
    issue(client, body)


def test_v2_tokens_and_tenants(client: TestClient, settings: Settings) -> None:
    r = client.post(
        "/v2.0/tokens",
        json={
            "auth": {
                "passwordCredentials": {"username": "admin", "password": PASSWORD},
                "tenantName": "admin",
            }
        },
    )
    assert r.status_code == 200, r.text
    access = r.json()["access"]
    token = access["token"]["id"]
    assert access["token"]["tenant"]["name"] == "admin"
    assert access["user"]["username"] == "admin"
    assert "admin" in {x["name"] for x in access["user"]["roles"]}
    network = next(s for s in access["serviceCatalog"] if s["type"] == "network")
    assert network["endpoints"][0]["publicURL"] == settings.base_url + "/"
    assert {"region", "internalURL", "adminURL", "id"} <= set(network["endpoints"][0])
    assert client.get(NETWORK_PROBE, headers=hdr(token)).status_code == 200
    tenants = client.get("/v2.0/tenants", headers=hdr(token)).json()["tenants"]
    assert [t["name"] for t in tenants] == ["admin"]
    r = client.post(
        "/v2.0/tokens", json={"auth": {"token": {"id": token}, "tenantId": tenants[0]["id"]}}
    )
    assert r.status_code == 200 and r.json()["access"]["token"]["tenant"]["name"] == "admin"
    r = client.post(
        "/v2.0/tokens",
        json={"auth": {"passwordCredentials": {"username": "admin", "password": "bad"}}},
    )
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


def test_version_document(client: TestClient, settings: Settings) -> None:
    for path in ("/v3", "/v3/"):
        version = client.get(path).json()["version"]
        assert version["id"] == "v3.14" and version["status"] == "stable"
        assert version["links"][0]["href"] == settings.base_url + "/v3/"


def test_external_keystone_tokens_are_accepted(client: TestClient, tmp_path: Any) -> None:
    ext_settings = Settings(
        state_dir=tmp_path / "ext",
        db=f"sqlite:///{tmp_path}/ext.db",
        token_key="another-key",
        listen="127.0.0.1:5000",
    )
    ext_store = Store(ext_settings.db_url)
    ext_store.create_all()
    with TestClient(create_app(ext_settings, ext_store)) as ext:
        ext.app.state.services.identity.bootstrap("ext-pw")  # type: ignore[attr-defined]
        foreign, _ = issue(
            ext,
            token_body(
                {"name": "admin", "domain": {"id": "default"}},
                "ext-pw",
                {"name": "admin", "domain": {"id": "default"}},
            ),
        )
        identity = client.app.state.services.identity  # type: ignore[attr-defined]
        assert client.get(NETWORK_PROBE, headers=hdr(foreign)).status_code == 401
        identity.external = ExternalValidator("http://external", http=ext)
        assert client.get(NETWORK_PROBE, headers=hdr(foreign)).status_code == 200
        ctx = identity.context_for_token(foreign)
        assert ctx.is_admin and ctx.project_name == "admin"
        assert client.get(NETWORK_PROBE, headers=hdr(foreign + "x")).status_code == 401
    ext_store.dispose()


def _password_of(caller: Any) -> str:
    """Caller.as_role's password convention: ``pw-`` + the user name's suffix."""
    r = caller.get(f"/v3/users/{caller.user_id}")
    return "pw-" + r.json()["user"]["name"].removeprefix("u-")


@pytest.mark.parametrize("domain_id", [{"a": 1}, ["default"], 7, True])
def test_domain_id_of_another_type_is_a_400(api: Any, domain_id: Any) -> None:
    # Found by the fuzz suite: a non-string domain_id reached the database (500).
    for kind, extra in (("project", {}), ("user", {"password": "pw"})):
        r = api.post(f"/v3/{kind}s", {kind: {"name": f"d-{kind}", "domain_id": domain_id, **extra}})
        assert r.status_code == 400, r.text
        assert "domain_id" in r.json()["error"]["message"]
