#!/usr/bin/env bash
# Refreshes the web UI's screenshots in docs/screenshots/ from a small lab topology, by running
# the suite's screenshot test (tests/web/test_screenshots.py) with NEUTRINO_SCREENSHOTS set.
# Needs Debian's chromium (installed here when run as root) and the dev extra (playwright).
#
# Usage: scripts/screenshots.sh
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_venv dev
if [ "$(id -u)" = 0 ]; then ensure_debian_packages chromium; fi
cd "$REPO"
export NEUTRINO_SCREENSHOTS="$REPO/docs/screenshots"
PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" \
  "$BIN/pytest" -q -p no:cacheprovider tests/web/test_screenshots.py
log "screenshots in docs/screenshots/"
ls -l "$NEUTRINO_SCREENSHOTS"
