#!/usr/bin/env bash
# selftest-containers.sh - the Debian package and the container lab, end to
# end (run as root, e.g. in CI; scripts/test.sh runs it).
#
#   netns-scripts/selftest-containers.sh [--no-oci]
#
# 1. Package: contrib/deb/build.sh (cargo-deb) builds the .deb; it holds the
#    binary, the unit, the conffile, man pages and completions; lintian
#    reports no error.
# 2. lab.sh up --containers: the cached root (debootstrap, once), the .deb
#    installed with apt-get in a container, two balancers booted with
#    systemd, HAProxy and vrrpd started by their units.
# 3. vrrpd under systemd, in the containers:
#    - vrrpd.service becomes active only after the daemon's READY=1;
#    - /proc/PID/status of the daemon: CAP_NET_ADMIN and CAP_NET_RAW only;
#    - real time from the unit: every thread of the daemon (event loop, advert
#      keeper) SCHED_RR priority 10, still only the two capabilities, no
#      refusal in the journal; a script tracker it runs is SCHED_OTHER;
#    - journalctl -u vrrpd holds "(VI_1) Entering MASTER STATE" with its reason;
#    - systemctl reload: the new priority is in force, same PID, no transition;
#    - systemctl stop: the VIP is gone when it returns, the backup got priority 0;
#    - systemctl kill -s KILL: Restart=on-failure brings vrrpd back and the new
#      daemon removes the VIP the killed one left;
#    - the master container powered off under the lab's prober: the client's
#      answers move from bal1 to bal2.
# 4. The OCI image (contrib/Containerfile), built offline with podman from the
#    cached root, runs vrrpd in two lab namespaces: a failover (lab-containers.sh
#    oci-demo). --no-oci skips it.
# Every wait is on a condition, with a generous bound. The time of each step
# is printed (a cold cache adds the root build and the cargo-deb install).
# Outputs in $CTTEST_OUT (default /tmp/vrrpd-ct-test/<time>). CTTEST_DROPIN=FILE
# runs the checks against vrrpd.service with FILE as a drop-in (to see them fail).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

CT="$SCRIPTS_DIR/lab-containers.sh"
OUT="${CTTEST_OUT:-/tmp/vrrpd-ct-test/$(date +%Y%m%d-%H%M%S)}"
LOG="$OUT/selftest.log"
OCI=1
[ "${1:-}" = --no-oci ] && OCI=0
FAILS=0
T0=$SECONDS
TIMES=()

ok() { printf '[ct-test] ok    %s\n' "$*"; }
bad() {
    printf '[ct-test] FAIL  %s\n' "$*"
    FAILS=$((FAILS + 1))
}
check() { # check DESCRIPTION CMD...
    local what="$1"
    shift
    if "$@" >>"$LOG" 2>&1; then ok "$what"; else bad "$what"; fi
}
fail() { # what quiet() calls; also for steps nothing can follow
    bad "$*  (log: $LOG)"
    exit 1
}
STEP_T=$SECONDS STEP_NAME=""
step() {
    [ -n "$STEP_NAME" ] && TIMES+=("$STEP_NAME: $((SECONDS - STEP_T)) s")
    STEP_NAME="$1" STEP_T=$SECONDS
    printf '\n[ct-test] == %s\n' "$1"
}

[ "$(id -u)" -eq 0 ] || {
    echo "selftest-containers.sh: run as root (network namespaces and containers need it)" >&2
    exit 1
}
require_root_and_no_lab
mkdir -p "$OUT"
: >"$LOG"

BG_PIDS=()
teardown() {
    local rc=$? p
    for p in "${BG_PIDS[@]}" "${PROBE_PID:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    save_journals
    if [ -e /run/netns/lab-sw ]; then
        "$LAB" down >>"$LOG" 2>&1 || true
    fi
    exit "$rc"
}
# save_journals: each container's whole journal into $OUT (for a post-mortem).
save_journals() {
    local b
    for b in bal1 bal2; do
        [ -d "$STATE/ct/$b/root/var/log/journal" ] || continue
        "$CT" journal "$b" -o short-precise >"$OUT/journal-$b.txt" 2>&1 || true
    done
}
trap teardown EXIT
trap 'exit 130' INT TERM

ct() { "$CT" ct "$@"; }
# prop BAL UNIT PROPERTY: systemctl show -p PROPERTY --value UNIT, in BAL.
prop() { ct "$1" systemctl show -p "$3" --value "$2"; }
status_json() { "$VRRPD" status --json --socket "$STATE/vrrpd-$1.sock" 2>/dev/null; }
# counter BAL NAME: a counter of VI_1 from vrrpd status --json.
counter() { status_json "$1" | grep -o "\"$2\":[0-9]*" | head -n1 | cut -d: -f2; }
# seen_priority BAL: the priority of the last advert BAL accepted from another router.
seen_priority() {
    status_json "$1" | grep -o '"last_master_seen":{[^}]*}' | grep -o '"priority":[0-9]*' | cut -d: -f2
}
# stamp: now, for journal_after (the containers share the host's clock).
# (Journal cursors were tried first: --after-cursor with -u sometimes
# returned nothing after systemd had logged at debug level.)
stamp() { date +%s.%N; }
# journal_after BAL STAMP [ARGS]: BAL's journal since STAMP, messages only.
journal_after() {
    local b="$1" t="$2"
    shift 2
    ct "$b" journalctl --no-pager -o cat --since "@$t" "$@"
}
is_eq() { [ "$1" = "$2" ]; }
gt() { [ "${1:-0}" -gt "${2:-0}" ]; }
lines_before() { # lines_before TEXT A B: the first line matching A comes before the first matching B
    local a b
    a="$(grep -n -m1 -E "$2" <<<"$1" | cut -d: -f1)"
    b="$(grep -n -m1 -E "$3" <<<"$1" | cut -d: -f1)"
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}
# served: GET lines in the primaries' access logs (the prober's requests land there).
served() { cat "$STATE"/nginx-serv[1-3].access.log 2>/dev/null | grep -c '"GET / HTTP' || true; }

# ---------------------------------------------------------------------------
step "build: vrrpd and the labtool (cargo build --release)"
quiet build_all
VRRPD="$(vrrpd_bin_path)" || fail "no vrrpd binary"
labtool_bin >/dev/null || fail "no vrrpd-labtool binary"
ok "built"

# ---------------------------------------------------------------------------
step "the Debian package (contrib/deb/build.sh, cargo-deb)"
DEB="$("$CT" deb 2>>"$LOG")" || fail "the .deb did not build"
ok "built $(basename "$DEB")"
CONTENTS="$(dpkg-deb -c "$DEB" | awk '{print $6}')"
has() { grep -qx "$1" <<<"$CONTENTS"; }
for f in ./usr/sbin/vrrpd ./usr/lib/systemd/system/vrrpd.service ./etc/vrrpd/vrrp.toml \
    ./usr/share/man/man8/vrrpd.8.gz ./usr/share/man/man8/vrrpd-status.8.gz \
    ./usr/share/bash-completion/completions/vrrpd ./usr/share/zsh/vendor-completions/_vrrpd \
    ./usr/share/fish/vendor_completions.d/vrrpd.fish ./usr/share/doc/vrrpd/copyright \
    ./usr/share/doc/vrrpd/changelog.Debian.gz; do
    check "package holds $f" has "$f"
done
check "/etc/vrrpd/vrrp.toml is the package's conffile" \
    is_eq "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)" /etc/vrrpd/vrrp.toml
UNIT="$(dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/lib/systemd/system/vrrpd.service)"
unit_has() { grep -qx "$1" <<<"$UNIT"; }
check "the unit is Type=notify" unit_has 'Type=notify'
check "the unit's capability ceiling is CAP_NET_ADMIN CAP_NET_RAW" \
    unit_has 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW'
check "the unit sets SCHED_RR (CPUSchedulingPolicy=rr)" unit_has 'CPUSchedulingPolicy=rr'
check "the unit sets priority 10 (CPUSchedulingPriority=10)" unit_has 'CPUSchedulingPriority=10'
check "the unit asks for an unlimited memory lock (LimitMEMLOCK=infinity)" unit_has 'LimitMEMLOCK=infinity'
if lintian --fail-on error "$DEB" >"$OUT/lintian.txt" 2>&1 && ! grep -q '^E: ' "$OUT/lintian.txt"; then
    ok "lintian: no error; warnings: $(grep '^W: ' "$OUT/lintian.txt" | awk '{print $3}' | paste -sd' ' -)"
else
    bad "lintian reports errors (or did not run):"
    grep -v 'root privileges' "$OUT/lintian.txt" | head -n 20 | sed 's/^/    | /'
fi

# ---------------------------------------------------------------------------
step "the container root (debootstrap, cached)"
ROOT="$("$CT" root 2>"$OUT/root.txt")" || fail "the container root: $(tail -n 3 "$OUT/root.txt")"
if grep -q 'root built in' "$OUT/root.txt"; then
    ok "built $ROOT ($(grep -o 'built in [0-9]* s' "$OUT/root.txt"), cold cache)"
else
    ok "reused $ROOT ($(sed -n 2p "$ROOT/.vrrpd-lab-root"))"
fi

# ---------------------------------------------------------------------------
step "lab.sh up --containers"
VRRPD_DEB="$DEB" quiet "$LAB" up --containers
VERSION="$(dpkg-deb -f "$DEB" Version)"
for b in bal1 bal2; do
    # shellcheck disable=SC2016  # dpkg-query's own ${...} fields
    check "$b: vrrpd $VERSION installed by apt-get (dpkg status)" \
        is_eq "$(ct "$b" dpkg-query -W -f='${Status} ${Version}' vrrpd)" "install ok installed $VERSION"
    check "$b: man page and completions installed" \
        ct "$b" test -s /usr/share/man/man8/vrrpd.8.gz -a -s /usr/share/bash-completion/completions/vrrpd
    check "$b: systemd is running, no failed unit" is_eq "$(ct "$b" systemctl is-system-running)" running
    check "$b: haproxy.service and vrrpd.service active" ct "$b" systemctl is-active haproxy vrrpd
    check "$b: vrrpd.service enabled" is_eq "$(ct "$b" systemctl is-enabled vrrpd)" enabled
done
# CTTEST_DROPIN=FILE: install FILE as a drop-in of vrrpd.service in both
# containers first (e.g. Type=simple or Restart=no), to see the checks below
# fail when the unit is broken.
if [ -n "${CTTEST_DROPIN:-}" ]; then
    for b in bal1 bal2; do
        quiet ct "$b" mkdir -p /etc/systemd/system/vrrpd.service.d
        quiet cp "$CTTEST_DROPIN" "$STATE/ct/$b/root/etc/systemd/system/vrrpd.service.d/zz-cttest.conf"
        quiet ct "$b" systemctl daemon-reload
        quiet ct "$b" systemctl restart vrrpd
    done
    bad "CTTEST_DROPIN=$CTTEST_DROPIN installed: this run checks the checks, it cannot pass"
fi
wait_master bal1 30 || fail "bal1 did not become master (holder: $(master))"
ok "bal1 holds the VIP"

# ---------------------------------------------------------------------------
step "journalctl -u vrrpd: the state change, with its reason"
line="$("$CT" journal bal1 -u vrrpd.service -o cat | grep -E '\(VI_1\) Entering MASTER STATE .*reason=[a-z]' | tail -n1 || true)"
if [ -n "$line" ]; then ok "journal of bal1: ${line#* INFO }"; else bad "no '(VI_1) Entering MASTER STATE ... reason=' in bal1's journal"; fi

# ---------------------------------------------------------------------------
step "/proc/PID/status of the running daemon: CAP_NET_ADMIN and CAP_NET_RAW only"
for b in bal1 bal2; do
    pid="$(prop "$b" vrrpd MainPID)"
    caps="$(ct "$b" grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' "/proc/$pid/status" | tr -s '\t\n' '  ')"
    check "$b: vrrpd (pid $pid in the container) has $caps" is_eq "$caps" \
        "CapInh: 0000000000000000 CapPrm: 0000000000003000 CapEff: 0000000000003000 CapBnd: 0000000000003000 CapAmb: 0000000000000000 "
done

# ---------------------------------------------------------------------------
step "real-time scheduling from the unit: SCHED_RR 10 for the advert keeper, SCHED_OTHER for the other threads, two capabilities"
# threads BAL PID: "comm policy rt_priority" for each thread of PID (fields
# 2, 41 and 40 of /proc/PID/task/TID/stat; policy 2 is SCHED_RR). A thread
# that ends while it is read (tokio's blocking pool) is left out.
threads() {
    # shellcheck disable=SC2016  # expanded by the container's sh
    ct "$1" sh -c 'for t in /proc/$0/task/*; do
        s="$(cat "$t/stat" 2>/dev/null)" && c="$(cat "$t/comm" 2>/dev/null)" || continue
        set -- ${s##*) }; echo "$c ${39} ${38}"; done' "$2"
}
# others_normal TEXT: every thread but the keeper is SCHED_OTHER (policy 0).
others_normal() { [ -n "$1" ] && ! grep -v '^vrrpd-keeper ' <<<"$1" | grep -qv ' 0 0$'; }
has_line() { grep -q -- "$2" <<<"$1"; } # has_line TEXT REGEX
# no_sched_refusal TEXT: no "not applied" in TEXT but the memory lock's.
no_sched_refusal() { ! grep 'not applied' <<<"$1" | grep -qv 'RLIMIT_MEMLOCK'; }
memlock_applied() { grep -q 'mlockall(on fault): applied' <<<"$1" && ! grep -q 'not applied' <<<"$1"; }
memlock_hard() { ct "$1" cat /proc/1/limits | awk '/^Max locked memory/ {print $5}'; }
# memlock_grantable BAL: the container's PID 1 may lift RLIMIT_MEMLOCK for the
# unit (it has CAP_SYS_RESOURCE, or its own hard limit is unlimited).
memlock_grantable() {
    local eff hard
    eff="$(ct "$1" cat /proc/1/status | awk '/^CapEff:/ {print $2}')"
    hard="$(memlock_hard "$1")"
    (((0x$eff >> 24) & 1)) || [ "$hard" = unlimited ]
}
for b in bal1 bal2; do
    pid="$(prop "$b" vrrpd MainPID)"
    t="$(threads "$b" "$pid")"
    printf '%s: %s\n' "$b" "$t" >>"$LOG"
    check "$b: the advert keeper thread is SCHED_RR priority 10" has_line "$t" '^vrrpd-keeper 2 10$'
    check "$b: every other thread of vrrpd is back to SCHED_OTHER: $(paste -sd, - <<<"$t")" others_normal "$t"
    check "$b: vrrpd still holds only CAP_NET_ADMIN CAP_NET_RAW (CapEff 0000000000003000)" \
        is_eq "$(ct "$b" cat "/proc/$pid/status" | awk '/^CapEff:/ {print $2}')" 0000000000003000
    # This run of the daemon (its PID) only.
    rt="$(ct "$b" journalctl --no-pager -o cat -u vrrpd.service "_PID=$pid" | grep 'realtime: ' || true)"
    printf '%s\n' "$rt" >"$OUT/realtime-$b.txt"
    check "$b: journal: 'realtime: SCHED_RR priority 10 (set before exec ...): kept'" \
        has_line "$rt" 'realtime: SCHED_RR priority 10 (set before exec.*: kept'
    check "$b: journal: 'realtime: the advert keeper alone keeps SCHED_RR'" \
        has_line "$rt" 'realtime: the advert keeper alone keeps SCHED_RR'
    check "$b: journal: no scheduling refusal ('realtime: ... not applied' other than the memory lock)" \
        no_sched_refusal "$rt"
    if memlock_grantable "$b"; then
        check "$b: journal: memory locked ('mlockall(on fault): applied', no refusal)" \
            memlock_applied "$rt"
    else
        # Here PID 1 itself cannot lift the limit: systemd set the highest it
        # could, and vrrpd must say why it runs without the lock.
        printf '[ct-test] NOTE  %s: the container'"'"'s init cannot raise RLIMIT_MEMLOCK (no CAP_SYS_RESOURCE on this host, hard limit %s): LimitMEMLOCK=infinity cannot be honoured and the memory lock is not checked\n' \
            "$b" "$(memlock_hard "$b")"
        check "$b: journal: the memory lock refused with its reason (the hard limit)" \
            has_line "$rt" 'RLIMIT_MEMLOCK unlimited: not applied.*hint=memory not locked: the RLIMIT_MEMLOCK hard limit is'
    fi
done
# A program vrrpd runs is a normal process again (track::exec): a script
# tracker on the backup writes its own policy and rt_priority.
conf2="$STATE/ct/bal2/root/etc/vrrpd/vrrp.toml"
cp "$conf2" "$OUT/bal2.toml.orig"
sed -i 's/^track = \["haproxy"\]$/track = ["haproxy", "policy"]/' "$conf2"
cat >>"$conf2" <<'EOF'

[[track]]
name = "policy"
type = "script"
argv = ["/bin/sh", "-c", 'set -- $(cat /proc/$$/stat); echo "${41} ${40}" >/run/vrrpd/track-policy']
interval = "1s"
weight = -1
EOF
quiet ct bal2 rm -f /run/vrrpd/track-policy
quiet ct bal2 systemctl reload vrrpd
ran() { ct bal2 test -s /run/vrrpd/track-policy; }
if wait_until 30 ran; then
    check "bal2: the script tracker vrrpd runs is SCHED_OTHER (policy 0, rt_priority 0)" \
        is_eq "$(ct bal2 cat /run/vrrpd/track-policy)" "0 0"
else
    bad "bal2: the script tracker did not run (journal: $OUT/journal-bal2.txt)"
fi
cp "$OUT/bal2.toml.orig" "$conf2"
quiet ct bal2 systemctl reload vrrpd

# ---------------------------------------------------------------------------
step "systemctl start vrrpd: active only after READY=1 (bal2, systemd at debug level)"
quiet ct bal2 systemctl stop vrrpd
quiet ct bal2 systemd-analyze set-log-level debug
c="$(stamp)"
quiet ct bal2 systemctl start vrrpd
# start returned: the unit is active, so the control socket must answer now.
check "the control socket answers as soon as systemctl start returns" status_json bal2
quiet ct bal2 systemd-analyze set-log-level info
pid="$(prop bal2 vrrpd MainPID)"
pid1="$(journal_after bal2 "$c" _PID=1 | grep -E '^vrrpd\.service: |^Start(ed|ing) vrrpd' || true)"
printf '%s\n' "$pid1" >"$OUT/ready-pid1.txt"
check "PID 1: start-pre -> start before the daemon's READY=1" \
    lines_before "$pid1" 'Changed start-pre -> start' "Got notification message from PID $pid \\(READY=1"
check "PID 1: READY=1 from the main PID $pid before start -> running" \
    lines_before "$pid1" "Got notification message from PID $pid \\(READY=1" 'Changed start -> running'
check "PID 1: 'Started vrrpd.service' only after READY=1" \
    lines_before "$pid1" "Got notification message from PID $pid \\(READY=1" '^Started vrrpd\.service'

# ---------------------------------------------------------------------------
step "systemctl reload vrrpd (priority 150 -> 160): no mastership flap"
wait_master bal1 30 || fail "bal1 is not master before the reload (holder: $(master))"
pid="$(prop bal1 vrrpd MainPID)"
c1="$(stamp)" c2="$c1"
quiet ct bal1 sed -i 's/^priority = 150$/priority = 160/' /etc/vrrpd/vrrp.toml
check "systemctl reload vrrpd returns 0" ct bal1 systemctl reload vrrpd
seen160() { is_eq "$(seen_priority bal2)" 160; }
check "bal2 hears bal1 advertise priority 160" wait_until 30 seen160
check "same main PID after the reload ($pid)" is_eq "$(prop bal1 vrrpd MainPID)" "$pid"
journal_after bal1 "$c1" -u vrrpd.service >"$OUT/reload-bal1.txt" || bad "cannot read bal1's journal"
journal_after bal2 "$c2" -u vrrpd.service >"$OUT/reload-bal2.txt" || bad "cannot read bal2's journal"
check "no state change on bal1 since the reload" sh -c "! grep -q 'Entering' '$OUT/reload-bal1.txt'"
check "no state change on bal2 since the reload" sh -c "! grep -q 'Entering' '$OUT/reload-bal2.txt'"
m="$(master)"
check "bal1 still holds the VIP (holder: $m)" is_eq "$m" bal1
check "PID 1 reports the reload done" sh -c "'$CT' ct bal1 journalctl --no-pager -o cat --since '@$c1' _PID=1 | grep -q '^Reloaded vrrpd.service'"
quiet ct bal1 sed -i 's/^priority = 160$/priority = 150/' /etc/vrrpd/vrrp.toml
quiet ct bal1 systemctl reload vrrpd
seen150() { is_eq "$(seen_priority bal2)" 150; }
wait_until 30 seen150 || fail "bal1 did not go back to priority 150"

# ---------------------------------------------------------------------------
step "systemctl stop vrrpd on the master: priority 0, VIP removed"
p0="$(counter bal2 priority_zero_received)"
quiet ct bal1 systemctl stop vrrpd
# stop returned: the daemon has exited, after removing its VIP.
check "the VIP is gone from bal1 when systemctl stop returns" sh -c "! ip -n lab-bal1 -o -4 addr show dev ext0 | grep -q ' $VIP/'"
p0_after() { gt "$(counter bal2 priority_zero_received)" "$p0"; }
check "bal2 received bal1's priority-0 advert (priority_zero_received $p0 -> more)" wait_until 10 p0_after
check "bal2 takes the VIP" wait_master bal2 15
check "vrrpd.service on bal1: inactive, Result=success" \
    is_eq "$(prop bal1 vrrpd ActiveState) $(prop bal1 vrrpd Result)" "inactive success"
quiet ct bal1 systemctl start vrrpd
wait_master bal1 30 || fail "bal1 did not take the VIP back (holder: $(master))"

# ---------------------------------------------------------------------------
step "systemctl kill -s KILL vrrpd: Restart=on-failure, the stale VIP removed"
ip -n lab-bal1 -o monitor address dev ext0 >"$OUT/kill-monitor.txt" 2>&1 &
BG_PIDS+=($!)
pid="$(prop bal1 vrrpd MainPID)" n0="$(prop bal1 vrrpd NRestarts)"
c1="$(stamp)"
quiet ct bal1 systemctl kill -s KILL vrrpd
restarted() {
    [ "$(prop bal1 vrrpd NRestarts)" = $((n0 + 1)) ] && [ "$(prop bal1 vrrpd ActiveState)" = active ] &&
        [ "$(prop bal1 vrrpd MainPID)" != "$pid" ] && [ "$(prop bal1 vrrpd MainPID)" != 0 ]
}
check "systemd restarted vrrpd (NRestarts $n0 -> $((n0 + 1)), new main PID, active)" wait_until 30 restarted
deleted() { grep -q "Deleted.* $VIP/" "$OUT/kill-monitor.txt"; }
check "the kernel saw the VIP deleted on bal1 after the restart" wait_until 20 deleted
check "the new daemon logged it: 'removed a stale VIP left by an earlier run'" \
    sh -c "'$CT' ct bal1 journalctl --no-pager -o cat --since '@$c1' -u vrrpd | grep -q 'removed a stale VIP left by an earlier run'"
check "bal1 is master again" wait_master bal1 30
kill "${BG_PIDS[@]}" 2>/dev/null || true
BG_PIDS=()

# ---------------------------------------------------------------------------
step "the master container powered off under the lab's prober"
client_on() { is_eq "$(client_sees)" "$1"; }
wait_until 15 client_on bal1 || fail "the client is not served by bal1 ($(client_sees))"
n="$(served)"
probe_start "$OUT/poweroff" 15s || fail "cannot start the prober"
probing() { gt "$(served)" $((n + 20)); }
wait_until 10 probing || fail "the prober's requests do not reach the web servers"
echo "$(now_ms),bal1 powered off (systemctl poweroff)" >"$OUT/poweroff-fault.csv"
quiet "$CT" poweroff bal1
check "bal2 takes the VIP" wait_master bal2 15
wait "$PROBE_PID" || fail "the prober failed ($OUT/poweroff.probe.log)"
PROBE_PID=
"$(labtool_bin)" report --probe "$OUT/poweroff.csv" --events "$OUT/poweroff-fault.csv" \
    --events "$OUT/poweroff-client.csv" --title "bal1 powered off" \
    --out-md "$OUT/poweroff.md" --out-svg "$OUT/poweroff.svg" >"$OUT/poweroff.txt" 2>&1 || bad "labtool report"
sed 's/^/    /' "$OUT/poweroff.txt"
check "the prober saw bal1 before the power-off" grep -qE '^ +before: +bal1 ->' "$OUT/poweroff.txt"
check "the prober saw bal2 after it" grep -qE '^ +after: +bal2 ->' "$OUT/poweroff.txt"
quiet "$CT" boot bal1
check "bal1 booted again takes the VIP back (preempt)" wait_master bal1 60

# ---------------------------------------------------------------------------
step "lab.sh down"
save_journals
quiet "$LAB" down
check "no lab namespace left" sh -c "! ip netns list | grep -qE '^lab-'"
# (by command line: pid numbers are recycled quickly on a busy machine)
check "no container left (no systemd-nspawn --machine=lab-bal*)" sh -c "! pgrep -f -- '[-]-machine=lab-bal'"
check "no overlay left mounted under $STATE" sh -c "! grep -q ' $STATE' /proc/mounts"

# ---------------------------------------------------------------------------
if [ "$OCI" -eq 1 ]; then
    step "the OCI image (contrib/Containerfile, podman, offline): two containers, a failover"
    if VRRPD_DEB="$DEB" "$CT" oci-demo >"$OUT/oci.txt" 2>>"$LOG"; then
        ok "lab-containers.sh oci-demo"
        sed 's/^/    /' "$OUT/oci.txt"
    else
        bad "lab-containers.sh oci-demo (see $OUT/oci.txt and $LOG)"
        tail -n 10 "$OUT/oci.txt" | sed 's/^/    | /'
    fi
    check "oci: both containers hold only the two capabilities" \
        grep -q 'CapPrm: 0000000000003000 CapEff: 0000000000003000 CapBnd: 0000000000003000' "$OUT/oci.txt"
    check "oci: podman stop of the master moved the VIP to bal2" grep -q 'bal2 holds the VIP after' "$OUT/oci.txt"
    check "oci: the log is JSON on stdout" grep -qE '\(stdout, JSON\): \{.*"message":"\(VI_1\) Entering MASTER STATE"' "$OUT/oci.txt"
    check "no lab namespace left" sh -c "! ip netns list | grep -qE '^lab-'"
fi
step "end"

echo
echo "[ct-test] times: $(printf '%s; ' "${TIMES[@]}")"
echo "[ct-test] $FAILS failure(s) in $((SECONDS - T0)) s; outputs in $OUT"
[ "$FAILS" -eq 0 ]
