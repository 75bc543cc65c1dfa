# shellcheck shell=bash
# Helpers sourced by the scripts in scripts/: logging, Debian packages, the project venv.
#
#   ensure_debian_packages PKG...   install the ones that are missing (root or passwordless sudo)
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
    as_root apt-get update -qq >&2 || die "apt-get update failed (run as root, or install: ${missing[*]})"
    _APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || die "could not install ${missing[*]}"
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
    log "installing neutrino${extra:+[$extra]} into $VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -e "$spec" || die "pip install -e '$spec' failed"
    echo "$want" >"$stamp"
  fi
}
