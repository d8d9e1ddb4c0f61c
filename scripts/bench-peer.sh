#!/usr/bin/env bash
# The peer that does what a zone does (issue #19): an LXC system container
# on a busybox root, measured side by side with zonetop in one run.
#
#  1. cycles: zonetop's `zoneadm boot` -> `zlogin Z true` -> `zoneadm halt`
#     (a busybox zone and a sparse zone) alternating with LXC's
#     `lxc-start -d` -> `lxc-attach -- true` -> `lxc-stop -k`, CYCLES
#     rounds after one warm-up each; medians per step and per cycle, and the
#     ratio zonetop/LXC (< 1 means zonetop is faster).
#  2. density: DENSITY idle busybox zones, then DENSITY idle LXC busybox
#     containers; PSS (/proc/PID/smaps_rollup) summed per process kind:
#     zoneadmd, zsched, zinit (and the one keeper per host, shared out)
#     against LXC's monitor and the container's init.
#
# Knobs: CYCLES (default 15), DENSITY (default 20; the aim is stated at
# 100), SETTLE (seconds idle before PSS is read, default 3), BIN.
# Prints what it measured and, when BENCH_AIMS names a file, appends
# "key value" lines to it for bench.sh's summary. Exits non-zero when a
# step breaks (never because an aim is missed). Needs root, lxc and
# /bin/busybox; without them it says so and exits 0.
#
# Everything it makes lives under one temporary directory: zonetop's
# --root, LXC's lxcpath (-P, so nothing lands in /var/lib/lxc); zones and
# containers are named zb*; all are halted/stopped and removed on exit,
# Ctrl-C included. The LXC peer has lxc.net.0.type = empty (a network
# namespace with only lo: nothing is done to the host's network).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/zonetop}
CYCLES=${CYCLES:-15}
DENSITY=${DENSITY:-20}
SETTLE=${SETTLE:-3}
export LC_ALL=C

if [ "$(id -u)" -ne 0 ] || ! command -v lxc-start >/dev/null || [ ! -x /bin/busybox ]; then
  echo "== LXC system-container peer: skipped (needs root, lxc and /bin/busybox)"
  exit 0
fi
[ -x "$BIN" ] || { echo "bench-peer: $BIN missing (make build)" >&2; exit 1; }

work=$(mktemp -d /tmp/zb-bench-peer.XXXXXX)
zroot=$work/zt
lxcpath=$work/lxc
mkdir -p "$zroot/zp" "$lxcpath"
chmod 700 "$zroot/zp"
zones=() # every zone this script configured
ctrs=()  # every container this script created

Z() { "$BIN" --root "$zroot" "$@"; }
# L CONTAINER CMD [ARGS...]: an lxc-* command on our lxcpath.
L() { local c=$1 cmd=$2; shift 2; "$cmd" -P "$lxcpath" -n "$c" "$@"; }

cleanup() {
  set +e
  local z c pidf pid
  for z in "${zones[@]}"; do
    Z zoneadm -z "$z" halt >/dev/null 2>&1
    # A zoneadmd that did not halt its zone is ours: stop it by its pid.
    pidf=$zroot/run/zonetop/$z/zoneadmd.pid
    pid=$(cat "$pidf" 2>/dev/null)
    if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF " $zroot $z "; then
      kill -9 "$pid" 2>/dev/null
    fi
    Z zoneadm -z "$z" uninstall -F >/dev/null 2>&1
  done
  for c in "${ctrs[@]}"; do
    L "$c" lxc-stop -k >/dev/null 2>&1
    L "$c" lxc-destroy >/dev/null 2>&1
  done
  wait_keeper
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# keeper_pid: the keeper of this script's root prefix (one per --root; it
# leaves by itself 3 s after the last zone). Found by its command line,
# which names our own root: nobody else's process can match.
keeper_pid() {
  local p
  for p in /proc/[0-9]*; do
    # argv: zonetop-keeper zonetop-keeper ROOT (argv[0] names the role).
    if [ "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" = "zonetop-keeper zonetop-keeper $zroot " ]; then
      echo "${p#/proc/}"
      return
    fi
  done
}
wait_keeper() {
  local i
  for i in $(seq 50); do
    [ -z "$(keeper_pid)" ] && return
    sleep 0.2
  done
}

aim() { [ -n "${BENCH_AIMS:-}" ] && echo "$1 $2" >>"$BENCH_AIMS"; return 0; }
die() { echo "bench-peer: $*" >&2; exit 1; }

# median FILE: the median of the numbers in FILE.
median() { sort -n "$1" | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-"}'; }

# step SIDE NAME CMD...: runs CMD, appends its milliseconds to SIDE.NAME.
step() {
  local side=$1 name=$2 s e
  shift 2
  s=${EPOCHREALTIME/./}
  "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; die "$side $name failed: $*"; }
  e=${EPOCHREALTIME/./}
  echo "$(((e - s)))" | awk '{printf "%.3f\n", $1 / 1000}' >>"$work/$side.$name"
  echo "$(((e - s)))" >>"$work/$side.us"
}
# cycle SIDE: one boot/login/halt of SIDE; its three steps and their sum.
cycle() {
  local side=$1
  : >"$work/$side.us"
  case $side in
  lxc)
    step lxc start L zblx$$ lxc-start -d
    step lxc login L zblx$$ lxc-attach -- /bin/true
    step lxc halt L zblx$$ lxc-stop -k
    ;;
  *)
    step "$side" start Z zoneadm -z "zb$side$$" boot
    step "$side" login Z zlogin "zb$side$$" true
    step "$side" halt Z zoneadm -z "zb$side$$" halt
    ;;
  esac
  awk '{s += $1} END {printf "%.3f\n", s / 1000}' "$work/$side.us" >>"$work/$side.cycle"
}

echo "== zone cycle vs LXC system container (boot -> login true -> halt), $CYCLES alternating rounds"
for b in busybox sparse; do
  z=zb${b:0:2}$$
  zones+=("$z")
  Z zonecfg -z "$z" "create -b; set zonepath=/zp/$z; set brand=$b" >/dev/null || die "zonecfg $z"
  Z zoneadm -z "$z" install >"$work/out" 2>&1 || { cat "$work/out" >&2; die "install $z"; }
done
# The side names are the zones' infixes: bu (busybox), sp (sparse).
ctrs+=("zblx$$")
printf 'lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n' >"$work/lxc-in.conf"
lxc-create -P "$lxcpath" -n "zblx$$" -t busybox -f "$work/lxc-in.conf" >"$work/out" 2>&1 ||
  { cat "$work/out" >&2; die "lxc-create -t busybox"; }

for side in bu sp lxc; do cycle "$side"; done # warm-up: page cache, first use
rm -f "$work"/bu.* "$work"/sp.* "$work"/lxc.*
for ((i = 0; i < CYCLES; i++)); do
  for side in bu sp lxc; do cycle "$side"; done
done

printf '  %-30s %9s %9s %9s %9s %9s\n' "median ms" "busybox" "sparse" "LXC" "bb/LXC" "sp/LXC"
for m in cycle start login halt; do
  bu=$(median "$work/bu.$m") sp=$(median "$work/sp.$m") lx=$(median "$work/lxc.$m")
  case $m in
  cycle) what="cycle";;
  start) what="boot | lxc-start -d";;
  login) what="zlogin true | lxc-attach true";;
  halt) what="halt | lxc-stop -k";;
  esac
  printf '  %-30s %9s %9s %9s %9s %9s\n' "$what" "$bu" "$sp" "$lx" "$(ratio "$bu" "$lx")" "$(ratio "$sp" "$lx")"
  aim "peer-$m-busybox" "$bu"
  aim "peer-$m-sparse" "$sp"
  aim "peer-$m-lxc" "$lx"
done

# --- density -----------------------------------------------------------------
pss_kb() { awk '/^Pss:/ {print $2; f = 1} END {if (!f) print 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
json_int() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1" | head -1; }

echo
echo "== density: $DENSITY idle busybox zones vs $DENSITY idle LXC busybox containers (PSS, summed per kind)"
dz=()
for ((i = 0; i < DENSITY; i++)); do
  z=zbd$$x$i
  zones+=("$z")
  dz+=("$z")
  Z zonecfg -z "$z" "create -b; set zonepath=/zp/$z; set brand=busybox" >/dev/null || die "zonecfg $z"
  Z zoneadm -z "$z" install >"$work/out" 2>&1 || { cat "$work/out" >&2; die "install $z"; }
  Z zoneadm -z "$z" boot >"$work/out" 2>&1 || { cat "$work/out" >&2; die "boot $z"; }
done
sleep "$SETTLE"
adm=0 sch=0 ini=0
for z in "${dz[@]}"; do
  rd=$zroot/run/zonetop/$z
  p=$(cat "$rd/zoneadmd.pid") || die "no zoneadmd.pid for $z"
  s=$(json_int "$rd/state.json" zsched_pid)
  n=$(json_int "$rd/state.json" init_pid)
  [ -n "$s" ] && [ -n "$n" ] || die "no zsched/init pid in $rd/state.json"
  adm=$((adm + $(pss_kb "$p")))
  sch=$((sch + $(pss_kb "$s")))
  ini=$((ini + $(pss_kb "$n")))
done
kp=$(keeper_pid)
kee=0
[ -n "$kp" ] && kee=$(pss_kb "$kp")
for z in "${dz[@]}"; do
  Z zoneadm -z "$z" halt >"$work/out" 2>&1 || { cat "$work/out" >&2; die "halt $z"; }
done

dc=()
for ((i = 0; i < DENSITY; i++)); do
  c=zbld$$x$i
  ctrs+=("$c")
  dc+=("$c")
  # A copy of the template's container (its own rootfs and busybox, as
  # lxc-create -t busybox makes), faster than running the template again;
  # what lxc-copy does, without the rsync it needs.
  mkdir "$lxcpath/$c" && cp -a "$lxcpath/zblx$$/rootfs" "$lxcpath/$c/rootfs" || die "copy rootfs for $c"
  sed -e "s#^lxc.rootfs.path = .*#lxc.rootfs.path = dir:$lxcpath/$c/rootfs#" \
    -e "s#^lxc.uts.name = .*#lxc.uts.name = $c#" "$lxcpath/zblx$$/config" >"$lxcpath/$c/config" || die "config for $c"
  L "$c" lxc-start -d >"$work/out" 2>&1 || { cat "$work/out" >&2; die "lxc-start $c"; }
done
sleep "$SETTLE"
mon=0 cin=0
for c in "${dc[@]}"; do
  n=$(L "$c" lxc-info -p -H) || die "lxc-info $c"
  m=$(awk '{print $4}' "/proc/$n/stat")
  mon=$((mon + $(pss_kb "$m")))
  cin=$((cin + $(pss_kb "$n")))
done
for c in "${dc[@]}"; do L "$c" lxc-stop -k >/dev/null 2>&1 || die "lxc-stop $c"; done

mib() { awk -v k="$1" -v n="$DENSITY" 'BEGIN {printf "%.2f", k / n / 1024}'; }
zt=$(mib $((adm + sch + ini + kee)))
lx=$(mib $((mon + cin)))
printf '  zonetop per zone:   zoneadmd %s + zsched %s + zinit %s + keeper/%d %s = %s MiB\n' \
  "$(mib $adm)" "$(mib $sch)" "$(mib $ini)" "$DENSITY" "$(mib $kee)" "$zt"
printf '  LXC per container:  monitor %s + init %s = %s MiB\n' "$(mib $mon)" "$(mib $cin)" "$lx"
printf '  ratio zonetop/LXC:  %s\n' "$(ratio "$zt" "$lx")"
aim density-n "$DENSITY"
aim density-zonetop "$zt"
aim density-lxc "$lx"
