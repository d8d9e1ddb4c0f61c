#!/usr/bin/env bash
# Builds a Debian package of zonetop from the tree: what `make install`
# lays out under /usr, plus the package's control file.
#
# Usage: scripts/deb.sh [OUTDIR]   (default: bin/)
# Environment: BIN, ZBIN and ZINIT, where make install builds zonetop, the
# per-zone zoneadmd and the zones' zinit (default: a scratch directory).
#
# Debian's own prctl package ships /usr/bin/prctl and prctl(1). The zones
# prctl goes to /usr/sbin (where illumos keeps zoneadm, zonecfg and
# zlogin, and which comes before /usr/bin on root's PATH) with its manual
# page in section 8, so the two packages install side by side and root
# gets the zones prctl; docs/DECISIONS.md says why.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin}
for tool in dpkg-deb make cc; do
  command -v "$tool" >/dev/null || { echo "deb: $tool missing (apt-get install dpkg-dev make gcc libc6-dev)" >&2; exit 1; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
# make install builds the binaries (zonetop, the per-zone zoneadmd and
# zinit) at the paths it is given.
built=${BIN:-$stage/zonetop}
zbuilt=${ZBIN:-$(dirname "$built")/zoneadmd}
ibuilt=${ZINIT:-$(dirname "$built")/zinit}
make -s install DESTDIR="$root" PREFIX=/usr BIN="$built" ZBIN="$zbuilt" ZINIT="$ibuilt" >/dev/null

# prctl: out of Debian's prctl package's way (see above).
install -d "$root/usr/sbin"
rm "$root/usr/bin/prctl"
ln -s ../bin/zonetop "$root/usr/sbin/prctl"
mv "$root/usr/share/man/man1/prctl.1" "$root/usr/share/man/man8/prctl.8"
sed -i '1,/^\.TH/s/^\(\.TH "*[A-Za-z]*"* \)1/\18/' "$root/usr/share/man/man8/prctl.8"
gzip -9n "$root"/usr/share/man/man*/*.[18]

# The version: the commit's date and name, so packages built from later
# commits sort later.
if rev=$(git rev-parse --short=12 HEAD 2>/dev/null) && when=$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null); then
  version="0~git$when.$rev"
  git diff --quiet HEAD 2>/dev/null || version="$version+changes"
else
  version="0~$(date -u +%Y%m%d%H%M%S)"
fi
size=$(du -sk "$root" | cut -f1)
install -d "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: zonetop
Version: $version
Architecture: $(dpkg --print-architecture 2>/dev/null || echo amd64)
Maintainer: zonetop developers <zonetop@localhost>
Installed-Size: $size
Section: admin
Priority: optional
Recommends: busybox-static, iproute2
Suggests: systemd
Description: Solaris Zones for Linux, run from one terminal console
 zonetop configures, installs, boots, halts and watches OS partitions
 (zones) with illumos' commands (zonecfg, zoneadm, zlogin, prctl,
 projects, projadd, newtask, zonestat), caps what each zone may use with
 the kernel's cgroups, and divides a zone's caps among its projects.
 Running zonetop with no arguments opens the console.
EOF
# The shipped units are not enabled on install: an operator turns on
# zonetop-autoboot.service when they want zones booted with the host.
mkdir -p "$out"
deb=$out/zonetop_${version}_$(dpkg --print-architecture 2>/dev/null || echo amd64).deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
