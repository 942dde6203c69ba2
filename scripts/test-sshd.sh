#!/usr/bin/env bash
# Prints the path of an OpenSSH server the build engine's tests can start on loopback, and the
# library path it needs, as two lines. The server comes from Debian's openssh-server package,
# unpacked into a cache directory rather than installed, so nothing starts on the host's
# port 22 and no system user is created.
set -euo pipefail
dir=${BERTH_SSHD_DIR:-/tmp/berth-sshd}
if [[ ! -x $dir/root/usr/sbin/sshd ]]; then
  mkdir -p "$dir/debs"
  cd "$dir/debs"
  if ! ls openssh-server_*.deb libwrap0_*.deb >/dev/null 2>&1; then
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
    apt-get download openssh-server libwrap0 >/dev/null 2>&1
  fi
  for deb in openssh-server_*.deb libwrap0_*.deb; do
    dpkg-deb -x "$deb" "$dir/root"
  done
fi
echo "$dir/root/usr/sbin/sshd"
echo "$dir/root/lib/x86_64-linux-gnu:$dir/root/usr/lib/x86_64-linux-gnu"
