"""``scripts/lib/common.sh``: apt-get waits (bounded) for another apt/dpkg's lock instead of
failing, and gives up with apt's message when the lock stays held. ``as_root`` is replaced by
a stand-in that answers like apt-get does while the lock is held (no package is touched)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_apt_get(tmp_path: Path, busy_times: int, wait: int) -> subprocess.CompletedProcess[str]:
    script = f"""
source {REPO}/scripts/lib/common.sh
sleep() {{ :; }}  # no real waiting in a test; SECONDS still bounds the loop below
as_root() {{
  n=$(cat {tmp_path}/calls 2>/dev/null || echo 0); echo $((n + 1)) > {tmp_path}/calls
  if [ "$n" -lt {busy_times} ]; then
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 42 (apt)" >&2
    return 100
  fi
  echo "ran: $*" >&2
}}
APT_LOCK_WAIT={wait}
apt_get install -y busybox
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)


def test_apt_get_waits_for_the_lock(tmp_path: Path) -> None:
    done = run_apt_get(tmp_path, busy_times=3, wait=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().strip() == "4"
    assert "waiting for its lock" in done.stderr
    assert "DPkg::Lock::Timeout=300 install -y busybox" in done.stderr


def test_apt_get_gives_up_after_the_bound(tmp_path: Path) -> None:
    done = run_apt_get(tmp_path, busy_times=10**9, wait=0)
    assert done.returncode == 100
    assert "Could not get lock" in done.stderr
