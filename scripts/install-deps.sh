#!/usr/bin/env bash
# Installs what `make test` and `make bench` need and the machine lacks. Safe to run again.
set -euo pipefail

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null && sudo_cmd=(sudo)
fi

apt_packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
command -v psql >/dev/null || apt_packages+=(postgresql-client)
command -v python3 >/dev/null || apt_packages+=(python3)
command -v git >/dev/null || apt_packages+=(git)
command -v ssh-keygen >/dev/null || apt_packages+=(openssh-client)
command -v openssl >/dev/null || apt_packages+=(openssl)
# Certificates: Let's Encrypt's test CA, and a DNS server for names and DNS-01.
command -v pebble >/dev/null || apt_packages+=(pebble)
[[ -x /usr/sbin/named ]] || apt_packages+=(bind9)
# The PostgreSQL image the database tests pull is made from these packages' files
# (scripts/database-image.sh).
for p in postgresql-15 postgresql-client-15; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || apt_packages+=("$p")
done
# A registry on loopback: applications' images pulled at deployment (tests/it/registry.rs).
[[ -x /usr/bin/docker-registry ]] || apt_packages+=(docker-registry)
# The dashboard's generated client: openapi-generator runs on Java, tsc type-checks the result.
command -v java >/dev/null || apt_packages+=(openjdk-17-jre-headless)
command -v tsc >/dev/null || apt_packages+=(node-typescript)
# The dashboard: React and its types, Chart.js, the bundler, and the browser its tests drive.
[[ -d /usr/share/nodejs/react ]] || apt_packages+=(node-react)
[[ -d /usr/share/nodejs/react-dom ]] || apt_packages+=(node-react-dom)
command -v esbuild >/dev/null || apt_packages+=(esbuild)
[[ -d /usr/share/nodejs/chart.js ]] || apt_packages+=(node-chart.js)
[[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
if [[ ${1:-} == bench ]]; then
  command -v curl >/dev/null || apt_packages+=(curl)
  command -v wrk >/dev/null || apt_packages+=(wrk)
  # The edge router is measured beside these two.
  [[ -x /usr/sbin/nginx ]] || apt_packages+=(nginx)
  command -v caddy >/dev/null || apt_packages+=(caddy)
fi
if ((${#apt_packages[@]})); then
  echo "install-deps: installing ${apt_packages[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest
# The contract check of `make test` (scripts/test-contract.sh), the client generator and the
# browser driver, from PyPI (openapi-generator-cli carries its jar and runs on the machine's
# Java; Playwright drives Debian's chromium, its own browser download being out of reach).
python_tools=()
command -v schemathesis >/dev/null || python_tools+=(schemathesis==4.32.5)
command -v openapi-generator-cli >/dev/null || python_tools+=(openapi-generator-cli==7.26.0)
python3 -c 'import playwright' 2>/dev/null || python_tools+=(playwright==1.65.2)
if ((${#python_tools[@]})); then
  echo "install-deps: installing ${python_tools[*]}"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${python_tools[@]}"
fi
