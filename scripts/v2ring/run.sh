#!/usr/bin/env bash
# The cgroup v2 ring: boots a Debian bookworm guest whose systemd runs
# cgroup v2 alone (this machine may be v1 or hybrid) under qemu, shares
# bin/zonetop and static test binaries with it over 9p, runs the limits,
# cmd and engine tests and the zone-caps check there, and fails on any
# failure not named in scripts/v2ring/known-failures.
#
# Environment: V2RING_TIMEOUT (seconds for the whole guest run, default
# 3000), V2RING_PKGS (default "limits cmd engine zoneadmd zonenet"), V2RING_RUN (a
# -test.run pattern, for working on one test), V2RING_COUNT (-test.count, to
# catch a flaky one), V2RING_CACHE (image cache,
# default /var/cache/zonetop-v2ring), V2RING_CHECK_EXCLUDED (1: also run
# the excluded tests and show what they do; the result never fails the
# ring), V2RING_KEEP (1: keep the share directory with the logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/v2ring
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=0

timeout_s=${V2RING_TIMEOUT:-3000}
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 cpio busybox timeout; do
  command -v "$tool" >/dev/null || { echo "v2ring: $tool missing (apt-get install qemu-system-x86 debootstrap e2fsprogs cpio busybox-static)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "v2ring: needs root (debootstrap, 9p as root in the guest)" >&2; exit 1; }

qpid=""
stage=""
cleanup() {
  # The guest is killed by its pid alone, never by name: other qemus on
  # this machine are not ours.
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$qpid" 2>/dev/null || true
  fi
  if [ -n "$stage" ]; then
    if [ "${V2RING_KEEP:-0}" = 1 ]; then
      echo "v2ring: logs kept in $stage/out" >&2
    else
      rm -rf "$stage"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_all=$SECONDS
stage=$(mktemp -d /tmp/v2ring.XXXXXX)
chmod 755 "$stage"

# --- Binaries: the product as `make build` makes it, and each package's
# tests as one static binary (no Go toolchain in the guest).
t0=$SECONDS
mkdir -p "$stage/bin" "$stage/tests" "$stage/shim" "$stage/out" \
  "$stage/src/engine" "$stage/src/limits" "$stage/src/cmd/zonetop" \
  "$stage/src/internal/zoneadmd" "$stage/src/internal/zonenet"
make -s build >/dev/null
cp bin/zonetop "$stage/bin/zonetop"
cp bin/zoneadmd "$stage/bin/zoneadmd"
# zinit, a C program: the guest has no compiler, so the tests copy this
# one (ztest.BuildZinit, ZONETOP_TEST_ZINIT).
cp bin/zinit "$stage/bin/zinit"
# The tests drive a binary that obeys the fault-injection hooks; the
# zone-caps check runs the product as shipped.
CGO_ENABLED=0 go build -tags zonetop_testhooks -o "$stage/bin/zonetop-testhooks" ./cmd/zonetop
CGO_ENABLED=0 go build -tags zonetop_testhooks -o "$stage/bin/zoneadmd-testhooks" ./cmd/zoneadmd
(cd cmd/zonetop && CGO_ENABLED=0 go build -o "$stage/bin/netprobe" ./testdata/netprobe)
nice -n 10 go test -tags zonetop_testhooks -c -o "$stage/tests/engine.test" ./engine/
nice -n 10 go test -tags zonetop_testhooks -c -o "$stage/tests/cmd.test" ./cmd/zonetop/
nice -n 10 go test -tags zonetop_testhooks -c -o "$stage/tests/limits.test" ./limits/
nice -n 10 go test -tags zonetop_testhooks -c -o "$stage/tests/zoneadmd.test" ./internal/zoneadmd/
nice -n 10 go test -tags zonetop_testhooks -c -o "$stage/tests/zonenet.test" ./internal/zonenet/
# Each test binary runs in its package's directory, for testdata/.
for p in engine limits cmd/zonetop internal/zoneadmd internal/zonenet; do
  [ -d "$p/testdata" ] && cp -a "$p/testdata" "$stage/src/$p/"
done
cp "$here/guest.sh" "$here/zcaps.sh" "$here/known-failures" "$stage/"
cp -a dist "$stage/dist"
cp "$here/go-shim" "$stage/shim/go"
chmod 755 "$stage/shim/go" "$stage/zcaps.sh"
{
  for v in V2RING_PKGS V2RING_RUN V2RING_COUNT V2RING_CHECK_EXCLUDED V2RING_PKG_TIMEOUT; do
    [ -n "${!v:-}" ] && printf '%s=%q\n' "$v" "${!v}"
  done
  true
} >"$stage/env"
echo "v2ring: binaries in $((SECONDS - t0)) s" >&2

# --- The guest image (cached).
t0=$SECONDS
img=$("$here/build-image.sh")
echo "v2ring: guest image ready in $((SECONDS - t0)) s ($img)" >&2

# --- Boot. -snapshot: the image stays as built, the guest's writes go
# to a temporary overlay qemu deletes. systemd.unified_cgroup_hierarchy=1
# is bookworm's default; saying it keeps the ring v2 whatever the default
# becomes, and guest.sh checks that no v1 hierarchy is mounted.
t0=$SECONDS
console=$stage/out/console.log
append="console=ttyS0 root=/dev/vda rw panic=-1 systemd.unified_cgroup_hierarchy=1 systemd.show_status=1"
nice -n 10 timeout -k 15 "$timeout_s" qemu-system-x86_64 \
  -accel tcg,thread=multi -m 2048 -smp 2 -snapshot -nographic -no-reboot \
  -kernel "$img/vmlinuz" -initrd "$img/initrd.gz" -append "$append" \
  -drive "file=$img/rootfs.img,format=raw,if=virtio" \
  -virtfs "local,path=$stage,mount_tag=v2ring,security_model=none,id=v2ring" \
  -nic none </dev/null >"$console" 2>&1 &
qpid=$!
echo "v2ring: guest booting (pid $qpid, at most $timeout_s s); console in $console" >&2
# The guest powers itself off once out/done is written; should that
# hang, the results are in and the guest is stopped by its pid.
done_at=""
while kill -0 "$qpid" 2>/dev/null; do
  if [ -f "$stage/out/done" ]; then
    done_at=${done_at:-$SECONDS}
    if [ $((SECONDS - done_at)) -gt 60 ]; then
      echo "v2ring: guest finished but did not power off; stopping it" >&2
      kill "$qpid" 2>/dev/null || true
    fi
  fi
  sleep 2
done
set +e
wait "$qpid"
qrc=$?
set -e
qpid=""
echo "v2ring: guest ran $((SECONDS - t0)) s, qemu exit $qrc" >&2

# --- Results.
out=$stage/out
bad=0
if [ ! -f "$out/done" ]; then
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "v2ring: FAIL: the guest did not finish within $timeout_s s" >&2
  else
    echo "v2ring: FAIL: the guest stopped before finishing (qemu exit $qrc)" >&2
  fi
  echo "--- last 60 lines of the console:" >&2
  tail -n 60 "$console" >&2
  for f in "$out"/*.log; do
    [ -f "$f" ] && [ "$f" != "$console" ] && { echo "--- tail of ${f##*/}:" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
fi

# Top-level test results of one -test.v log: counts, and each failure
# with the output between its === RUN and its --- FAIL.
report() {
  local log=$1
  awk '
    /^--- PASS: / { p++ } /^--- FAIL: / { f++ } /^--- SKIP: / { s++ }
    END { printf "pass %d, fail %d, skip %d", p, f, s }' "$log"
}
failures() {
  awk '
    /^=== RUN   / { name = $3; if (name !~ /\//) { buf[name] = "" } }
    { for (n in buf) if (length(buf[n]) < 6000) buf[n] = buf[n] $0 "\n" }
    /^--- FAIL: / { print "----- " $3 " -----"; printf "%s", buf[$3]; delete buf[$3] }
    /^--- (PASS|SKIP): / { delete buf[$3] }' "$1"
}

echo "==== v2ring results (guest ran $((SECONDS - t0)) s)"
grep -E '^(PASS|FAIL) ' "$out/checks" || true
grep -q '^FAIL ' "$out/checks" && bad=1
while read -r pkg rc secs; do
  if [[ $pkg == zcaps* ]]; then
    grep -E '^(PASS|FAIL) zcaps' "$out/$pkg.log" || true
    if [ "$rc" != 0 ]; then
      echo "$pkg: FAIL (exit $rc in $secs s)"
      tail -n 40 "$out/$pkg.log"
      bad=1
    else
      echo "$pkg: PASS in $secs s"
    fi
    continue
  fi
  echo "package $pkg: exit $rc in $secs s: $(report "$out/$pkg.log")"
  if [ "$rc" != 0 ]; then
    bad=1
    failures "$out/$pkg.log"
    # A panic or a timeout has no --- FAIL line: show the end.
    grep -q '^--- FAIL: ' "$out/$pkg.log" || tail -n 60 "$out/$pkg.log"
  fi
done <"$out/packages"
for f in "$out"/excluded-*.log; do
  [ -f "$f" ] || continue
  pkg=${f##*/excluded-}
  pkg=${pkg%.log}
  echo "excluded $pkg tests (not counted): $(report "$f")"
  awk '/^--- PASS: / { print "  now passes, remove from known-failures: " $3 }' "$f"
  awk '/^--- FAIL: / { print "  still fails: " $3 }' "$f"
done
echo "v2ring: total $((SECONDS - t_all)) s"
if [ "$bad" != 0 ]; then
  echo "v2ring: FAIL" >&2
  V2RING_KEEP=1
  exit 1
fi
echo "v2ring: PASS"
