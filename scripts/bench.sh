#!/usr/bin/env bash
# make bench: whole-process measurements of the real binary (whatever
# `make build` made) side by side with its peers, then the Go benchmarks of
# every package, then the summary tables with the aims from the issues.
# Prints medians and p90s; asserts no aim. Needs root for the zone and peer
# parts (skipped otherwise).
#
# The zone's performance peer is an LXC system container
# (scripts/bench-peer.sh: cycle, steps and density side by side); the
# one-shot runners (lxc-execute, runc, systemd-nspawn) stay below for
# information. scripts/bench-ipc.sh measures the IPC check's own cost,
# scripts/bench-console.sh the console path, scripts/bench-ui.sh the
# console's idle CPU; each hands its figures to the issue #19 summary.
#
# Exits non-zero when a step breaks (a command fails, a sub-bench fails);
# a missed aim is reported, not an error.
#
# Knobs: RUNS (cycles per measurement, default 31), BENCHTIME (go test
# -benchtime, default 1s), NOPEERS=1 (skip the peers), NOGO=1 (skip the Go
# benchmarks), NOINSTALL=1 (do not apt-get the peers), and the sub-benches'
# own: CYCLES, DENSITY (bench-peer.sh), IPC_TIME, IPC_CALLS
# (bench-ipc.sh), SIZE_MB, CONSOLE_RUNS (bench-console.sh), DURATION,
# ZONES (bench-ui.sh's first run; its second is always 1,000 zones).
#
# What the peers need on these hosts (cgroup v1 hybrid, no systemd as PID 1,
# no D-Bus):
#  - lxc-execute: lxc.net.0.type = empty (a new network namespace with only
#    lo, nothing done to the host's network), apparmor unconfined (no
#    AppArmor here), a private lxcpath (-P) so nothing lands in /var/lib/lxc.
#  - runc: a hand-written config.json (pid, mount, ipc, uts, network
#    namespaces; read-only root); state under a private --root.
#  - systemd-nspawn: --register=no and --keep-unit (no machined, no system
#    bus to ask for a scope), --private-network, -q.
#  - crun refuses this hybrid cgroup host: not a peer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTDIR=$PWD
BIN=$ROOTDIR/bin/zonetop
RUNS=${RUNS:-31}
export LC_ALL=C

work=$(mktemp -d /tmp/zonetop-bench.XXXXXX)
zroot=$work/zt        # zonetop's --root for the zone cycles
zone=zbm$$
lxcpath=$work/lxc
runcstate=$work/runc
summary=$work/summary
# The sub-benches' "key value" figures for the issue #19 summary.
export BENCH_AIMS=$work/aims
: >"$BENCH_AIMS"
broken=() # the steps that broke; any makes the exit status 1
broke() { broken+=("$1"); echo "  BROKEN: $1"; }

cleanup() {
  set +e
  if [ -x "$BIN" ] && [ -d "$zroot" ]; then
    "$BIN" --root "$zroot" zoneadm -z "$zone" halt >/dev/null 2>&1
    "$BIN" --root "$zroot" zoneadm -z "$zone" uninstall -F >/dev/null 2>&1
  fi
  if command -v lxc-stop >/dev/null 2>&1 && [ -d "$lxcpath" ]; then
    for c in $(ls "$lxcpath" 2>/dev/null); do lxc-stop -k -n "$c" -P "$lxcpath" >/dev/null 2>&1; done
  fi
  if command -v runc >/dev/null 2>&1 && [ -d "$runcstate" ]; then
    for c in $(runc --root "$runcstate" list -q 2>/dev/null); do runc --root "$runcstate" delete -f "$c" >/dev/null 2>&1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# now_us prints a microsecond clock without forking (bash 5).
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# stats FILE: "median p90" in ms of the microsecond samples in FILE.
stats() {
  sort -n "$1" | awk '{a[NR]=$1} END {
    if (NR == 0) { print "- -"; exit }
    m = a[int((NR+1)/2)]; p = a[int(NR*0.9 + 0.999)]; if (p == "") p = a[NR]
    printf "%.2f %.2f\n", m/1000, p/1000 }'
}

# measure NAME CMD...: runs the shell function or command RUNS times (after
# one warm-up), records each run's time, prints and keeps median and p90.
measure() {
  local name=$1 i s e f=$work/samples.$RANDOM
  shift
  "$@" >/dev/null 2>&1 || { echo "  $name: FAILED (see below)"; "$@" 2>&1 | tail -5 | sed 's/^/    /'; return 1; }
  : >"$f"
  for ((i = 0; i < RUNS; i++)); do
    s=${EPOCHREALTIME/./}
    if ! "$@" >/dev/null 2>&1; then
      echo "  $name: failed on run $i"; return 1
    fi
    e=${EPOCHREALTIME/./}
    echo $((e - s)) >>"$f"
  done
  read -r med p90 < <(stats "$f")
  printf '  %-44s median %8s ms   p90 %8s ms\n' "$name" "$med" "$p90"
  echo "$name $med $p90" >>"$summary"
}

# timed NAME SETUP BODY TEARDOWN: like measure, but only BODY is timed.
timed() {
  local name=$1 setup=$2 body=$3 teardown=$4 i s e f=$work/samples.$RANDOM
  : >"$f"
  for ((i = 0; i <= RUNS; i++)); do
    $setup >/dev/null 2>&1 || { echo "  $name: setup failed"; return 1; }
    s=${EPOCHREALTIME/./}
    $body >/dev/null 2>&1 || { echo "  $name: failed"; $teardown >/dev/null 2>&1; return 1; }
    e=${EPOCHREALTIME/./}
    $teardown >/dev/null 2>&1 || { echo "  $name: teardown failed"; return 1; }
    [ "$i" -gt 0 ] && echo $((e - s)) >>"$f" # run 0 warms up
  done
  read -r med p90 < <(stats "$f")
  printf '  %-44s median %8s ms   p90 %8s ms\n' "$name" "$med" "$p90"
  echo "$name $med $p90" >>"$summary"
}

val() { awk -v k="$1" '$1 == k {print $2}' "$summary" | tail -1; }

: >"$summary"
mkdir -p "$zroot"

if [ "$(id -u)" -ne 0 ]; then
  echo "== not root: zone and peer measurements skipped"
  ASROOT=0
else
  ASROOT=1
fi

# --- peers, installed here only (never by make test) -------------------------
if [ "$ASROOT" = 1 ] && [ "${NOPEERS:-0}" != 1 ] && [ "${NOINSTALL:-0}" != 1 ]; then
  need=()
  # lxc's package enables lxc-net, which makes a bridge (lxcbr0) with
  # dnsmasq where systemd runs the units; its postinst starts them only
  # when /run/systemd/system exists. Not here: on such a host the
  # operator installs lxc knowingly (the peer itself needs no bridge).
  if ! command -v lxc-execute >/dev/null; then
    if [ -d /run/systemd/system ]; then
      echo "== lxc not installed: on a systemd host its lxc-net would make a bridge; install it yourself"
    else
      need+=(lxc)
    fi
  fi
  command -v stress-ng >/dev/null || need+=(stress-ng)
  command -v runc >/dev/null || need+=(runc)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
  [ -x /bin/busybox ] || need+=(busybox-static)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "== installing peers: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; } ||
      echo "   (install failed; missing peers are skipped)"
  fi
fi

# --- the equivalent busybox root, made once -----------------------------------
bbroot=$work/bundle/rootfs
make_busybox_root() {
  mkdir -p "$bbroot"
  (
    cd "$bbroot"
    mkdir -p bin sbin etc proc sys dev tmp root run usr/bin usr/sbin
    cp /bin/busybox bin/busybox
    for p in $(/bin/busybox --list-full); do
      [ -e "$p" ] || [ -L "$p" ] || ln -s /bin/busybox "$p"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >etc/passwd
    printf 'root:x:0:\n' >etc/group
    printf 'ID=busybox\nNAME=busybox\n' >etc/os-release
  )
}

if [ "$ASROOT" = 1 ]; then
  echo "== zone cycle: boot sparse zone -> zlogin true -> halt (real binary, $RUNS runs)"
  printf 'create -b\nset zonepath=/zones/%s\nset brand=sparse\ncommit\n' "$zone" >"$work/zone.cfg"
  mkdir -p "$zroot/zones" && chmod 700 "$zroot/zones"
  "$BIN" --root "$zroot" zonecfg -z "$zone" -f "$work/zone.cfg" >/dev/null
  "$BIN" --root "$zroot" zoneadm -z "$zone" install >/dev/null 2>&1
  Z() { "$BIN" --root "$zroot" "$@"; }
  zt_cycle() { Z zoneadm -z "$zone" boot && Z zlogin "$zone" true && Z zoneadm -z "$zone" halt; }
  zt_ready() { Z zoneadm -z "$zone" ready; }
  zt_boot() { Z zoneadm -z "$zone" boot; }
  zt_halt() { Z zoneadm -z "$zone" halt; }
  zt_zlogin() { Z zlogin "$zone" true; }
  zt_none() { :; }
  measure zonetop-cycle zt_cycle || broke zonetop-cycle
  # The floor under DESIGN.md's one binary: a cycle is three front-end
  # commands, and boot starts zoneadmd, zsched and zinit, six starts of
  # zonetop before any zone work (--help: a start that does nothing).
  six_starts() { for _ in 1 2 3 4 5 6; do "$BIN" --help >/dev/null; done; }
  measure zonetop-six-starts six_starts || broke zonetop-six-starts
  timed zonetop-ready zt_none zt_ready zt_halt || broke zonetop-ready
  timed zonetop-boot-from-ready zt_ready zt_boot zt_halt || broke zonetop-boot-from-ready
  timed zonetop-zlogin-true zt_boot zt_zlogin zt_halt || broke zonetop-zlogin-true
  timed zonetop-halt zt_boot zt_halt zt_none || broke zonetop-halt

  # Resident memory of an idle zoneadmd and of the zone's zsched.
  if Z zoneadm -z "$zone" boot >/dev/null 2>&1; then
    sleep 1 # let the supervisor settle (GC, idle goroutines)
    rund=$zroot/run/zonetop/$zone
    zpid=$(cat "$rund/zoneadmd.pid" 2>/dev/null || true)
    spid=$(sed -n 's/.*"zsched_pid": *\([0-9]*\).*/\1/p' "$rund/state.json" 2>/dev/null || true)
    rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null; }
    zr=$( [ -n "$zpid" ] && rss "$zpid" || echo -)
    sr=$( [ -n "$spid" ] && rss "$spid" || echo -)
    printf '  %-44s %8s MiB\n' "RSS of idle zoneadmd (pid ${zpid:-?})" "$zr"
    printf '  %-44s %8s MiB\n' "RSS of zsched (pid ${spid:-?})" "$sr"
    # RSS counts the binary's pages zoneadmd shares with zsched and the
    # page cache in full; PSS splits them among their users.
    pss() { awk '/^Pss:/ {printf "%.1f", $2/1024}' "/proc/$1/smaps_rollup" 2>/dev/null; }
    zp=$( [ -n "$zpid" ] && pss "$zpid" || echo -)
    printf '  %-44s %8s MiB\n' "PSS of idle zoneadmd" "$zp"
    echo "zoneadmd-pss $zp -" >>"$summary"
    # What an idle running zone costs the host while nothing happens in
    # it: context switches a second and CPU over 10 s, for its zoneadmd,
    # zsched and init (a polling loop would show here).
    ipid=$(sed -n 's/.*"init_pid": *\([0-9]*\).*/\1/p' "$rund/state.json" 2>/dev/null || true)
    ctxsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
    if [ -n "$zpid" ] && [ -n "$spid" ] && [ -n "$ipid" ]; then
      declare -A c0 t0
      for p in "$zpid" "$spid" "$ipid"; do c0[$p]=$(ctxsw "$p"); t0[$p]=$(ticks "$p"); done
      sleep 10
      idle=""
      for p in "$zpid" "$spid" "$ipid"; do
        cs=$(( ($(ctxsw "$p") - c0[$p]) / 10 ))
        cpu=$(awk -v t="$(( $(ticks "$p") - t0[$p] ))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", 100 * t / hz / 10}')
        idle="$idle $cs/s ${cpu}%,"
      done
      printf '  %-44s %s\n' "idle zone: zoneadmd, zsched, init" "${idle%,} (wake-ups, CPU of a core)"
      idle=${idle%,}
      echo "idle-zone ${idle// /_} -" >>"$summary"
    fi
    echo "zoneadmd-rss $zr -" >>"$summary"
    echo "zsched-rss $sr -" >>"$summary"
    # The same zoneadmd once it has served a few requests: the binary's
    # pages it touched stay mapped, so its RSS grows with use.
    for i in 1 2 3; do
      Z zlogin "$zone" true >/dev/null 2>&1
      Z prctl -i zone "$zone" >/dev/null 2>&1
      Z zonestat 1 1 >/dev/null 2>&1
    done
    sleep 1
    zu=$( [ -n "$zpid" ] && rss "$zpid" || echo -)
    printf '  %-44s %8s MiB\n' "RSS of zoneadmd after zlogin/prctl/zonestat" "$zu"
    echo "zoneadmd-rss-used $zu -" >>"$summary"
    Z zoneadm -z "$zone" halt >/dev/null 2>&1 || true
  fi

  if [ "${NOPEERS:-0}" != 1 ] && [ -x /bin/busybox ]; then
    make_busybox_root
    echo
    echo "== one-shot peers, for information: a create-exec-destroy cycle on a busybox root, running true"
    echo "   (new pid, mount, ipc, uts and net namespaces)"
    if command -v lxc-execute >/dev/null; then
      mkdir -p "$lxcpath"
      cat >"$work/lxc.conf" <<EOF
lxc.uts.name = bench
lxc.rootfs.path = dir:$bbroot
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
EOF
      lxc_cycle() { lxc-execute -n zbexec$$ -f "$work/lxc.conf" -P "$lxcpath" -- /bin/true; }
      measure lxc-execute lxc_cycle || broke lxc-execute
    else
      echo "  lxc-execute: not installed"
    fi
    if command -v runc >/dev/null; then
      mkdir -p "$runcstate"
      cat >"$work/bundle/config.json" <<'EOF'
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
      runc_n=0
      runc_cycle() { runc_n=$((runc_n + 1)); runc --root "$runcstate" run --bundle "$work/bundle" "zbr$$-$runc_n"; }
      measure runc-run runc_cycle || broke runc-run
    else
      echo "  runc: not installed"
    fi
    if command -v systemd-nspawn >/dev/null; then
      nspawn_cycle() { systemd-nspawn --register=no --keep-unit -q -D "$bbroot" --private-network /bin/true; }
      measure "systemd-nspawn" nspawn_cycle || broke systemd-nspawn
    else
      echo "  systemd-nspawn: not installed"
    fi
  fi

  if [ "${NOPEERS:-0}" != 1 ]; then
    echo
    ./scripts/bench-peer.sh || broke bench-peer.sh
  fi
  echo
  ./scripts/bench-ipc.sh || broke bench-ipc.sh

  zc=$(val zonetop-cycle)
  if [ -n "$zc" ]; then
    echo
    echo "== ratios (peer time / zonetop cycle time; > 1 means zonetop is faster)"
    for p in lxc-execute runc-run systemd-nspawn; do
      pv=$(val "$p")
      [ -n "$pv" ] && awk -v p="$p" -v a="$pv" -v z="$zc" 'BEGIN {printf "  %-16s %6.2f ms vs zonetop %6.2f ms: ratio %.2f\n", p, a, z, a/z}'
    done
  fi
fi

echo
echo "== zoneadm list -cv over 1,000 configured zones (whole process)"
lroot=$work/list
mkdir -p "$lroot"
for i in $(seq -w 1 1000); do
  printf 'create -b\nset zonepath=/zones/z%s\nset brand=sparse\ncommit\n' "$i" >"$work/script"
  "$BIN" --root "$lroot" zonecfg -z "z$i" -f "$work/script" >/dev/null
done
echo "  zones listed: $("$BIN" --root "$lroot" zoneadm list -c | wc -l) (incl. global)"
list_cv() { "$BIN" --root "$lroot" zoneadm list -cv; }
measure "list-cv-1000" list_cv || broke list-cv-1000

echo
echo "== zonecfg -f of a 1,000-line script (whole process)"
{
  echo "create -b"
  echo "set zonepath=/zones/big"
  i=0
  while [ "$(( (i * 6) + 2 ))" -lt 1000 ]; do
    printf 'add fs\nset dir=/mnt/d%d\nset special=/srv/d%d\nset type=lofs\nadd options [ro,nodevices]\nend\n' "$i" "$i"
    i=$((i + 1))
  done
  echo "verify"
} >"$work/big.cfg"
echo "  script lines: $(wc -l <"$work/big.cfg")"
parse_big() { "$BIN" --root "$lroot" zonecfg -z big -f "$work/big.cfg" && "$BIN" --root "$lroot" zonecfg -z big delete -F; }
parse_only() { "$BIN" --root "$lroot" zonecfg -z big -f "$work/big.cfg"; }
del_big() { "$BIN" --root "$lroot" zonecfg -z big delete -F; }
timed "zonecfg-f-1000-lines" : parse_only del_big || broke zonecfg-f-1000-lines

gobench=$work/gobench
if [ "${NOGO:-0}" != 1 ]; then
  echo
  echo "== Go benchmarks (-benchmem, -benchtime ${BENCHTIME:-1s})"
  go test -run '^$' -bench . -benchmem -benchtime="${BENCHTIME:-1s}" ./... 2>&1 |
    tee "$gobench" | grep -E '^(Benchmark|ok|FAIL|pkg:|---)' || true
fi

# --- summary ------------------------------------------------------------------
echo
echo "== summary (aims from issues #2 and #3)"
row() { printf '  %-34s %-24s %s\n' "$1" "$2" "$3"; }
verdict() { # value aim-op limit
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "" || v == "-" || l == "") { print ""; exit }
    ok = (op == "<=") ? (v+0 <= l+0) : (v+0 < l+0)
    print ok ? "[met]" : "[not met]" }'
}
row "measure" "value" "aim"
zc=$(val zonetop-cycle); lx=$(val lxc-execute)
row "zone cycle boot->zlogin->halt" "${zc:--} ms" "(lxc-execute ${lx:--} ms, one-shot; the aim is against LXC below)"
row "six starts of zonetop (floor)" "$(val zonetop-six-starts || true) ms" "(3 front ends + zoneadmd, zsched, zinit; no zone work)"
row "zonetop ready" "$(val zonetop-ready || true) ms" ""
row "zonetop boot from ready" "$(val zonetop-boot-from-ready || true) ms" ""
rc=$(val runc-run || true); ns=$(val systemd-nspawn || true)
row "runc run / systemd-nspawn" "${rc:--} / ${ns:--} ms" ""
zr=$(val zoneadmd-rss)
row "idle zoneadmd RSS" "${zr:--} MiB" "< 10 MiB $(verdict "$zr" '<' 10)"
row "zoneadmd RSS after use" "$(val zoneadmd-rss-used || true) MiB" "(after 3 x zlogin, prctl, zonestat)"
row "idle zoneadmd PSS" "$(val zoneadmd-pss || true) MiB" "(shared binary pages split)"
row "zsched RSS" "$(val zsched-rss || true) MiB" ""
iz=$(val idle-zone || true)
row "idle zone: zoneadmd, zsched, init" "${iz//_/ }" "(wake-ups a second, CPU of a core)"
row "zoneadm list -cv, 1,000 zones" "$(val list-cv-1000) ms" "(whole process, median)"
row "zonecfg -f, 1,000 lines" "$(val zonecfg-f-1000-lines) ms" "(whole process, median)"
if [ -s "$gobench" ]; then
  gb() { awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" {for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") {printf "%.4g", $i/1e6; exit}}' "$gobench"; }
  gbm() { awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" {for (i = 2; i <= NF; i++) if ($(i+1) == "B/op") {printf "%d B, ", $i} for (i = 2; i <= NF; i++) if ($(i+1) == "allocs/op") {printf "%d allocs", $i}; exit}' "$gobench"; }
  # The console's frame time: one frame drawn over a fake backend
  # with that many zones (ui's BenchmarkRenderTable100 and 1000).
  r=$(gb BenchmarkRenderTable100)
  row "ui render 100 zones" "${r:--} ms/frame" "< 10 ms/frame $(verdict "$r" '<' 10)"
  r=$(gb BenchmarkRenderTable1000)
  row "ui render 1,000 zones" "${r:--} ms/frame" "< 10 ms/frame $(verdict "$r" '<' 10)"
  r=$(gb BenchmarkRefresh1000); row "ui refresh 1,000 zones" "${r:--} ms" ""
  r=$(gb BenchmarkList1000); row "zones list 1,000 (in process)" "${r:--} ms" ""
  r=$(gb BenchmarkParse1000Lines); row "zonecfg parse 1,000 lines" "${r:--} ms" ""
  r=$(awk '$1 ~ /^BenchmarkSampleRound100x5(-[0-9]+)?$/ {for (i = 2; i <= NF; i++) if ($(i+1) == "%core@1Hz") {print $i; exit}}' "$gobench")
  row "sampling 100 zones x 5 projects" "${r:--} % of a core at 1 Hz" "< 2% $(verdict "$r" '<' 2)"
  r=$(gb BenchmarkZoneCycle); row "engine ready->exec->halt" "${r:--} ms" "(in process; lxc-execute ${lx:--} ms)"
  for b in $(awk '$1 ~ /^Benchmark.*([Ss]hm|IPC|Ipc)/ {sub(/-[0-9]+$/, "", $1); print $1}' "$gobench" | sort -u); do
    row "${b#Benchmark}" "$(gb "$b") ms" "(shmget overhead)"
  done
  echo
  echo "  every Go benchmark (ms/op, memory):"
  awk '$1 ~ /^Benchmark/ && / ns\/op/ {n=$1; sub(/-[0-9]+$/, "", n); print n}' "$gobench" | while read -r b; do
    printf '    %-40s %12s ms/op   %s\n' "${b#Benchmark}" "$(gb "$b")" "$(gbm "$b")"
  done
fi

echo
./scripts/bench-console.sh || broke bench-console.sh
echo
./scripts/bench-ui.sh || broke bench-ui.sh
# The same idle console over the 1,000 zones zoneadm list was timed on.
ZONES=1000 ROOT=$lroot ./scripts/bench-ui.sh || broke bench-ui.sh-1000
# Keystroke echo in a console login pane against a plain zlogin on the
# same zone, side by side (cmd/zonetop's TestPaneEchoLatency).
echo
ZONETOP_ECHO_BENCH=${ECHO_KEYS:-200} go test -tags zonetop_testhooks -count=1 -run '^TestPaneEchoLatency$' -v ./cmd/zonetop 2>&1 |
  sed -n 's/^ *echo_bench_test.go:[0-9]*: /  /p' || broke pane-echo

# --- issue #19: each aim with its peer, side by side from this run ------------
echo
echo "== summary: issue #19 aims (ratios from one side-by-side run; this machine is noisy)"
av() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$BENCH_AIMS"; }
# aimrow LABEL VALUE UNIT PEER PEERVALUE OP LIMIT: ratio VALUE/PEERVALUE,
# met when "ratio OP LIMIT" holds (OP <= or >=); LIMIT "abs:N" compares
# VALUE itself with N instead.
aimrow() {
  awk -v l="$1" -v v="$2" -v u="$3" -v p="$4" -v pv="$5" -v op="$6" -v lim="$7" 'BEGIN {
    num = "^[0-9.]+$"
    r = (v ~ num && pv ~ num && pv + 0 > 0) ? sprintf("%.2f", v / pv) : "-"
    x = r; n = lim
    if (lim ~ /^abs:/) { x = v; n = substr(lim, 5) }
    if (x !~ num) verdict = "not measured"
    else verdict = ((op == "<=") ? (x + 0 <= n + 0) : (x + 0 >= n + 0)) ? "met" : "NOT MET"
    printf "  %-40s %10s %-6s %-16s %10s %6s  %s\n", l, (v == "" ? "-" : v), u, p, (pv == "" ? "-" : pv), r, verdict }'
}
printf '  %-40s %10s %-6s %-16s %10s %6s  %s\n' "aim" "zonetop" "" "peer" "" "ratio" "verdict"
for b in busybox sparse; do
  aimrow "cycle <= LXC ($b)" "$(av peer-cycle-$b)" ms "LXC cycle" "$(av peer-cycle-lxc)" '<=' 1
  aimrow "  boot <= lxc-start -d" "$(av peer-start-$b)" ms "lxc-start -d" "$(av peer-start-lxc)" '<=' 1
  aimrow "  zlogin true <= lxc-attach true" "$(av peer-login-$b)" ms "lxc-attach" "$(av peer-login-lxc)" '<=' 1
  aimrow "  halt <= lxc-stop -k" "$(av peer-halt-$b)" ms "lxc-stop -k" "$(av peer-halt-lxc)" '<=' 1
done
dn=$(av density-n)
aimrow "machinery <= 2 MiB PSS/zone (N=${dn:-?}; aim@100)" "$(av density-zonetop)" MiB "LXC/container" "$(av density-lxc)" '<=' abs:2
for k in shm sem msg; do
  aimrow "${k}get per call <= 1.2x host (default)" "$(av ipc-call-$k-zone)" us "host" "$(av ipc-call-$k-host)" '<=' 1.2
  aimrow "${k}get per call <= 1.2x host (project)" "$(av ipc-call-$k-proj)" us "host" "$(av ipc-call-$k-host)" '<=' 1.2
done
for k in shm sem msg; do
  aimrow "$k stress-ng >= 90% of host (default)" "$(av ipc-ops-$k-zone)" ops/s "host" "$(av ipc-ops-$k-host)" '>=' 0.9
  aimrow "$k stress-ng >= 90% of host (project)" "$(av ipc-ops-$k-proj)" ops/s "host" "$(av ipc-ops-$k-host)" '>=' 0.9
done
aimrow "console >= 80% of a host pty" "$(av console-zone)" MiB/s "host pty" "$(av console-host)" '>=' 0.8
echo "  (1,000 zones: make scale)"

if [ "${#broken[@]}" -gt 0 ]; then
  echo
  echo "== broken steps: ${broken[*]}"
  exit 1
fi
