#!/usr/bin/env bash
# scripts/scale-backup.sh - a vrrpd master and a vrrpd backup, N instances at 100 ms: where the backup's CPU goes (#21).
#
#   (as root) scripts/scale-backup.sh [N (1000)] [SECS (10)]
#
# Two network namespaces (deleted on exit) joined by N/250 veth pairs, 250
# VRIDs on each; the master has priority 150, the backup 100. Once every VIP
# is on the master and none on the backup, prints each thread's CPU (% of one
# core) and voluntary context switches per second over SECS, backup first.
# PERF=1 also records the backup with `perf record -g` (cpu-clock sampling
# works without a PMU) and prints the top symbols. Last, the master is sent
# SIGTERM: how long it took to exit (to 10 ms) and how many VIPs it left.
# Environment: VRRPD (the binary; default target/release/vrrpd).
# Run under the lab lock: flock /tmp/vrrpd-lab.lock scripts/scale-backup.sh ...
set -euo pipefail
n=${1:-1000} secs=${2:-10}
bin=${VRRPD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/vrrpd}
a=sba$$ b=sbb$$
d=$(mktemp -d /tmp/scale-backup.XXXXXX)
cleanup() { kill ${pa:-} ${pb:-} 2>/dev/null || true; sleep 0.5; ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
ip netns add $a; ip netns add $b; ip -n $a link set lo up; ip -n $b link set lo up
nif=$(( (n + 249) / 250 ))
for who in a b; do
  prio=$([ $who = a ] && echo 150 || echo 100)
  { echo "[global]"; echo "control_socket = \"$d/$who.sock\""; k=0
    for ((i=0;i<nif;i++)); do
      for ((v=1; v<=250 && k<n; v++)); do k=$((k+1))
        printf '[[instance]]\nname = "VI_%d"\ninterface = "e%d"\nvrid = %d\npriority = %d\nversion = 3\nadvert_interval = "100ms"\nvirtual_ips = ["172.%d.1.%d/16"]\n' $k $i $v $prio $((20+i)) $v
      done; done; } > $d/$who.toml
done
for ((i=0;i<nif;i++)); do
  ip -n $a link add e$i type veth peer name e$i netns $b
  ip -n $a addr add 172.$((20+i)).255.1/16 dev e$i; ip -n $b addr add 172.$((20+i)).255.2/16 dev e$i
  ip -n $a link set e$i up; ip -n $b link set e$i up
done
ip netns exec $b $bin --config $d/b.toml > $d/b.log 2>&1 & pb=$!
sleep 0.5
ip netns exec $a $bin --config $d/a.toml > $d/a.log 2>&1 & pa=$!
for _ in $(seq 1 300); do c=$(ip -n $a -o -4 addr show | grep -c ' 172\..*\.1\.' || true); c2=$(ip -n $b -o -4 addr show | grep -c ' 172\..*\.1\.' || true); [ "$c" -ge "$n" ] && [ "$c2" -eq 0 ] && break; sleep 0.1; done
sleep 3
snap() { for t in /proc/$1/task/*; do echo "$(cat $t/comm) $(awk '{print $1}' $t/schedstat) $(awk '/^voluntary_ctxt/{print $2}' $t/status)"; done; }
sa=$(snap $pb; echo; snap $pa)
if [ -n "${PERF:-}" ]; then perf record -F 2000 -g -o $d/perf.data -p $pb -- sleep $secs >/dev/null 2>&1; else sleep $secs; fi
sb=$(snap $pb; echo; snap $pa)
echo "n=$n backup then master (cpu% vol/s):"
paste <(echo "$sa") <(echo "$sb") | awk -v s=$secs 'NF==0{print "  --"; next} {printf "  %-14s %6.2f%% %7.0f\n", $1, ($5-$2)/1e7/s, ($6-$3)/s}'
if [ -n "${PERF:-}" ]; then perf report -i $d/perf.data --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -40; fi
t0=$(date +%s%N); kill -TERM $pa
while kill -0 $pa 2>/dev/null; do sleep 0.01; done
echo "master exit after SIGTERM: $(( ($(date +%s%N) - t0) / 1000000 )) ms, VIPs left: $(ip -n $a -o -4 addr show | grep -c ' 172\..*\.1\.' || true)"
pa=
