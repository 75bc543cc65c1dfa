"""The bootstrap admin: which password to seed it with, and making sure it exists.

The password comes from ``--admin-password`` / ``NEUTRINO_ADMIN_PASSWORD``; without one,
neutrino generates a password and saves it to ``<state-dir>/admin-password`` (mode 0600), which
later runs reuse. An explicitly given password is never written to disk: if it differs from a
saved one, the saved file is removed so it cannot mislead.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from neutrino.common.settings import Settings

if TYPE_CHECKING:
    from neutrino.service.container import Services

ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
ADMIN_DOMAIN = "Default"
PASSWORD_FILE = "admin-password"


@dataclass(frozen=True)
class AdminCredentials:
    password: str | None  # None: this process does not know it (set at an earlier bootstrap)
    password_file: Path | None = None  # where it is saved, when it is
    generated: bool = False  # made up by this run
    bootstrapped: bool = False  # this run seeded (or re-seeded) the identity data


def password_path(settings: Settings) -> Path:
    return settings.state_dir / PASSWORD_FILE


def bootstrap(services: Services, settings: Settings) -> AdminCredentials:
    """Seed domain, roles, admin project and user (idempotent), setting the admin password."""
    creds = _password_to_use(settings)
    assert creds.password is not None
    services.identity.bootstrap(creds.password, admin_user=ADMIN_USER,
                                admin_project=ADMIN_PROJECT)
    return AdminCredentials(creds.password, creds.password_file, creds.generated,
                            bootstrapped=True)


def ensure_admin(services: Services, settings: Settings) -> AdminCredentials:
    """Bootstrap when no admin exists yet; otherwise tell what is known of its password."""
    if not services.identity.has_admin():
        return bootstrap(services, settings)
    path = password_path(settings)
    if path.exists():
        return AdminCredentials(path.read_text().strip(), path)
    return AdminCredentials(None)


def _password_to_use(settings: Settings) -> AdminCredentials:
    path = password_path(settings)
    saved = path.read_text().strip() if path.exists() else None
    if settings.admin_password:
        if saved is not None and saved != settings.admin_password:
            path.unlink()
        return AdminCredentials(settings.admin_password)
    if saved:
        return AdminCredentials(saved, path)
    password = secrets.token_urlsafe(18)
    _write_secret(path, password)
    return AdminCredentials(password, path, generated=True)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
