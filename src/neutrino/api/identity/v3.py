"""Keystone v3 subset over HTTP: version document, ``/v3/auth/*`` (tokens, catalog, projects),
domains, projects, users, roles, grants and role assignments.

Thin: each endpoint parses the request, calls ``IdentityService`` and renders Keystone's wire
shape (the views below). Status codes are Keystone's exactly, as tempest checks them: GET 200,
POST 201, PUT/DELETE 204 with an empty body, HEAD 200/204. Errors come out of the single error
handler in Keystone's ``{"error": {...}}`` envelope (``api.errors`` knows these paths).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from neutrino.api.http import context, json_response, member_body, no_content, services
from neutrino.common.clock import iso_micro
from neutrino.common.errors import NotAuthenticated, NotFound
from neutrino.service.identity import IdentityService, TokenInfo

router = APIRouter()
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _identity(request: Request) -> IdentityService:
    return services(request).identity


def _v3(request: Request) -> str:
    return services(request).settings.base_url + "/v3"


def _iso(epoch: float) -> str:
    return iso_micro(dt.datetime.fromtimestamp(int(epoch), dt.UTC))


def _collection(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    self_url = str(request.url)
    return json_response({key: items, "links": {"self": self_url, "previous": None, "next": None}})


# --- views --------------------------------------------------------------------------------


def token_view(info: TokenInfo, catalog: list[dict[str, Any]]) -> dict[str, Any]:
    c = info.claims
    body: dict[str, Any] = {
        "methods": list(c.methods),
        "user": info.user,
        "audit_ids": [c.audit_id],
        "expires_at": _iso(c.expires_at),
        "issued_at": _iso(c.issued_at),
    }
    if info.project is not None:
        p = info.project
        body.update(
            project={"id": p["id"], "name": p["name"], "domain": p["domain"]},
            is_domain=False,
            roles=info.roles,
            catalog=catalog,
        )
    return body


def project_view(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "domain_id": row["domain_id"],
        "description": row["description"],
        "enabled": row["enabled"],
        "parent_id": row["domain_id"],
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{base}/projects/{row['id']}"},
    }


def user_view(base: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "name": row["name"],
        "domain_id": row["domain_id"],
        "enabled": row["enabled"],
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{base}/users/{row['id']}"},
    }
    for key in ("default_project_id", "description", "email"):
        if row.get(key):
            out[key] = row[key]
    return out


def role_view(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{base}/roles/{row['id']}"},
    }


def domain_view(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "enabled": row["enabled"],
        "tags": [],
        "options": {},
        "links": {"self": f"{base}/domains/{row['id']}"},
    }


def assignment_view(base: str, row: dict[str, Any], names: bool) -> dict[str, Any]:
    role: dict[str, Any] = {"id": row["role_id"]}
    if names:
        role["name"] = row["role_name"]
    url = f"{base}/projects/{row['project_id']}/users/{row['user_id']}/roles/{row['role_id']}"
    return {
        "role": role,
        "user": {"id": row["user_id"]},
        "scope": {"project": {"id": row["project_id"]}},
        "links": {"assignment": url},
    }


# --- version and auth ----------------------------------------------------------------------


@router.get("/v3")
@router.get("/v3/")
async def version(request: Request) -> Response:
    return json_response(
        {
            "version": {
                "id": "v3.14",
                "status": "stable",
                "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": _v3(request) + "/"}],
                "media-types": MEDIA_TYPES,
            }
        }
    )


@router.post("/v3/auth/tokens")
async def issue_token(request: Request) -> Response:
    auth = await member_body(request, "auth")
    identity = _identity(request)
    info = await run_in_threadpool(identity.authenticate, auth)  # argon2: off the loop
    return json_response(
        {"token": token_view(info, identity.catalog())}, 201, {"X-Subject-Token": info.token}
    )


def _subject(request: Request) -> str:
    subject = request.headers.get("x-subject-token")
    if not subject:
        raise NotFound("Could not find token: (no X-Subject-Token).")
    return subject


@router.get("/v3/auth/tokens")
async def validate_token(request: Request) -> Response:
    identity = _identity(request)
    subject = _subject(request)
    info = identity.validate(context(request), subject)
    return json_response(
        {"token": token_view(info, identity.catalog())}, 200, {"X-Subject-Token": subject}
    )


@router.head("/v3/auth/tokens")
async def check_token(request: Request) -> Response:
    subject = _subject(request)
    _identity(request).validate(context(request), subject)
    return Response(status_code=200, headers={"X-Subject-Token": subject})


@router.delete("/v3/auth/tokens")
async def revoke_token(request: Request) -> Response:
    _identity(request).revoke_token(context(request), _subject(request))
    return no_content()


@router.get("/v3/auth/catalog")
async def auth_catalog(request: Request) -> Response:
    ctx = context(request)
    if not ctx.project_id:
        raise NotAuthenticated("The service catalog is empty for an unscoped token.")
    return json_response(
        {
            "catalog": _identity(request).catalog(),
            "links": {"self": str(request.url), "previous": None, "next": None},
        }
    )


@router.get("/v3/auth/projects")
async def auth_projects(request: Request) -> Response:
    base = _v3(request)
    rows = _identity(request).user_projects(context(request))
    return _collection(request, "projects", [project_view(base, r) for r in rows])


# --- domains ---------------------------------------------------------------------------------


@router.get("/v3/domains")
async def list_domains(request: Request) -> Response:
    base = _v3(request)
    rows = _identity(request).list_domains(context(request), request.query_params.get("name"))
    return _collection(request, "domains", [domain_view(base, r) for r in rows])


@router.get("/v3/domains/{domain_id}")
async def get_domain(request: Request, domain_id: str) -> Response:
    row = _identity(request).get_domain(context(request), domain_id)
    return json_response({"domain": domain_view(_v3(request), row)})


# --- projects --------------------------------------------------------------------------------


@router.get("/v3/projects")
async def list_projects(request: Request) -> Response:
    base = _v3(request)
    rows = _identity(request).list_projects(context(request), dict(request.query_params))
    return _collection(request, "projects", [project_view(base, r) for r in rows])


@router.post("/v3/projects")
async def create_project(request: Request) -> Response:
    body = await member_body(request, "project")
    row = _identity(request).create_project(context(request), body)
    return json_response({"project": project_view(_v3(request), row)}, 201)


@router.get("/v3/projects/{project_id}")
async def get_project(request: Request, project_id: str) -> Response:
    row = _identity(request).get_project(context(request), project_id)
    return json_response({"project": project_view(_v3(request), row)})


@router.patch("/v3/projects/{project_id}")
async def update_project(request: Request, project_id: str) -> Response:
    body = await member_body(request, "project")
    row = _identity(request).update_project(context(request), project_id, body)
    return json_response({"project": project_view(_v3(request), row)})


@router.delete("/v3/projects/{project_id}")
async def delete_project(request: Request, project_id: str) -> Response:
    _identity(request).delete_project(context(request), project_id)
    return no_content()


# --- users -----------------------------------------------------------------------------------


@router.get("/v3/users")
async def list_users(request: Request) -> Response:
    base = _v3(request)
    rows = _identity(request).list_users(context(request), dict(request.query_params))
    return _collection(request, "users", [user_view(base, r) for r in rows])


@router.post("/v3/users")
async def create_user(request: Request) -> Response:
    body = await member_body(request, "user")
    row = await run_in_threadpool(_identity(request).create_user, context(request), body)
    return json_response({"user": user_view(_v3(request), row)}, 201)


@router.get("/v3/users/{user_id}")
async def get_user(request: Request, user_id: str) -> Response:
    row = _identity(request).get_user(context(request), user_id)
    return json_response({"user": user_view(_v3(request), row)})


@router.patch("/v3/users/{user_id}")
async def update_user(request: Request, user_id: str) -> Response:
    body = await member_body(request, "user")
    row = await run_in_threadpool(_identity(request).update_user, context(request), user_id, body)
    return json_response({"user": user_view(_v3(request), row)})


@router.delete("/v3/users/{user_id}")
async def delete_user(request: Request, user_id: str) -> Response:
    _identity(request).delete_user(context(request), user_id)
    return no_content()


# --- roles, grants, assignments -----------------------------------------------------------------


@router.get("/v3/roles")
async def list_roles(request: Request) -> Response:
    base = _v3(request)
    rows = _identity(request).list_roles(context(request), dict(request.query_params))
    return _collection(request, "roles", [role_view(base, r) for r in rows])


@router.post("/v3/roles")
async def create_role(request: Request) -> Response:
    body = await member_body(request, "role")
    row = _identity(request).create_role(context(request), body)
    return json_response({"role": role_view(_v3(request), row)}, 201)


@router.get("/v3/roles/{role_id}")
async def get_role(request: Request, role_id: str) -> Response:
    row = _identity(request).get_role(context(request), role_id)
    return json_response({"role": role_view(_v3(request), row)})


@router.delete("/v3/roles/{role_id}")
async def delete_role(request: Request, role_id: str) -> Response:
    _identity(request).delete_role(context(request), role_id)
    return no_content()


GRANT = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"


@router.put(GRANT)
async def grant(request: Request, project_id: str, user_id: str, role_id: str) -> Response:
    _identity(request).grant(context(request), project_id, user_id, role_id)
    return no_content()


@router.head(GRANT)
async def check_grant(request: Request, project_id: str, user_id: str, role_id: str) -> Response:
    _identity(request).check_grant(context(request), project_id, user_id, role_id)
    return no_content()


@router.delete(GRANT)
async def ungrant(request: Request, project_id: str, user_id: str, role_id: str) -> Response:
    _identity(request).ungrant(context(request), project_id, user_id, role_id)
    return no_content()


@router.get("/v3/projects/{project_id}/users/{user_id}/roles")
async def list_grants(request: Request, project_id: str, user_id: str) -> Response:
    base = _v3(request)
    rows = _identity(request).list_grants(context(request), project_id, user_id)
    return _collection(request, "roles", [role_view(base, r) for r in rows])


@router.get("/v3/role_assignments")
async def list_assignments(request: Request) -> Response:
    base = _v3(request)
    params = request.query_params
    names = params.get("include_names", "false").lower() in ("", "true", "1")
    rows = _identity(request).list_assignments(context(request), dict(params))
    return _collection(request, "role_assignments", [assignment_view(base, r, names) for r in rows])
