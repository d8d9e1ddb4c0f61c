#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 60s).
# go test runs one -fuzz target per invocation, so they go one after another.
#
# A run that fails with "context deadline exceeded" at the end of its time
# and writes no failing input is Go 1.26's fuzz coordinator racing its own
# -fuzztime deadline (go.dev/issue/75804, fixed in Go 1.27), not a finding:
# it is reported as such and does not fail the whole. Any run that writes
# an input under testdata/fuzz/ fails it.
set -euo pipefail
t=${1:-60s}
cd "$(dirname "$0")/.."
status=0
failed=() flaked=()
while read -r pkg; do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    corpus=$dir/testdata/fuzz/$f
    before=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
    out=$(mktemp)
    if go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
      :
    elif [ "$( (ls "$corpus" 2>/dev/null || true) | wc -l)" -eq "$before" ] && grep -q '^    context deadline exceeded$' "$out"; then
      echo "   ($f: the fuzz coordinator's deadline race, go.dev/issue/75804; no failing input)"
      flaked+=("$f")
    else
      failed+=("$f")
      status=1
    fi
    rm -f "$out"
  done
done < <(go list ./...)
echo "fuzz: ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, ${#flaked[@]} ended by the deadline race${flaked[*]:+ (${flaked[*]})}"
exit $status
