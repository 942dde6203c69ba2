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
# shellcheck source=lib/serve.sh
source "$(dirname "$0")/lib/serve.sh"
for test in tests/browser/*.py; do
  name=$(basename "$test" .py)
  serve "$bin" BERTH_EDGE=external
  echo "test-browser: $name against http://$addr"
  python3 "$test" "http://$addr" "$out/$name"
done
