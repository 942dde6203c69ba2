#!/usr/bin/env bash
# Makes the local base image the tests build FROM, since the engine has no registry to pull
# from: a root filesystem holding Debian's statically linked busybox (with a link for each of
# its applets), imported with `docker import`. Idempotent: an existing image is kept.
#   scripts/base-image.sh [tag]        (default berth-test/busybox:latest)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=${1:-berth-test/busybox:latest}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base-image: $tag is there"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$here/lib/busybox.sh"
busybox_rootfs rootfs
mkdir -p rootfs/{www,var/www}
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >rootfs/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >rootfs/etc/group
tar -C rootfs -c . | docker import \
  --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
  --change 'CMD ["/bin/sh"]' \
  - "$tag" >/dev/null
echo "base-image: made $tag from $busybox_deb"
