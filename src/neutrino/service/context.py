"""Who is asking: the request context every service function receives.

Built by the API from a verified token. Roles follow Keystone's defaults: ``admin`` (on any
project) sees and changes everything, ``member`` reads and writes its own project, ``reader``
only reads its own project.

A context without a project (an unscoped token: a user with no role anywhere) belongs to no
project. Resources that belong to no project carry ``project_id`` ``""`` (router gateway and
floating-IP ports, as in Neutron), so ownership is never an equality test on the raw string:
``in_project`` is false for an empty project on either side, and ``list_scope`` tells list
queries to match nothing rather than ``""``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from neutrino.common.errors import PolicyNotAuthorized


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    project_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    user_name: str = ""
    project_name: str = ""
    domain_id: str = "default"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        return self.is_admin or "member" in self.roles

    def require_write(self, action: str) -> None:
        if not self.can_write:
            raise PolicyNotAuthorized(f"rule:{action}")

    def require_write_on(self, action: str, show: Callable[[], object]) -> None:
        """Neutron's order for updating or deleting a resource: a caller who may not write
        gets 404 for what it cannot see (``show`` raises it) and 403 for what it can."""
        if not self.can_write:
            show()
            raise PolicyNotAuthorized(f"rule:{action}")

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise PolicyNotAuthorized(f"rule:{action}")

    @property
    def scoped(self) -> bool:
        """Whether the token names a project (unscoped tokens carry no roles either)."""
        return bool(self.project_id)

    def in_project(self, project_id: str) -> bool:
        """The resource's project is the caller's, both being real projects."""
        return bool(self.project_id) and bool(project_id) and project_id == self.project_id

    def owns(self, project_id: str) -> bool:
        return self.is_admin or self.in_project(project_id)

    def can_see(self, project_id: str, *, public: bool = False) -> bool:
        """Own (or admin), or ``public`` (shared or external) to a caller with a project."""
        return self.owns(project_id) or (public and self.scoped)

    @property
    def list_scope(self) -> str | None:
        """What list queries filter by: ``None`` (everything) for an admin, else the caller's
        project; ``""`` (unscoped) makes the store's visibility clauses match nothing."""
        return None if self.is_admin else self.project_id


def admin_context() -> RequestContext:
    """For internal callers (bootstrap, agents' service user)."""
    return RequestContext(user_id="", project_id="", roles=frozenset({"admin"}))
