#!/usr/bin/env bash
# demo.sh - one-minute tour of vrrpd in the namespace lab.
#
#   (as root) netns-scripts/demo.sh [--containers]
#
# --containers: each balancer is a systemd container (lab-containers.sh)
# running Debian's haproxy.service and vrrpd from its .deb; the faults are
# then systemctl kill -s KILL haproxy / vrrpd inside the container.
#
# Installs what the lab needs (apt) and builds vrrpd + vrrpd-labtool
# (cargo build --release), starts the lab (lab.sh up), shows who is master
# and a few client requests, then injects two faults while a prober in the
# client namespace sends a new request every 5 ms:
#   1. HAProxy dies on the master balancer (vrrpd's process tracker should
#      lower its priority so the backup takes the VIP);
#   2. the master node dies (vrrpd SIGKILLed and its link cut).
# For each it prints which balancer/server answered before and after and
# the longest outage the client saw, in ms. The lab is always torn down on
# exit. Probe data, reports and SVG plots stay in $DEMO_OUT
# (default /tmp/vrrpd-demo/<time>).
#
# Environment: DEMO_OUT, DEMO_SKIP_BUILD=1 (use existing binaries),
# DEMO_PROBE_SECS (10), plus lab.sh's variables.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

OUT="${DEMO_OUT:-/tmp/vrrpd-demo/$(date +%Y%m%d-%H%M%S)}"
PROBE_SECS="${DEMO_PROBE_SECS:-10}"
FAULT_AFTER=2 # seconds of normal traffic before each fault
LOG="$OUT/demo.log"
T_START=$SECONDS

say() { printf '%s\n' "$*"; }
step() { printf '\n[%s] %s\n' "$1" "$2"; }
fail() {
    say "demo failed: $*"
    say "details: $LOG"
    exit 1
}
UP_ARGS=()
[ "${1:-}" = --containers ] && UP_ARGS=(--containers)
require_root_and_no_lab
mkdir -p "$OUT"
: >"$LOG"

teardown() {
    local rc=$?
    [ -n "${PROBE_PID:-}" ] && kill "$PROBE_PID" 2>/dev/null
    if [ -e /run/netns/lab-sw ]; then
        "$LAB" down >>"$LOG" 2>&1 || true
        say "lab torn down."
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# show_events FAULT_MS FILE...: VRRP/fault events, relative to the fault.
show_events() {
    local t0="$1"
    shift
    cat "$@" 2>/dev/null | grep -v '^time' | sort -n | while IFS=, read -r ms label; do
        ms="${ms%%.*}"
        [[ "$ms" =~ ^[0-9]+$ ]] || continue
        printf '      %+6.2f s  %s\n' "$(awk -v a="$ms" -v b="$t0" 'BEGIN{print (a-b)/1000}')" "$label"
    done
}

# scenario NAME TITLE INJECT_FN: probe while INJECT_FN runs FAULT_AFTER s
# into the probe; then print the events and the client's view.
scenario() {
    local name="$1" title="$2" inject="$3" t_fault since
    since="$(now_ms)"
    probe_start "$OUT/$name" "${PROBE_SECS}s" || fail "cannot start the prober"
    sleep "$FAULT_AFTER" # normal traffic before the fault: a measurement window
    t_fault="$(now_ms)"
    echo "$t_fault,$title" >"$OUT/$name-fault.csv"
    "$inject"
    wait "$PROBE_PID" || fail "prober failed (see $OUT/$name.probe.log)"
    PROBE_PID=
    vrrp_events "$since" >"$OUT/$name-vrrp.csv"
    say "    what happened (time since the fault):"
    show_events "$t_fault" "$OUT/$name-fault.csv" "$OUT/$name-vrrp.csv"
    say "    what the client saw (a new TCP connection every 5 ms for ${PROBE_SECS} s):"
    "$(labtool_bin)" report --probe "$OUT/$name.csv" \
        --events "$OUT/$name-fault.csv" --events "$OUT/$name-vrrp.csv" --events "$OUT/$name-client.csv" \
        --title "$title" --out-md "$OUT/$name.md" --out-svg "$OUT/$name.svg" | sed 's/^  /    /'
}

inject_haproxy() { quiet "$LAB" kill-haproxy "$MASTER" KILL; }
inject_node() {
    quiet "$LAB" kill-vrrpd "$MASTER" KILL
    quiet "$LAB" link "$MASTER" down
}

say "vrrpd demo: two HAProxy balancers share the virtual IP $VIP through vrrpd"
say "(VRRP v3, VRID 12; bal1 priority 150, bal2 priority 100). Details: $LOG"

# ---------------------------------------------------------------------------
step 1/5 "Preparing: lab packages, cargo build --release (vrrpd, vrrpd-labtool)"
t=$SECONDS
if [ "${DEMO_SKIP_BUILD:-0}" = 1 ]; then
    say "    skipped (DEMO_SKIP_BUILD=1)"
else
    quiet build_all
fi
vrrpd_bin_path >/dev/null || fail "no vrrpd binary"
labtool_bin >/dev/null || fail "no vrrpd-labtool binary"
say "    ready ($((SECONDS - t)) s)"

# ---------------------------------------------------------------------------
step 2/5 "Starting the lab: client, 2 balancers (HAProxy + vrrpd), 3 web servers + 2 backups"
quiet "$LAB" up "${UP_ARGS[@]}"
MASTER="$(wait_some_master 30)" || fail "no single VIP holder after 30 s: $(master)"
say "    VIP holder: $MASTER   (vrrpd: bal1 $(vrrpd_state bal1), bal2 $(vrrpd_state bal2))"
say "    six requests from lab-client to $VIP_URL:"
for _ in 1 2 3 4 5 6; do
    resp="$(ip netns exec lab-client curl -s -m 2 -D - "$VIP_URL" | tr -d '\r')" || resp=""
    srv="$(grep -o 'server=[a-z0-9]*' <<<"$resp" | head -n1)"
    bal="$(grep -i '^x-balancer:' <<<"$resp" | awk '{print $2}')"
    say "      ${srv:-no answer}  via balancer ${bal:-?}"
done

# ---------------------------------------------------------------------------
step 3/5 "Fault 1: HAProxy killed (SIGKILL) on the master, $MASTER"
scenario haproxy "HAProxy killed on $MASTER" inject_haproxy
NOW="$(master)"
# (With --containers, systemd restarts HAProxy at once (Restart=always): the
# VIP may be back on the master by now, after its priority did drop.)
if [ "$NOW" = "$MASTER" ] && ! grep -q "$MASTER priority" "$OUT/haproxy-vrrp.csv"; then
    say "    note: the VIP stayed on $MASTER, so clients saw an outage until HAProxy came"
    say "    back: vrrpd did not lower $MASTER's priority. Its tracker says:"
    tracker_line "$MASTER" | sed 's/^ */      /'
    say "      (a vrrpd without the process tracker, or another process on this machine"
    say "      whose command line matches the tracker's pattern, keeps it UP)"
else
    say "    VIP holder now: $NOW; the client is served by: $(client_sees)"
fi
"$LAB" start-haproxy "$MASTER" >>"$LOG" 2>&1 || fail "cannot restart HAProxy on $MASTER"
if [ "$NOW" = "$MASTER" ]; then
    say "    HAProxy restarted on $MASTER: the client is served again by $(client_sees)."
elif wait_master "$MASTER"; then
    say "    HAProxy restarted on $MASTER; $MASTER is master again (priority 150, preempt)."
else
    say "    HAProxy restarted on $MASTER; VIP holder: $(master)"
fi

# ---------------------------------------------------------------------------
step 4/5 "Fault 2: node death of the master, $MASTER (vrrpd SIGKILLed and its link cut)"
scenario node "node death of $MASTER" inject_node
say "    the client is now served by: $(client_sees)  (the dead node's VIP went with its"
say "    lease, about 2 s after the kill; the new master's gratuitous ARP moved the traffic)"
quiet "$LAB" link "$MASTER" up
quiet "$LAB" start-vrrpd "$MASTER"
if wait_master "$MASTER"; then
    say "    $MASTER back (link up, vrrpd restarted): it took over again (preempt)."
else
    say "    $MASTER back; VIP holder: $(master)"
fi

# ---------------------------------------------------------------------------
step 5/5 "Tearing down"
quiet "$LAB" down
say "    done in $((SECONDS - T_START)) s. Probe data, reports (*.md) and plots (*.svg): $OUT"
