# Sourced by the scripts that make the tests' images (base-image.sh, database-image.sh):
# `busybox_rootfs DIR` unpacks Debian's statically linked busybox into DIR (downloading the
# package once, into apt's cache) with a link for each of its applets, so `sh`, `cat`,
# `httpd`... exist as commands, and the directories and accounts every image needs.
busybox_rootfs() {
  local root=$1 deb applet
  if ! ls /var/cache/apt/archives/busybox-static_*.deb >/dev/null 2>&1; then
    local sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
    "${sudo_cmd[@]}" apt-get install -y -qq --download-only busybox-static >/dev/null
  fi
  deb=$(ls /var/cache/apt/archives/busybox-static_*.deb | sort -V | tail -n1)
  dpkg-deb -x "$deb" "$root"
  for applet in $("$root/bin/busybox" --list); do
    [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done
  mkdir -p "$root"/{etc,tmp,root,proc,sys,dev}
  chmod 1777 "$root/tmp"
  busybox_deb=$(basename "$deb")
}
