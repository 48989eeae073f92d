#!/usr/bin/env bash
# scripts/cpu-side-by-side.sh - a master's CPU per advert under several settings AT THE SAME TIME (#21).
#
# On a loaded machine CPU percentages move with the load; measured side by
# side in the same window, variants share it. Each variant is a vrrpd master
# alone (no peer daemon: "master, peer stopped") in a namespace of its own
# (ps<pid>N, deleted on exit) on a veth pair, HAProxy tracked; the floor and
# keepalived 2.4.3 run beside them. "default" runs the advert keeper alone
# real-time; "VRRPD_REALTIME=all" every thread (the default before #21);
# "floor" is one bare thread that sleeps and sends, "floor-2" two such threads
# on two CPUs taking turns (the advert keeper's shape; scripts/advert-floor.c).
# Prints, per variant, adverts sent, wake-ups
# and CPU µs per advert (schedstat over all threads) for SECS seconds, ROUNDS
# times.
# Usage: scripts/cpu-side-by-side.sh [SECS (10)] [ROUNDS (3)]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}" rounds="${2:-3}"
vrrpd="${VRRPD:-$here/target/release/vrrpd}"
dir="$(mktemp -d /tmp/cpu-sbs.XXXXXX)"
variants=("default" "VRRPD_REALTIME=all" "VRRPD_KEEPER=off" "VRRPD_REALTIME=off" "VRRPD_REALTIME=off VRRPD_KEEPER=off" "keepalived-2.4.3" "floor" "floor-2")
# VRRPD_B=<binary>: one more variant, that binary with the default settings.
[[ -n ${VRRPD_B:-} ]] && variants+=("B")
pids=() nss=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
gcc -O2 -pthread -o "$dir/floor" "$here/scripts/advert-floor.c"
ka="$("$here/scripts/keepalived-2.4.3.sh")"
declare -A pid_of
for i in "${!variants[@]}"; do
    v=${variants[$i]} n="ps$$n$i"
    ip netns add "$n"; nss+=("$n")
    ip -n "$n" link set lo up
    ip -n "$n" link add ext0 type veth peer name ext1
    ip -n "$n" addr add 172.31.252.1/24 dev ext0
    ip -n "$n" link set ext0 up; ip -n "$n" link set ext1 up
    ip -n "$n" route add 224.0.0.0/4 dev ext0
    printf 'defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind *:8000\n  http-request return status 200 content-type text/plain string "x"\n' >"$dir/haproxy-b$i.cfg"
    ip netns exec "$n" haproxy -db -f "$dir/haproxy-b$i.cfg" >/dev/null 2>&1 &
    pids+=($!); echo $! >"$dir/haproxy-b$i.pid"
    case $v in
    floor)
        ip netns exec "$n" "$dir/floor" & p=$! ;;
    floor-2)
        ip netns exec "$n" "$dir/floor" 2 & p=$! ;;
    keepalived-2.4.3)
        # shellcheck disable=SC2016 # $(cat …) is for keepalived's shell
        printf 'global_defs {\n  router_id b%s\n  script_user root\n  enable_script_security\n}\nvrrp_script chk {\n  script "/usr/bin/sh -c '"'"'kill -0 $(cat %s)'"'"'"\n  interval 1\n  weight -100\n  fall 1\n  rise 1\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface ext0\n  version 3\n  virtual_router_id 12\n  priority 150\n  advert_int 0.01\n  virtual_ipaddress {\n    172.31.252.254/24\n  }\n  track_script {\n    chk\n  }\n}\n' "$i" "$dir/haproxy-b$i.pid" >"$dir/ka$i.conf"
        ip netns exec "$n" "$ka" --dont-fork --log-console --no-syslog --vrrp --dont-respawn \
            --use-file "$dir/ka$i.conf" --pid "$dir/ka$i.pid" --vrrp_pid "$dir/ka$i-vrrp.pid" >"$dir/ka$i.log" 2>&1 &
        p=$! ;;
    *)
        printf '[global]\ncontrol_socket = "%s"\n[[instance]]\nname = "VI_1"\ninterface = "ext0"\nvrid = 12\npriority = 150\nversion = 3\nadvert_interval = "10ms"\nvirtual_ips = ["172.31.252.254/24"]\ntrack = ["haproxy"]\n[[track]]\nname = "haproxy"\ntype = "process"\nprocess = "haproxy"\ncmdline_contains = "haproxy-b%s.cfg"\nweight = -100\n' "$dir/v$i.sock" "$i" >"$dir/v$i.toml"
        # shellcheck disable=SC2046 # the variant's VAR=value words, split on purpose
        ip netns exec "$n" env VRRPD_LOG=warn $([[ $v == default || $v == B ]] || echo "$v") "$([[ $v == B ]] && echo "$VRRPD_B" || echo "$vrrpd")" --config "$dir/v$i.toml" >"$dir/v$i.log" 2>&1 &
        p=$! ;;
    esac
    pids+=("$p"); pid_of[$i]=$p
done
sleep 4
for i in "${!variants[@]}"; do
    [[ ${variants[$i]} == keepalived-2.4.3 ]] && pid_of[$i]=$(cat "$dir/ka$i-vrrp.pid")
done
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {print s}'; }
vol() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/ {s += $2} END {print s}'; }
tx() { ip netns exec "ps$$n$1" cat /sys/class/net/ext0/statistics/tx_packets; }
for r in $(seq "$rounds"); do
    declare -A c0 w0 t0
    for i in "${!variants[@]}"; do c0[$i]=$(cpu "${pid_of[$i]}"); w0[$i]=$(vol "${pid_of[$i]}"); t0[$i]=$(tx "$i"); done
    sleep "$secs"
    echo "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
    for i in "${!variants[@]}"; do
        c=$(($(cpu "${pid_of[$i]}") - c0[$i])) w=$(($(vol "${pid_of[$i]}") - w0[$i])) a=$(($(tx "$i") - t0[$i]))
        awk -v v="${variants[$i]}" -v a="$a" -v c="$c" -v w="$w" 'BEGIN {printf "  %-38s adverts %5d  wake-ups/advert %.3f  CPU us/advert %6.1f\n", v, a, w / a, c / a / 1000}'
    done
done
