"""The direction of imports (DESIGN.md) is checked by import-linter's contracts in
pyproject.toml (``[tool.importlinter]``): run ``lint-imports`` and fail on any broken contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("lint-imports")
    assert found, "lint-imports (import-linter) is not installed: pip install -e '.[dev]'"
    return found


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_contracts_cover_the_design() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = {c["name"] for c in config["contracts"]}
    assert {
        "layers",
        "only api and web import fastapi",
        "only store imports sqlalchemy",
        "client, agent and vmm reach the controller only over HTTP",
        "the agent's pure calculations never import the dataplane",
        "only agent.dataplane imports pyroute2",
    } <= names
