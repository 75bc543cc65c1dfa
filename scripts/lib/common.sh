# shellcheck shell=bash
# Helpers sourced by the scripts in scripts/: logging, Debian packages, the project venv.
#
#   ensure_debian_packages PKG...   install the ones that are missing (root or passwordless sudo);
#                                   waits up to APT_LOCK_WAIT seconds (300) for another apt/dpkg
#   ensure_venv [EXTRA]             .venv with `pip install -e .[EXTRA]`, redone when pyproject
#                                   changes; sets PY and BIN
#
# Environment: NEUTRINO_VENV (default <repo>/.venv), PYTHON (interpreter to build it with).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${NEUTRINO_VENV:-$REPO/.venv}"
BIN="$VENV/bin"
PY="$BIN/python"

if [ -t 2 ]; then _B=$'\033[1m' _Y=$'\033[1;33m' _R=$'\033[1;31m' _N=$'\033[0m'
else _B="" _Y="" _R="" _N=""
fi
log() { printf '%s==> %s%s\n' "$_B" "$*" "$_N" >&2; }
warn() { printf '%swarning:%s %s\n' "$_Y" "$_N" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$_R" "$_N" "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1
  fi
}

# apt-get, waiting (bounded) while another apt or dpkg holds its locks instead of failing.
APT_LOCK_WAIT="${APT_LOCK_WAIT:-300}"
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) err said=0 rc
  while true; do
    err="$(as_root env DEBIAN_FRONTEND=noninteractive apt-get \
             -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" 2>&1 >&2)" &&
      { [ -z "$err" ] || printf '%s\n' "$err" >&2; return 0; }
    rc=$?
    if printf '%s' "$err" | grep -qE 'Could not get lock|is held by process|Unable to lock' &&
       [ "$SECONDS" -lt "$deadline" ]; then
      [ "$said" = 1 ] || log "another apt/dpkg is running; waiting for its lock (up to ${APT_LOCK_WAIT}s)"
      said=1
      sleep 3
      continue
    fi
    printf '%s\n' "$err" >&2
    return "$rc"
  done
}

_APT_UPDATED=0
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "need Debian packages ${missing[*]} (no apt-get here)"
  log "installing Debian packages: ${missing[*]}"
  if [ "$_APT_UPDATED" = 0 ]; then
    apt_get update -qq || die "apt-get update failed (run as root, or install: ${missing[*]})"
    _APT_UPDATED=1
  fi
  apt_get install -y -qq --no-install-recommends "${missing[@]}" ||
    die "could not install ${missing[*]}"
}

# A Python >= 3.11 that can make venvs (installs Debian's python3-venv when that is missing).
find_python() {
  local c
  for c in ${PYTHON:-} python3 python3.13 python3.12 python3.11 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      if ! "$c" -c 'import ensurepip, venv' 2>/dev/null; then
        ensure_debian_packages python3-venv python3-pip
      fi
      command -v "$c"
      return 0
    fi
  done
  ensure_debian_packages python3 python3-venv python3-pip python3-dev
  command -v /usr/bin/python3
}

ensure_venv() {
  local extra="${1:-}" spec stamp want
  spec="$REPO${extra:+[$extra]}"
  stamp="$VENV/.neutrino-install${extra:+-$extra}"
  want="$(cat "$REPO/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$PY" ]; then
    local python
    python="$(find_python)"
    log "creating $VENV with $python"
    "$python" -m venv "$VENV" || die "could not create the venv at $VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing neutrino${extra:+[$extra]} and its dependencies into $VENV (first run: a minute or so)"
    # pip's own progress (packages collected, download bars), so a first run is not silent
    "$PY" -m pip install --progress-bar on --upgrade pip >&2 || die "could not upgrade pip"
    "$PY" -m pip install --progress-bar on -e "$spec" >&2 || die "pip install -e '$spec' failed"
    echo "$want" >"$stamp"
  fi
}
