#!/usr/bin/env bash
# Installs neutrino into .venv (first run, or when pyproject.toml changed) and runs the
# all-in-one controller on an embedded SQLite database:
#   - state (database, token key, generated admin password) in ./state, or $NEUTRINO_STATE_DIR;
#   - listens on 127.0.0.1:9696 unless --listen HOST:PORT is given;
#   - prints where it listens, the admin credentials and a clouds.yaml for the openstack CLI.
#
# Usage: scripts/run.sh [neutrino serve options...]     (scripts/run.sh --help lists them)
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_venv
export NEUTRINO_STATE_DIR="${NEUTRINO_STATE_DIR:-$REPO/state}"
exec "$BIN/neutrino" serve "$@"
