#!/usr/bin/env bash
# chaos.sh - a bounded chaos soak of vrrpd + HAProxy in private network namespaces.
#
# Usage: chaos.sh [--minutes N] [--seed S] [--keep]
#   --minutes N   how long to inject faults (default 2); the script stops by itself
#   --seed S      random seed (default: the pid), printed so a run can be repeated
#   --keep        keep the work directory (logs) even when the run passes
#
# Topology (namespaces "ch<pid>-*", nothing in the root namespace):
#   client 172.16.1.100, bal1 172.16.1.250 (prio 150), bal2 172.16.1.251 (prio 100),
#   web 172.16.1.10 (python http.server), all on bridge "ext" in the switch namespace;
#   a second bridge "part" is where a partitioned balancer goes.
# VIP 172.16.1.254, VRRPv3, 1 s adverts; each balancer runs HAProxy (VIP:80 -> web)
# and vrrpd tracking its own HAProxy (weight -100).
#
# Under steady HTTP load from the client (one request per ~50 ms), faults are
# injected at random: SIGKILL+restart of vrrpd, SIGKILL+restart of HAProxy, link
# down/up, partition+heal, SIGHUP reload, the VIP deleted by hand, CPU stress,
# and bad packets: the client forges adverts of every auth_hmac class
# (`vrrpd-labtool inject`; the balancers sign with a key and hear only each
# other), each of which every balancer must count under its own reason.
# Invariants (any breach is a violation, and the exit status is 1):
#   - after each fault settles: exactly one namespace holds the VIP;
#   - after a partition heals: the client's neighbour entry for the VIP is the
#     true master's MAC (only its gratuitous ARP can have moved it back);
#   - every failed request lies in a fault's window, and each fault's outage is
#     within that fault type's bound;
#   - no process died unexpectedly, no "panicked" in any vrrpd log;
#   - vrrpd's RSS does not grow (last sample <= first + max(50%, 4 MiB));
#   - after a clean stop (SIGTERM, exit 0), no VIP is left anywhere;
#   - no VIP and no route to it left on a node whose vrrpd is dead, past the
#     lease bound (half of the vrrpd kills stay dead that long to check it).
# Timing: the faults last random real times and the soak paces itself with
# sleeps (that is the point of a soak); everything the script waits FOR
# (services up, the VIP settled, the client's neighbour entry) is a wait on
# the condition (wait_until from lib/common.sh). The outage bounds per fault
# type (BOUND below) are the soak's invariant, generous on purpose.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

MINUTES=2
SEED=$$
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "chaos.sh: must run as root" >&2; exit 2; }
for t in ip haproxy curl python3; do
    command -v "$t" >/dev/null || { echo "chaos.sh: SKIPPED: $t is missing" >&2; exit 2; }
done

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
VRRPD="${VRRPD_BIN:-$REPO_DIR/target/debug/vrrpd}"
if [ -z "${VRRPD_BIN:-}" ]; then
    (cd "$REPO_DIR" && cargo build -q --bin vrrpd) || { echo "build failed" >&2; exit 2; }
fi
LABTOOL="${LABTOOL_BIN:-$REPO_DIR/target/debug/vrrpd-labtool}"
if [ -z "${LABTOOL_BIN:-}" ]; then
    (cd "$REPO_DIR" && cargo build -q -p vrrpd-labtool) || { echo "build failed" >&2; exit 2; }
fi
[ -x "$VRRPD" ] || { echo "chaos.sh: no vrrpd binary at $VRRPD" >&2; exit 2; }

RANDOM=$SEED
P="ch$$"
SW="$P-sw"
VIP=172.16.1.254
WORK="$(mktemp -d /tmp/vrrpd-chaos.XXXXXX)"
declare -A ADDR=([client]=172.16.1.100 [bal1]=172.16.1.250 [bal2]=172.16.1.251 [web]=172.16.1.10)
declare -A PRIO=([bal1]=150 [bal2]=100)
declare -A VPID=() HPID=()     # vrrpd / haproxy pid per balancer
declare -A FAULTS=() LONGEST=() BOUND=()
# Outage bound per fault type, in seconds after the fault's active part ended
# (Master_Down_Interval of bal2 is 3.61 s; the HAProxy tracker polls at 1 s).
BOUND=([kill_vrrpd]=7 [kill_haproxy]=8 [link]=7 [partition]=7 [sighup]=3 [vip_delete]=4 [cpu]=5 [bad_packets]=2)
# A SIGKILLed vrrpd's VIP goes when its lease runs out: global.vip_lease (2 s
# by default) after the last renewal, plus the kernel's rounding (0.33 s
# measured, docs/BGP.md), plus a margin for a loaded machine.
LEASE_BOUND=3
WINDOWS=()        # "type start end" (end = active part end + bound)
VIOLATIONS=()
START_TS=$(date +%s)

say() { printf '[chaos %4ds] %s\n' "$(( $(date +%s) - START_TS ))" "$*"; }
violation() { VIOLATIONS+=("$*"); say "VIOLATION: $*"; }
now() { date +%s.%N; }
nsx() { local n="$P-$1"; shift; ip netns exec "$n" "$@"; }

cleanup() {
    set +e
    for b in bal1 bal2; do
        [ -n "${VPID[$b]:-}" ] && kill -KILL "${VPID[$b]}" 2>/dev/null
        [ -n "${HPID[$b]:-}" ] && kill -KILL "${HPID[$b]}" 2>/dev/null
    done
    [ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null
    [ -n "${WEB_PID:-}" ] && kill "$WEB_PID" 2>/dev/null
    wait 2>/dev/null
    for n in client bal1 bal2 web sw; do ip netns del "$P-$n" 2>/dev/null; done
    if [ "${#VIOLATIONS[@]}" -eq 0 ] && [ "$KEEP" -eq 0 ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT

# ---- topology -------------------------------------------------------------
ip netns add "$SW"
ip -n "$SW" link set lo up
for br in ext part; do
    ip -n "$SW" link add "$br" type bridge
    ip -n "$SW" link set "$br" up
done
i=0
for h in client bal1 bal2 web; do
    i=$((i + 1))
    ip netns add "$P-$h"
    ip -n "$P-$h" link set lo up
    ip -n "$SW" link add "p-$h" type veth peer name ext0 netns "$P-$h"
    ip -n "$P-$h" link set ext0 address "02:63:68:00:00:0$i"
    ip -n "$SW" link set "p-$h" master ext up
    ip -n "$P-$h" addr add "${ADDR[$h]}/24" dev ext0
    ip -n "$P-$h" link set ext0 up
done
mac_of() { ip -n "$P-$1" link show ext0 | awk '/link\/ether/ {print $2}'; }
# client_neigh_is MAC: the client's neighbour entry for the VIP names MAC.
client_neigh_is() {
    local n
    n="$(nsx client ip neigh show "$VIP")"
    echo "$n"
    [[ "${n,,}" == *"${1,,}"* ]]
}

# ---- services -------------------------------------------------------------
mkdir -p "$WORK/www"
echo ok > "$WORK/www/index.html"
ip netns exec "$P-web" python3 -m http.server 8080 --bind "${ADDR[web]}" -d "$WORK/www" >"$WORK/web.log" 2>&1 &
WEB_PID=$!

(umask 077 && printf 'hex:%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$WORK/vrrp.key")
for b in bal1 bal2; do
    cat >"$WORK/haproxy-$b.cfg" <<EOF
global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind *:80
    default_backend webs
backend webs
    server web ${ADDR[web]}:8080
EOF
    cat >"$WORK/$b.toml" <<EOF
[global]
control_socket = "$WORK/$b.sock"

[[instance]]
name = "VI_1"
interface = "ext0"
vrid = 12
priority = ${PRIO[$b]}
advert_interval = "1s"
virtual_ips = ["$VIP/24"]
track = ["haproxy"]
allowed_sources = ["${ADDR[bal1]}", "${ADDR[bal2]}"]
[instance.auth_hmac]
keys = { 1 = "file:$WORK/vrrp.key" }

[[track]]
name = "haproxy"
type = "process"
process = "haproxy"
cmdline_contains = "haproxy-$b.cfg"
weight = -100
EOF
done

start_haproxy() { ip netns exec "$P-$1" haproxy -db -f "$WORK/haproxy-$1.cfg" >>"$WORK/haproxy-$1.log" 2>&1 & HPID[$1]=$!; }
start_vrrpd() {
    RUST_LOG=info ip netns exec "$P-$1" "$VRRPD" --config "$WORK/$1.toml" >>"$WORK/vrrpd-$1.log" 2>&1 &
    VPID[$1]=$!
}
# reap PID: sets RC to its exit status (our child, dead or dying). Not in a
# subshell: only this shell can wait for its children.
reap() { RC=0; wait "$1" 2>/dev/null || RC=$?; }

for b in bal1 bal2; do start_haproxy "$b"; start_vrrpd "$b"; done
# The load must not start before the services answer: a request that fails
# because python or HAProxy had not started yet is no fault's.
web_answers() { nsx client curl -fsS -m 2 -o /dev/null "http://$1/"; }
wait_until 60 web_answers "${ADDR[web]}:8080" || { echo "chaos.sh: web server never answered: $WAIT_LAST" >&2; exit 2; }
for b in bal1 bal2; do
    wait_until 60 web_answers "${ADDR[$b]}" || { echo "chaos.sh: HAProxy on $b never answered: $WAIT_LAST" >&2; exit 2; }
done
# From here on, a failing check is a violation to report, never a silent exit.
set +e

holders() {
    local out=() b a
    for b in bal1 bal2; do
        # Read the whole output first: "ip ... | grep -q" under pipefail fails
        # at random when grep exits before ip has written everything (SIGPIPE).
        a="$(ip -n "$P-$b" -o addr show dev ext0 2>/dev/null)"
        if [[ "$a" == *"inet $VIP/"* ]]; then out+=("$b"); fi
    done
    echo "${out[*]:-}"
}
# The balancer that should hold the VIP: the highest effective priority among
# those with a running vrrpd and HAProxy (bal1 when both are healthy).
expected_master() {
    if [ -n "${VPID[bal1]:-}" ] && [ -n "${HPID[bal1]:-}" ]; then echo bal1; else echo bal2; fi
}
# settle SECS: wait up to SECS for the expected master to be the only holder,
# stable for 1 s; prints the holders seen last; fails at the deadline.
settle() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )) stable_since=0 h want
    want="$(expected_master)"
    while [ "$(date +%s%N)" -lt "$deadline" ]; do
        h="$(holders)"
        if [ "$h" = "$want" ]; then
            [ "$stable_since" -eq 0 ] && stable_since=$(date +%s%N)
            if [ $(( $(date +%s%N) - stable_since )) -ge 1000000000 ]; then echo "$h"; return 0; fi
        else
            stable_since=0
        fi
        sleep 0.1
    done
    echo "${h:-none}"
    return 1
}

say "seed $SEED, $MINUTES minute(s), work dir $WORK"
if ! first="$(settle 30)"; then violation "startup: holders '$first' after 30 s"; fi
say "startup: $first holds $VIP"

# ---- load -----------------------------------------------------------------
END_TS=$(( $(date +%s) + MINUTES * 60 ))
(
    while [ "$(date +%s)" -lt "$((END_TS + 12))" ]; do
        t=$(date +%s.%N)
        if nsx client curl -s -o /dev/null --max-time 1 "http://$VIP/"; then echo "$t ok"; else echo "$t fail"; fi
        sleep 0.05
    done
) >"$WORK/load.log" 2>/dev/null &
LOAD_PID=$!

# ---- checks ---------------------------------------------------------------
declare -A RSS_FIRST=() RSS_LAST=()
sample_rss() {
    local b pid rss age
    for b in bal1 bal2; do
        pid="${VPID[$b]:-}"; [ -n "$pid" ] || continue
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        [ -n "$rss" ] || continue
        age=$(( $(date +%s) - $(stat -c %Y "/proc/$pid") ))
        if [ -z "${RSS_FIRST[$pid]:-}" ]; then
            if [ "$age" -ge 5 ]; then RSS_FIRST[$pid]=$rss; fi
        else
            RSS_LAST[$pid]=$rss
        fi
    done
}
# check_dead_node BAL: BAL's vrrpd has been dead for LEASE_BOUND seconds; the
# kernel must have removed its VIP, and with it every route to the VIP.
check_dead_node() {
    local a r
    a="$(ip -n "$P-$1" -o addr show 2>/dev/null)"
    r="$(ip -n "$P-$1" route show table all 2>/dev/null)"
    if [[ "$a" == *"inet $VIP/"* ]]; then
        violation "vrrpd on $1 dead for $LEASE_BOUND s: its VIP is still configured"
    fi
    if [[ " $r " == *" $VIP "* ]]; then
        violation "vrrpd on $1 dead for $LEASE_BOUND s: a route to $VIP is still there"
    fi
}
check_alive() {
    local b rc
    for b in bal1 bal2; do
        if [ -n "${VPID[$b]:-}" ] && ! kill -0 "${VPID[$b]}" 2>/dev/null; then
            reap "${VPID[$b]}"; violation "vrrpd on $b died unexpectedly (exit $RC)"; start_vrrpd "$b"
        fi
        if [ -n "${HPID[$b]:-}" ] && ! kill -0 "${HPID[$b]}" 2>/dev/null; then
            reap "${HPID[$b]}"; violation "haproxy on $b died unexpectedly (exit $RC)"; start_haproxy "$b"
        fi
    done
}

# ---- faults ---------------------------------------------------------------
FAULT_TYPES=(kill_vrrpd kill_haproxy link partition sighup vip_delete cpu bad_packets)
run_fault() {
    local f="$1" m t0 t1 victim
    m="$(holders)"; m="${m%% *}"; [ -n "$m" ] || m=bal1
    # Half of the faults hit the master, the others a random balancer.
    if [ $((RANDOM % 2)) -eq 0 ]; then victim="$m"; else victim="bal$((RANDOM % 2 + 1))"; fi
    t0=$(now)
    # The sleeps below are the faults' durations (random real time, on purpose).
    case "$f" in
        kill_vrrpd)
            kill -KILL "${VPID[$victim]}"; reap "${VPID[$victim]}"
            [ "$RC" -eq 137 ] || violation "vrrpd on $victim: exit $RC after SIGKILL"
            if [ $((RANDOM % 2)) -eq 0 ]; then
                sleep "$LEASE_BOUND"; check_dead_node "$victim"
            else
                sleep $((RANDOM % 3))
            fi
            start_vrrpd "$victim" ;;
        kill_haproxy)
            kill -KILL "${HPID[$victim]}"; reap "${HPID[$victim]}"; HPID[$victim]=""
            sleep $((2 + RANDOM % 4))
            start_haproxy "$victim" ;;
        link)
            ip -n "$SW" link set "p-$victim" down
            sleep $((2 + RANDOM % 5))
            ip -n "$SW" link set "p-$victim" up ;;
        partition)
            # Silent split (carrier stays up): the victim's port goes to bridge "part".
            ip -n "$SW" link set "p-$victim" nomaster
            ip -n "$SW" link set "p-$victim" master part
            sleep $((4 + RANDOM % 5))
            ip -n "$SW" link set "p-$victim" nomaster
            ip -n "$SW" link set "p-$victim" master ext ;;
        sighup)
            kill -HUP "${VPID[$victim]}" ;;
        vip_delete)
            victim="$m"
            nsx "$victim" ip addr del "$VIP/24" dev ext0 2>/dev/null || true ;;
        cpu)
            # Two busy loops (the machine's two cores) in the victim's
            # namespace for 5 s; the fault lasts until both have ended.
            local l1 l2
            nsx "$victim" timeout 5 sh -c 'while :; do :; done' &
            l1=$!
            nsx "$victim" timeout 5 sh -c 'while :; do :; done' &
            l2=$!
            wait "$l1" "$l2" ;;
        bad_packets)
            local out
            out="$(nsx client "$LABTOOL" inject --vrid 12 --key-file "$WORK/vrrp.key" \
                --peer "${ADDR[bal1]}" --peer "${ADDR[bal2]}" --own "${ADDR[client]}" \
                --socket "$WORK/bal1.sock" --socket "$WORK/bal2.sock" 2>&1)" ||
                violation "bad_packets: $out"
            say "${out##*$'\n'}" ;;
    esac
    t1=$(now)
    FAULTS[$f]=$(( ${FAULTS[$f]:-0} + 1 ))
    local h
    if ! h="$(settle 20)"; then
        violation "$f on $victim: holders '$h' 20 s after the fault, expected only $(expected_master)"
    fi
    if [ "$f" = partition ] && [ -n "$h" ]; then
        # Only the master's gratuitous ARP can point the client back at it.
        local mac
        mac="$(mac_of "$h")"
        wait_until 15 client_neigh_is "$mac" ||
            violation "partition healed: client's neighbour entry for $VIP is '$WAIT_LAST' 15 s after settling, master $h has $mac"
    fi
    # load.log stamps a request when it starts, and a request may take up to
    # its 1 s timeout: one started just before t0 can still fail because of
    # this fault. The window opens that long before t0.
    WINDOWS+=("$f $(awk -v a="$t0" 'BEGIN{printf "%.3f", a-1}') $(awk -v a="$t1" -v b="${BOUND[$f]}" 'BEGIN{printf "%.3f", a+b}')")
    say "$f on $victim: done, $h holds the VIP"
}

while [ "$(date +%s)" -lt "$END_TS" ]; do
    check_alive
    sample_rss
    run_fault "${FAULT_TYPES[$((RANDOM % ${#FAULT_TYPES[@]}))]}"
    sleep $((2 + RANDOM % 3)) # pacing between faults: real time on purpose
    sample_rss
done
check_alive
sleep 2 # a last stretch of load with no fault: real time on purpose

# ---- clean stop -----------------------------------------------------------
kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null || true; LOAD_PID=""
for b in bal1 bal2; do
    kill -TERM "${VPID[$b]}"
    reap "${VPID[$b]}"
    [ "$RC" -eq 0 ] || violation "vrrpd on $b: exit $RC after SIGTERM"
    VPID[$b]=""
done
left="$(holders)"
[ -z "$left" ] || violation "after a clean stop, $left still holds $VIP"
for b in bal1 bal2; do
    if grep -q "panicked" "$WORK/vrrpd-$b.log"; then violation "vrrpd on $b panicked (see $WORK/vrrpd-$b.log)"; fi
done
for pid in "${!RSS_FIRST[@]}"; do
    f=${RSS_FIRST[$pid]}; l=${RSS_LAST[$pid]:-$f}
    lim=$(( f + (f / 2 > 4096 ? f / 2 : 4096) ))
    [ "$l" -le "$lim" ] || violation "vrrpd pid $pid RSS grew from $f kB to $l kB"
done

# ---- request failures vs fault windows --------------------------------------
outages="$(printf '%s\n' "${WINDOWS[@]}" | awk -v loadlog="$WORK/load.log" '
    { type[NR] = $1; s[NR] = $2; e[NR] = $3; n = NR }
    END {
        while ((getline line < loadlog) > 0) {
            split(line, f, " "); t = f[1]; ok = (f[2] == "ok"); total++
            if (ok) { for (i in run) { if (run[i] > 0) { d = last[i] - first[i]; if (d > worst[i]) worst[i] = d; run[i] = 0 } } continue }
            fails++; w = 0
            for (i = 1; i <= n; i++) if (t >= s[i] && t <= e[i]) w = i
            if (w == 0) { printf "UNEXPLAINED %s\n", t; continue }
            if (run[w] == 0) { first[w] = t } ; last[w] = t + 1; run[w]++
        }
        for (i in run) if (run[i] > 0) { d = last[i] - first[i]; if (d > worst[i]) worst[i] = d }
        for (i = 1; i <= n; i++) printf "OUTAGE %s %.2f\n", type[i], worst[i] + 0
        printf "TOTAL %d %d\n", total, fails
    }')"
while read -r kind a b; do
    case "$kind" in
        UNEXPLAINED) violation "request failed at $a outside any fault window" ;;
        OUTAGE)
            cur="${LONGEST[$a]:-0}"
            if awk -v x="$b" -v y="$cur" 'BEGIN{exit !(x > y)}'; then LONGEST[$a]="$b"; fi ;;
        TOTAL) TOTAL_REQ=$a; FAILED_REQ=$b ;;
    esac
done <<<"$outages"

# ---- summary ----------------------------------------------------------------
echo
echo "=== chaos summary: seed $SEED, $MINUTES minute(s), ${TOTAL_REQ:-0} requests, ${FAILED_REQ:-0} failed ==="
printf '%-14s %7s %18s %10s\n' fault injected "longest outage (s)" "bound (s)"
for f in "${FAULT_TYPES[@]}"; do
    printf '%-14s %7s %18s %10s\n' "$f" "${FAULTS[$f]:-0}" "${LONGEST[$f]:-0}" "active+${BOUND[$f]}"
done
for pid in "${!RSS_FIRST[@]}"; do echo "vrrpd pid $pid RSS: ${RSS_FIRST[$pid]} kB -> ${RSS_LAST[$pid]:-${RSS_FIRST[$pid]}} kB"; done
echo "violations: ${#VIOLATIONS[@]}"
for v in "${VIOLATIONS[@]}"; do echo "  - $v"; done
[ "${#VIOLATIONS[@]}" -eq 0 ]
