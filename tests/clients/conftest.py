"""Fixtures for the real-client suites: a live neutrino on loopback and a clouds.yaml that is the
ONLY configuration the clients get (``OS_CLIENT_CONFIG_FILE`` + ``--os-cloud``/``cloud=``; every
other ``OS_*`` variable is removed from the environment).

The clouds.yaml names two clouds: ``neutrino-admin`` (the bootstrap admin) and
``neutrino-member`` (a user the tests create themselves, through the identity API, with the
``member`` role on its own project; its names and password are fixed here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ADMIN_PASSWORD

ADMIN_CLOUD = "neutrino-admin"
MEMBER_CLOUD = "neutrino-member"


@dataclass
class Clouds:
    """The clouds.yaml and what it names; ``openstack()`` runs the real CLI against it."""

    url: str
    path: Path
    env: dict[str, str]
    member_project: str
    member_user: str
    member_password: str
    calls: list[list[str]] = field(default_factory=list)

    def run(self, cloud: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [openstack_executable(), "--os-cloud", cloud, *args]
        self.calls.append(argv)
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"openstack {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def openstack(self, cloud: str, *args: str) -> Any:
        """Run a command that prints a resource or a list, and return the parsed ``-f json``."""
        done = self.run(cloud, *args, "-f", "json")
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError as e:
            raise AssertionError(
                f"openstack {' '.join(args)} printed no JSON: {done.stdout!r}"
                f"\nstderr: {done.stderr}"
            ) from e

    def silent(self, cloud: str, *args: str) -> None:
        """Run a command that prints nothing on success (set, delete, role add)."""
        done = self.run(cloud, *args)
        assert done.stdout.strip() == "", done.stdout


def openstack_executable() -> str:
    beside = Path(sys.executable).parent / "openstack"
    if beside.exists():
        return str(beside)
    found = shutil.which("openstack")
    if found is None:
        pytest.skip("the openstack CLI (python-openstackclient) is not installed")
    return found


def write_clouds_yaml(
    path: Path, url: str, member_project: str, member_user: str, member_password: str
) -> None:
    def cloud(username: str, password: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": f"{url}/v3",
                "username": username,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "interface": "public",
            "identity_api_version": 3,
        }

    path.write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    ADMIN_CLOUD: cloud("admin", ADMIN_PASSWORD, "admin"),
                    MEMBER_CLOUD: cloud(member_user, member_password, member_project),
                }
            }
        )
    )


@pytest.fixture
def clouds(live_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Clouds:
    suffix = uuid.uuid4().hex[:8]
    path = tmp_path / "clouds.yaml"
    member = ("proj-" + suffix, "user-" + suffix, "pw-" + suffix)
    write_clouds_yaml(path, live_url, *member)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_CLIENT_CONFIG_FILE=str(path), OS_CLIENT_SECURE_FILE=str(tmp_path / "no-secure.yaml")
    )
    # Same isolation for the in-process openstacksdk.
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", str(tmp_path / "no-secure.yaml"))
    return Clouds(live_url, path, env, *member)
