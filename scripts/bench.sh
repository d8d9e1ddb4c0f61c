#!/usr/bin/env bash
# make bench: Go micro-benchmarks of every package, then whole-process
# measurements of the real binary. Prints medians; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/zonetop
RUNS=${RUNS:-21}

median_ms() { # command... ; runs it RUNS times, prints the median in ms
  local times=() i s e
  for ((i = 0; i < RUNS; i++)); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

echo "== Go benchmarks"
go test -run '^$' -bench . -benchmem -benchtime=${BENCHTIME:-1s} ./... 2>&1 | grep -E '^(Benchmark|ok|FAIL|pkg:)' || true

echo
echo "== zoneadm list -cv over 1,000 configured zones (whole process)"
tmp=$(mktemp -d /tmp/zonetop-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq -w 1 1000); do
  printf 'create -b\nset zonepath=/zones/z%s\nset brand=sparse\ncommit\n' "$i" >"$tmp/script"
  "$BIN" --root "$tmp" zonecfg -z "z$i" -f "$tmp/script" >/dev/null
done
echo "zones listed: $("$BIN" --root "$tmp" zoneadm list -c | wc -l) (incl. global)"
echo "median of $RUNS runs: $(median_ms "$BIN" --root "$tmp" zoneadm list -cv) ms"

echo
./scripts/bench-console.sh
