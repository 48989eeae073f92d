#!/usr/bin/env bash
# scripts/scale-alone.sh - one vrrpd, N masters at 100 ms: CPU and wake-ups per thread (#21).
#
#   (as root) scripts/scale-alone.sh [N (4000)] [SECS (10)] [VAR=value ...]
#
# One network namespace (deleted on exit) with N/250 veth pairs, 250 VRIDs on
# each, one VIP per instance, no peer: every instance becomes master. Waits
# until all N VIPs are up, then prints each thread's CPU (% of one core, from
# schedstat) and voluntary / involuntary context switches per second over
# SECS, and the warnings of the log (a late event loop shows there).
# VAR=value pairs go to vrrpd's environment (VRRPD_KEEPER=off ...).
# Environment: VRRPD (the binary; default target/release/vrrpd),
# PRIO_SPREAD=1 (priority = VRID, 1..250: each instance's Skew_Time, and so
# the phase of its adverts, differs; otherwise all start in phase),
# LEASE (global.vip_lease, e.g. 0s).
# Run under the lab lock: flock /tmp/vrrpd-lab.lock scripts/scale-alone.sh ...
set -euo pipefail
n=${1:-4000} secs=${2:-10}; shift $(( $# < 2 ? $# : 2 ))
extra=("$@")
bin=${VRRPD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/vrrpd}
ns=sa$$
d=$(mktemp -d /tmp/scale-alone.XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill $pid 2>/dev/null; sleep 0.5; ip netns del $ns 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
ip netns add $ns; ip -n $ns link set lo up
nif=$(( (n + 249) / 250 ))
{
  echo "[global]"; echo "control_socket = \"$d/s.sock\""; [ -n "${LEASE:-}" ] && echo "vip_lease = \"$LEASE\""
  k=0
  for ((i=0;i<nif;i++)); do
    ip -n $ns link add e$i type veth peer name p$i; ip -n $ns addr add 172.$((20+i)).255.1/16 dev e$i
    ip -n $ns link set e$i up; ip -n $ns link set p$i up
    for ((v=1; v<=250 && k<n; v++)); do
      k=$((k+1))
      printf '[[instance]]\nname = "VI_%d"\ninterface = "e%d"\nvrid = %d\npriority = %d\nversion = 3\nadvert_interval = "100ms"\nvirtual_ips = ["172.%d.1.%d/16"]\n' "$k" "$i" "$v" "$( [ -n "${PRIO_SPREAD:-}" ] && echo "$v" || echo 150)" $((20+i)) "$v"
    done
  done
} > $d/c.toml
env "${extra[@]}" ip netns exec $ns $bin --config $d/c.toml > $d/log 2>&1 &
pid=$!
# wait until all VIPs are up
for _ in $(seq 1 200); do c=$(ip -n $ns -o -4 addr show | grep -c ' 172\..*\.1\.' || true); [ "$c" -ge "$n" ] && break; sleep 0.1; done
sleep 3
snap() { for t in /proc/$pid/task/*; do echo "$(cat $t/comm) $(awk '{print $1}' $t/schedstat) $(awk '/^voluntary_ctxt/{print $2}' $t/status) $(awk '/^nonvoluntary_ctxt/{print $2}' $t/status)"; done | sort; }
snap > $d/a; sleep $secs; snap > $d/b
echo "n=$n env=${extra[*]:-default} lease=${LEASE:-default}: per thread: cpu% vol/s invol/s"
join <(awk '{print $1"#"NR, $2, $3, $4}' $d/a | sort) <(awk '{print $1"#"NR, $2, $3, $4}' $d/b | sort) | awk -v s=$secs '{printf "  %-22s %6.2f%% %8.0f %6.0f\n", $1, ($5-$2)/1e7/s, ($6-$3)/s, ($7-$4)/s; tc+=($5-$2); tv+=($6-$3)} END {printf "  total %.2f%% vol/s %.0f\n", tc/1e7/s, tv/s}'
grep -iE "warn|late" $d/log | sed -E "s/^[^ ]+ //" | cut -c1-200 | sort | uniq -c | sort -rn | head -8 || true
