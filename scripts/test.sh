#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first:
#   .venv with neutrino[dev]; Debian's postgresql when missing (and, as root, the packages of
#   the kernel, e2e and browser tests: iproute2, nftables, dnsmasq-base, iputils-ping, busybox,
#   socat, keepalived, conntrackd, conntrack, iperf3, libvirt-clients, libxml2-utils,
#   chromium); a private PostgreSQL server
#   (NEUTRINO_TEST_PG_URL, unless already set) so store and API tests run on SQLite AND
#   PostgreSQL; then ruff (lint and format check), mypy, the import contracts (lint-imports)
#   and pytest (-n 2; the 25 slowest tests are listed at the end, to keep the suite's time
#   in view).
#
# Usage: scripts/test.sh [PYTEST ARGS...]      e.g. scripts/test.sh tests/store -x
# Every step runs even when an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

set -e
ensure_venv dev
if [ "$(id -u)" = 0 ]; then  # the kernel, e2e and browser tests (skipped without) need these
  ensure_debian_packages iproute2 nftables dnsmasq-base iputils-ping busybox socat keepalived conntrackd conntrack iperf3 libvirt-clients libxml2-utils chromium
fi
if [ -z "${NEUTRINO_TEST_PG_URL:-}" ]; then
  trap pg_stop EXIT
  pg_start
fi
set +e
cd "$REPO"

FAILED=()
step() {
  local name="$1"; shift
  log "$name: $*"
  "$@" || { FAILED+=("$name"); warn "$name failed"; }
}

step ruff "$BIN/ruff" check src tests bench
step ruff-format "$BIN/ruff" format --check src tests bench
step mypy "$BIN/mypy"
step import-contracts "$BIN/lint-imports" --no-cache

log "pytest -n 2 --durations=25 $*"
"$BIN/pytest" -n 2 --durations=25 "$@"
rc=$?
case $rc in
  0) ;;
  5) warn "pytest collected no tests"; FAILED+=("pytest (no tests collected)") ;;
  *) FAILED+=("pytest (exit $rc)") ;;
esac

if [ ${#FAILED[@]} -ne 0 ]; then
  printf '%sFAILED:%s %s\n' "$_R" "$_N" "${FAILED[*]}" >&2
  exit 1
fi
log "all checks passed"
