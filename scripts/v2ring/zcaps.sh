#!/bin/bash
# The zone-caps check, run inside the v2 ring's guest. Usage: zcaps.sh MODE
#   login: from a login shell (`su -l`, a logind session scope), with a
#          root prefix of its own;
#   service: from a Delegate=yes system service (the ring's own unit),
#          with a root prefix of its own;
#   unit:  through the shipped dist/zonetop-autoboot.service (installed by
#          guest.sh with the binary at /usr/local/bin/zonetop), which boots
#          the host's autoboot zones (root prefix /).
# Neither passes --cgroup-parent: zonetop must find a cgroup it may pass
# controllers on from by itself. It configures a busybox zone with
# max-lwps, capped-memory physical and capped-cpu, boots it, and proves
# each cap bites: a fork loop stops at pids.max, a memory hog dies at
# memory.max, cpu.max holds the quota and throttles a busy loop. It also
# checks that the zone's zoneadmd left the context that booted it for a
# systemd scope of its own. Prints PASS/FAIL lines; exits non-zero on any
# failure.
set -uo pipefail

mode=${1:-login}
opt=/opt/v2ring
bad=0
ok() { echo "PASS zcaps-$mode: $*"; }
no() { echo "FAIL zcaps-$mode: $*"; bad=1; }

case $mode in
  login | service)
    zt=$opt/bin/zonetop
    root=$(mktemp -d /tmp/zcaps.XXXXXX)
    zone=capz
    ;;
  unit)
    zt=/usr/local/bin/zonetop
    root=/
    zone=capu
    ;;
  *)
    echo "zcaps: unknown mode $mode" >&2
    exit 2
    ;;
esac
z() { "$zt" --root "$root" "$@"; }
# Every zlogin is bounded: a cap that bites may also hang a shell.
zl() { timeout -k 5 120 "$zt" --root "$root" zlogin "$zone" "$@"; }

cleanup() {
  [ "$mode" = unit ] && systemctl stop zonetop-autoboot.service >/dev/null 2>&1
  z zoneadm -z plainz halt >/dev/null 2>&1
  z zoneadm -z plainz uninstall -F >/dev/null 2>&1
  z zonecfg -z plainz delete -F >/dev/null 2>&1
  z zoneadm -z "$zone" halt >/dev/null 2>&1
  z zoneadm -z "$zone" uninstall -F >/dev/null 2>&1
  z zonecfg -z "$zone" delete -F >/dev/null 2>&1
  rm -rf "/zones/$zone"
  [ "$mode" != unit ] && rm -rf "$root"
}
trap cleanup EXIT

self=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
case $mode/$self in
  login//user.slice/*/session-*.scope) ok "login shell in $self (session ${XDG_SESSION_ID:-?})" ;;
  login/*) no "not in a login session: $self" ;;
  service//system.slice/*.service/*) ok "in a service's delegated cgroup: $self" ;;
  service/*) no "not in a service: $self" ;;
  unit/*) ok "started from $self" ;;
esac

# zone_cgroup ZONE: the zone's cgroup directory, wherever zonetop put it.
zone_cgroup() { find /sys/fs/cgroup -type d -path "*/zonetop/$1" -prune 2>/dev/null | head -n1; }
# zoneadmd_cgroup ZONE: the cgroup of the zone's zoneadmd.
zoneadmd_cgroup() {
  local pid
  pid=$(cat "$root/run/zonetop/$1/zoneadmd.pid" 2>/dev/null) || return 1
  awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup"
}

if [ "$mode" != unit ]; then
  mkdir -p "$root/zones"
  zonepath=/zones/$zone
  # A zone without caps needs no controller; it boots too, and its
  # supervisor leaves the session.
  plain=plainz
  if z zonecfg -z "$plain" "create; set zonepath=/zones/$plain; set brand=busybox; commit" &&
    z zoneadm -z "$plain" install >/dev/null && z zoneadm -z "$plain" boot; then
    pcg=$(zone_cgroup "$plain")
    acg=$(zoneadmd_cgroup "$plain")
    case $acg in
      /zonetop.slice/zonetop-$plain-*.scope/supervisor) ok "uncapped zone booted: cgroup $pcg, zoneadmd in $acg" ;;
      *) no "uncapped zone booted: cgroup $pcg, but its zoneadmd is in $acg, not a zonetop scope" ;;
    esac
    z zoneadm -z "$plain" halt || no "halt of the uncapped zone"
  else
    no "uncapped zone did not boot"
    tail -n 30 "$root"/var/log/zonetop/*.zoneadmd.log 2>/dev/null
  fi
  z zoneadm -z "$plain" uninstall -F >/dev/null 2>&1
  z zonecfg -z "$plain" delete -F >/dev/null 2>&1
else
  mkdir -p /zones
  zonepath=/zones/$zone
fi

if ! z zonecfg -z "$zone" "create; set zonepath=$zonepath; set brand=busybox; set autoboot=true; set max-lwps=40; add capped-memory; set physical=64m; end; add capped-cpu; set ncpus=0.5; end; commit"; then
  no "zonecfg"
  exit 1
fi
z zoneadm -z "$zone" install >/dev/null || { no "install"; exit 1; }
if [ "$mode" != unit ]; then
  if ! z zoneadm -z "$zone" boot; then
    no "boot of a capped zone without --cgroup-parent"
    tail -n 30 "$root"/var/log/zonetop/*.zoneadmd.log 2>/dev/null
    exit 1
  fi
  ok "capped zone booted ($mode)"
else
  # The shipped unit, as an operator enables it.
  if ! systemctl start zonetop-autoboot.service; then
    no "systemctl start zonetop-autoboot.service"
    systemctl status --no-pager zonetop-autoboot.service
    journalctl --no-pager -u zonetop-autoboot.service | tail -n 30
    tail -n 30 /var/log/zonetop/*.zoneadmd.log 2>/dev/null
    exit 1
  fi
  st=$(z zoneadm -z "$zone" list -p 2>&1)
  case $st in
    *:running:*) ok "capped zone booted by zonetop-autoboot.service" ;;
    *) no "zone after zonetop-autoboot.service started: $st"; journalctl --no-pager -u zonetop-autoboot.service | tail -n 30; tail -n 30 /var/log/zonetop/*.zoneadmd.log 2>/dev/null; exit 1 ;;
  esac
  # Its start command is done: the unit holds nothing (systemd removes
  # the cgroup of a unit with no process left; it then shows none), so
  # nothing of the zone goes with a stop or restart but what ExecStop does.
  unitcg=$(systemctl show -P ControlGroup zonetop-autoboot.service)
  left=""
  [ -n "$unitcg" ] && left=$(find "/sys/fs/cgroup$unitcg" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] && ok "nothing left in the unit's cgroup (${unitcg:-none})" || no "processes left in the unit's cgroup $unitcg: $left"
fi

acg=$(zoneadmd_cgroup "$zone")
case $acg in
  /zonetop.slice/zonetop-$zone*.scope/supervisor) ok "zoneadmd in a scope of its own: $acg" ;;
  *) no "zoneadmd in $acg, not a zonetop scope" ;;
esac
cg=$(zone_cgroup "$zone")
[ -n "$cg" ] && [ -d "$cg" ] || { no "no zone cgroup found for $zone"; exit 1; }
echo "zone cgroup $cg: pids.max=$(cat "$cg/pids.max") memory.max=$(cat "$cg/memory.max") cpu.max=$(cat "$cg/cpu.max")"

# max-lwps: pids.max, and a fork loop that cannot pass it.
pmax=$(cat "$cg/pids.max")
[ "$pmax" = 40 ] && ok "pids.max is 40" || no "pids.max is $pmax, want 40"
# A refused fork counts in pids.events "max" of the forking task's own
# cgroup (this kernel, 6.1), not of the one whose limit it hit: sum the
# zone's subtree.
pids_refused() { find "$cg" -name pids.events -exec awk '$1 == "max" { n += $2 } END { print n + 0 }' {} +; }
ev0=$(pids_refused)
zl sh -c 'i=0; while [ $i -lt 200 ]; do sleep 300 </dev/null >/dev/null 2>&1 & i=$((i+1)); done 2>/dev/null; exit 0' >/dev/null 2>&1
cur=$(cat "$cg/pids.current")
ev1=$(pids_refused)
if [ "$cur" -le 40 ] && [ "$cur" -ge 30 ] && [ "$ev1" -gt "$ev0" ]; then
  ok "fork loop of 200 stopped at pids.max: pids.current $cur, pids.events max $ev0 -> $ev1"
else
  no "fork loop: pids.current $cur (max 40), pids.events max $ev0 -> $ev1"
fi
# The sleeps go, by pid, from every cgroup of the zone.
for f in $(find "$cg" -name cgroup.procs); do
  for p in $(cat "$f"); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ] && kill -9 "$p" 2>/dev/null
  done
done
for i in $(seq 50); do [ "$(cat "$cg/pids.current")" -lt 25 ] && break; sleep 0.1; done

# capped-memory physical: memory.max, and a hog killed there.
mmax=$(cat "$cg/memory.max")
[ "$mmax" = $((64 << 20)) ] && ok "memory.max is 64 MiB" || no "memory.max is $mmax, want $((64 << 20))"
oom0=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
zl dd if=/dev/zero of=/dev/null bs=200M count=1 >/dev/null 2>&1
rc=$?
oom1=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
peak=$(cat "$cg/memory.peak" 2>/dev/null || echo "?")
if [ "$rc" = 137 ] && [ "$oom1" -gt "$oom0" ]; then
  ok "200M hog killed at memory.max: exit $rc, oom_kill $oom0 -> $oom1, memory.peak $peak"
else
  no "200M hog: exit $rc, oom_kill $oom0 -> $oom1, memory.peak $peak"
fi
[ "$(zl echo alive 2>/dev/null)" = alive ] && ok "zone works after the OOM kill" || no "zone dead after the OOM kill"

# capped-cpu ncpus=0.5: cpu.max, and a busy loop throttled by it.
cmax=$(cat "$cg/cpu.max")
[ "$cmax" = "50000 100000" ] && ok "cpu.max is 50000 100000" || no "cpu.max is '$cmax', want '50000 100000'"
thr0=$(awk '$1 == "nr_throttled" { print $2 }' "$cg/cpu.stat")
zl sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done' >/dev/null 2>&1
thr1=$(awk '$1 == "nr_throttled" { print $2 }' "$cg/cpu.stat")
if [ "$thr1" -gt "$thr0" ]; then
  ok "busy loop throttled: nr_throttled $thr0 -> $thr1"
else
  no "busy loop not throttled: nr_throttled $thr0 -> $thr1"
fi

scope=${acg%/supervisor}
if [ "$mode" != unit ]; then
  z zoneadm -z "$zone" halt && ok "halt" || no "halt"
else
  # The unit's stop command shuts its zones down.
  systemctl stop zonetop-autoboot.service && ok "systemctl stop zonetop-autoboot.service" || no "systemctl stop zonetop-autoboot.service"
  st=$(z zoneadm -z "$zone" list -p 2>&1)
  case $st in
    *:installed:*) ok "zone installed again after the unit stopped" ;;
    *) no "zone after the unit stopped: $st" ;;
  esac
fi
[ -d "$cg" ] && no "zone cgroup $cg left after halt" || ok "zone cgroup removed at halt"
# systemd collects the emptied scope.
for i in $(seq 50); do [ -d "/sys/fs/cgroup$scope" ] || break; sleep 0.2; done
[ -d "/sys/fs/cgroup$scope" ] && no "scope $scope left after halt: $(find "/sys/fs/cgroup$scope" -name cgroup.procs -exec cat {} + | tr '\n' ' ')" || ok "scope $scope gone after halt"
exit $bad
