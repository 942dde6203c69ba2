#!/usr/bin/env bash
# Measures `berth serve` as it starts on a fresh data directory (SQLite, migrations included):
# the time from exec to the "listening" line and to the first 200 from /readyz, and the
# resident memory once it idles. Prints a Markdown table for docs/benchmarks.md.
#   scripts/bench-server.sh target/release/berth [runs]
set -euo pipefail
bin=${1:?path to the berth binary}
runs=${2:-20}

now_ns() { date +%s%N; }
ready_ms=() listen_ms=() rss_kb=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(now_ns)
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
    rss_kb+=($(awk '/VmRSS/ {print $2}' /proc/$pid/status))
    # Some traffic, then idle again.
    for _ in $(seq 1 200); do curl -fs "http://$addr/healthz" >/dev/null; done
    sleep 2
    rss_kb+=($(awk '/VmRSS/ {print $2}' /proc/$pid/status))
  fi
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$dir"
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d / %d / %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "| measure (${runs} runs, min / median / max) | value |"
echo "|---|---|"
echo "| exec to listening, fresh SQLite with migrations (ms) | $(stats "${listen_ms[@]}") |"
echo "| exec to first 200 from /readyz (ms) | $(stats "${ready_ms[@]}") |"
echo "| resident memory idle after start (MiB) | $(awk -v k="${rss_kb[0]}" 'BEGIN {printf "%.1f", k/1024}') |"
echo "| resident memory idle after 200 requests (MiB) | $(awk -v k="${rss_kb[1]}" 'BEGIN {printf "%.1f", k/1024}') |"
echo "| binary size (MiB) | $(du -m "$bin" | awk '{print $1}') |"
