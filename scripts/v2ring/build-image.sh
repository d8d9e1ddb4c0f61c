#!/usr/bin/env bash
# Builds the v2 ring's guest: a Debian bookworm root file system (ext4
# image), the distribution kernel and a busybox initrd that loads the few
# modules needed to reach that root. Prints the directory holding
# vmlinuz, initrd.gz and rootfs.img.
#
# The result is cached under $V2RING_CACHE (default
# /var/cache/zonetop-v2ring), keyed by a hash of the package list and this
# script, so a second run on the same machine skips the ~2 minutes of
# debootstrap. Everything the guest runs per test run comes over 9p, so
# changing the tests or guest.sh does not invalidate the image.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${V2RING_CACHE:-/var/cache/zonetop-v2ring}

# What the tests call inside the guest: zones need busybox-static, the
# brand tests tar/xz/zstd and dash/ldd (base), net tests ip/nsenter,
# the console test tmux, keyutils for the keyring tests; dbus and
# libpam-systemd make `su -l` open a real logind session (the login
# context); kmod lets the kernel load modules (veth, bridge) on demand.
packages=(systemd systemd-sysv dbus libpam-systemd kmod busybox-static
  iproute2 util-linux keyutils tmux xz-utils zstd tar procps)
suite=bookworm

key=$( { printf '%s\n' "$suite" "${packages[@]}"; cat "$0"; } | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -s "$out/rootfs.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ]; then
  echo "v2ring: guest image cached in $out" >&2
  echo "$out"
  exit 0
fi

# The Debian mirror this machine's apt uses (deb822 .sources or one-line
# sources.list): the only package host this machine may reach.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # A paragraph whose Types has deb and whose Suites has the suite
    # itself (not -security, not -updates): its first URI.
    awk -v suite="$suite" '
      BEGIN { RS=""; FS="\n" }
      {
        t=""; s=""; u=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) t = $i
          if ($i ~ /^Suites:/) s = " " substr($i, 8) " "
          if ($i ~ /^URIs:/) { split(substr($i, 6), a, " "); u = a[1] }
        }
        if (t ~ /[ \t]deb([ \t]|$)/ && s ~ ("[ \t]" suite "[ \t]") && u != "") { print u; exit }
      }' "$f"
  done
  if [ -f /etc/apt/sources.list ]; then
    awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }' /etc/apt/sources.list
  fi
}
url=$(mirror | head -n1)
if [ -z "$url" ]; then
  echo "v2ring: no deb source for $suite in /etc/apt/sources.list*" >&2
  exit 1
fi

# Two levels of cache: the debootstrapped root (keyed by the package
# list alone: minutes of downloads) and the finished image (keyed by this
# script too: seconds). Changing how the image is put together reuses
# the root.
mkdir -p "$cache"
rootkey=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-16)
base="$cache/root-$rootkey"
t0=$SECONDS
if [ ! -f "$base.done" ]; then
  rm -rf "$base"
  echo "v2ring: debootstrap $suite from $url" >&2
  inc=$(IFS=,; echo "${packages[*]}")
  if ! nice -n 10 debootstrap --variant=minbase --include="$inc" "$suite" "$base" "$url" >"$cache/debootstrap.log" 2>&1; then
    tail -n 40 "$cache/debootstrap.log" >&2
    [ -f "$base/debootstrap/debootstrap.log" ] && tail -n 40 "$base/debootstrap/debootstrap.log" >&2
    rm -rf "$base"
    exit 1
  fi
  rm -rf "$base/var/cache/apt/archives/"*.deb
  touch "$base.done"
  echo "v2ring: root file system in $((SECONDS - t0)) s" >&2
fi
work=$(mktemp -d "$cache/build.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
root="$work/root"
cp -a "$base" "$root"

# The kernel: the image package linux-image-amd64 points at, unpacked
# (installing it would run initramfs-tools for minutes for an initrd we
# do not want). Its modules go into the root too, so that the guest's
# kernel can load what the tests ask for (veth, bridge, ...).
t1=$SECONDS
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
if [ -z "$kpkg" ]; then
  apt-get update -qq
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
fi
mkdir -p "$work/deb" "$work/kernel"
# apt-get download drops privileges to _apt, which must be able to write.
chown _apt "$work/deb" 2>/dev/null || true
(cd "$work/deb" && apt-get download -q "$kpkg" >&2)
dpkg-deb -x "$work/deb/"*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
mkdir -p "$root/lib/modules"
cp -a "$work/kernel/lib/modules/$kver" "$root/lib/modules/"
# The guests own depmod (kmod): the build machine may have none.
chroot "$root" depmod "$kver"

# The initrd: static busybox, the modules to reach /dev/vda (virtio
# block over PCI), ext4 and 9p (for the share), each with what it needs,
# in load order. A module the kernel has built in is not loaded.
# ext4 asks the crypto API for crc32c at mount; the initrd has no
# modprobe to answer that, so the generic one is loaded ahead.
mods=(virtio_pci virtio_blk crc32c_generic ext4 9pnet_virtio 9p)
# modules.dep is depmod's (above); the package ships none.
mdir="$root/lib/modules/$kver"
ordered=()
add_mod() {
  local name=$1 line file dep
  # modules.dep names files; module names use _ where files may use -.
  line=$(awk -v n="$name" -F: '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.[a-z]+)?$/, "", f); gsub(/-/, "_", f); if (f == n) { print; exit } }' "$mdir/modules.dep")
  if [ -z "$line" ]; then
    if grep -Eq "/${name//_/[_-]}\.ko\$" "$mdir/modules.builtin"; then
      return 0
    fi
    echo "v2ring: module $name neither in modules.dep nor built in" >&2
    exit 1
  fi
  file=${line%%:*}
  for dep in ${line#*:}; do
    dep=${dep##*/}
    dep=${dep%%.ko*}
    add_mod "${dep//-/_}"
  done
  for f in "${ordered[@]}"; do [ "$f" = "$file" ] && return 0; done
  ordered+=("$file")
}
for m in "${mods[@]}"; do add_mod "$m"; done
ird="$work/initrd"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,mods}
cp /bin/busybox "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
loads=""
for f in "${ordered[@]}"; do
  b=${f##*/}
  case "$b" in
    *.ko) cp "$mdir/$f" "$ird/mods/$b" ;;
    *.ko.xz) xz -dc "$mdir/$f" >"$ird/mods/${b%.xz}"; b=${b%.xz} ;;
    *.ko.zst) zstd -qdc "$mdir/$f" >"$ird/mods/${b%.zst}"; b=${b%.zst} ;;
    *) echo "v2ring: unknown module file $f" >&2; exit 1 ;;
  esac
  loads+="insmod /mods/$b || echo \"initrd: insmod $b failed\""$'\n'
done
cat >"$ird/init" <<EOF
#!/bin/sh
# Loads the modules the root needs, mounts it and hands over to systemd.
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sys /sys
busybox mount -t devtmpfs dev /dev
busybox --install -s /bin
$loads
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; sleep 2; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
EOF
chmod 755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"
echo "v2ring: kernel $kver and initrd in $((SECONDS - t1)) s" >&2

# The guest's own configuration: root on the virtio disk, the 9p share,
# and the one unit that runs the ring (guest.sh, from the share) and
# then powers the machine off whatever happened.
t2=$SECONDS
echo v2ring >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 v2ring\n' >"$root/etc/hosts"
cat >"$root/etc/fstab" <<'EOF'
/dev/vda / ext4 rw 0 0
v2ring /mnt/v2ring 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
EOF
mkdir -p "$root/mnt/v2ring"
# No password for root: `su -l` from root needs none anyway, and the
# serial console stays usable for someone debugging by hand.
chroot "$root" passwd -d root >/dev/null
cat >"$root/etc/systemd/system/v2ring.service" <<'EOF'
[Unit]
Description=zonetop cgroup v2 ring
After=local-fs.target systemd-logind.service dbus.service systemd-user-sessions.service
RequiresMountsFor=/mnt/v2ring
# [Unit] keys: systemd-analyze verify, which the ring runs on dist/,
# reports the unit's own misplaced keys too.
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
# The unit's cgroup is handed to the ring, which moves processes and
# makes cgroups inside it.
Delegate=yes
ExecStart=/bin/bash /mnt/v2ring/guest.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
chroot "$root" systemctl enable v2ring.service >/dev/null 2>&1
# Nothing to wait for on the network, no timers waking up during tests.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer >/dev/null 2>&1 || true
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/debootstrap"

# ext4 straight from the directory: no loop device, no mount. Sparse,
# with room for the tests' zone roots (writes go to qemu's -snapshot
# overlay anyway).
used=$(du -sm "$root" | cut -f1)
nice -n 10 mkfs.ext4 -q -F -L v2ring -d "$root" "$work/rootfs.img" "$((used + 1536))M" >&2
echo "v2ring: ext4 image in $((SECONDS - t2)) s" >&2

mkdir -p "$out.new"
mv "$work/vmlinuz" "$work/initrd.gz" "$work/rootfs.img" "$out.new/"
echo "$kver" >"$out.new/kver"
rm -rf "$out"
mv "$out.new" "$out"
# Older keys are images nobody will ask for again.
for d in "$cache"/*; do
  case "$d" in "$out" | "$base" | "$base.done" | "$work") continue ;; esac
  rm -rf "$d"
done
echo "$out"
