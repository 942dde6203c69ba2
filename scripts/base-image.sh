#!/usr/bin/env bash
# Makes the local base image the tests build FROM, since the engine has no registry to pull
# from: a root filesystem holding Debian's statically linked busybox (with a link for each of
# its applets), imported with `docker import`. Idempotent: an existing image is kept.
#   scripts/base-image.sh [tag]        (default berth-test/busybox:latest)
set -euo pipefail
tag=${1:-berth-test/busybox:latest}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base-image: $tag is there"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! ls /var/cache/apt/archives/busybox-static_*.deb >/dev/null 2>&1; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
  "${sudo_cmd[@]}" apt-get install -y -qq --download-only busybox-static >/dev/null
fi
deb=$(ls /var/cache/apt/archives/busybox-static_*.deb | sort -V | tail -n1)
dpkg-deb -x "$deb" rootfs
mkdir -p rootfs/{etc,tmp,www,root,proc,sys,dev,var/www}
chmod 1777 rootfs/tmp
# One link per applet, so `sh`, `httpd`, `cat`... exist as commands.
for applet in $(rootfs/bin/busybox --list); do
  [[ -e rootfs/bin/$applet ]] || ln -s busybox "rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >rootfs/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >rootfs/etc/group
tar -C rootfs -c . | docker import \
  --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
  --change 'CMD ["/bin/sh"]' \
  - "$tag" >/dev/null
echo "base-image: made $tag from $(basename "$deb")"
