#!/bin/bash
# The zone-caps check, run inside the v2 ring's guest from a login shell
# (`su -l`, a logind session). It configures a busybox zone with max-lwps,
# capped-memory physical and capped-cpu, boots it with --cgroup-parent
# naming an empty delegated cgroup ($V2RING_ZONES_PARENT), and proves each
# cap bites: a fork loop stops at pids.max, a memory hog dies at
# memory.max, cpu.max holds the quota and throttles a busy loop. Prints
# PASS/FAIL lines; exits non-zero on any failure.
set -uo pipefail

opt=/opt/v2ring
zt=$opt/bin/zonetop
root=$(mktemp -d /tmp/zcaps.XXXXXX)
zone=capz
bad=0
ok() { echo "PASS zcaps: $*"; }
no() { echo "FAIL zcaps: $*"; bad=1; }
z() { "$zt" --root "$root" --cgroup-parent "$V2RING_ZONES_PARENT" "$@"; }
# Every zlogin is bounded: a cap that bites may also hang a shell.
zl() { timeout -k 5 120 "$zt" --root "$root" zlogin "$zone" "$@"; }

cleanup() {
  "$zt" --root "$root" zoneadm -z plainz halt >/dev/null 2>&1
  z zoneadm -z "$zone" halt >/dev/null 2>&1
  z zoneadm -z "$zone" uninstall -F >/dev/null 2>&1
  z zonecfg -z "$zone" delete -F >/dev/null 2>&1
  rm -rf "$root"
}
trap cleanup EXIT

# The context: a logind session scope, not the ring's service.
self=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
case $self in
  /user.slice/*/session-*.scope) ok "login shell in $self (session $XDG_SESSION_ID)" ;;
  *) no "not in a login session: $self" ;;
esac

mkdir -p "$root/zones"

# A zone without caps needs no controller: it boots from the login shell
# with zonetop's default parent, below the session's own cgroup.
plain=plainz
zp() { "$zt" --root "$root" "$@"; }
if zp zonecfg -z "$plain" "create; set zonepath=/zones/$plain; set brand=busybox; commit" &&
  zp zoneadm -z "$plain" install >/dev/null && zp zoneadm -z "$plain" boot; then
  where=$(timeout -k 5 60 "$zt" --root "$root" zlogin "$plain" cat /proc/1/cgroup 2>&1)
  pcg=$(find "/sys/fs/cgroup$self" -maxdepth 2 -type d -name "$plain" | head -n1)
  if [ -n "$pcg" ]; then
    ok "uncapped zone booted with the default parent: $pcg (the zone's pid 1 sees ${where:-nothing})"
  else
    no "uncapped zone booted but has no cgroup below $self"
  fi
  zp zoneadm -z "$plain" halt || no "halt of the uncapped zone"
else
  no "uncapped zone did not boot from the login shell"
fi
zp zoneadm -z "$plain" uninstall -F >/dev/null 2>&1
zp zonecfg -z "$plain" delete -F >/dev/null 2>&1

if ! z zonecfg -z "$zone" "create; set zonepath=/zones/$zone; set brand=busybox; set max-lwps=40; add capped-memory; set physical=64m; end; add capped-cpu; set ncpus=0.5; end; commit"; then
  no "zonecfg"
  exit 1
fi
z zoneadm -z "$zone" install || { no "install"; exit 1; }
if ! z zoneadm -z "$zone" boot; then
  no "boot of a capped zone with --cgroup-parent $V2RING_ZONES_PARENT"
  tail -n 30 "$root"/var/log/zonetop/*.zoneadmd.log 2>/dev/null
  exit 1
fi
ok "capped zone booted from a login shell"

cg=/sys/fs/cgroup$V2RING_ZONES_PARENT/zonetop/$zone
[ -d "$cg" ] || { no "no zone cgroup at $cg"; exit 1; }
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
for i in $(seq 50); do [ "$(cat "$cg/pids.current")" -lt 10 ] && break; sleep 0.1; done

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

if z zoneadm -z "$zone" halt; then
  ok "halt"
else
  no "halt"
fi
[ -d "$cg" ] && no "zone cgroup $cg left after halt" || ok "zone cgroup removed at halt"
exit $bad
