#!/usr/bin/env bash
# Loads an authenticated `GET /api/v1/projects` (100 projects present) with wrk, on SQLite and
# on Postgres, beside a trivial actix-web handler as the ceiling, and prints a Markdown table
# for docs/benchmarks.md. berth runs as `make run` starts it (the router in a process of its
# own, on loopback ports here); peak memory is the control plane's VmHWM under the load, and
# the router's resident memory beside it. Needs BERTH_TEST_PG_URL (run it under
# scripts/test-postgres.sh).
#   scripts/bench-api.sh <berth binary> <ceiling binary> [seconds]
set -euo pipefail
bin=${1:?path to the berth binary}
ceiling=${2:?path to the ceiling example binary}
secs=${3:-10}
: "${BERTH_TEST_PG_URL:?run under scripts/test-postgres.sh}"
work=$(mktemp -d)
pids=()
stop_edges() { for f in "$work"/*/edge.pid; do [[ -f $f ]] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done; }
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; stop_edges; rm -rf "$work"' EXIT

wait_listening() { # file pid
  while ! grep -q 'listening on' "$1" 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || { echo "bench-api: the server died" >&2; cat "${1%.out}.err" >&2; exit 1; }
    sleep 0.01
  done
  sed -n 's|listening on http://||p' "$1" | head -n1
}

# wrk's summary as "rps p50 p99"
load() { # url [token]
  local auth=()
  [[ -n ${2:-} ]] && auth=(-H "Authorization: Bearer $2")
  wrk -t2 -c32 -d"${secs}s" --latency "${auth[@]}" "$1" >"$work/wrk.txt"
  if grep -q 'Non-2xx' "$work/wrk.txt"; then cat "$work/wrk.txt" >&2; echo "bench-api: errors under load" >&2; exit 1; fi
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%d %s %s\n", rps, p50, p99}' "$work/wrk.txt"
}

rows=()
for backend in sqlite postgres; do
  data="$work/$backend"
  url=""
  if [[ $backend == postgres ]]; then
    db="berth_bench_$RANDOM$RANDOM"
    psql "$BERTH_TEST_PG_URL" -q -c "CREATE DATABASE $db"
    url="${BERTH_TEST_PG_URL%/*}/$db"
  fi
  env ${url:+BERTH_DATABASE_URL=$url} BERTH_BCRYPT_COST=4 BERTH_EDGE="${BERTH_EDGE:-process}" \
    BERTH_PROXY_HTTP=127.0.0.1:0 BERTH_PROXY_HTTPS=127.0.0.1:0 "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --log-level warn \
    >"$work/$backend.out" 2>"$work/$backend.err" &
  pid=$!; pids+=("$pid")
  addr=$(wait_listening "$work/$backend.out" "$pid")
  token=$(curl -fs -H 'content-type: application/json' -d '{"username":"bench","email":"bench@example.com","password":"bench-password"}' \
    "http://$addr/api/v1/auth/setup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for i in $(seq 1 100); do
    curl -fs -o /dev/null -H 'content-type: application/json' -H "Authorization: Bearer $token" \
      -d "{\"name\":\"project $i\"}" "http://$addr/api/v1/projects"
  done
  total=$(curl -fs -H "Authorization: Bearer $token" "http://$addr/api/v1/projects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  [[ $total == 100 ]] || { echo "bench-api: expected 100 projects, got $total" >&2; exit 1; }
  read -r rps p50 p99 < <(load "http://$addr/api/v1/projects" "$token")
  peak=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  edge=$(cat "$data/edge.pid" 2>/dev/null || true)
  edge_rss=$( [[ -n $edge ]] && awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$edge/status" || echo "no router")
  rows+=("| berth, authenticated GET /api/v1/projects (20 of 100), $backend | $rps | $p50 | $p99 | $peak (router: $edge_rss) |")
  kill -TERM "$pid"; wait "$pid" || true
  stop_edges
done

"$ceiling" 127.0.0.1:0 >"$work/ceiling.out" 2>&1 &
cpid=$!; pids+=("$cpid")
caddr=$(wait_listening "$work/ceiling.out" "$cpid")
read -r rps p50 p99 < <(load "http://$caddr/ceiling")
peak=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$cpid/status")
rows+=("| ceiling: actix-web, trivial JSON handler | $rps | $p50 | $p99 | $peak |")

echo "| what (wrk -t2 -c32 -d${secs}s) | requests/s | p50 | p99 | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
