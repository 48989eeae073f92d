#!/usr/bin/env bash
# lab-test.sh - end-to-end check of the lab scripts (run as root, e.g. in CI):
#   1. selftest.sh (the lab without vrrpd),
#   2. demo.sh, which must print a measured outage for both faults,
#   3. loadtest.sh --quick, whose report and SVG plots must exist and be non-empty,
#   and no lab namespace may be left behind.
# Exit status 0 only if everything passed. Output of each step goes to
# $LABTEST_OUT (default /tmp/vrrpd-lab-test/<time>).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

OUT="${LABTEST_OUT:-/tmp/vrrpd-lab-test/$(date +%Y%m%d-%H%M%S)}"
FAILS=0
T0=$SECONDS

ok() { printf '[lab-test] ok    %s\n' "$*"; }
bad() {
    printf '[lab-test] FAIL  %s\n' "$*"
    FAILS=$((FAILS + 1))
}
check() { # check DESCRIPTION CMD...
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
nonempty() { [ -s "$1" ]; }
no_lab_left() { ! ip netns list | grep -qE '^lab-(sw|client|bal[1-3]|serv[1-3]|bkp[12])\b'; }

[ "$(id -u)" -eq 0 ] || {
    echo "run as root" >&2
    exit 1
}
if ! no_lab_left; then
    echo "a lab is already up; run $LAB down first" >&2
    exit 1
fi
mkdir -p "$OUT"

# 1. selftest
if "$SCRIPTS_DIR/selftest.sh" >"$OUT/selftest.txt" 2>&1; then
    ok "selftest.sh"
else
    bad "selftest.sh (see $OUT/selftest.txt)"
    tail -n 20 "$OUT/selftest.txt" | sed 's/^/    | /'
fi

# 2. demo (builds vrrpd and the labtool)
if DEMO_OUT="$OUT/demo" "$SCRIPTS_DIR/demo.sh" >"$OUT/demo.txt" 2>&1; then
    ok "demo.sh ran ($(grep -o 'done in [0-9]* s' "$OUT/demo.txt" || echo '?'))"
else
    bad "demo.sh exited non-zero (see $OUT/demo.txt)"
    tail -n 20 "$OUT/demo.txt" | sed 's/^/    | /'
fi
n="$(grep -cE '^ +outage: +([0-9]+ ms|none)' "$OUT/demo.txt" || true)"
check "demo printed the client's outage for both faults ($n of 2)" [ "$n" -eq 2 ]
check "demo: node death moved the client to the other balancer" \
    grep -qE '^ +after: +bal[12] -> serv' "$OUT/demo.txt"
check "demo: node death outage was measured in ms" \
    sh -c "grep -A8 'Fault 2' '$OUT/demo.txt' | grep -qE '^ +outage: +[0-9]+ ms'"
for f in haproxy node; do
    check "demo plot $f.svg non-empty" nonempty "$OUT/demo/$f.svg"
done
check "no lab left after the demo" no_lab_left

# 3. load test, quick mode
if "$SCRIPTS_DIR/loadtest.sh" --quick --no-build --out "$OUT/loadtest" >"$OUT/loadtest.txt" 2>&1; then
    ok "loadtest.sh --quick ran ($(grep -o 'done in [0-9]* s' "$OUT/loadtest.txt" || echo '?'))"
else
    bad "loadtest.sh --quick exited non-zero (see $OUT/loadtest.txt)"
    tail -n 20 "$OUT/loadtest.txt" | sed 's/^/    | /'
fi
R="$OUT/loadtest/report.md"
check "report.md non-empty" nonempty "$R"
check "report has the steady-load table with numbers" \
    grep -qE '^\| 1000 \| 20 \| [0-9.]+ \|' "$R"
for s in node haproxy switchover backups overflow sorry; do
    check "scenario $s: SVG non-empty and in the report" \
        sh -c "[ -s '$OUT/loadtest/$s.svg' ] && grep -q '($s.svg)' '$R'"
done
check "report gives a longest outage per scenario" \
    [ "$(grep -c '^| longest outage |' "$R" 2>/dev/null || echo 0)" -eq 6 ]
check "no lab left after the load test" no_lab_left

echo "[lab-test] $FAILS failure(s) in $((SECONDS - T0)) s; outputs in $OUT"
[ "$FAILS" -eq 0 ]
