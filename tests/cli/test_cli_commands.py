"""The ``neutrino`` command in-process (typer's runner): version, db, bootstrap, and the pieces
``serve`` prints. The real server process is exercised in ``test_cli_serve.py``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from neutrino import __version__
from neutrino.api.app import create_app
from neutrino.cli import banner
from neutrino.cli.admin import AdminCredentials
from neutrino.cli.db import ensure_schema, redact
from neutrino.cli.main import app
from neutrino.cli.serve import parse_listen
from neutrino.common.settings import Settings
from neutrino.store import migrate

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NEUTRINO_CONFIG",
        "NEUTRINO_ADMIN_PASSWORD",
        "NEUTRINO_DB",
        "NEUTRINO_STATE_DIR",
        "NEUTRINO_LISTEN",
        "NEUTRINO_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_version() -> None:
    assert f"neutrino {__version__}" in invoke("version")


def test_db_upgrade_and_current(db_url: str, tmp_path: Path) -> None:
    assert "upgrade available" in invoke("db", "current", "--db", db_url)
    assert runner.invoke(app, ["db", "current", "--db", db_url, "--check"]).exit_code == 1
    out = invoke("db", "upgrade", "--db", db_url)
    assert f"upgraded empty -> {migrate.head()}" in out
    assert "already at" in invoke("db", "upgrade", "--db", db_url)
    assert "up to date" in invoke("db", "current", "--db", db_url, "--check")


def test_db_upgrade_default_location_is_the_state_dir(tmp_path: Path) -> None:
    invoke("db", "upgrade", "--state-dir", str(tmp_path / "state"))
    assert (tmp_path / "state" / "neutrino.db").exists()


def test_config_file_sets_settings(tmp_path: Path) -> None:
    config = tmp_path / "neutrino.toml"
    config.write_text(f'state_dir = "{tmp_path / "from-config"}"\n')
    invoke("--config", str(config), "db", "upgrade")
    assert (tmp_path / "from-config" / "neutrino.db").exists()


def _token(settings: Settings, password: str) -> int:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    with TestClient(create_app(settings)) as client:
        r = client.post("/v3/auth/tokens", json=body)
        if r.status_code == 201:
            assert r.headers["X-Subject-Token"]
            roles = {role["name"] for role in r.json()["token"]["roles"]}
            assert "admin" in roles
        return r.status_code


def test_bootstrap_then_token(db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    out = invoke(
        "bootstrap", "--db", db_url, "--state-dir", str(state), "--admin-password", "s3cret-pw"
    )
    assert "bootstrap done" in out
    assert "auth_url: http://127.0.0.1:9696/v3" in out
    assert not (state / "admin-password").exists()  # a given password is never written
    settings = Settings(db=db_url, state_dir=state)
    assert _token(settings, "s3cret-pw") == 201
    assert _token(settings, "wrong") == 401


def test_bootstrap_password_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEUTRINO_ADMIN_PASSWORD", "from-env")
    invoke("bootstrap", "--state-dir", str(tmp_path))
    assert _token(Settings(state_dir=tmp_path), "from-env") == 201


def test_bootstrap_generates_a_private_password_file(tmp_path: Path) -> None:
    invoke("bootstrap", "--state-dir", str(tmp_path))
    path = tmp_path / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    invoke("bootstrap", "--state-dir", str(tmp_path))  # idempotent, reuses the saved one
    assert path.read_text().strip() == password
    assert _token(Settings(state_dir=tmp_path), password) == 201


def test_parse_listen() -> None:
    assert parse_listen("0.0.0.0:9696") == ("0.0.0.0", 9696)
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen(":9000") == ("127.0.0.1", 9000)
    for bad in ("9696", "host:", "host:99999", "host:x"):
        with pytest.raises(Exception):  # noqa: B017 - typer.Exit
            parse_listen(bad)


def test_redact() -> None:
    assert redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_client_snippets(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, listen="127.0.0.1:9797", region="R2")
    creds = AdminCredentials("pw", tmp_path / "admin-password", generated=True)
    cloud = yaml.safe_load(banner.clouds_yaml(settings, creds))["clouds"]["neutrino"]
    assert cloud["auth"] == {
        "auth_url": "http://127.0.0.1:9797/v3",
        "username": "admin",
        "password": "pw",
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert cloud["region_name"] == "R2"
    exports = banner.os_exports(settings, creds)
    assert "export OS_AUTH_URL=http://127.0.0.1:9797/v3" in exports
    assert f'OS_PASSWORD="$(cat {tmp_path / "admin-password"})"' in exports


def test_ensure_schema_migrates_postgres_only_when_allowed(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        ensure_schema(db_url, allow_migrate=False)  # SQLite is always brought up to date
        assert migrate.is_up_to_date(db_url)
        return
    with pytest.raises(typer.Exit):
        ensure_schema(db_url, allow_migrate=False)
    assert migrate.current(db_url) is None
    ensure_schema(db_url, allow_migrate=True)
    assert migrate.is_up_to_date(db_url)
