#!/usr/bin/env bash
# Checks that berth answers as its OpenAPI document says: schemathesis (PyPI) generates requests
# from /api/openapi.json and runs all its checks against the real binary, on SQLite and, when
# BERTH_TEST_PG_URL is set (scripts/test-postgres.sh), on Postgres. Fails on any finding.
#   scripts/test-postgres.sh scripts/test-contract.sh target/debug/berth
# BERTH_CONTRACT_EXAMPLES (default 10) bounds the examples per operation; the seed is fixed, so
# a run is repeatable.
set -euo pipefail
bin=${1:?path to the berth binary}
shift
examples=${BERTH_CONTRACT_EXAMPLES:-10}
command -v schemathesis >/dev/null || {
  echo "test-contract: schemathesis is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
}

# shellcheck source=lib/serve.sh
source "$(dirname "$0")/lib/serve.sh"

run() {
  local backend=$1 url=${2:-} token
  serve "$bin" ${url:+BERTH_DATABASE_URL=$url} BERTH_EDGE=external BERTH_SWARM_INIT=false
  token=$(python3 - "$addr" <<'PY'
import json, sys, urllib.request
base = f"http://{sys.argv[1]}/api/v1"
def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)
session = post("/auth/setup", {"username": "admin", "email": "admin@example.com",
                               "password": "correct horse battery staple"})
# A personal token: the generated requests may log a session out, not revoke this.
made = post("/tokens", {"name": "contract"}, session["token"])
print(made["token"])
PY
)
  echo "test-contract: $backend, $examples examples per operation"
  schemathesis run "http://$addr/api/openapi.json" \
    --checks all --seed 1 --max-examples "$examples" --workers 1 \
    --header "Authorization: Bearer $token" \
    --no-color "${@:3}"
}

run sqlite "" "$@"
if [[ -n ${BERTH_TEST_PG_URL:-} ]]; then
  db=berth_contract
  psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)
  PGOPTIONS=--client-min-messages=warning "$psql" "$BERTH_TEST_PG_URL" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  run postgres "${BERTH_TEST_PG_URL%/*}/$db" "$@"
fi
