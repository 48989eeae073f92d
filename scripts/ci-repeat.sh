#!/usr/bin/env bash
# scripts/ci-repeat.sh - run CI N times in a row on a fresh clone of this commit.
#
#   (as root) scripts/ci-repeat.sh [--lock FILE] [--out DIR] [--reclone] [--keep] N
#
# Clones the repository's current commit (HEAD; uncommitted changes are not
# part of it) into a new temporary directory, then runs `CI=true bash .ci/run`
# there N times, one after the other, and prints one line per run (pass or
# FAIL, how long it took) and a summary. The first run builds everything from
# scratch, as CI on a fresh machine does.
#
# A flaky suite shows here: N passes in a row on one commit is what the
# suite promises. Each failing run's whole log is kept (OUT/run-K.log, with
# its last lines printed); passing runs' logs are removed unless --keep.
#
#   --lock FILE  hold `flock FILE` around each run, released between runs
#                (the lab convention: /tmp/vrrpd-lab.lock). Do not also wrap
#                this script in flock on the same file: it would wait for itself.
#   --out DIR    where the logs and the summary go (default
#                /tmp/vrrpd-ci-repeat/<time>)
#   --reclone    a fresh clone (and a build from scratch) for every run, not
#                only the first
#   --keep       keep the clone and every run's log
#
# Exit status: 0 when all N runs passed, 1 otherwise (2: bad usage). Each
# run takes as long as CI (about 18 minutes on 2 cores, more with a cold
# build).
set -euo pipefail

usage() {
    sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

LOCK="" OUT="" RECLONE=0 KEEP=0 N=""
while [ $# -gt 0 ]; do
    case "$1" in
        --lock) LOCK="${2:?--lock needs a file}"; shift ;;
        --out) OUT="${2:?--out needs a directory}"; shift ;;
        --reclone) RECLONE=1 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage 0 ;;
        -*) echo "ci-repeat: unknown option $1" >&2; usage ;;
        *) [ -z "$N" ] || usage; N="$1" ;;
    esac
    shift
done
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "ci-repeat: N (a positive number of runs) is required" >&2; usage; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && git rev-parse --show-toplevel)"
COMMIT="$(git -C "$REPO" rev-parse HEAD)"
SHORT="$(git -C "$REPO" rev-parse --short HEAD)"
OUT="${OUT:-/tmp/vrrpd-ci-repeat/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vrrpd-ci-repeat.XXXXXX")"
SUMMARY="$OUT/summary.txt"

say() { printf '[ci-repeat] %s\n' "$*" | tee -a "$SUMMARY"; }

cleanup() {
    if [ "$KEEP" -eq 1 ]; then
        echo "[ci-repeat] clone kept in $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT

if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
    say "note: $REPO has uncommitted changes; they are NOT tested (only commit $SHORT is)"
fi

clone() {
    rm -rf -- "$WORK/vrrpd"
    git clone -q --no-hardlinks "$REPO" "$WORK/vrrpd"
    git -C "$WORK/vrrpd" checkout -q --detach "$COMMIT"
}

say "commit $SHORT ($(git -C "$REPO" log -1 --format=%s "$COMMIT" | cut -c1-70))"
say "$N run(s) of 'CI=true bash .ci/run' in a fresh clone ($WORK/vrrpd); logs in $OUT"
clone

passes=0
fails=()
for k in $(seq "$N"); do
    [ "$RECLONE" -eq 1 ] && [ "$k" -gt 1 ] && clone
    log="$OUT/run-$k.log"
    start="$WORK/start"
    rm -f -- "$start"
    asked=$(date +%s)
    rc=0
    # The run notes when it really starts (after the lock, if any).
    # shellcheck disable=SC2016  # expanded by that sh
    run=(sh -c 'date +%s >"$1"; exec bash .ci/run' run "$start")
    if [ -n "$LOCK" ]; then
        (cd "$WORK/vrrpd" && CI=true flock "$LOCK" "${run[@]}") >"$log" 2>&1 </dev/null || rc=$?
    else
        (cd "$WORK/vrrpd" && CI=true "${run[@]}") >"$log" 2>&1 </dev/null || rc=$?
    fi
    ended=$(date +%s)
    began="$asked"
    [ -s "$start" ] && began="$(cat "$start")"
    took=$((ended - began))
    lockinfo=""
    if [ -n "$LOCK" ]; then
        lockinfo=" (after $(((began - asked) / 60)) min $(((began - asked) % 60)) s waiting for the lock)"
    fi
    if [ "$rc" -eq 0 ]; then
        passes=$((passes + 1))
        say "run $k/$N: pass in $((took / 60)) min $((took % 60)) s$lockinfo"
        [ "$KEEP" -eq 1 ] || rm -f -- "$log"
    else
        fails+=("$k")
        say "run $k/$N: FAIL (exit $rc) after $((took / 60)) min $((took % 60)) s$lockinfo; log: $log"
        # The lines that say what failed: the suite's FAIL/panic lines, then the tail.
        grep -aE 'FAIL|panicked at|^failures:|^test .* FAILED|VIOLATION|error(\[|:)' "$log" |
            head -n 20 | sed 's/^/    | /' | tee -a "$SUMMARY" || true
        tail -n 15 "$log" | sed 's/^/    > /' | tee -a "$SUMMARY"
    fi
done

say "commit $SHORT: $passes of $N passed${fails:+; failed: run ${fails[*]}}"
[ "${#fails[@]}" -eq 0 ]
