"""Admin-project quotas set by ``neutrino bootstrap``: unlimited on the first bootstrap (a
manager provisions every vNIC through the admin project), Neutron's defaults for every other
project, and ``--admin-quota`` to choose."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from neutrino.api.app import create_app
from neutrino.cli.main import app
from neutrino.common.settings import Settings

runner = CliRunner()
PASSWORD = "quota-pw"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NEUTRINO_CONFIG",
        "NEUTRINO_ADMIN_PASSWORD",
        "NEUTRINO_DB",
        "NEUTRINO_STATE_DIR",
        "NEUTRINO_QUOTA_NETWORK",
    ):
        monkeypatch.delenv(name, raising=False)


def bootstrap(db_url: str, state: Path, *extra: str) -> None:
    result = runner.invoke(
        app,
        [
            "bootstrap",
            "--db",
            db_url,
            "--state-dir",
            str(state),
            "--admin-password",
            PASSWORD,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output


def quotas(client: TestClient) -> tuple[dict[str, int], dict[str, int]]:
    """(the admin project's limits, a fresh project's limits)."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    r = client.post("/v3/auth/tokens", json=body)
    headers = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    admin_pid = r.json()["token"]["project"]["id"]
    other = client.post(
        "/v3/projects", headers=headers, json={"project": {"name": f"p-{uuid.uuid4().hex[:8]}"}}
    )
    other_pid = other.json()["project"]["id"]
    mine = client.get(f"/v2.0/quotas/{admin_pid}", headers=headers).json()["quota"]
    theirs = client.get(f"/v2.0/quotas/{other_pid}", headers=headers).json()["quota"]
    return mine, theirs


def test_admin_project_unlimited_others_keep_defaults(db_url: str, tmp_path: Path) -> None:
    bootstrap(db_url, tmp_path)
    settings = Settings(db=db_url, state_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        mine, theirs = quotas(client)
    assert set(mine.values()) == {-1}
    assert theirs["port"] == 500 and theirs["network"] == 100

    bootstrap(db_url, tmp_path)  # a second bootstrap keeps what is there
    bootstrap(db_url, tmp_path, "--admin-quota", "port=1000,network=-1")
    with TestClient(create_app(settings)) as client:
        mine, _ = quotas(client)
    assert mine["port"] == 1000 and mine["network"] == -1 and mine["router"] == -1

    bootstrap(db_url, tmp_path, "--admin-quota", "default")
    with TestClient(create_app(settings)) as client:
        mine, _ = quotas(client)
    assert mine["port"] == 500 and mine["router"] == 10


def test_bad_admin_quota_is_refused(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bootstrap", "--db", db_url, "--state-dir", str(tmp_path), "--admin-quota", "ports=5"]
    )
    assert result.exit_code == 1
    assert "bad quota 'ports=5'" in result.output
