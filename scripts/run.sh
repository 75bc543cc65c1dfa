#!/usr/bin/env bash
# Installs neutrino into .venv (first run, or when pyproject.toml changed) and runs the
# all-in-one: the controller on an embedded SQLite database, plus (as root) a host agent for
# this machine that wires ports bound to it (bridges, VXLAN, dnsmasq DHCP, routers with the
# external network "public" on the veth nt-public, nftables security groups):
#   - state (database, token key, generated admin password, the agent's DHCP files) in the one
#     state dir every neutrino command uses: /var/lib/neutrino as root, else
#     ~/.local/state/neutrino; NEUTRINO_STATE_DIR=DIR puts it elsewhere;
#   - listens on 127.0.0.1:9696 unless --listen HOST:PORT is given;
#   - prints where it listens, the admin credentials, a clouds.yaml for the openstack CLI and
#     the host name to bind ports to;
#   - not root, or NEUTRINO_NO_AGENT=1: the controller alone.
#
# Usage: scripts/run.sh [neutrino serve options...]     (scripts/run.sh --help lists them)
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_venv
args=()
if [ "$(id -u)" = 0 ] && [ -z "${NEUTRINO_NO_AGENT:-}" ]; then
  ensure_debian_packages iproute2 nftables dnsmasq-base
  args+=(--agent)
else
  log "controller only (the local agent needs root; NEUTRINO_NO_AGENT=${NEUTRINO_NO_AGENT:-})"
fi
exec "$BIN/neutrino" serve "${args[@]}" "$@"
