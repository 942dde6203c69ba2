#!/usr/bin/env bash
# The dashboard's browser tests (tests/browser/): starts the given berth binary (it embeds the
# dashboard: build it with scripts/build-dashboard.sh first) on SQLite on a free loopback port,
# with the machine's Docker engine (Swarm, initialised if it is not; the local base image of
# scripts/base-image.sh), and runs each test in Debian's chromium through Playwright. Screenshots go to
# ${BERTH_BROWSER_OUT:-target/browser}/<test>/.
#   scripts/test-browser.sh target/debug/berth
set -euo pipefail
bin=${1:?path to the berth binary}
out=${BERTH_BROWSER_OUT:-target/browser}
[[ -x /usr/bin/chromium ]] || { echo "test-browser: /usr/bin/chromium is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
python3 -c 'import playwright' 2>/dev/null || { echo "test-browser: Playwright is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
pids=() dirs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for dir in "${dirs[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT
for test in tests/browser/*.py; do
  name=$(basename "$test" .py)
  dir=$(mktemp -d /tmp/berth-browser.XXXXXX)
  dirs+=("$dir")
  BERTH_EDGE=external BERTH_BCRYPT_COST=4 \
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --log-level warn >"$dir/out" 2>"$dir/err" &
  pids+=("$!")
  until grep -q 'listening on' "$dir/out" 2>/dev/null; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
    sleep 0.05
  done
  addr=$(sed -n 's|listening on http://||p' "$dir/out")
  echo "test-browser: $name against http://$addr"
  python3 "$test" "http://$addr" "$out/$name"
done
