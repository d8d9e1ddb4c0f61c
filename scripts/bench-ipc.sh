#!/usr/bin/env bash
# The limit check's own cost (issue #19): System V IPC on the host against
# the same inside a sparse zone, where zoneadmd checks every shmget, semget
# and msgget against the caller's project (seccomp user notification), in
# one run, one after the other for each kind:
#   host | zone, default project (no limit) | zone, a project with limits
#  - throughput: stress-ng --shm-sysv / --sem-sysv / --msg, bogo-ops/s
#    (real time) and, for shm, stress-ng's own ns per shmget call;
#  - per call: cmd/benchipc, the same static binary on the host and in the
#    zone, median microseconds of one get call (objects removed untimed).
#
# Knobs: IPC_TIME (stress-ng seconds per run, default 10), IPC_WORKERS
# (default 4), IPC_CALLS (benchipc calls per kind, default 2000), BIN.
# Appends "key value" lines to BENCH_AIMS when set. Exits non-zero when a
# step breaks, never because an aim is missed. Needs root and stress-ng;
# without them it says so and exits 0. The zone (zbi*) and its --root are
# removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/zonetop}
T=${IPC_TIME:-10}
W=${IPC_WORKERS:-4}
CALLS=${IPC_CALLS:-2000}
export LC_ALL=C

if [ "$(id -u)" -ne 0 ] || ! command -v stress-ng >/dev/null; then
  echo "== IPC check cost: skipped (needs root and stress-ng)"
  exit 0
fi
[ -x "$BIN" ] || { echo "bench-ipc: $BIN missing (make build)" >&2; exit 1; }

work=$(mktemp -d /tmp/zb-bench-ipc.XXXXXX)
zroot=$work/zt
zone=zbi$$
proj=zbipc
mkdir -p "$zroot/zp"
chmod 700 "$zroot/zp"
Z() { "$BIN" --root "$zroot" "$@"; }
cleanup() {
  set +e
  local pid
  Z zoneadm -z "$zone" halt >/dev/null 2>&1
  pid=$(cat "$zroot/run/zonetop/$zone/zoneadmd.pid" 2>/dev/null)
  if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF " $zroot $zone "; then
    kill -9 "$pid" 2>/dev/null
  fi
  Z zoneadm -z "$zone" uninstall -F >/dev/null 2>&1
  # The keeper of this --root leaves 3 s after its last zone.
  sleep 3.5
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench-ipc: $*" >&2; exit 1; }
aim() { [ -n "${BENCH_AIMS:-}" ] && echo "$1 $2" >>"$BENCH_AIMS"; return 0; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0 && a != "" && a != "-") printf "%.2f", a / b; else print "-"}'; }

CGO_ENABLED=0 go build -o "$work/benchipc" ./cmd/benchipc || die "go build ./cmd/benchipc"
Z zonecfg -z "$zone" "create -b; set zonepath=/zp/$zone; set brand=sparse" >/dev/null || die "zonecfg"
Z zoneadm -z "$zone" install >"$work/out" 2>&1 || { cat "$work/out" >&2; die "install"; }
Z zoneadm -z "$zone" boot >"$work/out" 2>&1 || { cat "$work/out" >&2; die "boot"; }
# Limits high enough for the runs to pass, so every call is checked and
# granted: what is measured is the check, not a refusal.
Z projadd -z "$zone" -K 'project.max-shm-ids=(priv,4000,deny)' -K 'project.max-shm-memory=(priv,8G,deny)' \
  -K 'project.max-sem-ids=(priv,4000,deny)' -K 'project.max-msg-ids=(priv,4000,deny)' "$proj" >/dev/null ||
  die "projadd $proj"
cp "$work/benchipc" "$zroot/zp/$zone/root/tmp/benchipc" || die "copy benchipc into the zone"

# on PLACE CMD...: runs CMD on the host, in the zone's default project or
# in the limited project.
on() {
  local where=$1
  shift
  case $where in
  host) "$@" ;;
  zone) Z zlogin "$zone" "$@" ;;
  proj) Z newtask -z "$zone" -p "$proj" "$@" ;;
  esac
}

echo "== IPC check cost: host vs zone (default project, project '$proj' with limits), same run"
echo "   stress-ng: $W workers, ${T}s each; per call: benchipc, $CALLS calls, median"
declare -A ops call
for kind in shm sem msg; do
  case $kind in
  shm) args=(--shm-sysv "$W" --shm-sysv-bytes 1M --shm-sysv-segs 8) ;;
  sem) args=(--sem-sysv "$W") ;;
  msg) args=(--msg "$W") ;;
  esac
  for where in host zone proj; do
    tp=/tmp
    [ "$where" = host ] && tp=$work
    on "$where" stress-ng --temp-path "$tp" "${args[@]}" -t "${T}s" --metrics-brief >"$work/sng" 2>&1 ||
      { tail -5 "$work/sng" >&2; die "stress-ng $kind on $where"; }
    r=$(awk '$2 == "metrc:" && $4 ~ /^(shm-sysv|sem-sysv|msg)$/ && $5 ~ /^[0-9]+$/ {print $9; exit}' "$work/sng")
    [ -n "$r" ] || { cat "$work/sng" >&2; die "no bogo-ops/s from stress-ng $kind on $where"; }
    ops[$kind.$where]=$r
    if [ "$kind" = shm ]; then
      call[sng.$where]=$(awk '/nanosecs per shmget call/ {printf "%.1f", $5 / 1000; exit}' "$work/sng")
    fi
  done
done
for where in host zone proj; do
  if [ "$where" = host ]; then bi=$work/benchipc; else bi=/tmp/benchipc; fi
  on "$where" "$bi" -n "$CALLS" >"$work/bi" 2>&1 || { cat "$work/bi" >&2; die "benchipc on $where"; }
  for kind in shm sem msg; do
    c=$(awk -v k="${kind}get" '$1 == k {print $2}' "$work/bi")
    [ -n "$c" ] || { cat "$work/bi" >&2; die "no ${kind}get time from benchipc on $where"; }
    call[$kind.$where]=$c
  done
done

printf '  %-28s %12s %12s %12s %8s %8s\n' "" host zone zone+proj zone/h proj/h
for kind in shm sem msg; do
  h=${ops[$kind.host]} z=${ops[$kind.zone]} p=${ops[$kind.proj]}
  printf '  %-28s %12s %12s %12s %8s %8s\n' "$kind stress-ng bogo-ops/s" "$h" "$z" "$p" "$(ratio "$z" "$h")" "$(ratio "$p" "$h")"
  aim "ipc-ops-$kind-host" "$h"
  aim "ipc-ops-$kind-zone" "$z"
  aim "ipc-ops-$kind-proj" "$p"
done
h=${call[sng.host]:-} z=${call[sng.zone]:-} p=${call[sng.proj]:-}
printf '  %-28s %12s %12s %12s %8s %8s\n' "shmget us (stress-ng, loaded)" "${h:--}" "${z:--}" "${p:--}" "$(ratio "$z" "$h")" "$(ratio "$p" "$h")"
for kind in shm sem msg; do
  h=${call[$kind.host]} z=${call[$kind.zone]} p=${call[$kind.proj]}
  printf '  %-28s %12s %12s %12s %8s %8s\n' "${kind}get us/call (benchipc)" "$h" "$z" "$p" "$(ratio "$z" "$h")" "$(ratio "$p" "$h")"
  aim "ipc-call-$kind-host" "$h"
  aim "ipc-call-$kind-zone" "$z"
  aim "ipc-call-$kind-proj" "$p"
done
