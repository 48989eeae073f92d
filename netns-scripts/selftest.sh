#!/usr/bin/env bash
# selftest.sh - checks the reference lab end to end, without vrrpd.
#
# Builds the lab with "lab.sh up --no-vrrpd", then checks: idempotent up,
# host namespace untouched, round robin over serv1..serv3 through each
# balancer, X-Balancer header, stats page, backups when all primaries are
# down, overflow to the backups under saturation, the 503 sorry page when
# everything is down, kill/start HAProxy, link down/up, "master" with no
# VIP, and finally that "down" leaves nothing behind.
# Exits non-zero on the first failure. Must run as root. Refuses to run if a
# lab is already up (it would be torn down). SELFTEST_KEEP=1 keeps the lab
# after a failure for inspection.
#
# Every check waits on the condition itself (wait_until from lib/common.sh,
# generous bounds), never on a sleep: the overflow check, for one, waits
# until HAProxy's own statistics show the primaries full and a request
# queued before it looks where the next request goes.
set -euo pipefail
# Note: output is captured before grep -q (never "cmd | grep -q"): grep -q
# may exit early, the writer gets SIGPIPE, and pipefail reports a failure.

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"
# The slow page takes SLOW_BYTES/1024 s to send. 8 s leaves the 16
# saturating requests room to start (each is a curl through "ip netns exec",
# which a loaded machine starts slowly) while the first ones still hold
# their slots; the check below waits for the saturation it needs anyway.
export LAB_SLOW_BYTES="${LAB_SLOW_BYTES:-8192}"
# Bound on each wait (seconds): only reached when something is broken.
BOUND=30
BALANCERS=(bal1 bal2)
declare -A EXT_IP=([bal1]=172.16.1.250 [bal2]=172.16.1.251)
declare -A INT_IP=([bal1]=10.0.0.250 [bal2]=10.0.0.251)
CHECKS=0

say() { printf '[selftest] %s\n' "$*"; }
pass() {
    CHECKS=$((CHECKS + 1))
    say "ok   $*"
}
fail() {
    say "FAIL $*"
    exit 1
}

# On any exit other than success, show logs and clean up.
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        say "failed (rc=$rc); last log lines:"
        tail -n 5 "$STATE"/*.log 2>/dev/null || true
        if [ "${SELFTEST_KEEP:-0}" = 1 ]; then
            say "SELFTEST_KEEP=1: leaving the lab up"
        else
            "$LAB" down >/dev/null 2>&1 || true
        fi
    fi
    exit "$rc"
}

# Client-side request: body of GET http://ADDR:PORT/PATH from lab-client.
get() { "$LAB" exec client curl -s -m 3 "http://$1${2:-/}"; }
# Just the server name from a response ("server=serv1 ..." -> serv1).
served_by() { get "$1:8000" | sed -n 's/^server=\([a-z0-9]*\) .*/\1/p'; }

# Conditions for wait_until: each prints what it saw.
served_by_backup() {
    local s
    s="$(served_by "$1")"
    echo "served by ${s:-nobody}"
    [[ "$s" == bkp* ]]
}
served_by_primary() {
    local s
    s="$(served_by "$1")"
    echo "served by ${s:-nobody}"
    [[ "$s" == serv* ]]
}
gets_503() {
    local c
    c="$("$LAB" exec client curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$1:8000/")" || true
    echo "HTTP ${c:-none}"
    [ "$c" = 503 ]
}
# primaries_full ADDR: HAProxy's stats show every primary at its maxconn
# (scur = slim) and a request waiting in the primaries' queue (the
# "queue(primaries) ge LAB_QUEUE" overflow rule).
primaries_full() { backend_full "$1" primaries "${LAB_QUEUE:-1}"; }

# What the lab could leak into the host (root) namespace: links named like
# lab links, addresses or routes in the lab subnets, lab-* namespaces' mounts
# aside. (Other helpers may create their own namespaces meanwhile, so the
# check is targeted rather than a full diff.) Empty output = clean.
host_leaks() {
    ip -br link | awk '{sub(/@.*/, "", $1); print $1}' \
        | grep -E '^(ext|int|ext0|int0|(client|bal[1-3]|serv[1-3]|bkp[12])-(ext|int))$' || true
    ip -br addr | grep -E '172\.16\.1\.|10\.0\.0\.' || true
    ip route | grep -E '172\.16\.1\.|10\.0\.0\.' || true
}

# Root namespace links (names and state), to compare before/after.
host_links() { ip -br link | awk '{print $1, $2}'; }

# Live (non-zombie) processes whose command line mentions the state dir.
lab_processes() {
    local p
    for p in /proc/[0-9]*; do
        [ -r "$p/cmdline" ] || continue
        if [[ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" == *"$STATE/"* ]]; then
            echo "${p#/proc/}"
        fi
    done
}

main() {
    [ "$(id -u)" -eq 0 ] || fail "must run as root"
    if [ -e /run/netns/lab-sw ]; then
        fail "a lab is already up; run '$LAB down' first"
    fi
    trap on_exit EXIT
    local before after b first=() second=() seen bal hdr body pid1 pid2 sat_out sat_pid

    [ -z "$(host_leaks)" ] || fail "host already has lab-like links/addresses/routes: $(host_leaks)"
    before="$(host_links)"

    # --- up, twice -------------------------------------------------------
    "$LAB" up --no-vrrpd
    pid1="$(cat "$STATE/haproxy-bal1.pid")"
    "$LAB" up --no-vrrpd || fail "second 'up' failed (not idempotent)"
    pid2="$(cat "$STATE/haproxy-bal1.pid")"
    [ "$pid1" = "$pid2" ] || fail "second 'up' restarted HAProxy ($pid1 -> $pid2)"
    [ "$(ip netns list | grep -c '^lab-')" -eq 9 ] || fail "expected 9 lab namespaces: $(ip netns list | tr '\n' ' ')"
    pass "up is idempotent (9 namespaces, HAProxy not restarted)"

    # --- host untouched, bridges in lab-sw ---------------------------------
    [ -z "$(host_leaks)" ] || fail "lab leaked into the host namespace: $(host_leaks)"
    [ "$(host_links)" = "$before" ] || fail "host links changed by up: $(host_links)"
    for b in ext int; do
        grep -q 'mcast_snooping 0' <<<"$(ip -n lab-sw -d link show "$b")" || fail "bridge $b missing or snooping on"
    done
    pass "host namespace untouched; bridges ext/int in lab-sw with snooping off"

    # --- round robin, headers, stats, per balancer -------------------------
    for bal in "${BALANCERS[@]}"; do
        first=()
        second=()
        for _ in 1 2 3; do first+=("$(served_by "${EXT_IP[$bal]}")"); done
        for _ in 1 2 3; do second+=("$(served_by "${EXT_IP[$bal]}")"); done
        seen="$(printf '%s\n' "${first[@]}" | sort | paste -sd' ' -)"
        [ "$seen" = "serv1 serv2 serv3" ] || fail "$bal: 3 requests hit '$seen', want each of serv1..3 once"
        [ "${first[*]}" = "${second[*]}" ] || fail "$bal: order not cyclic: ${first[*]} / ${second[*]}"
        pass "$bal round robin: ${first[*]} ${second[*]}"

        hdr="$("$LAB" exec client curl -s -m 3 -D - -o /dev/null "http://${EXT_IP[$bal]}:8000/")"
        grep -qi "^x-balancer: $bal" <<<"$hdr" || fail "$bal: no 'X-Balancer: $bal' header"
        body="$(get "${EXT_IP[$bal]}:8000")"
        grep -q "client=${INT_IP[$bal]} forwarded_for=172.16.1.100" <<<"$body" \
            || fail "$bal: server saw wrong addresses: $body"
        pass "$bal X-Balancer header; server saw ${INT_IP[$bal]} for client 172.16.1.100"

        body="$(get "${EXT_IP[$bal]}:8404" /stats)"
        grep -q "balancer $bal" <<<"$body" || fail "$bal: stats page lacks 'balancer $bal'"
        grep -q '^primaries,serv1,.*UP' <<<"$(get "${EXT_IP[$bal]}:8404" '/stats;csv')" \
            || fail "$bal: stats csv does not show serv1 UP"
        pass "$bal stats page on :8404"
    done

    # --- all primaries down: both backups answer -------------------------
    "$LAB" stop-server all-primaries
    wait_until "$BOUND" served_by_backup "${EXT_IP[bal1]}" ||
        fail "backups did not take over within ${BOUND}s: $WAIT_LAST; $(haproxy_servers "${EXT_IP[bal1]}" primaries | tr '\n' ';')"
    seen="$(for _ in 1 2 3 4; do served_by "${EXT_IP[bal1]}"; done | sort -u | paste -sd' ' -)"
    [ "$seen" = "bkp1 bkp2" ] || fail "with primaries down, served by '$seen', want 'bkp1 bkp2'"
    pass "primaries down: backups bkp1 and bkp2 share the load"

    "$LAB" start-server all-primaries
    wait_until "$BOUND" served_by_primary "${EXT_IP[bal1]}" ||
        fail "primaries did not come back within ${BOUND}s: $WAIT_LAST"
    # All of them, before they are filled up below.
    wait_until "$BOUND" haproxy_all_up "${EXT_IP[bal1]}" ||
        fail "HAProxy on bal1 does not see every server UP: $WAIT_LAST"
    pass "primaries back: traffic returns to serv*"

    # --- overflow: saturate primaries, new requests go to backups ----------
    sat_out="$(mktemp)"
    "$LAB" saturate bal1 >"$sat_out" 2>&1 &
    sat_pid=$!
    # HAProxy's own view: every primary at maxconn and a request queued.
    wait_until "$BOUND" primaries_full "${EXT_IP[bal1]}" ||
        fail "primaries never full with a request queued within ${BOUND}s (HAProxy: $WAIT_LAST)"
    local full="$WAIT_LAST"
    # Now the overflow rule must send a new request to a backup. (The slow
    # requests hold their slots for LAB_SLOW_BYTES/1 KiB s; check the
    # queue is still there after the request, so that a "no" is not a race.)
    served_by_backup "${EXT_IP[bal1]}" >/dev/null ||
        fail "no overflow to the backups while HAProxy shows the primaries full ($full), after: $(primaries_full "${EXT_IP[bal1]}")"
    wait "$sat_pid" || fail "lab.sh saturate failed: $(cat "$sat_out")"
    grep -q 'server=bkp' "$sat_out" || fail "saturating requests never reached a backup: $(cat "$sat_out")"
    grep -q 'server=serv' "$sat_out" || fail "saturating requests never reached a primary: $(cat "$sat_out")"
    rm -f "$sat_out"
    wait_until "$BOUND" served_by_primary "${EXT_IP[bal1]}" ||
        fail "after saturation, traffic did not return to the primaries: $WAIT_LAST"
    pass "overflow: backups take new requests while HAProxy shows the primaries full ($full)"

    # --- everything down: 503 sorry page ---------------------------------
    "$LAB" stop-server all
    wait_until "$BOUND" gets_503 "${EXT_IP[bal1]}" || fail "no 503 with all servers down: $WAIT_LAST"
    body="$(get "${EXT_IP[bal1]}:8000")"
    grep -q 'sorry-page' <<<"$body" || fail "503 body is not the sorry page: $body"
    hdr="$("$LAB" exec client curl -s -m 3 -D - -o /dev/null "http://${EXT_IP[bal1]}:8000/")"
    grep -qi '^x-balancer: bal1' <<<"$hdr" || fail "sorry page lacks X-Balancer"
    pass "all servers down: 503 with the sorry page"
    "$LAB" start-server all
    wait_until "$BOUND" served_by_primary "${EXT_IP[bal1]}" || fail "servers did not come back: $WAIT_LAST"

    # --- kill/start HAProxy ------------------------------------------------
    "$LAB" kill-haproxy bal1
    if get "${EXT_IP[bal1]}:8000" >/dev/null; then fail "bal1 still answers after kill-haproxy"; fi
    pgrep -f "$STATE/haproxy-bal1.cfg" >/dev/null && fail "haproxy-bal1 processes left after kill"
    "$LAB" start-haproxy bal1
    wait_until "$BOUND" served_by_primary "${EXT_IP[bal1]}" || fail "bal1 did not answer after start-haproxy: $WAIT_LAST"
    pass "kill-haproxy / start-haproxy"

    # --- external link down/up ---------------------------------------------
    "$LAB" link bal1 down
    if get "${EXT_IP[bal1]}:8000" >/dev/null; then fail "bal1 reachable with its link down"; fi
    served_by_primary "${EXT_IP[bal2]}" >/dev/null || fail "bal2 affected by bal1's link"
    "$LAB" link bal1 up
    wait_until "$BOUND" served_by_primary "${EXT_IP[bal1]}" || fail "bal1 unreachable after link up: $WAIT_LAST"
    pass "link down/up"

    # --- master without vrrpd: nobody holds the VIP ------------------------
    local m rc=0
    m="$("$LAB" master)" || rc=$?
    if [ "$m" != none ] || [ "$rc" -ne 1 ]; then
        fail "master: got '$m' rc=$rc, want 'none' rc=1"
    fi
    grep -q 'held by: nobody' <<<"$("$LAB" status)" || fail "status does not report the VIP as free"
    pass "master/status: VIP held by nobody without vrrpd"

    # --- down leaves nothing -----------------------------------------------
    "$LAB" down
    grep -q '^lab-' <<<"$(ip netns list)" && fail "lab namespaces left: $(ip netns list | tr '\n' ' ')"
    [ ! -e "$STATE" ] || fail "state dir $STATE left behind"
    [ -z "$(lab_processes)" ] || fail "lab processes left: $(lab_processes | tr '\n' ' ')"
    [ -z "$(host_leaks)" ] || fail "lab leftovers in the host namespace: $(host_leaks)"
    after="$(host_links)"
    [ "$after" = "$before" ] || fail "host links differ after down: $after"
    pass "down: no namespaces, no state dir, no processes, host unchanged"

    say "all $CHECKS checks passed"
}

main "$@"
