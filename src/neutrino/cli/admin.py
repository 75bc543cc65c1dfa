"""The bootstrap admin: which password to seed it with, and making sure it exists.

The password comes from ``--admin-password`` / ``NEUTRINO_ADMIN_PASSWORD``; without one,
neutrino generates a password and saves it to ``<state-dir>/admin-password`` (mode 0600), which
later runs reuse. An explicitly given password is never written to disk: if it differs from a
saved one, the saved file is removed so it cannot mislead.

Quotas: the first bootstrap gives the admin project unlimited quotas (a virtualization manager
provisions every VM's vNIC through it; Neutron's default of 500 ports would stop the 501st
VM). ``parse_quota`` reads ``--admin-quota``: ``unlimited``, ``default`` (the settings'
defaults, as for any project) or ``RESOURCE=N,...``.
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


def parse_quota(spec: str) -> tuple[dict[str, int], bool]:
    """``--admin-quota`` -> (limits, replace the project's other overrides)."""
    from neutrino.service.quotas import RESOURCES

    if spec == "unlimited":
        return dict.fromkeys(RESOURCES, -1), True
    if spec == "default":
        return {}, True
    limits: dict[str, int] = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        resource, sep, value = item.partition("=")
        if (
            not sep
            or resource not in RESOURCES
            or not value.lstrip("-").isdigit()
            or int(value) < -1
        ):
            raise ValueError(
                f"bad quota {item!r}: want RESOURCE=N (N >= -1) with RESOURCE "
                f"one of {', '.join(RESOURCES)}"
            )
        limits[resource] = int(value)
    return limits, False


def admin_project_id(services: Services) -> str:
    from neutrino.service.context import admin_context

    found = services.identity.list_projects(admin_context(), {"name": ADMIN_PROJECT})
    return str(found[0]["id"])


def bootstrap(
    services: Services, settings: Settings, *, admin_quota: str | None = None
) -> AdminCredentials:
    """Seed domain, roles, admin project and user (idempotent), setting the admin password;
    the admin project's quotas: ``admin_quota`` when given, else unlimited the first time."""
    creds = _password_to_use(settings)
    assert creds.password is not None
    first = not services.identity.has_admin(ADMIN_USER)
    services.identity.bootstrap(creds.password, admin_user=ADMIN_USER, admin_project=ADMIN_PROJECT)
    if admin_quota is not None or first:
        limits, replace = parse_quota(admin_quota or "unlimited")
        services.quotas.seed(admin_project_id(services), limits, replace=replace)
    return AdminCredentials(creds.password, creds.password_file, creds.generated, bootstrapped=True)


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
