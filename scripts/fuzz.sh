#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 60s).
# go test runs one -fuzz target per invocation, so they go one after another.
set -euo pipefail
t=${1:-60s}
cd "$(dirname "$0")/.."
status=0
while read -r pkg; do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" || status=1
  done
done < <(go list ./...)
exit $status
