#!/usr/bin/env bash
# selftest-layouts.sh - checks the three extra lab layouts end to end, with vrrpd.
#
#   1. "lab.sh up --sync" (seed 003): three directors, external VIP (VI_1)
#      and internal VIP (VI_2, the servers' default gateway) in the sync group
#      VG1, VI_3 on the heartbeat bridge. Cuts the master's internal link and
#      checks that BOTH VIPs move to the same new director (never split over
#      two directors), that the heartbeat instance stays put, and that the
#      routed path client -> ext VIP -> director -> server -> int VIP ->
#      client and the HAProxy path keep working; then the link comes back
#      and both VIPs return to bal1 together.
#   2. "lab.sh up --l2 stp-vxlan" (seed 004): two VMs, redundant STP bridges
#      outside, VXLAN inside. Checks STP blocks exactly one port of the loop,
#      VXLAN carries the servers of the other VM (full-size frames), cutting
#      the active STP path re-converges onto the other path (measured) while
#      the client keeps (or gets back) its answers and no second VRRP master
#      appears, restoring it re-converges again, and cutting the master's
#      link moves the VIP to bal2 (and back on restore).
#   3. "lab.sh up --l3 bgp" (issue #20): an upstream router with FRR, the
#      balancers on their own subnets announcing the VIP over BGP, VRRP on a
#      heartbeat link. Active/standby with FRR: the router forwards the VIP
#      to bal1 only and the client reaches HAProxy through it; after a
#      SIGKILL of bal1's vrrpd the router forwards to bal2 only and bal1's
#      VIP is gone (its lease). Active-active with BIRD: the router spreads
#      over both; HAProxy killed on bal2 withdraws bal2 only.
# Each layout is torn down afterwards; at the end nothing of the lab is left
# (namespaces, state dir, processes, host links). Exits non-zero on the first
# failure. Prints the measured times. Root only; needs a built vrrpd
# (target/release or target/debug, or VRRPD_BIN). Refuses to run if a lab with
# the same namespace prefix (LAB_NS_PREFIX, default "lab-") is up.
# SELFTEST_KEEP=1 keeps the lab after a failure. Takes about 2 minutes.
#
# Waits are on conditions (wait_until from lib/common.sh, generous bounds);
# the measured times are printed, never asserted.
set -euo pipefail
# Note: output is captured before grep (never "cmd | grep -q"): grep -q may
# exit early, the writer gets SIGPIPE, and pipefail reports a failure.

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"
NSP="${LAB_NS_PREFIX:-lab-}"
VIP=172.16.1.254
INT_VIP=10.0.0.254
CHECKS=0
T_START=$SECONDS
PROBE_DIR=""
declare -a PROBE_PIDS=()

say() { printf '[layouts] %s\n' "$*"; }
pass() {
    CHECKS=$((CHECKS + 1))
    say "ok   $*"
}
fail() {
    say "FAIL $*"
    exit 1
}

on_exit() {
    local rc=$? p
    for p in "${PROBE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        say "failed (rc=$rc); last log lines:"
        tail -n 5 "$STATE"/vrrpd-*.log 2>/dev/null || true
        if [ "${SELFTEST_KEEP:-0}" = 1 ]; then
            say "SELFTEST_KEEP=1: leaving the lab up"
        else
            "$LAB" down >/dev/null 2>&1 || true
        fi
    fi
    [ -n "$PROBE_DIR" ] && rm -rf -- "$PROBE_DIR"
    exit "$rc"
}

lab() { "$LAB" "$@"; }
quiet() { "$LAB" "$@" >/dev/null 2>&1; }
in_client() { ip netns exec "${NSP}client" "$@"; }

# vips_line: "ext=bal1 int=bal1 hb=bal1" (sync layout; "none" when free,
# "bal1+bal2" when several hold it).
vips_line() {
    lab vips 2>/dev/null | awk '{d = $2; sub(/0$/, "", d); h = $3; for (i = 4; i <= NF; i++) h = h "+" $i; printf "%s%s=%s", (NR > 1 ? " " : ""), d, h}'
}

# Conditions for wait_until (lib/common.sh; master_is is there too); each
# prints what it saw.
vips_are() {
    local l
    l="$(vips_line)"
    echo "$l"
    [ "$l" = "$1" ]
}
stp_has() { [[ "$(lab stp 2>/dev/null)" == *"$1"* ]]; }
# Bound on each wait (seconds): only reached when something is broken.
BOUND=40

# probe_start NAME URL EXPECT: from the client, a new connection every 50 ms
# (300 ms timeout) until probe_stop; each line "unix_ms ok|fail [balancer]".
# A request is ok when the body contains EXPECT.
probe_start() {
    local name="$1" url="$2" expect="$3"
    # shellcheck disable=SC2016  # expanded by the inner bash
    in_client bash -c '
        while :; do
            t=$(date +%s%3N)
            out=$(curl -s -m 0.3 -D - "$1" 2>/dev/null | tr -d "\r")
            if [[ "$out" == *"$2"* ]]; then
                b=$(awk "tolower(\$1) == \"x-balancer:\" {print \$2}" <<<"$out")
                echo "$t ok ${b:--}"
            else
                echo "$t fail -"
            fi
            sleep 0.05
        done' probe "$url" "$expect" >"$PROBE_DIR/$name" 2>/dev/null &
    PROBE_PIDS+=($!)
}
probe_stop() {
    local p
    for p in "${PROBE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PROBE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PROBE_PIDS=()
}

# outage NAME SINCE_MS: "longest=MS fails=N last=ok|fail answered_by=..."
# over the probe lines from SINCE_MS on. The longest outage runs from the
# first failed request of a run to the next answered one.
outage() {
    awk -v since="$2" '
        $1 < since { next }
        { n++; last = $2; prev = $1 }
        $2 == "fail" { fails++; if (!start) start = $1 }
        $2 == "ok" {
            if (start) { d = $1 - start; if (d > max) max = d; start = 0 }
            if (!($3 in seen)) { seen[$3] = 1; who = who (who ? "," : "") $3 }
        }
        END {
            if (start) { d = prev - start; if (d > max) max = d }
            printf "longest=%d fails=%d of=%d last=%s answered_by=%s\n", max, fails, n, last, who
        }' "$PROBE_DIR/$1"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# probe_ok NAME [BALANCER]: probe NAME's latest request was answered (by
# BALANCER, if given); prints that line.
probe_ok() {
    local l
    l="$(tail -n 1 "$PROBE_DIR/$1" 2>/dev/null)"
    echo "${l:-no request yet}"
    [[ "$l" == *" ok ${2:-}"* ]]
}

# wait_probe_ok NAME [BALANCER]: until probe NAME's latest request was
# answered (by BALANCER), at most BOUND s; the callers check the result in
# the probe's log. After an STP topology change the bridges relearn the
# MACs on the new path (FDB ageing drops to forward_delay): seconds.
wait_probe_ok() { wait_until "$BOUND" probe_ok "$@" || true; }

# wait_probes_answered NAME...: every named probe has had an answer (the
# probe runs, the path works) before a fault is injected; fails otherwise.
wait_probes_answered() {
    local n
    for n in "$@"; do
        wait_until "$BOUND" probe_ok "$n" || fail "probe $n never got an answer before the fault: $WAIT_LAST"
    done
}

# Host-side leftovers the lab could cause (links, addresses, routes).
host_leaks() {
    ip -br link | awk '{sub(/@.*/, "", $1); print $1}' |
        grep -E '^(ext|int|hb|exta|extb|ul0|vx0|up[ab]|(client|bal[1-3]|serv[1-3]|bkp[12]|vm[12])-(ext|int|hb|exta|extb))$' || true
    ip -br addr | grep -E '172\.16\.1\.|10\.0\.0\.|192\.168\.(100|200)\.' || true
    ip route | grep -E '172\.16\.1\.|10\.0\.0\.|192\.168\.(100|200)\.' || true
}
lab_namespaces() { ip netns list | awk '{print $1}' | grep -E "^${NSP}(sw|client|rtr|bal[1-3]|serv[1-3]|bkp[12]|vm[12])$" || true; }
lab_processes() {
    local p
    for p in /proc/[0-9]*; do
        [ -r "$p/cmdline" ] || continue
        if [[ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" == *"$STATE/"* ]]; then
            grep -q '^State:.*Z' "$p/status" 2>/dev/null || echo "${p#/proc/}"
        fi
    done
}
check_down() {
    lab down >/dev/null 2>&1 || fail "down failed"
    [ -z "$(lab_namespaces)" ] || fail "namespaces left: $(lab_namespaces | tr '\n' ' ')"
    [ ! -e "$STATE" ] || fail "state dir $STATE left behind"
    [ -z "$(lab_processes)" ] || fail "lab processes left: $(lab_processes | tr '\n' ' ')"
    [ -z "$(host_leaks)" ] || fail "lab leftovers in the host namespace: $(host_leaks)"
    pass "$1 down: no namespace, state dir, process or host change left"
}

# ---------------------------------------------------------------------------
# 1. --sync
# ---------------------------------------------------------------------------
test_sync() {
    local t body hdr line ext int samples=() ms_ext="" ms_both="" t0 o r h s
    say "== layout --sync (3 directors, VI_1 + VI_2 in sync group VG1, VI_3 on hb)"
    lab up --sync >"$PROBE_DIR/up-sync.log" 2>&1 || fail "up --sync: $(tail -n 3 "$PROBE_DIR/up-sync.log")"
    [ "$(lab_namespaces | wc -l)" -eq 10 ] || fail "expected 10 namespaces: $(lab_namespaces | tr '\n' ' ')"
    wait_until "$BOUND" vips_are "ext=bal1 int=bal1 hb=bal1" ||
        fail "bal1 did not take all three VIPs within ${BOUND}s: $WAIT_LAST"
    t="$WAIT_MS"
    pass "up --sync: 10 namespaces; bal1 (150) holds ext, int and hb VIPs (${t} ms after up)"

    # Wiring: the servers' gateway, forwarding, the client's route.
    for s in serv1 serv2 serv3 bkp1 bkp2; do
        [[ "$(ip -n "$NSP$s" route show default)" == "default via $INT_VIP dev int0"* ]] ||
            fail "$s: default route is not via $INT_VIP"
    done
    for b in bal1 bal2 bal3; do
        [ "$(ip netns exec "$NSP$b" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "$b: ip_forward off"
        [[ "$(ip -n "$NSP$b" -br addr show dev hb0)" == *192.168.100.* ]] || fail "$b: no hb0 address"
    done
    pass "servers route via $INT_VIP; directors forward; heartbeat bridge hb wired"

    # Routed path: the server sees the real client address (no proxy, no
    # NAT), so its reply left through its default gateway, the int VIP.
    body="$(in_client curl -s -m 2 http://10.0.0.1/)" || true
    [[ "$body" == "server=serv1 client=172.16.1.100 "* ]] || fail "routed request via the VIPs: '$body'"
    hdr="$(in_client curl -s -m 2 -D - -o /dev/null "http://$VIP:8000/")" || true
    [[ "${hdr,,}" == *"x-balancer: bal1"* ]] || fail "HAProxy on the VIP is not bal1"
    pass "client -> $VIP -> bal1 -> serv1 -> $INT_VIP -> client (server saw 172.16.1.100); HAProxy via VIP on bal1"

    # --- cut the master's internal link ------------------------------------
    probe_start sync-routed http://10.0.0.1/ "server=serv1 client=172.16.1.100"
    probe_start sync-proxy "http://$VIP:8000/" "server=serv"
    wait_probes_answered sync-routed sync-proxy
    t0="$(now_ms)"
    lab link bal1 down int 2>/dev/null
    # Sample the holders until both VIPs sit on one new director.
    while :; do
        line="$(vips_line)"
        samples+=("$(($(now_ms) - t0)) $line")
        ext="$(field ext "$line")"
        int="$(field int "$line")"
        [ -z "$ms_ext" ] && [ "$ext" != bal1 ] && [ "$ext" != none ] && ms_ext=$(($(now_ms) - t0))
        if [ "$ext" = "$int" ] && [ "$ext" != bal1 ] && [ "$ext" != none ]; then
            ms_both=$(($(now_ms) - t0))
            break
        fi
        [ $(($(now_ms) - t0)) -lt $((BOUND * 1000)) ] || fail "VIPs did not move together within ${BOUND}s: $line"
        sleep 0.1
    done
    # Until both paths answer again (through bal2), then the probes stop.
    wait_probe_ok sync-routed
    wait_probe_ok sync-proxy bal2
    probe_stop
    for line in "${samples[@]}"; do
        ext="$(field ext "$line")"
        int="$(field int "$line")"
        [[ "$ext$int" != *+* ]] || fail "a VIP had two holders: $line"
        if [ "$ext" != none ] && [ "$int" != none ] && [ "$ext" != "$int" ]; then
            fail "VIPs split over two directors: $line"
        fi
    done
    [ "$(vips_line)" = "ext=bal2 int=bal2 hb=bal1" ] ||
        fail "after the cut: $(vips_line), want ext=bal2 int=bal2 hb=bal1"
    pass "bal1 int0 cut: ext VIP on bal2 after ${ms_ext} ms, int VIP after ${ms_both} ms (same director, never split over two; ${#samples[@]} samples); hb VIP stays on bal1 (VI_3 not in VG1)"
    grep -q 'VI_1.*Entering BACKUP STATE.*sync group VG1' "$STATE/vrrpd-bal1.log" ||
        fail "bal1's log does not show VI_1 leaving for the sync group"
    pass "bal1's VI_1 stepped down for sync group VG1 (its VI_2 went FAULT)"

    body="$(in_client curl -s -m 2 http://10.0.0.2/)" || true
    [[ "$body" == "server=serv2 client=172.16.1.100 "* ]] || fail "routed request after failover: '$body'"
    hdr="$(in_client curl -s -m 2 -D - -o /dev/null "http://$VIP:8000/")" || true
    [[ "${hdr,,}" == *"x-balancer: bal2"* ]] || fail "HAProxy on the VIP is not bal2 after failover"
    r="$(outage sync-routed "$t0")"
    h="$(outage sync-proxy "$t0")"
    if [ "$(field last "$r")" != ok ] || [ "$(field last "$h")" != ok ]; then
        fail "probes did not recover: routed $r / proxy $h"
    fi
    SYNC_ROUTED_OUT="$(field longest "$r")"
    SYNC_PROXY_OUT="$(field longest "$h")"
    pass "replies flow through bal2: routed path outage ${SYNC_ROUTED_OUT} ms, HAProxy path outage ${SYNC_PROXY_OUT} ms ($h)"
    SYNC_EXT_MS="$ms_ext"
    SYNC_BOTH_MS="$ms_both"

    # --- restore: both come back to bal1 together ----------------------------
    t0="$(now_ms)"
    lab link bal1 up int 2>/dev/null
    wait_until "$BOUND" vips_are "ext=bal1 int=bal1 hb=bal1" || fail "VIPs did not return to bal1: $WAIT_LAST"
    t="$WAIT_MS"
    body="$(in_client curl -s -m 2 http://10.0.0.3/)" || true
    [[ "$body" == "server=serv3 client=172.16.1.100 "* ]] || fail "routed request after restore: '$body'"
    SYNC_BACK_MS="$t"
    pass "int0 back: both VIPs return to bal1 (preempt) in ${t} ms; routed path works"

    check_down "--sync"
}

# ---------------------------------------------------------------------------
# 2. --l2 stp-vxlan
# ---------------------------------------------------------------------------
test_stp() {
    local t t0 st seen o body hdr samples=() line active other
    say "== layout --l2 stp-vxlan (vm1/vm2, STP bridges exta/extb, VXLAN id 42)"
    lab up --l2 stp-vxlan >"$PROBE_DIR/up-stp.log" 2>&1 || fail "up --l2 stp-vxlan: $(tail -n 3 "$PROBE_DIR/up-stp.log")"
    [ "$(lab_namespaces | wc -l)" -eq 11 ] || fail "expected 11 namespaces: $(lab_namespaces | tr '\n' ' ')"
    wait_until "$BOUND" master_is bal1 || fail "bal1 did not become master within ${BOUND}s: $WAIT_LAST"
    t="$WAIT_MS"
    pass "up --l2 stp-vxlan: 11 namespaces; bal1 holds the VIP (${t} ms after up)"

    st="$(lab stp)"
    [ "$(grep -c ' blocking$' <<<"$st")" -eq 1 ] || fail "want exactly one blocking port: $st"
    grep -q '^vm2 ext upb blocking$' <<<"$st" || fail "want vm2's upb blocked: $st"
    grep -q '^vm2 ext upa forwarding$' <<<"$st" || fail "want vm2's upa forwarding: $st"
    grep -q 'stp_state 1' <<<"$(ip -n "${NSP}sw" -d link show exta)" || fail "exta: STP off"
    pass "kernel STP breaks the loop vm1-exta-vm2-extb: only vm2's upb is blocking"

    grep -q 'vxlan id 42 .*dstport 4789' <<<"$(ip -n "${NSP}vm1" -d link show vx0)" || fail "vm1: no vx0 (id 42, port 4789)"
    ip netns exec "${NSP}bal1" ping -c1 -W1 -s 1472 -M "do" 10.0.0.2 >/dev/null || fail "no 1500-byte frames bal1 (vm1) -> serv2 (vm2) over VXLAN"
    seen="$(for _ in 1 2 3 4 5 6 7 8 9; do in_client curl -s -m 2 "http://$VIP:8000/" | sed -n 's/^server=\([a-z0-9]*\) .*/\1/p'; done | sort -u | paste -sd' ' -)"
    [ "$seen" = "serv1 serv2 serv3" ] || fail "via the VIP: '$seen', want serv1 serv2 serv3"
    pass "VXLAN joins vm1's and vm2's int bridges (1500-byte frames); bal1 reaches serv2 on vm2: $seen"

    # --- cut the active STP path ---------------------------------------------
    active=a
    other=b
    probe_start stp-cut "http://$VIP:8000/" "server=serv"
    wait_probes_answered stp-cut
    t0="$(now_ms)"
    lab path "$active" down 2>/dev/null
    while ! stp_has "vm2 ext up$other forwarding"; do
        samples+=("$(lab master 2>/dev/null || true)")
        [ $(($(now_ms) - t0)) -lt $((BOUND * 1000)) ] || fail "STP did not re-converge within ${BOUND}s: $(lab stp)"
        sleep 0.1
    done
    STP_CUT_MS=$(($(now_ms) - t0))
    # Keep watching for a second VRRP master a while longer (adverts resume
    # on the new path; the backup's Master_Down_Interval is ~9 s). Real
    # time on purpose: an observation window (40 samples, >= 4 s), not a
    # wait for something to happen.
    for _ in $(seq 40); do
        samples+=("$(lab master 2>/dev/null || true)")
        sleep 0.1
    done
    wait_probe_ok stp-cut
    probe_stop
    for line in "${samples[@]}"; do
        [ "$line" = bal1 ] || fail "VIP holder changed while STP re-converged: '$line'"
    done
    o="$(outage stp-cut "$t0")"
    [ "$(field last "$o")" = ok ] || fail "client traffic did not come back: $o"
    STP_CUT_OUT="$(field longest "$o")"
    pass "path a cut: STP moved vm2 onto path b in ${STP_CUT_MS} ms; client outage ${STP_CUT_OUT} ms, then answered again; bal1 stayed the only master (${#samples[@]} samples)"

    # --- restore it -------------------------------------------------------
    samples=()
    probe_start stp-back "http://$VIP:8000/" "server=serv"
    wait_probes_answered stp-back
    t0="$(now_ms)"
    lab path "$active" up 2>/dev/null
    while ! { stp_has "vm2 ext up$active forwarding" && stp_has "vm2 ext up$other blocking"; }; do
        samples+=("$(lab master 2>/dev/null || true)")
        [ $(($(now_ms) - t0)) -lt $((BOUND * 1000)) ] || fail "STP did not return to path a within ${BOUND}s: $(lab stp)"
        sleep 0.1
    done
    STP_BACK_MS=$(($(now_ms) - t0))
    # As after the cut: watch for a second VRRP master while the bridges
    # relearn (observation window, real time on purpose).
    for _ in $(seq 20); do
        samples+=("$(lab master 2>/dev/null || true)")
        sleep 0.1
    done
    wait_probe_ok stp-back
    probe_stop
    for line in "${samples[@]}"; do
        [ "$line" = bal1 ] || fail "VIP holder changed while STP re-converged: '$line'"
    done
    o="$(outage stp-back "$t0")"
    [ "$(field last "$o")" = ok ] || fail "client traffic did not come back: $o"
    STP_BACK_OUT="$(field longest "$o")"
    pass "path a back: STP returned to path a in ${STP_BACK_MS} ms; client outage ${STP_BACK_OUT} ms"

    # --- cut the master's link: VRRP moves the VIP --------------------------
    probe_start stp-bal "http://$VIP:8000/" "server=serv"
    wait_probes_answered stp-bal
    t0="$(now_ms)"
    lab link bal1 down 2>/dev/null
    wait_until "$BOUND" master_is bal2 || fail "bal2 did not take over within ${BOUND}s: $WAIT_LAST"
    STP_VRRP_MS=$(($(now_ms) - t0))
    # Until the client is answered through bal2 (its gratuitous ARP moved
    # the client), then the probe stops.
    wait_probe_ok stp-bal bal2
    probe_stop
    o="$(outage stp-bal "$t0")"
    [ "$(field last "$o")" = ok ] || fail "client traffic did not come back after the VRRP failover: $o"
    [[ "$(field answered_by "$o")" == *bal2* ]] || fail "client not served by bal2: $o"
    STP_VRRP_OUT="$(field longest "$o")"
    seen="$(for _ in 1 2 3 4 5 6 7 8 9; do in_client curl -s -m 2 "http://$VIP:8000/" | sed -n 's/^server=\([a-z0-9]*\) .*/\1/p'; done | sort -u | paste -sd' ' -)"
    [ "$seen" = "serv1 serv2 serv3" ] || fail "via bal2: '$seen', want serv1 serv2 serv3 (serv1/serv3 over VXLAN)"
    pass "bal1's link cut: bal2 master after ${STP_VRRP_MS} ms; client outage ${STP_VRRP_OUT} ms; bal2 reaches serv1..3 ($seen)"

    t0="$(now_ms)"
    lab link bal1 up 2>/dev/null
    wait_until "$BOUND" master_is bal1 || fail "bal1 did not take the VIP back within ${BOUND}s: $WAIT_LAST"
    t="$WAIT_MS"
    STP_PREEMPT_MS="$t"
    pass "bal1's link back: bal1 master again after ${t} ms (STP port start + Master_Down_Interval, preempt)"

    check_down "--l2 stp-vxlan"
}

# ---------------------------------------------------------------------------
# 3. --l3 bgp
# ---------------------------------------------------------------------------
BGP_VIP=198.51.100.10
# fib_is "bal1 bal2": the balancers the router forwards the VIP to.
fib_is() {
    local f
    f="$(lab fib 2>/dev/null)" || true
    [ "$f" = "$1" ] || { echo "router FIB: $f"; return 1; }
}
announcers_are() {
    local a
    a="$(lab announcers 2>/dev/null)" || true
    [ "$a" = "$1" ] || { echo "VIP on vrrpd0 of: $a"; return 1; }
}
client_via_vip() { in_client curl -sf -m 1 -o /dev/null "http://$BGP_VIP:8000/"; }

test_bgp() {
    say "== layout --l3 bgp (router with FRR, balancers on their own subnets, VRRP on hb)"
    lab up --l3 bgp >"$PROBE_DIR/up-bgp.log" 2>&1 || fail "up --l3 bgp: $(tail -n 3 "$PROBE_DIR/up-bgp.log")"
    wait_until "$BOUND" fib_is bal1 || fail "the router did not forward $BGP_VIP to bal1 alone within ${BOUND}s: $WAIT_LAST"
    BGP_UP_MS="$WAIT_MS"
    wait_until "$BOUND" announcers_are bal1 || fail "$WAIT_LAST"
    wait_until "$BOUND" client_via_vip || fail "the client gets no answer from http://$BGP_VIP:8000/"
    pass "up --l3 bgp: only bal1 announces, the router forwards to bal1 alone, the client gets answers (${BGP_UP_MS} ms after up)"

    quiet kill-vrrpd bal1 KILL || fail "kill-vrrpd bal1 KILL"
    wait_until "$BOUND" fib_is bal2 || fail "after SIGKILL of bal1's vrrpd the router did not move to bal2 alone: $WAIT_LAST"
    BGP_KILL_MS="$WAIT_MS"
    wait_until "$BOUND" announcers_are bal2 || fail "bal1's VIP outlived its lease: $WAIT_LAST"
    wait_until "$BOUND" client_via_vip || fail "the client gets no answer after the move"
    pass "SIGKILL of bal1's vrrpd: bal1's VIP gone with its lease, the router forwards to bal2 alone (${BGP_KILL_MS} ms)"
    check_down "--l3 bgp"

    say "== layout --l3 bgp --mode active-active --speaker bird"
    lab up --l3 bgp --mode active-active --speaker bird >"$PROBE_DIR/up-bgp-aa.log" 2>&1 ||
        fail "up --l3 bgp --mode active-active --speaker bird: $(tail -n 3 "$PROBE_DIR/up-bgp-aa.log")"
    wait_until "$BOUND" fib_is "bal1 bal2" || fail "the router did not spread over bal1 and bal2: $WAIT_LAST"
    pass "active-active (BIRD): the router forwards $BGP_VIP to bal1 and bal2 (${WAIT_MS} ms after up)"
    quiet kill-haproxy bal2 KILL || fail "kill-haproxy bal2 KILL"
    wait_until "$BOUND" fib_is bal1 || fail "HAProxy dead on bal2: the router did not drop bal2 alone: $WAIT_LAST"
    BGP_AA_MS="$WAIT_MS"
    wait_until "$BOUND" client_via_vip || fail "the client gets no answer from bal1"
    pass "active-active: HAProxy killed on bal2 withdraws bal2 only (${BGP_AA_MS} ms); the client gets answers"
    check_down "--l3 bgp --mode active-active"
}

main() {
    [ "$(id -u)" -eq 0 ] || fail "must run as root"
    [ -e "/run/netns/${NSP}sw" ] && fail "a lab is already up (${NSP}sw); run '$LAB down' first"
    [ -z "$(host_leaks)" ] || fail "host already has lab-like links/addresses/routes: $(host_leaks)"
    trap on_exit EXIT
    PROBE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lab-layouts.XXXXXX")"
    local before
    before="$(ip -br link | awk '{print $1, $2}')"

    test_sync
    test_stp
    test_bgp

    [ "$(ip -br link | awk '{print $1, $2}')" = "$before" ] || fail "host links changed"
    say "measured: sync: ext VIP moved ${SYNC_EXT_MS} ms, int VIP ${SYNC_BOTH_MS} ms after the cut; outage routed ${SYNC_ROUTED_OUT} ms, HAProxy ${SYNC_PROXY_OUT} ms; back on bal1 in ${SYNC_BACK_MS} ms"
    say "measured: stp: cut path a -> converged ${STP_CUT_MS} ms (client outage ${STP_CUT_OUT} ms); restored -> ${STP_BACK_MS} ms (outage ${STP_BACK_OUT} ms)"
    say "measured: stp: bal1 link cut -> bal2 master ${STP_VRRP_MS} ms (client outage ${STP_VRRP_OUT} ms); bal1 back as master ${STP_PREEMPT_MS} ms"
    say "measured: bgp: SIGKILL of bal1's vrrpd -> router forwards to bal2 alone ${BGP_KILL_MS} ms; active-active: HAProxy killed on bal2 -> bal2 withdrawn ${BGP_AA_MS} ms"
    say "all $CHECKS checks passed in $((SECONDS - T_START)) s"
}

main "$@"
