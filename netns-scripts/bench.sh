#!/usr/bin/env bash
# bench.sh - vrrpd against keepalived 2.2.7 and 2.4.3, side by side, in network namespaces.
#
#   (as root) netns-scripts/bench.sh [--quick] [--runs N] [--stability-minutes N]
#                               [--only failover|footprint|stability|scale|kaproc]...
#                               [--out FILE]
#
# Runs tests/bench_compare.rs (release build, ignored tests) and writes the
# markdown tables to FILE (default /tmp/vrrpd-bench/<time>.md):
#   failover   node death, SIGTERM, HAProxy SIGKILL, failback; 1 s (v2), 50 ms
#              and 10 ms (v3) adverts; runs alternate between the daemons; for
#              a HAProxy death, where vrrpd's time goes, step by step
#   footprint  RSS, PSS, CPU and wake-ups at 10 ms, master, backup, master
#              alone, and the host's floor: 5 interleaved rounds, 60 s per row
#   stability  10 ms adverts while wrk saturates both cores through the VIP
#   scale      250 to 4000 instances at 100 ms (250 per interface), two peers;
#              the CPU curve as <FILE>.scale.svg (vrrpd-labtool curve)
#   kaproc     shows that keepalived's track_process fails in a netns
# The daemons: vrrpd, keepalived 2.2.7 (Debian's) and keepalived 2.4.3 (built
# once from tests/peers by scripts/keepalived-2.4.3.sh). Defaults: 10 runs per
# cell, stability 10 minutes per daemon (about 3 h in all). --quick: 2 runs,
# 10 ms and 1 s only, 10 s footprint, 30 s stability, 250 and 1000 instances.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=10 STAB_MIN=10 QUICK=0 ONLY=() OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --runs) RUNS="${2:?--runs needs a number}"; shift ;;
        --stability-minutes) STAB_MIN="${2:?--stability-minutes needs a number}"; shift ;;
        --only) ONLY+=("${2:?--only needs a name}"); shift ;;
        --out) OUT="${2:?--out needs a file}"; shift ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench.sh needs root (network namespaces)" >&2; exit 1; }

missing=()
for t in keepalived haproxy wrk curl; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived haproxy wrk curl >/dev/null
fi

# keepalived 2.4.3, built once (a few minutes the first time).
if [ -z "${BENCH_KEEPALIVED_243:-}" ]; then
    BENCH_KEEPALIVED_243="$("$ROOT/scripts/keepalived-2.4.3.sh")" ||
        echo "bench.sh: keepalived 2.4.3 cannot be built; it is left out" >&2
fi
export BENCH_KEEPALIVED_243
export BENCH_RUNS="$RUNS" BENCH_STABILITY_SECS=$((STAB_MIN * 60))
export BENCH_SCALE_INSTANCES="${BENCH_SCALE_INSTANCES:-250,1000,2000,4000}"
if [ "$QUICK" -eq 1 ]; then
    export BENCH_RUNS=2 BENCH_INTERVALS="1s,10ms" BENCH_FOOTPRINT_SECS=10 \
        BENCH_STABILITY_SECS=30 BENCH_SCALE_INSTANCES=250,1000 BENCH_SCALE_SECS=10 \
        BENCH_GARP_WINDOW_MS=1000
fi
OUT="${OUT:-/tmp/vrrpd-bench/$(date +%Y%m%d-%H%M%S).md}"
mkdir -p "$(dirname "$OUT")"
export BENCH_OUT="$OUT"
[ ${#ONLY[@]} -gt 0 ] || ONLY=(kaproc footprint failover stability scale)

{
    echo "## vrrpd vs keepalived ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)"
    echo "- $(keepalived --version 2>&1 | head -1); ${BENCH_KEEPALIVED_243:+$("$BENCH_KEEPALIVED_243" --version 2>&1 | head -1); }$(haproxy -v | head -1); $(wrk -v 2>&1 | head -1 | cut -c1-40)"
    echo "- vrrpd $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); runs per cell $BENCH_RUNS"
} >>"$OUT"

cd "$ROOT"
cargo test --release --test bench_compare --no-run -q 2>&1 | grep -v '^$' || true
for t in "${ONLY[@]}"; do
    case "$t" in
        kaproc) name=keepalived_track_process_in_netns ;;
        failover | footprint | stability | scale) name="$t" ;;
        *) echo "unknown benchmark $t" >&2; exit 1 ;;
    esac
    cargo test --release -q --test bench_compare -- --ignored --exact "$name" \
        --nocapture --test-threads 1
done
if [ -s "$OUT.scale.csv" ]; then
    cargo run -q --release -p vrrpd-labtool -- curve --csv "$OUT.scale.csv" \
        --out-svg "$OUT.scale.svg" --x-label "instances (100 ms adverts)" \
        --y-label "CPU, % of one core" \
        --title "CPU against instances: vrrpd and keepalived, master and backup"
fi
echo "results: $OUT"
