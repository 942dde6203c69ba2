#!/usr/bin/env bash
# The dashboard's browser tests (tests/browser/*.py, not the _-prefixed helpers): starts the
# given berth binary (it embeds the dashboard: build it with scripts/build-dashboard.sh first)
# for each test, on SQLite on a free loopback port, with the machine's Docker engine (Swarm,
# initialised if it is not; the local base image of scripts/base-image.sh) and a directory of
# git repositories berth may fetch from (the test's own, passed as its third argument), and
# runs the test in Debian's chromium through Playwright. Screenshots go to
# ${BERTH_BROWSER_OUT:-target/browser}/<test>/.
#   scripts/test-browser.sh target/debug/berth [TEST...]
set -euo pipefail
bin=${1:?path to the berth binary}
shift
out=${BERTH_BROWSER_OUT:-target/browser}
[[ -x /usr/bin/chromium ]] || { echo "test-browser: /usr/bin/chromium is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
python3 -c 'import playwright' 2>/dev/null || { echo "test-browser: Playwright is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
command -v git >/dev/null || { echo "test-browser: git is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
# shellcheck source=lib/serve.sh
source "$(dirname "$0")/lib/serve.sh"
tests=("$@")
((${#tests[@]})) || tests=(tests/browser/[!_]*.py)
for test in "${tests[@]}"; do
  name=$(basename "$test" .py)
  repos=$(mktemp -d /tmp/berth-browser-git.XXXXXX)
  served_dirs+=("$repos")
  serve "$bin" BERTH_EDGE=external BERTH_GIT_LOCAL_ROOTS="$repos" \
    BERTH_DEPLOYMENT_LOG_MAX_LINES=200000 BERTH_DEPLOYMENT_LOG_MAX_MB=32
  echo "test-browser: $name against http://$addr"
  python3 "$test" "http://$addr" "$out/$name" "$repos"
done
