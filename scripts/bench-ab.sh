#!/usr/bin/env bash
# Two zonetop binaries side by side in one run: a sparse zone's cycle
# (boot -> zlogin true -> halt), each step alone, a do-nothing start
# (--help) and an idle zone's zoneadmd, zsched and zinit PSS, alternating A and
# B so that the machine's noise falls on both alike. Reports medians and
# the ratio B/A; asserts nothing.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY [RUNS]
#
# Needs root. Each binary gets its own --root under a temporary directory,
# removed at the end with the zones halted and uninstalled.
set -Eeuo pipefail
# set -e ends the run at any failing command, some of which print
# nothing (an assignment from a command substitution): say which.
trap 'echo "bench-ab: line $LINENO: $BASH_COMMAND failed" >&2' ERR
A=$(readlink -f "$1")
B=$(readlink -f "$2")
RUNS=${3:-15}
export LC_ALL=C
[ "$(id -u)" = 0 ] || { echo "bench-ab: needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/zonetop-ab.XXXXXX)
zone=ab$$
cleanup() {
  set +e
  trap - ERR # halting a zone that is down already fails, as meant
  for side in A B; do
    bin=${!side}
    "$bin" --root "$work/$side" zoneadm -z "$zone" halt >/dev/null 2>&1
    "$bin" --root "$work/$side" zoneadm -z "$zone" uninstall -F >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

for side in A B; do
  bin=${!side}
  mkdir -p "$work/$side/zones" && chmod 700 "$work/$side/zones"
  printf 'create -b\nset zonepath=/zones/%s\nset brand=sparse\ncommit\n' "$zone" >"$work/zone.cfg"
  "$bin" --root "$work/$side" zonecfg -z "$zone" -f "$work/zone.cfg" >/dev/null
  "$bin" --root "$work/$side" zoneadm -z "$zone" install >/dev/null 2>&1
done

now() { date +%s%N; }
# step SIDE NAME CMD...: runs the command, appends its milliseconds.
step() {
  local side=$1 name=$2
  shift 2
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "bench-ab: $side $name failed: $*" >&2; return 1; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", (b - a) / 1e6}' >>"$work/$side.$name"
}
cycle() {
  local side=$1 bin=${!1}
  local Z=("$bin" --root "$work/$side")
  local t0 t1
  t0=$(now)
  step "$side" boot "${Z[@]}" zoneadm -z "$zone" boot
  step "$side" zlogin "${Z[@]}" zlogin "$zone" true
  step "$side" halt "${Z[@]}" zoneadm -z "$zone" halt
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", (b - a) / 1e6}' >>"$work/$side.cycle"
  step "$side" help "$bin" --help
}

# One warm-up each (page cache, first-use costs), then alternate.
cycle A && cycle B && rm -f "$work"/A.* "$work"/B.*
for _ in $(seq "$RUNS"); do
  cycle A
  cycle B
done

pss_of() {
  local side=$1 bin=${!1}
  "$bin" --root "$work/$side" zoneadm -z "$zone" boot >/dev/null 2>&1
  sleep 1
  local rund=$work/$side/run/zonetop/$zone
  local zpid spid
  zpid=$(cat "$rund/zoneadmd.pid")
  spid=$(sed -n 's/.*"zsched_pid": *\([0-9]*\).*/\1/p' "$rund/state.json")
  pss() { awk '/^Pss:/ {printf "%.2f", $2/1024}' "/proc/$1/smaps_rollup"; }
  # The zone's init: zsched's child named zinit (the C program, or the
  # Go entry point of builds before it).
  local ipid
  ipid=$(pgrep -P "$spid" -x zinit | head -1 || true)
  echo "$(pss "$zpid") $(pss "$spid") $( [ -n "$ipid" ] && pss "$ipid" || echo 0)"
  "$bin" --root "$work/$side" zoneadm -z "$zone" halt >/dev/null 2>&1
}
read -r az as ai < <(pss_of A)
read -r bz bs bi < <(pss_of B)

median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf 'A: %s\nB: %s\n%d alternating runs each, medians in ms\n\n' "$A" "$B" "$RUNS"
printf '%-22s %10s %10s %8s\n' measure A B B/A
for m in cycle boot zlogin halt help; do
  a=$(median "$work/A.$m")
  b=$(median "$work/B.$m")
  printf '%-22s %10s %10s %8s\n' "$m" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
done
printf '%-22s %10s %10s %8s\n' "zoneadmd PSS MiB" "$az" "$bz" "$(awk -v a="$az" -v b="$bz" 'BEGIN {printf "%.2f", b / a}')"
printf '%-22s %10s %10s %8s\n' "zsched PSS MiB" "$as" "$bs" "$(awk -v a="$as" -v b="$bs" 'BEGIN {printf "%.2f", b / a}')"
printf '%-22s %10s %10s %8s\n' "zinit PSS MiB" "$ai" "$bi" "$(awk -v a="$ai" -v b="$bi" 'BEGIN {if (a > 0) printf "%.2f", b / a; else print "-"}')"
ls -l "$A" "$B" | awk '{printf "%-22s %s\n", "size " $NF, $5}'
