#!/usr/bin/env bash
# Makes a database server image from the machine's own Debian packages, for the tests, since
# the engine has no registry to pull the official images from. The image keeps the official
# image's contract, so berth runs it exactly as it would run `postgres:15` from Docker Hub:
# the server's files as the package installed them, the shared libraries they load (their
# `ldd` closure), the time zone database, Debian's busybox for a shell, and an entrypoint that
# initialises an empty data directory from POSTGRES_PASSWORD, POSTGRES_USER and POSTGRES_DB
# (each also as a file named by <VARIABLE>_FILE, which is how berth passes a secret) and then
# runs the server as the `postgres` user on every address.
#
# Cached: an image already on the engine is kept; otherwise a tarball under
# ${XDG_CACHE_HOME:-~/.cache}/berth/images/ (written by `docker save`, named after the
# package's version) is loaded; only with neither is the image made, and then saved there.
#   scripts/database-image.sh postgres [tag]     (default berth-test/postgres:15)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=${1:?which database: postgres}
[[ $kind == postgres ]] || { echo "database-image: only postgres is made so far" >&2; exit 2; }
tag=${2:-berth-test/postgres:15}

version=$(dpkg-query -W -f '${Version}' postgresql-15 2>/dev/null) || {
  echo "database-image: Debian's postgresql-15 is not installed (apt-get install postgresql-15)" >&2
  exit 1
}
# What the image is made of: this script, the busybox part and the package's version. An image or a tarball made
# by another recipe is made again.
recipe=$( (cat "$0" "$here/lib/busybox.sh"; echo "$version") | sha256sum | cut -c1-16)
made_by() { docker image inspect -f '{{index .Config.Labels "berth.recipe"}}' "$tag" 2>/dev/null; }
if [[ $(made_by) == "$recipe" ]]; then
  echo "database-image: $tag is there"
  exit 0
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/berth/images
saved=$cache/postgres-15-$recipe.tar
if [[ -s $saved ]]; then
  docker load -q -i "$saved" >/dev/null
  [[ $(made_by) == "$recipe" ]] && { echo "database-image: $tag loaded from $saved"; exit 0; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"

# A shell and the usual commands: Debian's static busybox, one link per applet.
. "$here/lib/busybox.sh"
busybox_rootfs "$root"

# The server's files as its packages installed them, and the time zone database.
{
  dpkg -L postgresql-15 postgresql-client-15 libpq5 | grep -E '^/usr/(lib|share)/postgresql/15/|^/usr/lib/x86_64-linux-gnu/libpq'
  find /usr/share/zoneinfo -mindepth 1
} | while read -r f; do
  if [[ -f $f && ! -L $f ]]; then
    mkdir -p "$root$(dirname "$f")"
    cp -p "$f" "$root$f"
  elif [[ -L $f ]]; then
    mkdir -p "$root$(dirname "$f")"
    cp -P "$f" "$root$f"
  fi
done
# No JIT: its module loads LLVM (over 100 MiB); without it the server runs queries as usual.
rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode
# Every shared library the binaries and modules load, and the loader.
find "$root/usr/lib/postgresql/15" -type f \( -perm -u+x -o -name '*.so' \) -print0 |
  { xargs -0 -n 50 ldd 2>/dev/null || true; } |
  awk '/=> \//{print $3} /^\s*\/lib/{print $1}' | sort -u |
  while read -r lib; do
    for f in "$lib" "$(readlink -f "$lib")"; do
      mkdir -p "$root$(dirname "$f")"
      cp -pP "$f" "$root$f" 2>/dev/null || true
    done
  done
mkdir -p "$root/lib64" "$root/usr/lib/locale"
cp -p /lib64/ld-linux-x86-64.so.2 "$root/lib64/" 2>/dev/null || true
[[ -d /usr/lib/locale/C.utf8 ]] && cp -rp /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
# /lib is a link to usr/lib on Debian: make it one here too, after the copies above.
for d in lib; do
  if [[ -d $root/$d && ! -L $root/$d ]]; then
    cp -rpn "$root/$d/." "$root/usr/$d/" && rm -rf "${root:?}/$d"
  fi
  ln -sfn "usr/$d" "$root/$d"
done

mkdir -p "$root"/{var/run/postgresql,var/lib/postgresql/data,usr/local/bin}
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n' >"$root/etc/group"
chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
chmod 700 "$root/var/lib/postgresql/data"
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# The official image's contract: an empty data directory is initialised with the superuser
# POSTGRES_USER (default postgres) and POSTGRES_PASSWORD, and the database POSTGRES_DB (default
# the user's name); then the server runs, reachable on every address with a password.
set -eu
# A variable may come as a file instead, named by <VARIABLE>_FILE (as berth passes secrets).
for v in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB; do
  eval "file=\${${v}_FILE:-}"
  if [ -n "$file" ]; then
    eval "$v=\$(cat \"\$file\")"
    export "$v"
  fi
done
PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "POSTGRES_PASSWORD is not set: the database would have no password" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "database initialised in $PGDATA"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
EOF
chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"

tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin' \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'USER postgres' \
  --change 'EXPOSE 5432' \
  --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
  --change "LABEL berth.recipe=$recipe" \
  - "$tag" >/dev/null
mkdir -p "$cache"
docker save -o "$saved.part" "$tag" && mv "$saved.part" "$saved"
# Tarballs of earlier recipes are of no use any more.
find "$cache" -maxdepth 1 -name 'postgres-15-*.tar' ! -name "$(basename "$saved")" -delete
echo "database-image: made $tag from postgresql-15 $version ($(du -h "$saved" | cut -f1) saved in $cache)"
