#!/usr/bin/env bash
# smoke.sh - a bounded fuzzing smoke test for CI: every cargo-fuzz target for
# SECS seconds each (default 20), one at a time, from the checked-in seeds.
# Exits 1 on a crash (the input is left in fuzz/artifacts/<target>/).
# Without cargo-fuzz or a nightly toolchain it prints a loud SKIPPED line and
# exits 0: CI machines may lack nightly.
#
# Usage: fuzz/smoke.sh [SECS]
set -uo pipefail
SECS="${1:-20}"
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1

skip() { printf '\n********** SKIPPED fuzz smoke: %s **********\n\n' "$*" >&2; exit 0; }
command -v cargo >/dev/null || skip "no cargo"
cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"
cargo +nightly --version >/dev/null 2>&1 || skip "no nightly toolchain (rustup toolchain install nightly)"

TARGETS=(fuzz_advert fuzz_frames fuzz_config fuzz_import)
failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    echo "=== $t: ${SECS}s" >&2
    if ! cargo +nightly fuzz build "$t" >/dev/null 2>&1; then
        echo "$t: build failed" >&2
        failed+=("$t (build)")
        continue
    fi
    out="$(mktemp)"
    if cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECS" -print_final_stats=1 -max_len=4096 >"$out" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units)' "$out" >&2
    else
        tail -n 40 "$out" >&2
        failed+=("$t")
    fi
    rm -f "$out"
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz smoke: ${#TARGETS[@]} targets, ${SECS}s each, 0 crashes" >&2
