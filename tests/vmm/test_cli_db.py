"""``neutrino db upgrade`` / ``current`` handle the vmm's tables beside the controller's."""

from __future__ import annotations

from typer.testing import CliRunner

from neutrino.cli.db import ensure_schema
from neutrino.cli.main import app
from neutrino.store import migrate
from neutrino.vmm.storage import migrate as vmm_migrate

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


def test_db_upgrade_brings_both_histories_to_their_heads(db_url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert f"vmm tables upgraded empty -> {vmm_migrate.head()}" in _flat(result.output)
    assert migrate.is_up_to_date(db_url) and vmm_migrate.is_up_to_date(db_url)
    check = runner.invoke(app, ["db", "current", "--db", db_url, "--check"])
    assert check.exit_code == 0 and f"vmm: {vmm_migrate.head()} (up to date)" in _flat(check.output)


def test_check_fails_while_only_the_vmm_is_behind(db_url: str) -> None:
    migrate.upgrade(db_url)  # the controller alone
    check = runner.invoke(app, ["db", "current", "--db", db_url, "--check"])
    assert check.exit_code == 1 and "vmm: empty (upgrade available" in _flat(check.output)
    ensure_schema(db_url)  # what serve runs first
    assert vmm_migrate.is_up_to_date(db_url)
