"""``IdentityService``: the one object the API, the CLI and the container use for identity.

A facade and nothing more: it builds the collaborators once per process and forwards each call
to the one that owns it, so the rest of the code keeps a single, stable surface.

- ``Authenticator`` (``auth``): token checks on every request, issue, validate, revoke.
- ``ExternalValidator`` (``external``): tokens signed by another Keystone, when configured.
- ``Resources`` (``resources``): domains, projects, users, roles and grants.
- ``seed`` (``bootstrap``): the idempotent first seed.
- ``service_catalog`` (``catalog``): the service catalog.
- ``RevocationLog`` (``revocation``): the one transaction wrapper of every identity write that
  may revoke tokens, and the in-memory ``RevocationCache`` they apply to (``revocations``).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NotAuthenticated
from neutrino.common.settings import Settings
from neutrino.service.context import RequestContext
from neutrino.service.identity.auth import Authenticator, TokenInfo, context_of
from neutrino.service.identity.bootstrap import admin_exists, seed
from neutrino.service.identity.catalog import service_catalog
from neutrino.service.identity.external import ExternalValidator
from neutrino.service.identity.resources import Resources, Row
from neutrino.service.identity.revocation import RevocationLog
from neutrino.service.tokens import Claims, TokenAuthority
from neutrino.store.uow import Store


class IdentityService:
    """Identity for one controller process: authentication, tokens and Keystone resources."""

    def __init__(self, store: Store, settings: Settings, tokens: TokenAuthority) -> None:
        self._store = store
        self._settings = settings
        self._tokens = tokens
        self._log = RevocationLog(store, tokens)
        self.revocations = self._log.cache
        self.external: ExternalValidator | None = (
            ExternalValidator(settings.external_keystone_url)
            if settings.external_keystone_url
            else None
        )
        self._auth = Authenticator(store, tokens, self._log)
        self._resources = Resources(store, self._log)

    # --- every request ------------------------------------------------------------------

    def verify(self, token: str) -> Claims:
        """Signature, expiry and revocation of a token this deployment signed."""
        return self._auth.verify(token)

    def context_for_token(self, token: str) -> RequestContext:
        try:
            return context_of(self._auth.verify(token))
        except NotAuthenticated:
            if self.external is None:
                raise
            return self.external.context(token)

    # --- bootstrap ----------------------------------------------------------------------

    def bootstrap(
        self, admin_password: str, *, admin_user: str = "admin", admin_project: str = "admin"
    ) -> None:
        seed(self._log, admin_password, admin_user, admin_project)

    def has_admin(self, admin_user: str = "admin") -> bool:
        return admin_exists(self._store, admin_user)

    # --- tokens and catalog -------------------------------------------------------------

    def authenticate(self, auth: Any) -> TokenInfo:
        return self._auth.authenticate(auth)

    def authenticate_v2(self, auth: Any) -> TokenInfo:
        return self._auth.authenticate_v2(auth)

    def validate(self, ctx: RequestContext, subject: str) -> TokenInfo:
        return self._auth.validate(ctx, subject)

    def revoke_token(self, ctx: RequestContext, subject: str) -> None:
        self._auth.revoke_token(ctx, subject)

    def catalog(self) -> list[dict[str, Any]]:
        return service_catalog(self._settings)

    # --- resources: domains, projects, users, roles, assignments -------------------------

    def list_domains(self, ctx: RequestContext, name: str | None = None) -> list[Row]:
        return self._resources.list_domains(ctx, name)

    def get_domain(self, ctx: RequestContext, domain_id: str) -> Row:
        return self._resources.get_domain(ctx, domain_id)

    def list_projects(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        return self._resources.list_projects(ctx, filters)

    def get_project(self, ctx: RequestContext, project_id: str) -> Row:
        return self._resources.get_project(ctx, project_id)

    def create_project(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        return self._resources.create_project(ctx, body)

    def update_project(self, ctx: RequestContext, project_id: str, body: dict[str, Any]) -> Row:
        return self._resources.update_project(ctx, project_id, body)

    def delete_project(self, ctx: RequestContext, project_id: str) -> None:
        self._resources.delete_project(ctx, project_id)

    def list_users(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        return self._resources.list_users(ctx, filters)

    def get_user(self, ctx: RequestContext, user_id: str) -> Row:
        return self._resources.get_user(ctx, user_id)

    def create_user(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        return self._resources.create_user(ctx, body)

    def update_user(self, ctx: RequestContext, user_id: str, body: dict[str, Any]) -> Row:
        return self._resources.update_user(ctx, user_id, body)

    def delete_user(self, ctx: RequestContext, user_id: str) -> None:
        self._resources.delete_user(ctx, user_id)

    def list_roles(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        return self._resources.list_roles(ctx, filters)

    def get_role(self, ctx: RequestContext, role_id: str) -> Row:
        return self._resources.get_role(ctx, role_id)

    def create_role(self, ctx: RequestContext, body: dict[str, Any]) -> Row:
        return self._resources.create_role(ctx, body)

    def delete_role(self, ctx: RequestContext, role_id: str) -> None:
        self._resources.delete_role(ctx, role_id)

    def grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        self._resources.grant(ctx, project_id, user_id, role_id)

    def check_grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        self._resources.check_grant(ctx, project_id, user_id, role_id)

    def ungrant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        self._resources.ungrant(ctx, project_id, user_id, role_id)

    def list_grants(self, ctx: RequestContext, project_id: str, user_id: str) -> list[Row]:
        return self._resources.list_grants(ctx, project_id, user_id)

    def list_assignments(self, ctx: RequestContext, filters: dict[str, str]) -> list[Row]:
        return self._resources.list_assignments(ctx, filters)

    def user_projects(self, ctx: RequestContext) -> list[Row]:
        return self._resources.user_projects(ctx)
