#!/usr/bin/env bash
# Measures the idle control plane of a grown installation, started as `make run` starts berth
# (`berth serve` and the router as `berth edge`): 1,000 applications with 5,000 domains in the
# SQLite database (written by `bench_scale seed`), none of them running. Prints the CPU both
# processes use over 20 s of idling, and how often and how long the router rebuilt its routing
# table meanwhile and how long making one took (from its debug log), as a Markdown table for docs/benchmarks.md.
#   scripts/bench-scale.sh target/release/berth target/release/examples/bench_scale
set -euo pipefail
bin=${1:?path to the berth binary}
seed=${2:?path to the bench_scale example}

ticks() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done; echo "$t"; }
dir=$(mktemp -d)
trap 'kill -TERM "${pid:-}" "$(cat "$dir/data/edge.pid" 2>/dev/null)" 2>/dev/null || true; sleep 1; rm -rf "$dir"' EXIT
"$seed" seed "$dir/data"
env BERTH_EDGE="${BERTH_EDGE:-process}" BERTH_PROXY_HTTP=127.0.0.1:0 BERTH_PROXY_HTTPS=127.0.0.1:0 \
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --log-level "warn,berth_edge=debug" \
  >"$dir/out" 2>"$dir/err" &
pid=$!
until grep -q 'listening on' "$dir/out" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
  sleep 0.01
done
addr=$(sed -n 's|listening on http://||p' "$dir/out")
until curl -fs "http://$addr/readyz" >/dev/null; do sleep 0.01; done
# Let the first rounds (migrations, swarm, first table, first reconciliation) pass.
sleep 10
edge=$(cat "$dir/data/edge.pid" 2>/dev/null || true)
[[ -n $edge ]] || { echo "bench-scale: no router process (data/edge.pid)" >&2; cat "$dir/err" >&2; exit 1; }
logs() { cat "$dir/out" "$dir/err" "$dir/data/edge.log" 2>/dev/null; }
before=$(logs | grep -c 'routing table rebuilt' || true)
t0=$(ticks "$pid" "$edge"); s0=$(ticks "$pid")
sleep 20
t1=$(ticks "$pid" "$edge"); s1=$(ticks "$pid")
rebuilds=$(logs | grep 'routing table rebuilt' | tail -n +"$(( before + 1 ))")
count=$(printf '%s' "$rebuilds" | grep -c . || true)
# Every table made, the first (at start) included: the store read, the engine's listing and
# the table itself.
made=$(logs | sed -n 's/.*elapsed_ms=\([0-9.]*\).*routing table rebuilt.*/\1/p; s/.*routing table rebuilt.*elapsed_ms=\([0-9.]*\).*/\1/p' \
  | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f (%d made)", a[int((NR+1)/2)], NR; else print "none"}')
pct() { awk -v d="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d / hz / 20 * 100}'; }
cpu=$(pct $(( t1 - t0 ))); serve_cpu=$(pct $(( s1 - s0 ))); edge_cpu=$(pct $(( t1 - t0 - s1 + s0 )))
echo "| idle control plane, 1,000 applications and 5,000 domains (SQLite, none running) | value |"
echo "|---|---|"
echo "| CPU of both processes over 20 s (% of one core) | $cpu (\`berth serve\` $serve_cpu, \`berth edge\` $edge_cpu) |"
echo "| routing table rebuilds in those 20 s | $count |"
echo "| time to make the table of 5,000 domains (store read, engine listing, table), median (ms) | $made |"
