"""The first seed of an identity deployment: domain Default, the standard roles, and an admin
user holding ``admin`` on an admin project.

Idempotent: every run creates only what is missing, so ``neutrino bootstrap`` may run again.
Run with a new admin password, it resets the password and revokes the admin's earlier tokens
(through ``RevocationLog``, in the same transaction).
"""

from __future__ import annotations

import uuid

from neutrino.service.identity.passwords import hash_password, password_matches
from neutrino.service.identity.revocation import RevocationLog
from neutrino.store import identity as repo
from neutrino.store.uow import Store, Tx

DEFAULT_ROLES = ("admin", "member", "reader", "service")


def seed(log: RevocationLog, admin_password: str, admin_user: str, admin_project: str) -> None:
    """Idempotent seed: domain Default, the standard roles, the admin user and project."""
    new_hash = hash_password(admin_password) if admin_password else None

    def run(tx: Tx) -> None:
        conn = tx.conn
        if repo.get(conn, "domain", "default") is None:
            repo.insert_row(
                conn,
                "domain",
                {
                    "id": "default",
                    "name": "Default",
                    "description": "The default domain",
                    "enabled": True,
                },
            )
        for name in DEFAULT_ROLES:
            if repo.find_one(conn, "role", name=name) is None:
                repo.insert_row(conn, "role", {"id": uuid.uuid4().hex, "name": name})
        project = repo.find_one(conn, "project", domain_id="default", name=admin_project)
        if project is None:
            project_id = uuid.uuid4().hex
            repo.insert_row(
                conn,
                "project",
                {
                    "id": project_id,
                    "name": admin_project,
                    "domain_id": "default",
                    "description": "Bootstrap project",
                    "enabled": True,
                },
            )
        else:
            project_id = project["id"]
        user = repo.find_one(conn, "user", domain_id="default", name=admin_user)
        if user is None:
            user_id = uuid.uuid4().hex
            repo.insert_row(
                conn,
                "user",
                {
                    "id": user_id,
                    "name": admin_user,
                    "domain_id": "default",
                    "password_hash": new_hash,
                    "enabled": True,
                    "default_project_id": project_id,
                    "description": "",
                },
            )
        else:
            user_id = user["id"]
            if admin_password and not password_matches(user["password_hash"], admin_password):
                repo.update_row(conn, "user", user_id, {"password_hash": new_hash})
                log.revoke(tx, "user", user_id)
        role = repo.find_one(conn, "role", name="admin")
        assert role is not None
        repo.assign(conn, project_id, user_id, role["id"])

    log.write(run)


def admin_exists(store: Store, admin_user: str) -> bool:
    """Whether bootstrap has created the admin user (the CLI bootstraps only once)."""
    with store.read() as conn:
        return repo.find_one(conn, "user", domain_id="default", name=admin_user) is not None
