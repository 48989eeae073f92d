#!/usr/bin/env bash
# tests/data/captures/capture-auth-hmac.sh - record keepalived 2.4.3 auth_hmac adverts.
#
# Makes the keepalived-2.4.3-hmac-*.pcap files beside it, with the configs
# (hmac-*-{a,b}.conf) and key files (hmac-keys/) they were made with. Two
# namespaces joined by a veth pair; keepalived 2.4.3 (scripts/keepalived-2.4.3.sh)
# runs in both, A as MASTER (priority 200) and B as BACKUP (priority 100);
# tcpdump on B's end keeps every VRRP packet. A is stopped with SIGTERM (its
# priority-0 advert), B takes over and sends a few adverts of its own, then B
# is stopped. Run as root:
#
#     tests/data/captures/capture-auth-hmac.sh            # all four
#     tests/data/captures/capture-auth-hmac.sh v3ipv4     # one
#
# The namespaces are named hmcap<pid>-a/-b and removed at exit. Nothing is
# sent outside them. The keys are test keys, published here on purpose.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
ka="$("$repo/scripts/keepalived-2.4.3.sh")"
tag="hmcap$$"
nsa="$tag-a"
nsb="$tag-b"
work="$(mktemp -d "/tmp/$tag.XXXXXX")"
log() { printf 'capture-auth-hmac: %s\n' "$*" >&2; }

cleanup() {
    for p in "$work"/*.pid; do
        [[ -e $p ]] || continue
        kill "$(cat "$p")" 2>/dev/null || true
    done
    sleep 0.5
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Same link as the keepalived 2.2.7 captures (README.md): the sender A is
# 192.0.2.1 / 2001:db8::1 on 02:00:00:00:00:01, B is .2 / ::2 on ...:02.
setup_link() {
    ip netns add "$nsa"
    ip netns add "$nsb"
    for ns in "$nsa" "$nsb"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        ip -n "$ns" link set lo up
    done
    ip link add "$tag-a" netns "$nsa" type veth peer name "$tag-b" netns "$nsb"
    ip -n "$nsa" link set "$tag-a" name cveth1 address 02:00:00:00:00:01
    ip -n "$nsb" link set "$tag-b" name cveth1 address 02:00:00:00:00:02
    ip -n "$nsa" addr add 192.0.2.1/24 dev cveth1
    ip -n "$nsb" addr add 192.0.2.2/24 dev cveth1
    ip -n "$nsa" addr add 2001:db8::1/64 dev cveth1 nodad
    ip -n "$nsb" addr add 2001:db8::2/64 dev cveth1 nodad
    ip -n "$nsa" link set cveth1 up
    ip -n "$nsb" link set cveth1 up
    # Wait for the link-local addresses (IPv6 adverts are sent from them).
    for _ in $(seq 50); do
        if ip -n "$nsa" -6 addr show dev cveth1 scope link | grep -q fe80 &&
            ip -n "$nsb" -6 addr show dev cveth1 scope link | grep -q fe80; then
            return
        fi
        sleep 0.1
    done
    log "no link-local address"
    exit 1
}

teardown_link() {
    ip netns del "$nsa"
    ip netns del "$nsb"
}

# start_ka NS NAME CONF: keepalived (VRRP only, foreground) in NS.
start_ka() {
    local ns="$1" name="$2" conf="$3"
    ip netns exec "$ns" env TMPDIR="$work" "$ka" --dont-fork --log-console --log-detail \
        --no-syslog --vrrp --dont-respawn --use-file "$conf" \
        --pid "$work/$name.kpid" --vrrp_pid "$work/$name-vrrp.kpid" >"$work/$name.log" 2>&1 &
    echo $! >"$work/$name.pid"
}

stop_ka() {
    local name="$1"
    kill -TERM "$(cat "$work/$name.pid")"
    for _ in $(seq 100); do
        kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || { rm -f "$work/$name.pid"; return; }
        sleep 0.1
    done
    log "$name did not stop"
    exit 1
}

# wait_log NAME TEXT: until keepalived NAME's log says TEXT (at most 15 s).
wait_log() {
    for _ in $(seq 150); do
        grep -q "$2" "$work/$1.log" 2>/dev/null && return
        sleep 0.1
    done
    log "$1 never logged '$2'"
    cat "$work/$1.log" >&2
    exit 1
}

# A key file as keepalived wants it: root only, mode 0600.
write_keys() {
    install -d -m 0700 "$here/hmac-keys"
    printf 'hex:%s\n' \
        '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f' \
        >"$here/hmac-keys/v3ipv6.key"
    chmod 0600 "$here/hmac-keys/v3ipv6.key"
}

# conf NAME STATE PRIO BODY: a keepalived.conf for instance NAME.
conf() {
    cat <<EOF
global_defs {
    router_id $1
}
vrrp_instance VI_1 {
    state $2
    interface cveth1
    priority $3
$4
}
EOF
}

capture_start() {
    ip netns exec "$nsb" tcpdump -i cveth1 -s 0 -U -w "$work/cap.pcap" 'ip proto 112 or ip6 proto 112' \
        >"$work/tcpdump.log" 2>&1 &
    echo $! >"$work/tcpdump.pid"
    for _ in $(seq 50); do
        grep -q "listening on" "$work/tcpdump.log" && return
        sleep 0.1
    done
    log "tcpdump did not start"
    exit 1
}

capture_stop() {
    local out="$1"
    sleep 0.3
    kill -INT "$(cat "$work/tcpdump.pid")"
    wait "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
    rm -f "$work/tcpdump.pid"
    cp "$work/cap.pcap" "$here/$out"
    log "$out: $(tcpdump -r "$here/$out" 2>/dev/null | wc -l) packets"
}

# run NAME BODY_A BODY_B [MIDDLE]: one capture. MIDDLE, if given, is run while
# A is master (the rotation uses it to reload both sides).
run() {
    local name="$1" body_a="$2" body_b="$3" middle="${4:-}"
    log "$name"
    setup_link
    conf "hmac_a" MASTER 200 "$body_a" >"$here/hmac-$name-a.conf"
    conf "hmac_b" BACKUP 100 "$body_b" >"$here/hmac-$name-b.conf"
    capture_start
    start_ka "$nsb" b "$here/hmac-$name-b.conf"
    wait_log b "Entering BACKUP STATE"
    start_ka "$nsa" a "$here/hmac-$name-a.conf"
    wait_log a "Entering MASTER STATE"
    sleep 3.5
    if [[ -n $middle ]]; then
        $middle
    fi
    stop_ka a
    wait_log b "Entering MASTER STATE"
    sleep 2.5
    stop_ka b
    capture_stop "keepalived-2.4.3-hmac-$name.pcap"
    teardown_link
    cp "$work/a.log" "$work/$name-a.log"
    cp "$work/b.log" "$work/$name-b.log"
}

KEY1='hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
KEY2='hex:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f'

v3ipv4() {
    local body="    version 3
    virtual_router_id 61
    advert_int 1
    auth_hmac {
        key 1 $KEY1
        active_key 1
    }
    virtual_ipaddress {
        192.0.2.61/24
    }"
    run v3ipv4 "$body" "$body"
}

v3ipv6() {
    local body="    version 3
    virtual_router_id 62
    advert_int 1
    auth_hmac {
        key 5 file:$here/hmac-keys/v3ipv6.key
        active_key 5
        anti_replay time
        time_window 5
    }
    virtual_ipaddress {
        fe80::62/64
        2001:db8::62/64
    }"
    run v3ipv6 "$body" "$body"
}

v2unicast() {
    local auth="    auth_hmac {
        key 7 correct-horse-battery-staple-vrrp-v2
        active_key 7
        anti_replay monotonic
        mode enforce
    }"
    local common="    version 2
    virtual_router_id 63
    advert_int 1
$auth
    virtual_ipaddress {
        192.0.2.63/24
        192.0.2.64/24
    }"
    run v2unicast "$common
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
    }" "$common
    unicast_src_ip 192.0.2.2
    unicast_peer {
        192.0.2.1
    }"
}

# Make before break: both keys on both sides, active 1; then both reloaded
# with active 2 (A first, then B); then key 1 dropped everywhere.
rotation_body() {
    local keys="$1" active="$2"
    printf '%s\n' "    version 3
    virtual_router_id 64
    advert_int 1
    auth_hmac {
$keys
        active_key $active
    }
    virtual_ipaddress {
        192.0.2.65/24
    }"
}

rotate_middle() {
    local both="        key 1 $KEY1
        key 2 $KEY2"
    conf "hmac_a" MASTER 200 "$(rotation_body "$both" 2)" >"$here/hmac-rotation-a-step2.conf"
    conf "hmac_b" BACKUP 100 "$(rotation_body "$both" 2)" >"$here/hmac-rotation-b-step2.conf"
    cp "$here/hmac-rotation-a-step2.conf" "$here/hmac-rotation-a.conf"
    cp "$here/hmac-rotation-b-step2.conf" "$here/hmac-rotation-b.conf"
    kill -HUP "$(cat "$work/a.pid")"
    kill -HUP "$(cat "$work/b.pid")"
    sleep 3.5
    conf "hmac_a" MASTER 200 "$(rotation_body "        key 2 $KEY2" 2)" >"$here/hmac-rotation-a-step3.conf"
    conf "hmac_b" BACKUP 100 "$(rotation_body "        key 2 $KEY2" 2)" >"$here/hmac-rotation-b-step3.conf"
    cp "$here/hmac-rotation-a-step3.conf" "$here/hmac-rotation-a.conf"
    cp "$here/hmac-rotation-b-step3.conf" "$here/hmac-rotation-b.conf"
    kill -HUP "$(cat "$work/a.pid")"
    kill -HUP "$(cat "$work/b.pid")"
    sleep 3.5
}

rotation() {
    local both="        key 1 $KEY1
        key 2 $KEY2"
    run rotation "$(rotation_body "$both" 1)" "$(rotation_body "$both" 1)" rotate_middle
    # run() wrote the step-1 configs under the plain names and rotate_middle
    # overwrote them; keep each step under its own name.
    conf "hmac_a" MASTER 200 "$(rotation_body "$both" 1)" >"$here/hmac-rotation-a-step1.conf"
    conf "hmac_b" BACKUP 100 "$(rotation_body "$both" 1)" >"$here/hmac-rotation-b-step1.conf"
    rm -f "$here/hmac-rotation-a.conf" "$here/hmac-rotation-b.conf"
}

[[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }
write_keys
targets=("$@")
((${#targets[@]})) || targets=(v3ipv4 v3ipv6 v2unicast rotation)
for t in "${targets[@]}"; do
    "$t"
done
# Every run must be free of authentication errors on both sides.
# (keepalived's messages: missing/malformed/stale/replayed trailer, unknown key
# id, invalid HMAC, clock skew, active_key not defined.)
if grep -h -E "authentication trailer|authentication key id|authentication HMAC|authentication clock skew|auth_hmac" \
    "$work"/*-?.log | grep -v "Opening file\|Configuration file\|'--pid'" >&2; then
    log "keepalived logged authentication trouble (above)"
    exit 1
fi
# The configs name the key file by its absolute path while running; keep them
# relative to this directory in the repository.
sed -i "s|file:$here/|file:|" "$here"/hmac-*.conf
log "done"
