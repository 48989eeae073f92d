# shellcheck shell=bash
# lib/common.sh - helpers shared by the lab scripts (lab.sh, demo.sh,
# loadtest.sh, lab-test.sh, selftest*.sh, chaos.sh).
# Source it after setting nothing; it defines LAB, REPO_DIR, STATE, VIP and
# a few functions. Needs bash.
#
# Waiting: never "sleep N" and hope. Wait on the condition itself with
# wait_until (below) and a generous bound; on a timeout, say what was seen
# last ($WAIT_LAST). A sleep that stays is real time (a load window, a
# "nothing flaps for N s" watch) and says so in a comment. See docs/TESTING.md.

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPTS_DIR="$(cd "$LIB_DIR/.." && pwd)"
REPO_DIR="$(cd "$SCRIPTS_DIR/.." && pwd)"
LAB="$SCRIPTS_DIR/lab.sh"
STATE="${LAB_STATE:-/run/vrrpd-lab}"
VIP=172.16.1.254
VIP_URL="http://$VIP:8000/"

# quiet CMD...: run with output appended to $LOG; on error show its tail and
# call the caller's fail().
quiet() {
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 15 "$LOG" | sed 's/^/    | /'
        fail "$*"
    fi
}

# require_root_and_no_lab: the lab needs root (network namespaces) and must
# not already be up, since the caller tears it down at the end.
require_root_and_no_lab() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$(basename "$0"): run as root (network namespaces need it)" >&2
        exit 1
    fi
    if [ -e /run/netns/lab-sw ]; then
        echo "$(basename "$0"): a lab is already up (lab-sw exists) and would be torn down; run: $LAB down" >&2
        exit 1
    fi
}

# now_ms: Unix time in milliseconds.
now_ms() { date +%s%3N; }

# wait_until SECS CMD...: run CMD every 0.1 s until it succeeds; give up
# after SECS seconds (one last try after the deadline, so an oversleeping
# machine does not turn a success into a failure). Sets WAIT_MS (how long
# it took, or the time spent when giving up) and WAIT_LAST (CMD's output,
# stdout and stderr, at its last try: what a failure message should show).
# Returns 0 when CMD succeeded, 1 at the deadline. Use generous bounds: the
# machine may be small and busy; the bound only matters when it fails.
# shellcheck disable=SC2034  # WAIT_MS and WAIT_LAST are for the caller
wait_until() {
    local secs="$1" t0 deadline
    shift
    t0="$(now_ms)"
    deadline=$((t0 + secs * 1000))
    WAIT_LAST=""
    while :; do
        if WAIT_LAST="$("$@" 2>&1)"; then
            WAIT_MS=$(($(now_ms) - t0))
            return 0
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            if WAIT_LAST="$("$@" 2>&1)"; then
                WAIT_MS=$(($(now_ms) - t0))
                return 0
            fi
            WAIT_MS=$(($(now_ms) - t0))
            return 1
        fi
        sleep 0.1
    done
}

# bal_addr BAL: the balancer's own external address (bal1 -> 172.16.1.250).
bal_addr() { echo "172.16.1.$((249 + ${1#bal}))"; }

# haproxy_csv ADDR: HAProxy's statistics as CSV (GET ADDR:8404/stats;csv
# from the client namespace), header line first.
haproxy_csv() {
    ip netns exec "${LAB_NS_PREFIX:-lab-}client" curl -fsS -m 5 "http://$1:8404/stats;csv"
}

# haproxy_servers ADDR BACKEND: one line per server of BACKEND as HAProxy
# sees it: "name status scur slim qcur role" (slim "-" when unlimited; role
# "active" or "backup"), and a last line "BACKEND - - - qcur -" (the
# requests queued on the backend itself).
haproxy_servers() {
    local csv
    csv="$(haproxy_csv "$1")" || return 1
    awk -F, -v be="$2" '
        NR == 1 { sub(/^# */, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["pxname"] == be && $col["svname"] != "FRONTEND" {
            sl = $col["slim"]; if (sl == "") sl = "-"
            if ($col["svname"] == "BACKEND") last = "BACKEND - - - " ($col["qcur"] + 0) " -"
            else print $col["svname"], $col["status"], $col["scur"] + 0, sl, $col["qcur"] + 0,
                ($col["bck"] == 1 ? "backup" : "active")
        }
        END { if (last != "") print last }' <<<"$csv"
}

# haproxy_all_up ADDR: every server of every backend is UP (prints the
# servers that are not, for a failure message).
haproxy_all_up() {
    local csv
    csv="$(haproxy_csv "$1")" || return 1
    awk -F, '
        NR == 1 { sub(/^# */, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["svname"] != "FRONTEND" && $col["svname"] != "BACKEND" && $col["status"] !~ /^UP/ {
            bad = bad " " $col["pxname"] "/" $col["svname"] "=" $col["status"] }
        END { if (bad != "") { print "not UP:" bad; exit 1 } }' <<<"$csv"
}

# backend_full ADDR BACKEND MIN_QUEUED: every active (non-backup) server of
# BACKEND that is UP carries its limit (scur >= slim), and at least
# MIN_QUEUED requests wait in the backend's queues: what HAProxy's
# "queue(BACKEND) ge N" overflow rule reacts to. Prints what it saw,
# "serv1 4/4 serv2 4/4 serv3 4/4 queued 1", either way.
backend_full() {
    local rows
    rows="$(haproxy_servers "$1" "$2")" || return 1
    awk -v min="$3" '
        { q += $5 }
        $1 == "BACKEND" || $6 == "backup" || $4 == "-" { next }
        $2 !~ /^UP/ { next }                    # a down server takes nothing
        { n++; line = line $1 " " $3 "/" $4 " "; if ($3 + 0 < $4 + 0) notfull++ }
        END { print line "queued " q; exit !(n > 0 && notfull == 0 && q >= min) }' <<<"$rows"
}

# labtool_bin: the built prober (release, else debug), or $LABTOOL_BIN.
labtool_bin() {
    local c
    for c in "${LABTOOL_BIN:-}" "$REPO_DIR/target/release/vrrpd-labtool" "$REPO_DIR/target/debug/vrrpd-labtool"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# vrrpd_bin: same search as lab.sh.
vrrpd_bin_path() {
    local c
    for c in "${VRRPD_BIN:-}" "$REPO_DIR/target/release/vrrpd" "$REPO_DIR/target/debug/vrrpd"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# client_sees: the X-Balancer of one request from the client to the VIP.
client_sees() {
    local h
    h="$(ip netns exec lab-client curl -s -m 1 -o /dev/null -D - "$VIP_URL" 2>/dev/null | tr -d '\r' |
        awk 'tolower($1) == "x-balancer:" {print $2}')"
    echo "${h:-nobody}"
}

# build_all: install the lab's packages and build vrrpd + labtool (release).
# Cargo only rebuilds what changed, so this is quick the second time.
build_all() {
    "$LAB" deps
    # Under sudo, cargo usually lives in the invoking user's ~/.cargo/bin,
    # and the build should run as that user (no root-owned target/).
    local cargo="" home="" c
    local -a as=()
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        home="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
        as=(sudo -u "$SUDO_USER" -H)
    fi
    for c in "$(command -v cargo 2>/dev/null)" "$home/.cargo/bin/cargo" "$HOME/.cargo/bin/cargo"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            cargo="$c"
            break
        fi
    done
    if [ -z "$cargo" ]; then
        echo "cargo not found: install Rust >= 1.85 (https://rustup.rs)" >&2
        return 1
    fi
    (cd "$REPO_DIR" && "${as[@]}" "$cargo" build --release --quiet -p vrrpd -p vrrpd-labtool --bins)
}

# master: the VIP holder ("none" or several names when not exactly one).
master() { "$LAB" master 2>/dev/null || true; }

# master_is NAME: exactly NAME holds the VIP (prints the holders).
master_is() {
    local m
    m="$(master)"
    echo "$m"
    [ "$m" = "$1" ]
}

# one_master: exactly one balancer holds the VIP (prints the holders).
one_master() {
    local m
    m="$(master)"
    echo "$m"
    [[ "$m" =~ ^bal[1-3]$ ]]
}

# wait_master NAME [SECS]: wait until exactly NAME holds the VIP.
wait_master() { wait_until "${2:-30}" master_is "$1"; }

# wait_some_master [SECS]: wait until exactly one balancer holds the VIP;
# prints it.
wait_some_master() {
    wait_until "${1:-30}" one_master || return 1
    echo "$WAIT_LAST"
}

# vrrpd_state BAL: "MASTER 150" (state, effective priority) from the control socket.
vrrpd_state() {
    local b="$1" bin json
    bin="$(vrrpd_bin_path)" || { echo "?"; return 0; }
    json="$(ip netns exec "lab-$b" "$bin" status --json --socket "$STATE/vrrpd-$b.sock" 2>/dev/null)" || {
        echo "down"
        return 0
    }
    # One instance in the lab configs: take the first state/effective_priority.
    local st pr
    st="$(grep -o '"state":"[A-Z]*"' <<<"$json" | head -n1 | cut -d'"' -f4)"
    pr="$(grep -o '"effective_priority":[0-9]*' <<<"$json" | head -n1 | cut -d: -f2)"
    echo "${st:-?} prio ${pr:-?}"
}

# tracker_line BAL: the tracker lines of "vrrpd status" for BAL (or a note).
tracker_line() {
    local b="$1" bin
    bin="$(vrrpd_bin_path)" || { echo "(no vrrpd binary)"; return 0; }
    "$bin" status --socket "$STATE/vrrpd-$b.sock" 2>/dev/null | grep -i 'tracker' ||
        echo "(no tracker in vrrpd status for $b)"
}

# vrrp_events SINCE_MS [UNTIL_MS]: the VRRP state changes (and tracker
# priority changes) logged by every balancer's vrrpd since SINCE_MS, as CSV
# lines "unix_ms,bal2 MASTER" / "unix_ms,bal1 priority 150 -> 50". vrrpd logs
# "(VI_1) Entering MASTER STATE" and "effective priority changed from=150
# to=50" after an RFC 3339 UTC timestamp.
vrrp_events() {
    local since="$1" until="${2:-99999999999999}" f b ts st ms
    for f in "$STATE"/vrrpd-bal*.log; do
        [ -f "$f" ] || continue
        b="$(basename "$f" .log)"
        b="${b#vrrpd-}"
        grep -aE 'Entering [A-Z]+ STATE|effective priority changed' "$f" 2>/dev/null | while read -r ts rest; do
            if [[ "$rest" =~ Entering\ ([A-Z]+)\ STATE ]]; then
                st="${BASH_REMATCH[1]}"
            elif [[ "$rest" =~ from=([0-9]+)\ to=([0-9]+) ]]; then
                st="priority ${BASH_REMATCH[1]} -> ${BASH_REMATCH[2]}"
            else
                continue
            fi
            ms="$(date -d "$ts" +%s%3N 2>/dev/null)" || continue
            if [ "$ms" -ge "$since" ] && [ "$ms" -le "$until" ]; then
                echo "$ms,$b $st"
            fi
        done
    done | sort -n
}

# probe_start OUT_PREFIX DURATION: run the prober in lab-client in the
# background (5 ms interval) writing OUT_PREFIX.csv and
# OUT_PREFIX-client.csv; sets PROBE_PID.
probe_start() {
    local prefix="$1" dur="$2" bin
    bin="$(labtool_bin)" || { echo "vrrpd-labtool not built" >&2; return 1; }
    ip netns exec lab-client "$bin" probe --url "$VIP_URL" --interval 5ms --duration "$dur" \
        --out "$prefix.csv" --events "$prefix-client.csv" 2>>"$prefix.probe.log" &
    # shellcheck disable=SC2034  # read by the sourcing script
    PROBE_PID=$!
}
