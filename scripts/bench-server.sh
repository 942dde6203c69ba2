#!/usr/bin/env bash
# Measures berth as `make run` starts it (`berth serve` with `edge = process`, so the edge
# router runs as a second process, `berth edge`), on a fresh data directory (SQLite,
# migrations included): the time from exec to the "listening" line and to the first 200 from
# /readyz, and the resident memory of both processes once they idle, before and after some
# traffic. Prints a Markdown table for docs/benchmarks.md.
#   scripts/bench-server.sh target/release/berth [runs]
# The environment of `make run` comes from the Makefile (RUN_ENV); the listeners are on
# loopback ports the kernel picks, so the run cannot clash with anything on the machine.
set -euo pipefail
bin=${1:?path to the berth binary}
runs=${2:-20}

now_ns() { date +%s%N; }
kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
# Proportional set size: each page shared with the other process (the binary's code, mapped
# by both) counted half, so the two add up to what they take together.
pss() { awk '$1 == "Pss:" {print $2}' "/proc/$1/smaps_rollup"; }
# CPU time of the given processes in clock ticks (user + system).
ticks() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done; echo "$t"; }
describe() { # pid -> "RSS (anon + file; PSS)"
  echo "$(mib "$(kib "$1" VmRSS)") ($(mib "$(kib "$1" RssAnon)") + $(mib "$(kib "$1" RssFile)"); PSS $(mib "$(pss "$1")"))"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
ready_ms=() listen_ms=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(now_ns)
  env BERTH_EDGE="${BERTH_EDGE:-process}" BERTH_PROXY_HTTP=127.0.0.1:0 BERTH_PROXY_HTTPS=127.0.0.1:0 \
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --log-level warn >"$dir/out" 2>"$dir/err" &
  pid=$!
  while ! grep -q 'listening on' "$dir/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
    sleep 0.001
  done
  listened=$(now_ns)
  addr=$(sed -n 's|listening on http://||p' "$dir/out")
  until curl -fs "http://$addr/readyz" >/dev/null; do sleep 0.001; done
  ready=$(now_ns)
  listen_ms+=($(( (listened - start) / 1000000 )))
  ready_ms+=($(( (ready - start) / 1000000 )))
  if [[ $i -eq 1 ]]; then
    sleep 3
    edge=$(cat "$dir/data/edge.pid" 2>/dev/null || true)
    if [[ ${BERTH_EDGE:-process} == process && -z $edge ]]; then
      echo "bench-server: no router process (data/edge.pid)" >&2; cat "$dir/err" >&2; exit 1
    fi
    serve_idle=$(describe "$pid")
    edge_idle=$([[ -n $edge ]] && describe "$edge" || echo "embedded in \`berth serve\`")
    both_pss=$(pss "$pid")
    if [[ -n $edge ]]; then both_pss=$(( both_pss + $(pss "$edge") )); fi
    # CPU of the idle control plane (both processes), over 10 s.
    t0=$(ticks "$pid" $edge)
    sleep 10
    t1=$(ticks "$pid" $edge)
    idle_cpu=$(awk -v d=$(( t1 - t0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d / hz / 10 * 100}')
    # Some traffic, then idle again.
    for _ in $(seq 1 200); do curl -fs "http://$addr/healthz" >/dev/null; done
    sleep 2
    serve_after=$(mib "$(kib "$pid" VmRSS)")
  fi
  kill -TERM "$pid"; wait "$pid" || true
  # The router of `edge = process` outlives the control plane by design: stop it too.
  if [[ -f $dir/data/edge.pid ]]; then kill -TERM "$(cat "$dir/data/edge.pid")" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do [[ -f $dir/data/edge.pid ]] || break; sleep 0.05; done
  rm -rf "$dir"
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d / %d / %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "| measure (${runs} runs, min / median / max) | value |"
echo "|---|---|"
echo "| exec to listening, fresh SQLite with migrations (ms) | $(stats "${listen_ms[@]}") |"
echo "| exec to first 200 from /readyz (ms) | $(stats "${ready_ms[@]}") |"
echo "| resident memory idle after start, \`berth serve\` (MiB: RSS (anonymous + file; PSS)) | $serve_idle |"
echo "| resident memory idle after start, \`berth edge\` (MiB: RSS (anonymous + file; PSS)) | $edge_idle |"
echo "| both processes together, idle after start (MiB, PSS) | $(mib "$both_pss") |"
echo "| resident memory of \`berth serve\` idle after 200 requests (MiB) | $serve_after |"
echo "| CPU of both processes while idle, over 10 s (% of one core) | $idle_cpu |"
echo "| binary size (MiB) | $(du -m "$bin" | awk '{print $1}') |"
