#!/usr/bin/env bash
# make scale: issue #19's thousand-zone exercise on this host, not part of
# make test. Configures and installs N busybox zones, boots them all, logs
# into each (zlogin Z true), then halts them all, and prints:
#  - the wall time of each phase (and per zone);
#  - zonetop's total memory with N running zones: PSS of every zoneadmd,
#    zsched and zinit and of the keeper, from /proc/PID/smaps_rollup;
#  - the idle CPU of all of those together over IDLE seconds;
#  - the time of `zoneadm list -cv` and `zonestat 1 1` with N running;
#  - with tmux, the idle CPU of the console (zonetop) watching them;
#  - open file descriptors and inotify instances zonetop holds, so a
#    per-user kernel limit shows before it bites.
# A phase that fails for one zone stops there and names the zone, its
# error and the count reached (a per-user kernel limit shows so); the
# other phases go on with the zones that are up, and the run exits 1.
# No sysctl is raised: the limit is reported for the design to handle.
#
# Knobs: N (default 1000), IDLE (seconds, default 10), BIN. Needs root.
# Everything lives under one temporary --root; zones are named zbs*; all
# are halted and removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/zonetop}
N=${N:-1000}
IDLE=${IDLE:-10}
export LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "scale: needs root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "scale: $BIN missing (make build)" >&2; exit 1; }

work=$(mktemp -d /tmp/zb-scale.XXXXXX)
zroot=$work/zt
mkdir -p "$zroot/zp"
chmod 700 "$zroot/zp"
tsock=zb-scale-$$
configured=() # zones this run configured, in order
Z() { "$BIN" --root "$zroot" "$@"; }

cleanup() {
  set +e
  trap - INT TERM
  echo "== cleanup: halting and removing ${#configured[@]} zones"
  tmux -L "$tsock" kill-server 2>/dev/null
  local z pid
  for z in "${configured[@]}"; do
    Z zoneadm -z "$z" halt >/dev/null 2>&1
    # A zoneadmd that outlived its halt is ours (its command line names
    # our root and zone): stop it by its pid.
    pid=$(cat "$zroot/run/zonetop/$z/zoneadmd.pid" 2>/dev/null)
    if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF " $zroot $z "; then
      kill -9 "$pid" 2>/dev/null
    fi
    Z zoneadm -z "$z" uninstall -F >/dev/null 2>&1
  done
  sleep 3.5 # the keeper of this --root leaves 3 s after its last zone
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "scale: interrupted" >&2; exit 130' INT TERM

failed=()
now() { echo "${EPOCHREALTIME/./}"; }
# report NAME DONE TOTAL START_US END_US: a phase's wall time.
report() {
  awk -v n="$1" -v d="$2" -v t="$3" -v s="$4" -v e="$5" 'BEGIN {
    w = (e - s) / 1e6
    printf "  %-26s %5d/%-5d %9.2f s %9.2f ms/zone\n", n, d, t, w, (d > 0 ? 1000 * w / d : 0) }'
}
# fail PHASE ZONE INDEX OUTPUT-FILE: records a broken phase with the
# zone's own error (install's progress lines left out).
fail() {
  local msg
  msg=$(tr -d '\r' <"$4" | grep -v '^\(making\|writing\|copying\|linking\) ' | tail -3 | tr '\n' ' ')
  failed+=("$1")
  echo "  $1 FAILED at zone $3 ($2): $msg"
}

echo "== scale: $N busybox zones under $zroot"
echo "   per-uid limits now: inotify instances $(cat /proc/sys/fs/inotify/max_user_instances)," \
  "open files $(ulimit -n), processes $(ulimit -u), ptys $(cat /proc/sys/kernel/pty/max) (reserve $(cat /proc/sys/kernel/pty/reserve))," \
  "keys $(cat /proc/sys/kernel/keys/maxkeys 2>/dev/null || echo ?)"

# configure + install
s=$(now)
for ((i = 1; i <= N; i++)); do
  z=$(printf 'zbs%04d' "$i")
  Z zonecfg -z "$z" "create -b; set zonepath=/zp/$z; set brand=busybox" >"$work/out" 2>&1 ||
    { fail configure "$z" "$i" "$work/out"; break; }
  configured+=("$z")
done
report "zonecfg (configure)" "${#configured[@]}" "$N" "$s" "$(now)"
installed=()
s=$(now)
for z in "${configured[@]}"; do
  Z zoneadm -z "$z" install >"$work/out" 2>&1 || { fail install "$z" "$((${#installed[@]} + 1))" "$work/out"; break; }
  installed+=("$z")
done
report "zoneadm install" "${#installed[@]}" "$N" "$s" "$(now)"

# boot all
booted=()
s=$(now)
for z in "${installed[@]}"; do
  Z zoneadm -z "$z" boot >"$work/out" 2>&1 || { fail boot "$z" "$((${#booted[@]} + 1))" "$work/out"; break; }
  booted+=("$z")
done
report "zoneadm boot (all)" "${#booted[@]}" "$N" "$s" "$(now)"

# log into each
s=$(now)
logged=0
for z in "${booted[@]}"; do
  Z zlogin "$z" true >"$work/out" 2>&1 || { fail zlogin "$z" "$((logged + 1))" "$work/out"; break; }
  logged=$((logged + 1))
done
report "zlogin Z true (each)" "$logged" "$N" "$s" "$(now)"

# What zonetop holds with the zones up: its processes, found by the pids
# its run directory records (nobody else's process is counted).
pids=()
for z in "${booted[@]}"; do
  rd=$zroot/run/zonetop/$z
  p=$(cat "$rd/zoneadmd.pid" 2>/dev/null || true)
  [ -n "$p" ] && pids+=("$p")
  for k in zsched_pid init_pid; do
    p=$(sed -n "s/.*\"$k\": *\([0-9]*\).*/\1/p" "$rd/state.json" 2>/dev/null | head -1)
    [ -n "$p" ] && pids+=("$p")
  done
done
for p in /proc/[0-9]*; do
  if [ "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" = "zonetop-keeper zonetop-keeper $zroot " ]; then
    pids+=("${p#/proc/}")
  fi
done
sleep 2 # let the last boots settle (GC, first samples)
# One process per figure, not three per zonetop process: at 1,000 zones
# there are 3,000 of them.
pss=$(printf '/proc/%s/smaps_rollup\n' "${pids[@]}" | { xargs cat 2>/dev/null || true; } | awk '/^Pss:/ {k += $2} END {print k + 0}')
fds=$(printf '/proc/%s/fd\n' "${pids[@]}" | { xargs ls 2>/dev/null || true; } | grep -c '^[0-9]' || true)
ino=$(printf '/proc/%s/fd\n' "${pids[@]}" | { xargs sh -c 'find "$@" -maxdepth 1 -lname anon_inode:inotify 2>/dev/null' sh || true; } | wc -l)
printf '  %-26s %d processes, %.1f MiB PSS (%.2f MiB per zone)\n' "zonetop's memory" "${#pids[@]}" \
  "$(awk -v k=$pss 'BEGIN {print k / 1024}')" "$(awk -v k=$pss -v n=${#booted[@]} 'BEGIN {print (n ? k / 1024 / n : 0)}')"
printf '  %-26s %d open fds, %d inotify instances\n' "zonetop's descriptors" "$fds" "$ino"

# ticks: user+system CPU ticks of them all, read by one process so that
# reading does not stretch the window (a process gone is skipped).
ticks() { printf '/proc/%s/stat\n' "${pids[@]}" | { xargs cat 2>/dev/null || true; } | awk '{t += $14 + $15} END {print t + 0}'; }
t0=$(ticks)
s=$(now)
sleep "$IDLE"
t1=$(ticks)
e=$(now)
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v us=$((e - s)) -v n=${#booted[@]} 'BEGIN {
  c = t / hz; w = us / 1e6
  printf "  %-26s %.2f s CPU in %.0f s = %.2f%% of a core (%d zones)\n", "idle zonetop, all", c, w, 100 * c / w, n }'

if [ "${#booted[@]}" -gt 0 ]; then
  s=$(now)
  Z zoneadm list -cv >"$work/list" 2>&1 || { fail "list -cv" - - "$work/list"; }
  # Less the header and the global zone.
  report "zoneadm list -cv" "$(($(wc -l <"$work/list") - 2))" "$N" "$s" "$(now)"
  s=$(now)
  Z zonestat 1 1 >"$work/zs" 2>&1 || { fail zonestat - - "$work/zs"; }
  report "zonestat 1 1" "${#booted[@]}" "$N" "$s" "$(now)"
fi

if command -v tmux >/dev/null && [ "${#booted[@]}" -gt 0 ]; then
  tmux -L "$tsock" new-session -d -s s -x 160 -y 48 "exec $BIN --root $zroot"
  tp=$(tmux -L "$tsock" list-panes -t s -F '#{pane_pid}')
  sleep 3
  c0=$(awk '{print $14 + $15}' "/proc/$tp/stat")
  s=$(now)
  sleep "$IDLE"
  c1=$(awk '{print $14 + $15}' "/proc/$tp/stat")
  e=$(now)
  awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v us=$((e - s)) -v n=${#booted[@]} 'BEGIN {
    printf "  %-26s %.2f%% of a core watching %d running zones\n", "console (zonetop) idle", 100 * t / hz / (us / 1e6), n }'
  tmux -L "$tsock" kill-server 2>/dev/null || true
fi

# halt all
s=$(now)
halted=0
for z in "${booted[@]}"; do
  Z zoneadm -z "$z" halt >"$work/out" 2>&1 || { fail halt "$z" "$((halted + 1))" "$work/out"; continue; }
  halted=$((halted + 1))
done
report "zoneadm halt (all)" "$halted" "$N" "$s" "$(now)"

if [ "${#failed[@]}" -gt 0 ]; then
  echo "== scale: failed phases: ${failed[*]}"
  exit 1
fi
