"""The README's lab walkthrough, run as written: the ``sh`` blocks that follow a
``<!-- walkthrough: lab -->`` comment in README.md are extracted and run in order in one
``bash -e`` (as a person pasting them would, line by line), so the README cannot drift from
what works. Only the lab directory and the namespace prefix differ (``NEUTRINO_LAB_DIR``,
``NEUTRINO_LAB_PREFIX``: unique, so it runs next to other labs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "<!-- walkthrough: lab -->"

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or not (REPO / ".venv" / "bin" / "openstack").exists(),
    reason="needs busybox, dnsmasq and the openstack CLI in .venv",
)


def walkthrough_blocks(readme: str) -> list[str]:
    return re.findall(re.escape(MARK) + r"\s*```sh\n(.*?)```", readme, flags=re.DOTALL)


def test_the_blocks_are_found() -> None:
    blocks = walkthrough_blocks((REPO / "README.md").read_text())
    assert len(blocks) == 2
    assert blocks[0].lstrip().startswith("export PATH=")
    assert "lab down" in blocks[-1] and "sudo" not in "".join(blocks)
    assert not re.search(r"<[a-z][^>]*>", "".join(blocks)), "a placeholder cannot be pasted"


def test_readme_lab_walkthrough_runs_as_written(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    script = "\n".join(walkthrough_blocks((REPO / "README.md").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NEUTRINO_"))}
    env.update(
        NEUTRINO_LAB_DIR=str(directory),
        NEUTRINO_LAB_PREFIX=prefix,
        PYTHONPATH=str(REPO / "src"),
        HOME=str(directory),
    )
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-x", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-5000:])
    # vm1 -> vm2, vm1 -> the outside (SNAT), the outside -> vm1's floating IP
    assert len(re.findall(r"(?<!\d)0% packet loss", done.stdout)) == 3, done.stdout
    assert not (directory / "lab.json").exists()  # `lab down` ran
