# Sourced by the scripts that drive a real berth binary from outside (test-contract.sh,
# test-browser.sh): `serve BIN [NAME=VALUE...]` starts `BIN serve` on a free loopback port with
# a fresh data directory and the given environment, waits until it listens, and sets `addr`
# (host:port) and `served_dir`. Every berth started is stopped, and its directory removed, when
# the script exits, however it exits.
served_pids=() served_dirs=()
served_cleanup() {
  for pid in "${served_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for dir in "${served_dirs[@]}"; do rm -rf "$dir"; done
}
trap served_cleanup EXIT

serve() {
  local bin=$1 pid
  shift
  served_dir=$(mktemp -d /tmp/berth-served.XXXXXX)
  served_dirs+=("$served_dir")
  env BERTH_BCRYPT_COST=4 "$@" "$bin" serve --listen 127.0.0.1:0 --data-dir "$served_dir/data" \
    --log-level warn >"$served_dir/out" 2>"$served_dir/err" &
  pid=$!
  served_pids+=("$pid")
  until grep -q 'listening on' "$served_dir/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$served_dir/err" >&2; return 1; }
    sleep 0.05
  done
  addr=$(sed -n 's|listening on http://||p' "$served_dir/out")
}
