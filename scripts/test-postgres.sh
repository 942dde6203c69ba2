#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster made from the installed server binaries:
#   scripts/test-postgres.sh cargo nextest run ...
# The cluster lives in a temporary directory on a free loopback port and is removed when the
# command ends, however it ends. The command sees:
#   BERTH_TEST_PG_URL        a URL for the role `berth` (NOSUPERUSER NOBYPASSRLS CREATEDB), the
#                            kind of role berth runs as; tests create their own database with it
#   BERTH_TEST_PG_ADMIN_URL  a superuser URL, for tests that check berth refuses such a role
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "test-postgres: no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql-15)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/berth-pg.XXXXXX)
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  # PostgreSQL refuses to run as root: run the server as the postgres system user.
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" >/dev/null
"$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE berth LOGIN PASSWORD 'berth' NOSUPERUSER NOBYPASSRLS CREATEDB" >/dev/null

export BERTH_TEST_PG_URL="postgres://berth:berth@127.0.0.1:$port/postgres"
export BERTH_TEST_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "test-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
