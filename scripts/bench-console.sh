#!/usr/bin/env bash
# Throughput of the zone's terminal paths, side by side with the same cat
# on a pty of the host (console.BenchmarkPtyCat), as a ratio:
#   zlogin NAME cat BIG         (pipes into the zone)
#   zlogin -t NAME cat BIG      (a pty of the zone's devpts, copied by zlogin)
#   cat BIG >/dev/console       (the console pty, read by zoneadmd's hub and
#                                one zlogin -C attacher; the log takes it too)
# BIG is a 256 MiB file inside a busybox zone (SIZE_MB overrides). Needs root
# and namespaces; prints a note and exits 0 without them. Asserts nothing;
# exits non-zero when a step breaks. Appends "key value" lines to the file
# BENCH_AIMS names, for bench.sh's summary (issue #19: console >= 80% of a
# host pty).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/zonetop
SIZE_MB=${SIZE_MB:-256}
RUNS=${CONSOLE_RUNS:-3}

if [[ $(id -u) != 0 || ! -x /bin/busybox ]] || ! unshare -mpuif true 2>/dev/null; then
  echo "== console throughput: skipped (needs root, namespaces and /bin/busybox)"
  exit 0
fi

root=$(mktemp -d /tmp/zonetop-bench-console.XXXXXX)
name=zbc$$
attacher=
cleanup() {
  [[ -n $attacher ]] && kill "$attacher" 2>/dev/null || true
  "$BIN" --root "$root" zoneadm -z "$name" halt >/dev/null 2>&1 || true
  if [[ -f $root/run/zonetop/$name/zoneadmd.pid ]]; then
    kill -9 "$(cat "$root/run/zonetop/$name/zoneadmd.pid")" 2>/dev/null || true
  fi
  rm -rf "$root"
}
trap cleanup EXIT

z() { "$BIN" --root "$root" "$@"; }
z zonecfg -z "$name" "create -b; set zonepath=/zp; set brand=busybox" >/dev/null
z zoneadm -z "$name" install >/dev/null 2>"$root/install.err" || { cat "$root/install.err" >&2; exit 1; }
z zoneadm -z "$name" ready >/dev/null
big=/tmp/big
# No newlines: the ptys' output processing (ONLCR) would otherwise add
# bytes on some paths and not others.
head -c $((SIZE_MB << 20)) /dev/zero | tr '\0' x >"$root/zp/root$big"
hostbig=$root/zp/root$big
bytes=$((SIZE_MB << 20))

now() { date +%s%N; }
# best_mbs CMD...: the best of RUNS runs, in MB/s (MiB/s).
best_mbs() {
  local best=0 i s e mbs
  for ((i = 0; i < RUNS; i++)); do
    s=$(now)
    "$@" >/dev/null 2>"$root/err" || { cat "$root/err" >&2; echo "bench-console: failed: $*" >&2; exit 1; }
    e=$(now)
    mbs=$(awk -v b=$bytes -v ns=$((e - s)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}')
    best=$(awk -v a=$best -v b=$mbs 'BEGIN {print (b > a) ? b : a}')
  done
  echo "$best"
}

console_once() {
  local out=$root/console.count pidf=$root/console.pid
  rm -f "$root/console.hello" "$pidf" "$out"
  # The attacher takes exactly the file's bytes; then it is stopped. One
  # dd with big reads counts them: the host baseline and the other lines
  # send their bytes to nowhere, and the head -c | wc -c this used to be
  # (two more processes, head copying in 8 KiB reads and writes) took about
  # an eighth of this 2-core machine's CPU during a run, charged to the
  # console (DECISIONS.md, Console throughput).
  sh -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$BIN" --root "$root" zlogin -C "$name" \
    </dev/null 2>"$root/console.hello" |
    (dd bs=1M iflag=fullblock,count_bytes count=$bytes of=/dev/null 2>"$out.dd"
      c=$(awk '/copied/ {print $1}' "$out.dd") && echo "$c" >"$out.tmp" && mv "$out.tmp" "$out") &
  # zlogin -C says hello once zoneadmd has attached it.
  for _ in $(seq 200); do
    grep -q Connected "$root/console.hello" 2>/dev/null && break
    sleep 0.05
  done
  attacher=$(cat "$pidf")
  local s e
  s=$(now)
  z zlogin "$name" sh -c "cat $big >/dev/console" >/dev/null 2>"$root/err" ||
    { cat "$root/err" >&2; echo "bench-console: cat >/dev/console failed" >&2; exit 1; }
  # The count appears when dd has taken the last byte (or when the
  # attacher was cut off, with fewer).
  local waited=0
  until [[ -s $out ]]; do
    sleep 0.01
    waited=$((waited + 1))
    ((waited < 6000)) || { echo "bench-console: the attacher never finished" >&2; exit 1; }
  done
  e=$(now)
  kill "$attacher" 2>/dev/null || true
  wait || true
  attacher=
  if [[ $(cat "$out") != "$bytes" ]]; then
    # zoneadmd cut the attacher off (it fell more than the hub's queue
    # behind): the run measured nothing.
    echo "console attacher got $(cat "$out") of $bytes bytes: $(tr -d '\r' <"$root/console.hello" | tail -1)" >&2
    cut_off=$((cut_off + 1))
    echo 0
    return
  fi
  awk -v b=$bytes -v ns=$((e - s)) 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}'
}

cut_off=0
best_console() {
  local best=0 i mbs
  for ((i = 0; i < RUNS; i++)); do
    console_once >"$root/console.rate"
    mbs=$(cat "$root/console.rate")
    best=$(awk -v a=$best -v b=$mbs 'BEGIN {print (b > a) ? b : a}')
  done
  echo "$best"
}

# Go's MB/s are 10^6 bytes; everything here is MiB/s.
host=$(ZONETOP_PTYCAT_FILE=$hostbig go test -run '^$' -bench BenchmarkPtyCat -benchtime "${RUNS}x" ./console |
  awk '/^BenchmarkPtyCat/ {for (i = 1; i <= NF; i++) if ($i == "MB/s") printf "%.1f", $(i - 1) * 1e6 / 1048576}')
pipes=$(best_mbs z zlogin "$name" cat "$big")
tty=$(best_mbs z zlogin -t "$name" cat "$big")
[[ -n $host ]] || { echo "bench-console: BenchmarkPtyCat gave no MB/s" >&2; exit 1; }
best_console >"$root/console.best"
cons=$(cat "$root/console.best")
ratio() { awk -v a="$1" -v b="$host" 'BEGIN {printf "%.0f%%", 100 * a / b}'; }
echo "== console and zlogin throughput (${SIZE_MB} MiB, best of $RUNS)"
printf '%-34s %8s MiB/s\n' "cat on a host pty (BenchmarkPtyCat)" "$host"
printf '%-34s %8s MiB/s  %s of host pty\n' "zlogin NAME cat (pipes)" "$pipes" "$(ratio "$pipes")"
printf '%-34s %8s MiB/s  %s of host pty\n' "zlogin -t NAME cat (zone pty)" "$tty" "$(ratio "$tty")"
printf '%-34s %8s MiB/s  %s of host pty\n' "cat >/dev/console, zlogin -C" "$cons" "$(ratio "$cons")"
if ((cut_off > 0)); then
  echo "   ($cut_off console run(s) cut off by the hub as a too slow attacher, not counted)"
fi
if [[ -n ${BENCH_AIMS:-} ]]; then
  echo "console-host $host" >>"$BENCH_AIMS"
  echo "console-zone $cons" >>"$BENCH_AIMS"
fi
