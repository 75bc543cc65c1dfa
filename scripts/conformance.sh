#!/usr/bin/env bash
# Runs the tempest conformance harness (../shared/conformance/tempest/run.sh) against a fresh
# neutrino: bootstraps a throwaway state dir with a known admin password, starts
# `neutrino serve` on a free loopback port, runs the harness with dynamic credentials, stops
# the server and prints the harness's summary line ("N passed, N failed, N skipped").
#
# Usage: scripts/conformance.sh [--stage N[,N..]] [--db URL] [--concurrency N] [RUN.SH ARGS...]
#   --stage        staged target (default 1); the workspace is runs/conformance-<stage>
#   --db           database URL (default: SQLite in the throwaway state dir)
#   --concurrency  tempest workers (default 2)
#   --external CIDR  create a flat external network "public" (physnet public) with a subnet
#                  CIDR before the run and pass --public-network-id auto (stage 3: routers, FIPs)
#   --agents       run real agents too (root): a lab (`neutrino lab up --hosts 1
#                  --network-nodes 1 --external`) against the server under test, so router and
#                  DHCP ports go ACTIVE; implies the lab's external network (203.0.113.0/24)
#   anything else is passed to run.sh (e.g. --regex REGEX, --include-list FILE)
# Environment: NEUTRINO_CONFORMANCE_HARNESS=path/to/run.sh to use another copy of the harness.
# Exit status: the harness's (0 no failures, 1 failures, 2 harness or endpoint error).
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STAGE=1 DB="" CONCURRENCY=2 EXTERNAL="" AGENTS=0 EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) STAGE="$2"; shift 2 ;;
    --stage=*) STAGE="${1#*=}"; shift ;;
    --db) DB="$2"; shift 2 ;;
    --db=*) DB="${1#*=}"; shift ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --concurrency=*) CONCURRENCY="${1#*=}"; shift ;;
    --agents) AGENTS=1; shift ;;
    --external) EXTERNAL="$2"; shift 2 ;;
    --external=*) EXTERNAL="${1#*=}"; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done

HARNESS="${NEUTRINO_CONFORMANCE_HARNESS:-$REPO/../shared/conformance/tempest/run.sh}"
[ -f "$HARNESS" ] || die "conformance harness not found at $HARNESS"
ensure_venv

WORKSPACE="$REPO/runs/conformance-${STAGE//,/-}"
mkdir -p "$WORKSPACE"
STATE="$(mktemp -d "${TMPDIR:-/tmp}/neutrino-conformance.XXXXXX")"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')"
SERVER_LOG="$WORKSPACE/neutrino-server.log"
SERVER_PID=""

LAB_DIR="$WORKSPACE/lab"
cleanup() {
  if [ "$AGENTS" = 1 ] && [ -f "$LAB_DIR/lab.json" ]; then
    NEUTRINO_LAB_DIR="$LAB_DIR" "$BIN/neutrino" lab down >/dev/null 2>&1 || true
  fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$STATE"
}
trap cleanup EXIT

export NEUTRINO_ADMIN_PASSWORD="$PASSWORD"  # not on the command line, where ps shows it
# Quotas as in the upstream neutron-tempest-plugin gate (and the reference deployment): the
# router and floating IP classes create more than Neutron's defaults (10, 50) in one project.
export NEUTRINO_QUOTA_ROUTER="${NEUTRINO_QUOTA_ROUTER:-100}"
export NEUTRINO_QUOTA_FLOATINGIP="${NEUTRINO_QUOTA_FLOATINGIP:-500}"
# A DNS domain of its own, as the gate sets one: under Neutron's default (openstacklocal.)
# ports' dns_name is dropped, and the dns-integration tests expect the names kept.
export NEUTRINO_DNS_DOMAIN="${NEUTRINO_DNS_DOMAIN:-openstackgate.local.}"
COMMON=(--state-dir "$STATE" --listen "127.0.0.1:$PORT")
[ -n "$DB" ] && COMMON+=(--db "$DB")

log "bootstrapping neutrino (state in $STATE)"
"$BIN/neutrino" bootstrap "${COMMON[@]}" >"$WORKSPACE/neutrino-bootstrap.log" 2>&1 ||
  { cat "$WORKSPACE/neutrino-bootstrap.log" >&2; die "neutrino bootstrap failed"; }

log "starting neutrino serve on 127.0.0.1:$PORT (log: $SERVER_LOG)"
"$BIN/neutrino" serve "${COMMON[@]}" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
"$PY" - "$PORT" "$SERVER_PID" <<'EOF' || { tail -n 50 "$SERVER_LOG" >&2; die "neutrino did not start"; }
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            sys.exit(0)
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(1)
        time.sleep(0.2)
sys.exit(1)
EOF

if [ "$AGENTS" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "--agents builds network namespaces: run as root"
  [ -z "$EXTERNAL" ] || die "--agents brings its own external network; drop --external"
  log "starting a lab: one hypervisor, one network node (L3, DHCP), external network"
  rm -rf "$LAB_DIR"
  NEUTRINO_LAB_DIR="$LAB_DIR" OS_AUTH_URL="http://127.0.0.1:$PORT/v3" OS_USERNAME=admin \
    OS_PASSWORD="$PASSWORD" OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default \
    OS_PROJECT_DOMAIN_NAME=Default \
    "$BIN/neutrino" lab up --hosts 1 --network-nodes 1 --external \
    --prefix "nc$("$PY" -c 'import secrets; print(secrets.token_hex(3))')-" \
    >"$WORKSPACE/lab-up.log" 2>&1 || { tail -n 30 "$WORKSPACE/lab-up.log" >&2; die "lab up failed"; }
  EXTRA+=(--public-network-id auto)
fi

if [ -n "$EXTERNAL" ]; then
  log "creating the external network public ($EXTERNAL)"
  "$PY" - "$PORT" "$EXTERNAL" <<'EOF' || die "could not create the external network"
import json, os, sys, urllib.request
port, cidr = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
def call(path, body, token=None):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers.get("X-Subject-Token"), json.load(r)
scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
user = {"name": "admin", "domain": {"id": "default"},
        "password": os.environ["NEUTRINO_ADMIN_PASSWORD"]}
token, _ = call("/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"],
                "password": {"user": user}}, "scope": scope}})
_, net = call("/v2.0/networks", {"network": {
    "name": "public", "router:external": True, "provider:network_type": "flat",
    "provider:physical_network": "public"}}, token)
call("/v2.0/subnets", {"subnet": {"name": "public-subnet", "network_id": net["network"]["id"],
                                  "cidr": cidr, "ip_version": 4, "enable_dhcp": False}},
     token)
EOF
  EXTRA+=(--public-network-id auto)
fi

SELECT=(--stage "$STAGE")  # run.sh takes --stage or --include-list, not both
for arg in "${EXTRA[@]}"; do
  case "$arg" in --include-list|--include-list=*) SELECT=() ;; esac
done

log "running the conformance harness, ${SELECT[*]:-selected tests} (workspace $WORKSPACE)"
set +e
"$HARNESS" --auth-url "http://127.0.0.1:$PORT/v3" --admin-user admin \
  --admin-password "$PASSWORD" --admin-project admin "${SELECT[@]}" --extensions auto \
  --concurrency "$CONCURRENCY" --workspace "$WORKSPACE" "${EXTRA[@]}"
rc=$?
set -e

if [ -f "$WORKSPACE/summary.txt" ]; then
  printf '\nconformance stage %s (%s): %s\n' "$STAGE" "$WORKSPACE" "$(tail -n 1 "$WORKSPACE/summary.txt")"
fi
exit "$rc"
