#!/usr/bin/env bash
# loadtest.sh - load and failover scenarios in the namespace lab, with a report.
#
#   (as root) netns-scripts/loadtest.sh [--quick] [--out DIR] [--no-build] [--keep] [--containers]
#
# Scenarios (each a few seconds to ~20 s; --quick shortens all of them, < 2 min):
#   steady     ab grid against the VIP: -n 1000..5000 x -c 1,5,20
#   node       master node dies mid-load (vrrpd SIGKILL + link cut)
#   haproxy    HAProxy killed (SIGKILL) on the master mid-load
#   switchover graceful switchover mid-load (SIGTERM to the master's vrrpd)
#   backups    all primaries down -> the backups serve
#   overflow   primaries saturated with slow requests -> overflow to the backups
#   sorry      every web server down -> 503 sorry page
# Failover scenarios run the prober (new TCP connection every 5 ms) from
# lab-client next to a background load (wrk, else ab), and collect the VRRP
# transitions from the vrrpd logs. Output directory (default
# /tmp/vrrpd-loadtest/<time>): report.md, <scenario>.svg, raw CSV/ab/wrk files.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

QUICK=0 BUILD=1 KEEP=0 OUT="" UP_ARGS=()
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out)
            OUT="${2:?--out needs a directory}"
            shift
            ;;
        --out=*) OUT="${1#*=}" ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        --containers) UP_ARGS=(--containers) ;; # balancers as systemd containers (lab-containers.sh)
        -h | --help)
            sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown option $1 (see --help)" >&2
            exit 1
            ;;
    esac
    shift
done
OUT="${OUT:-/tmp/vrrpd-loadtest/$(date +%Y%m%d-%H%M%S)}"
if [ "$QUICK" -eq 1 ]; then
    GRID_N=(1000) GRID_C=(1 5 20) PROBE_SECS=8
else
    GRID_N=(1000 5000) GRID_C=(1 5 20) PROBE_SECS=15
fi
FAULT_AFTER=2
LOG="$OUT/loadtest.log"
REPORT="$OUT/report.md"
T_START=$SECONDS

say() { printf '[loadtest] %s\n' "$*"; }
fail() {
    say "FAILED: $*  (log: $LOG)"
    exit 1
}
require_root_and_no_lab
mkdir -p "$OUT"
: >"$LOG"

BG_PIDS=()
teardown() {
    local rc=$? p
    for p in "${BG_PIDS[@]}" "${PROBE_PID:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    if [ "$KEEP" -eq 0 ] && [ -e /run/netns/lab-sw ]; then
        "$LAB" down >>"$LOG" 2>&1 || true
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------
if [ "$BUILD" -eq 1 ]; then
    say "installing packages / building (cargo build --release)"
    quiet build_all
fi
LABTOOL="$(labtool_bin)" || fail "vrrpd-labtool not built"
vrrpd_bin_path >/dev/null || fail "vrrpd not built"
say "starting the lab"
quiet "$LAB" up "${UP_ARGS[@]}"
MASTER="$(wait_some_master 30)" || fail "no single VIP holder after 30 s ($(master))"
say "master: $MASTER"

{
    echo "# vrrpd lab load test"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), host: $(uname -sr), $(nproc) CPU(s)"
    echo "- vrrpd: $(vrrpd_bin_path) ($(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo unknown))"
    echo "- mode: $([ "$QUICK" -eq 1 ] && echo quick || echo full); command: \`$0 $ARGS\`"
    [ "${#UP_ARGS[@]}" -gt 0 ] && echo "- balancers: systemd containers (lab-containers.sh): Debian's haproxy.service, vrrpd.service from the .deb"
    echo "- lab: 2 balancers (HAProxy + vrrpd, VIP $VIP, bal1 priority 150, bal2 100),"
    echo "  3 primaries + 2 backups, maxconn ${LAB_MAXCONN:-4} per server, overflow when 1 request queues"
    echo "- prober: a new TCP connection every 5 ms from lab-client to the VIP (connect timeout"
    echo "  100 ms, request timeout 500 ms); a request fails on any error, timeout or non-2xx answer."
    echo "  Longest outage = first failed request to the next answered one."
    echo
} >"$REPORT"

# ---------------------------------------------------------------------------
# Steady load: ab grid
# ---------------------------------------------------------------------------
# served_counts: "serv1 N serv2 N ..." = "GET /" lines in each nginx access log.
served_counts() {
    local s
    for s in serv1 serv2 serv3 bkp1 bkp2; do
        printf '%s %s ' "$s" "$(grep -c '"GET / HTTP' "$STATE/nginx-$s.access.log" 2>/dev/null || true)"
    done
}
# served_delta BEFORE AFTER: "serv1 333, serv2 334, ..." (non-zero only).
served_delta() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); out = ""
        for (i = 1; i < n; i += 2) { d = y[i+1] - x[i+1]; if (d > 0) out = out (out == "" ? "" : ", ") x[i] " " d }
        print (out == "" ? "none" : out) }'
}

say "steady load: ab grid -n ${GRID_N[*]} x -c ${GRID_C[*]}"
{
    echo "## Steady load (ab, keep-alive off, against the VIP held by $MASTER)"
    echo
    echo "| requests (-n) | concurrency (-c) | req/s | p50 ms | p99 ms | failed | non-2xx | servers that answered (nginx logs) |"
    echo "|---|---|---|---|---|---|---|---|"
} >>"$REPORT"
for n in "${GRID_N[@]}"; do
    for c in "${GRID_C[@]}"; do
        before="$(served_counts)"
        f="$OUT/steady-n$n-c$c.ab.txt"
        ip netns exec lab-client ab -q -s 5 -n "$n" -c "$c" "$VIP_URL" >"$f" 2>&1 || true
        after="$(served_counts)"
        row="$(awk '
            /^Requests per second:/ {rps = $4}
            /^Failed requests:/ {f = $3}
            /^Non-2xx responses:/ {n2 = $3}
            /^ +50%/ {p50 = $2}
            /^ +99%/ {p99 = $2}
            END {printf "%s | %s | %s | %s | %s", (rps == "" ? "error" : rps), (p50 == "" ? "-" : p50),
                 (p99 == "" ? "-" : p99), (f == "" ? "-" : f), (n2 == "" ? 0 : n2)}' "$f")"
        echo "| $n | $c | $row | $(served_delta "$before" "$after") |" >>"$REPORT"
        say "  -n $n -c $c: $(cut -d'|' -f1 <<<"$row") req/s"
    done
done
{
    echo
    echo "With -c 20 more requests are in flight than the primaries accept (3 x maxconn), so the"
    echo "overflow rule sends some to the backups (bkp1/bkp2 in the last column)."
    echo
    echo "## Failover and degradation scenarios"
    echo
} >>"$REPORT"

# ---------------------------------------------------------------------------
# Probe scenarios
# ---------------------------------------------------------------------------
# mark NAME LABEL: append "now,LABEL" to NAME-fault.csv.
mark() { echo "$(now_ms),$2" >>"$OUT/$1-fault.csv"; }

# bg_load NAME SECS: background HTTP load from lab-client (wrk, else ab -r).
bg_load() {
    local name="$1" secs="$2"
    if command -v wrk >/dev/null; then
        ip netns exec lab-client wrk -t1 -c4 -d"${secs}s" --latency --timeout 1s "$VIP_URL" \
            >"$OUT/$name.load.txt" 2>&1 &
    else
        ip netns exec lab-client ab -q -r -s 1 -c 4 -t "$secs" -n 100000000 "$VIP_URL" \
            >"$OUT/$name.load.txt" 2>&1 &
    fi
    BG_PIDS+=($!)
}

# run_scenario NAME TITLE INJECT [RESTORE_DURING] : probe (and load) for
# PROBE_SECS; INJECT runs FAULT_AFTER s in; RESTORE_DURING (optional) runs
# 3 s after that, inside the probe window. Then the report section + SVG.
run_scenario() {
    local name="$1" title="$2" inject="$3" restore="${4:-}" since
    say "scenario $name: $title"
    since="$(now_ms)"
    : >"$OUT/$name-fault.csv"
    BG_PIDS=()
    bg_load "$name" "$PROBE_SECS"
    probe_start "$OUT/$name" "${PROBE_SECS}s" || fail "prober"
    sleep "$FAULT_AFTER" # normal traffic before the fault: a measurement window
    "$inject" "$name"
    if [ -n "$restore" ]; then
        sleep 3 # how long the fault lasts: real time on purpose
        "$restore" "$name"
    fi
    wait "$PROBE_PID" || fail "prober failed ($OUT/$name.probe.log)"
    PROBE_PID=
    wait "${BG_PIDS[@]}" 2>/dev/null || true
    BG_PIDS=()
    vrrp_events "$since" >"$OUT/$name-vrrp.csv"
    "$LABTOOL" report --probe "$OUT/$name.csv" --load "$OUT/$name.load.txt" \
        --events "$OUT/$name-fault.csv" --events "$OUT/$name-vrrp.csv" --events "$OUT/$name-client.csv" \
        --title "$title" --out-md "$OUT/$name.md" --out-svg "$OUT/$name.svg" | sed 's/^/   /'
    cat "$OUT/$name.md" >>"$REPORT"
}

# restore_master: bring the original master back and wait until it holds
# the VIP again (bounded), so the next scenario starts from the same state.
restore_master() {
    "$LAB" link "$MASTER" up >>"$LOG" 2>&1 || true
    "$LAB" start-haproxy "$MASTER" >>"$LOG" 2>&1 || true
    "$LAB" start-vrrpd "$MASTER" >>"$LOG" 2>&1 || true
    "$LAB" start-server all >>"$LOG" 2>&1 || true
    wait_master "$MASTER" || say "  warning: $MASTER did not take the VIP back (holder: $WAIT_LAST)"
    # HAProxy's health checks have seen every web server come back.
    local b
    for b in bal1 bal2; do
        wait_until 30 haproxy_all_up "$(bal_addr "$b")" ||
            say "  warning: HAProxy on $b does not see every server UP: $WAIT_LAST"
    done
}

inj_node() {
    mark "$1" "node death of $MASTER (vrrpd SIGKILL + link down)"
    quiet "$LAB" kill-vrrpd "$MASTER" KILL
    quiet "$LAB" link "$MASTER" down
}
inj_haproxy() {
    mark "$1" "HAProxy SIGKILL on $MASTER"
    quiet "$LAB" kill-haproxy "$MASTER" KILL
}
inj_switchover() {
    mark "$1" "SIGTERM to vrrpd on $MASTER"
    quiet "$LAB" kill-vrrpd "$MASTER" TERM
}
inj_primaries() {
    mark "$1" "primaries serv1-3 stopped"
    quiet "$LAB" stop-server all-primaries
}
res_primaries() {
    mark "$1" "primaries restarted"
    quiet "$LAB" start-server all-primaries
}
inj_overflow() {
    mark "$1" "16 slow requests (2 s each) to the VIP"
    "$LAB" saturate "$MASTER" 16 "$VIP" >"$OUT/$1.saturate.txt" 2>>"$LOG" &
    BG_PIDS+=($!)
}
inj_all() {
    mark "$1" "all web servers stopped"
    quiet "$LAB" stop-server all
}
res_all() {
    mark "$1" "all web servers restarted"
    quiet "$LAB" start-server all
}

run_scenario node "Master node dies mid-load ($MASTER: vrrpd SIGKILL + link down)" inj_node
restore_master
run_scenario haproxy "HAProxy killed on the master mid-load ($MASTER)" inj_haproxy
# (--containers: systemd restarts HAProxy at once; the VIP may be back.)
if [ "$(master)" = "$MASTER" ] && ! grep -q "$MASTER priority" "$OUT/haproxy-vrrp.csv"; then
    {
        echo "Note: the VIP stayed on $MASTER after HAProxy died: vrrpd did not lower its"
        echo "priority, so the outage lasts until HAProxy is restarted. Its tracker said:"
        echo "\`$(tracker_line "$MASTER" | sed 's/^ *//')\`"
        echo "(no process tracker in this vrrpd, or another process on the machine matches"
        echo "the tracker's command-line pattern)."
        echo
    } >>"$REPORT"
fi
restore_master
run_scenario switchover "Graceful switchover mid-load (SIGTERM to vrrpd on $MASTER)" inj_switchover
restore_master
run_scenario backups "All primaries down, backups serve" inj_primaries res_primaries
restore_master
run_scenario overflow "Overflow to the backups under saturation" inj_overflow
restore_master
run_scenario sorry "Every web server down: 503 sorry page" inj_all res_all
restore_master

say "done in $((SECONDS - T_START)) s: $REPORT"
