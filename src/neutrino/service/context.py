"""Who is asking: the request context every service function receives.

Built by the API from a verified token. Roles follow Keystone's defaults: ``admin`` (on any
project) sees and changes everything, ``member`` reads and writes its own project, ``reader``
only reads its own project.
"""

from __future__ import annotations

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

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise PolicyNotAuthorized(f"rule:{action}")

    def owns(self, project_id: str) -> bool:
        return self.is_admin or project_id == self.project_id


def admin_context() -> RequestContext:
    """For internal callers (bootstrap, agents' service user)."""
    return RequestContext(user_id="", project_id="", roles=frozenset({"admin"}))
