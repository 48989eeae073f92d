#!/usr/bin/env bash
# The protocol simulator (tests/sim, docs/SIMULATION.md), outside the fixed
# budget that `cargo test` runs.
#
#   scripts/simulate.sh --seeds N [--first F] [--threads T]
#       a campaign over seeds F..F+N (default F=0) on T threads (default:
#       every CPU), release build, with a progress line every 5 s; prints
#       each failing seed's report and the campaign's figures.
#   scripts/simulate.sh --seed S
#       replays one seed exactly (decimal or 0x...): its scenario, its
#       transitions, and on failure the shrunk event list and trace.
#
# Long campaigns: run it under `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

seeds="" seed="" first=0 threads="$(nproc 2>/dev/null || echo 2)"
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds="${2:?}"; shift 2 ;;
        --seed) seed="${2:?}"; shift 2 ;;
        --first) first="${2:?}"; shift 2 ;;
        --threads) threads="${2:?}"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "simulate.sh: unknown argument $1" >&2; usage ;;
    esac
done

if [ -n "$seed" ]; then
    SIM_SEED="$seed" exec cargo test --release --test sim -- --ignored --exact replay --nocapture
elif [ -n "$seeds" ]; then
    SIM_SEEDS="$seeds" SIM_FIRST="$first" SIM_THREADS="$threads" \
        exec cargo test --release --test sim -- --ignored --exact campaign --nocapture
else
    usage
fi
