#!/usr/bin/env bash
# CPU an idle zonetop console uses while watching 100 zones for 30 s
# (aim: under 3% of one core). It runs the real binary in a private tmux
# server at 160x48 and reads the process's own CPU time from /proc.
# Prints the result; asserts nothing. DURATION and ZONES override; ROOT
# names a root prefix that already holds ZONES configured zones (make
# bench's 1,000, made once for zoneadm list), which is then left as it
# was.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/zonetop
DURATION=${DURATION:-30}
ZONES=${ZONES:-100}
command -v tmux >/dev/null || { echo "bench-ui: needs tmux" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench-ui: build first (make build)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/zonetop-bench-ui.XXXXXX)
sock=zonetop-bench-ui-$$
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

root=${ROOT:-}
if [ -z "$root" ]; then
  root=$tmp
  for i in $(seq -w 1 "$ZONES"); do
    printf 'create -b\nset zonepath=/zones/z%s\nset brand=sparse\ncommit\n' "$i" >"$tmp/script"
    "$BIN" --root "$root" zonecfg -z "z$i" -f "$tmp/script" >/dev/null
  done
fi
have=$("$BIN" --root "$root" zoneadm list -c | grep -cvx global || true)
[ "$have" -eq "$ZONES" ] || { echo "bench-ui: $root holds $have zones, not $ZONES" >&2; exit 1; }

tmux -L "$sock" new-session -d -s b -x 160 -y 48 "exec $BIN --root $root"
pid=$(tmux -L "$sock" list-panes -t b -F '#{pane_pid}')
sleep 3 # first paint and the first refreshes
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s%N)
sleep "$DURATION"
t1=$(ticks); s1=$(date +%s%N)
tmux -L "$sock" capture-pane -p -t b | head -2
awk -v t="$((t1 - t0))" -v hz="$hz" -v ns="$((s1 - s0))" -v z="$ZONES" 'BEGIN {
  cpu = t / hz; wall = ns / 1e9
  printf "idle zonetop, %d zones, %.0f s: %.2f s CPU = %.2f%% of a core\n", z, wall, cpu, 100 * cpu / wall }'
