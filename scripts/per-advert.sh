#!/usr/bin/env bash
# scripts/per-advert.sh - what one advert costs, in counts that load does not change (#21).
#
# Two namespaces of its own (pa<pid>a, pa<pid>b; deleted on exit, never the
# lab-* names, no lab lock needed), joined by a veth pair, each with HAProxy
# on :8000; a master (priority 150, in a) and a backup (100, in b) at 10 ms
# VRRPv3 adverts, HAProxy tracked as bench_compare.rs tracks it. For each
# daemon asked for (vrrpd, keepalived 2.4.3, and the floor: one thread that
# sleeps to each 10 ms deadline and sends, as floor_cpu in
# tests/bench_compare.rs), over a window of SECS seconds:
#   - adverts: the master's veth tx_packets, the backup's rx_packets
#   - per thread (by name): wake-ups (voluntary context switches: each
#     sleep ends in one), preemptions (involuntary ones: load, not the
#     daemon), CPU ns (schedstat)
#   - perf stat: task-clock, context-switches, cpu-migrations (all threads)
#   - then a second window under `strace -c -f`: system calls by kind
# and prints each per advert. This VM has no PMU (instructions and cycles
# are "not supported"); with CALLGRIND=1 the master and the backup (and the
# floor) run under valgrind's callgrind instead, and what is printed is the
# instructions each executes in user space per advert, exactly (counters
# zeroed at the window's start, dumped at its end; the per-function split is in the kept
# callgrind.out files, CALLGRIND_OUT, default /tmp/per-advert-callgrind).
#
# Usage: scripts/per-advert.sh [SECS (default 10)] [vrrpd|keepalived|floor ...]
# Environment: VRRPD (binary, default target/release/vrrpd), VRRPD_ENV
# (extra environment for both vrrpd, e.g. "VRRPD_KEEPER=off").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
shift || true
daemons=("$@")
((${#daemons[@]})) || daemons=(vrrpd keepalived floor)
vrrpd="${VRRPD:-$here/target/release/vrrpd}"
[[ $(id -u) == 0 ]] || { echo "per-advert.sh: needs root (network namespaces)" >&2; exit 1; }

a="pa$$a" b="pa$$b"
dir="$(mktemp -d /tmp/per-advert.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add pa$$x netns "$a" type veth peer name pa$$y netns "$b"
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip -n "$a" link set pa$$x name ext0
ip -n "$b" link set pa$$y name ext0
ip -n "$a" addr add 172.31.250.1/24 dev ext0
ip -n "$b" addr add 172.31.250.2/24 dev ext0
ip -n "$a" link set ext0 up
ip -n "$b" link set ext0 up
# The floor's sendto has no interface of its own: multicast goes out ext0.
ip -n "$a" route add 224.0.0.0/4 dev ext0

for n in bal1 bal2; do
    cat >"$dir/haproxy-$n.cfg" <<EOF
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind *:8000
  http-request return status 200 content-type text/plain string "$n"
EOF
done
ip netns exec "$a" haproxy -db -f "$dir/haproxy-bal1.cfg" >"$dir/haproxy-bal1.log" 2>&1 &
pids+=($!); echo $! >"$dir/haproxy-bal1.pid"
ip netns exec "$b" haproxy -db -f "$dir/haproxy-bal2.cfg" >"$dir/haproxy-bal2.log" 2>&1 &
pids+=($!); echo $! >"$dir/haproxy-bal2.pid"

vrrpd_conf() { # name prio
    cat <<EOF
[global]
control_socket = "$dir/$1.sock"
[[instance]]
name = "VI_1"
interface = "ext0"
vrid = 12
priority = $2
version = 3
advert_interval = "10ms"
virtual_ips = ["172.31.250.254/24"]
track = ["haproxy"]
[[track]]
name = "haproxy"
type = "process"
process = "haproxy"
cmdline_contains = "haproxy-$1.cfg"
weight = -100
EOF
}
keepalived_conf() { # name prio
    cat <<EOF
global_defs {
    router_id $1
    script_user root
    enable_script_security
}
vrrp_script chk_haproxy {
    script "/bin/sh -c 'kill -0 \$(cat $dir/haproxy-$1.pid)'"
    interval 1
    weight -100
    fall 1
    rise 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface ext0
    version 3
    virtual_router_id 12
    priority $2
    advert_int 0.01
    virtual_ipaddress {
        172.31.250.254/24
    }
    track_script {
        chk_haproxy
    }
}
EOF
}

stat_of() { ip netns exec "$1" cat "/sys/class/net/ext0/statistics/$2"; }

# Per-thread snapshot: tid comm voluntary involuntary cpu_ns
threads() {
    local p=$1 t
    for t in /proc/"$p"/task/*; do
        local id=${t##*/} comm v n ns
        comm=$(tr ' ' _ <"$t/comm" 2>/dev/null) || continue
        v=$(awk '/^voluntary_ctxt_switches/{print $2}' "$t/status")
        n=$(awk '/^nonvoluntary_ctxt_switches/{print $2}' "$t/status")
        ns=$(awk '{print $1}' "$t/schedstat")
        echo "$id $comm $v $n $ns"
    done
}

# measure LABEL PID NS COUNTER: one window of counts, then one under strace.
measure() {
    local label=$1 pid=$2 ns=$3 counter=$4
    local t0 t1 p0 p1 adverts
    t0=$(threads "$pid")
    p0=$(stat_of "$ns" "$counter")
    perf stat -x, -e task-clock,context-switches,cpu-migrations -p "$pid" -o "$dir/perf-$label" -- sleep "$secs" &
    local perfpid=$!
    wait "$perfpid"
    p1=$(stat_of "$ns" "$counter")
    t1=$(threads "$pid")
    adverts=$((p1 - p0))
    echo "## $label (pid $pid): $adverts adverts in ${secs} s ($counter)"
    awk -F, -v n="$adverts" '$3 != "" && $1 ~ /^[0-9.]+$/ {u = ($3 == "task-clock") ? 1000 : 1; printf "  perf %-18s %12.1f  per advert %.3f%s\n", $3, $1, $1 * u / n, u == 1000 ? " us" : ""}' "$dir/perf-$label"
    join <(sort <<<"$t0") <(sort <<<"$t1") | awk -v n="$adverts" \
        '{printf "  thread %-7s %-14s wake-ups/advert %.3f  preempted/advert %.3f  CPU us/advert %.1f\n", $1, $2, ($7 - $3) / n, ($8 - $4) / n, ($9 - $5) / n / 1000}'
    p0=$(stat_of "$ns" "$counter")
    timeout -s INT "$secs" strace -c -f -p "$pid" -o "$dir/strace-$label" >/dev/null 2>&1 || true
    p1=$(stat_of "$ns" "$counter")
    adverts=$((p1 - p0))
    echo "  strace window: $adverts adverts; system calls per advert:"
    awk -v n="$adverts" '$1 ~ /^[0-9.]+$/ && NF >= 5 {c = $4; name = $NF; printf "    %-16s %.3f\n", name, c / n}' "$dir/strace-$label"
    if [[ -n ${PERF_RECORD:-} ]]; then
        # Where the time goes: cpu-clock samples with call graphs.
        perf record -q -F 20000 -e cpu-clock -g -p "$pid" -o "$PERF_RECORD/$label.data" -- sleep "$secs" >/dev/null 2>&1 || true
        echo "  perf record: $PERF_RECORD/$label.data"
    fi
}

settle() { sleep 3; }

# Under CALLGRIND=1: the command prefix, and the count of one window.
cg_out="${CALLGRIND_OUT:-/tmp/per-advert-callgrind}"
vg=()
if [[ ${CALLGRIND:-0} == 1 ]]; then
    mkdir -p "$cg_out"
    # Forks are followed (keepalived's VRRP child); exec'd scripts are not.
    vg=(valgrind -q --tool=callgrind --separate-threads=yes --trace-children=yes
        "--trace-children-skip=*/sh,*/kill" "--callgrind-out-file=$cg_out/callgrind.out.%p")
fi
# cg_measure LABEL PID NS COUNTER: user-space instructions per advert.
cg_measure() {
    local label=$1 pid=$2 ns=$3 counter=$4 p0 p1 f
    callgrind_control -z "$pid" >/dev/null
    p0=$(stat_of "$ns" "$counter")
    sleep "$secs"
    p1=$(stat_of "$ns" "$counter")
    callgrind_control -d "$label" "$pid" >/dev/null
    sleep 1
    echo "## $label (pid $pid, callgrind): $((p1 - p0)) adverts; instructions in user space per advert, by thread:"
    # One file per thread of the dump (--separate-threads): callgrind.out.PID.1-TT
    for f in "$cg_out"/callgrind.out."$pid".1-*; do
        awk -v n=$((p1 - p0)) -v f="$f" '/^(summary|totals):/ {printf "    %-60s %8d\n", f, $2 / n; exit}' "$f"
    done
}

for d in "${daemons[@]}"; do
    case $d in
    vrrpd)
        vrrpd_conf bal1 150 >"$dir/bal1.toml"
        vrrpd_conf bal2 100 >"$dir/bal2.toml"
        # shellcheck disable=SC2086
        ip netns exec "$a" env VRRPD_LOG=warn ${VRRPD_ENV:-} "${vg[@]}" "$vrrpd" --config "$dir/bal1.toml" >"$dir/bal1-vrrpd.log" 2>&1 &
        m=$!
        # shellcheck disable=SC2086
        ip netns exec "$b" env VRRPD_LOG=warn ${VRRPD_ENV:-} "${vg[@]}" "$vrrpd" --config "$dir/bal2.toml" >"$dir/bal2-vrrpd.log" 2>&1 &
        k=$!
        pids+=("$m" "$k")
        settle
        if ((${#vg[@]})); then
            sleep 5
            cg_measure "vrrpd-master" "$m" "$a" tx_packets
            cg_measure "vrrpd-backup" "$k" "$b" rx_packets
            kill "$m" "$k"; wait "$m" "$k" 2>/dev/null || true
            continue
        fi
        measure "vrrpd-master" "$m" "$a" tx_packets
        measure "vrrpd-backup" "$k" "$b" rx_packets
        # The master alone: the kernel charges a send with waking the peer.
        kill "$k"; wait "$k" 2>/dev/null || true
        sleep 1
        measure "vrrpd-master-peer-stopped" "$m" "$a" tx_packets
        kill "$m"; wait "$m" 2>/dev/null || true
        ;;
    keepalived)
        ka="$("$here/scripts/keepalived-2.4.3.sh")"
        for n in bal1:150:"$a" bal2:100:"$b"; do
            IFS=: read -r name prio ns <<<"$n"
            keepalived_conf "$name" "$prio" >"$dir/$name-keepalived.conf"
            ip netns exec "$ns" "${vg[@]}" "$ka" --dont-fork --log-console --no-syslog --vrrp --dont-respawn \
                --use-file "$dir/$name-keepalived.conf" --pid "$dir/$name-ka.pid" \
                --vrrp_pid "$dir/$name-ka-vrrp.pid" >"$dir/$name-keepalived.log" 2>&1 &
            pids+=($!)
        done
        settle
        if ((${#vg[@]})); then sleep 5; fi
        m=$(cat "$dir/bal1-ka-vrrp.pid") k=$(cat "$dir/bal2-ka-vrrp.pid")
        if ((${#vg[@]})); then
            cg_measure "keepalived-2.4.3-master" "$m" "$a" tx_packets
            cg_measure "keepalived-2.4.3-backup" "$k" "$b" rx_packets
            kill "$(cat "$dir/bal1-ka.pid")" "$(cat "$dir/bal2-ka.pid")"
            sleep 1
            continue
        fi
        measure "keepalived-2.4.3-master" "$m" "$a" tx_packets
        measure "keepalived-2.4.3-backup" "$k" "$b" rx_packets
        kill "$(cat "$dir/bal2-ka.pid")"
        sleep 1
        measure "keepalived-2.4.3-master-peer-stopped" "$m" "$a" tx_packets
        kill "$(cat "$dir/bal1-ka.pid")"
        sleep 1
        ;;
    floor)
        gcc -O2 -pthread -o "$dir/floor" "$here/scripts/advert-floor.c"
        ip netns exec "$a" "${vg[@]}" "$dir/floor" &
        f=$!
        pids+=("$f")
        settle
        if ((${#vg[@]})); then
            cg_measure floor "$f" "$a" tx_packets
        else
            measure floor "$f" "$a" tx_packets
        fi
        kill "$f"
        ;;
    *) echo "per-advert.sh: unknown daemon $d" >&2; exit 2 ;;
    esac
done
