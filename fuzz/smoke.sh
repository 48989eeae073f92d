#!/usr/bin/env bash
# smoke.sh - a bounded fuzzing smoke test for CI: every cargo-fuzz target for
# SECS seconds each (default 20), one at a time, from the checked-in seeds.
# Exits 1 on a crash (the input is left in fuzz/artifacts/<target>/).
# Without cargo-fuzz it prints a loud SKIPPED line and exits 0, or 1 when
# VRRPD_REQUIRE_NETNS=1 (CI). Without nightly it uses stable (see below).
#
# Usage: fuzz/smoke.sh [SECS]
set -uo pipefail
SECS="${1:-20}"
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1

skip() {
    printf '\n********** SKIPPED fuzz smoke: %s **********\n\n' "$*" >&2
    # Under CI (VRRPD_REQUIRE_NETNS=1: skip nothing) a skip is a failure.
    [ "${VRRPD_REQUIRE_NETNS:-}" = 1 ] && exit 1
    exit 0
}
command -v cargo >/dev/null || skip "no cargo"
cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"
# cargo-fuzz passes -Z flags (sanitizer, coverage), so it needs nightly. The
# sanitizer runtimes ship with stable too, so without a nightly toolchain the
# stable one is told to accept -Z flags (RUSTC_BOOTSTRAP=1).
if cargo +nightly --version >/dev/null 2>&1; then
    FUZZ=(cargo +nightly fuzz)
else
    echo "fuzz smoke: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi

TARGETS=(fuzz_advert fuzz_frames fuzz_config fuzz_import fuzz_auth)
failed=()
# One build for all targets (the dependencies are shared); a cold build
# takes a few minutes on 2 cores.
echo "=== building ${TARGETS[*]}" >&2
build_log="$(mktemp)"
if ! "${FUZZ[@]}" build >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    echo "fuzz smoke FAILED: the targets do not build" >&2
    exit 1
fi
rm -f "$build_log"
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    echo "=== $t: ${SECS}s" >&2
    out="$(mktemp)"
    if "${FUZZ[@]}" run "$t" "corpus/$t" "seeds/$t" -- \
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
