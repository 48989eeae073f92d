#!/usr/bin/env bash
# lab-bgp.sh - the vrrpd lab's layer-3 layout: "lab.sh up --l3 bgp".
#
# lab.sh hands every command to this script while this layout is up (or
# when "up --l3 bgp" asks for it); it can also be run directly. It reuses
# lab.sh's helpers (web servers, HAProxy, vrrpd) by sourcing it.
#
#                         lab-client 203.0.113.100
#                                |  (bridge "cli")
#                         lab-rtr 203.0.113.1   FRR: zebra, bgpd, bfdd (AS 65000)
#                  bal1 10.1.1.1  bal2 10.1.2.1  bal3 10.1.3.1
#                     |              |              |   bridges up1, up2, up3
#               up0 10.1.1.2   up0 10.1.2.2   up0 10.1.3.2
#               lab-bal1        lab-bal2       lab-bal3     (AS 65001 each)
#               HAProxy, vrrpd, FRR (zebra, bgpd, bfdd) or BIRD
#               vrrpd0: the VIP 198.51.100.10/32 while vrrpd holds it
#               hb0 192.168.100.N/24 (bridge "hb"): VRRP between balancers
#               int0 10.0.0.25N/24 (bridge "int"): serv1-3, bkp1-2 as usual
#
# Every balancer has its own subnet towards the router and an eBGP session
# with BFD (100 ms x 3) to it. vrrpd puts the VIP on vrrpd0 (announce =
# "bgp"); the balancer's BGP speaker redistributes it as a connected /32;
# the router installs it (with ECMP when several balancers announce).
#
# Why a heartbeat link for VRRP and not unicast over the router: VRRP
# packets must arrive with TTL 255 (RFC 5798 Section 5.1.1.3) and vrrpd
# drops any other, so they cannot cross a router. A dedicated link keeps
# VRRP link-local as the RFC wants; the uplink and the BGP speaker are
# tracked (weight 0), so a master that lost its way upstream steps down.
#
# Modes (chosen at "up", remembered):
#   --mode standby        (default) VRRP elects one master that announces
#   --mode active-active  every healthy balancer announces; the router
#                         spreads flows over them (ECMP)
#   --speaker frr|bird    the balancers' BGP speaker (default frr)
#
# Usage: lab.sh up --l3 bgp [--directors 2|3] [--mode standby|active-active]
#                            [--speaker frr|bird] [--no-vrrpd]
#        lab.sh fib | announcers | link BAL down|up [up|hb|int] | ...
#        (lab.sh help while the layout is up lists everything)
set -euo pipefail

BGP_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=netns-scripts/lab.sh
source "$BGP_SCRIPT_DIR/lab.sh" # helpers only: lab.sh runs its main only when executed

BGP_CONF_DIR="${LAB_BGP_CONF_DIR:-$REPO_DIR/config/bgp}"
# vrrpd configs: $BGP_VRRPD_DIR/<mode>/balN.toml (the bench points it elsewhere).
BGP_VRRPD_DIR="${LAB_BGP_VRRPD_DIR:-$BGP_CONF_DIR}"
FRR_DIR=/usr/lib/frr

VIP=198.51.100.10
RTR=rtr
# Balancer N: uplink 10.1.N.0/24, router .1, balancer .2. Client side 203.0.113.0/24.
declare -A UP_IP=([bal1]=10.1.1.2 [bal2]=10.1.2.2 [bal3]=10.1.3.2)
declare -A RTR_IP=([bal1]=10.1.1.1 [bal2]=10.1.2.1 [bal3]=10.1.3.1)
CLIENT_IP=203.0.113.100
RTR_CLIENT_IP=203.0.113.1
# lab.sh's helpers reach a balancer's HAProxy at EXT_IP from the client.
# shellcheck disable=SC2034  # read by lab.sh's probe_haproxy and render_haproxy_cfg
EXT_IP=([client]=$CLIENT_IP [bal1]=${UP_IP[bal1]} [bal2]=${UP_IP[bal2]} [bal3]=${UP_IP[bal3]})

mode() { if [ -f "$STATE/bgp-mode" ]; then cat "$STATE/bgp-mode"; else echo standby; fi; }
speaker() { if [ -f "$STATE/bgp-speaker" ]; then cat "$STATE/bgp-speaker"; else echo frr; fi; }

# The router namespace belongs to this layout.
all_namespaces() {
    local n
    for n in client "$RTR" "${ALL_BALANCERS[@]}" "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        echo "$NSP$n"
    done
    echo "$SW"
}

# vrrpd's config, copied into the state dir with the state dir's path (the
# files name /run/vrrpd-lab for the speaker's pid file).
vrrpd_conf() {
    local src dst="$STATE/vrrpd-$1.toml"
    src="$BGP_VRRPD_DIR/$(mode)/$1.toml"
    [ -f "$src" ] || die "missing $src"
    sed "s|/run/vrrpd-lab|$STATE|g" "$src" >"$dst"
    echo "$dst"
}

# ---------------------------------------------------------------------------
# Topology
# ---------------------------------------------------------------------------

bal_index() { echo "${1#bal}"; }

build_topology_bgp() {
    local b i
    make_ns "$SW"
    make_bridge cli
    make_bridge hb
    make_bridge int
    make_ns client
    attach client ext0 cli "$CLIENT_IP/24"
    ip -n "$(ns client)" route replace default via "$RTR_CLIENT_IP" dev ext0
    make_ns "$RTR"
    attach "$RTR" cli0 cli "$RTR_CLIENT_IP/24"
    nsx "$RTR" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward; echo 1 >/proc/sys/net/ipv4/fib_multipath_hash_policy'
    for b in $(balancers); do
        i="$(bal_index "$b")"
        make_bridge "up$i"
        make_ns "$b"
        attach "$RTR" "$b" "up$i" "${RTR_IP[$b]}/24"
        attach "$b" up0 "up$i" "${UP_IP[$b]}/24"
        attach "$b" hb0 hb "${HB_IP[$b]}/24"
        attach "$b" int0 int "${INT_IP[$b]}/24"
        ip -n "$(ns "$b")" route replace default via "${RTR_IP[$b]}" dev up0
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        make_ns "$s"
        attach "$s" int0 int "${INT_IP[$s]}/24"
    done
}

# ---------------------------------------------------------------------------
# BGP speakers
# ---------------------------------------------------------------------------

frr_dir() { echo "$STATE/frr-$1"; }

# render TEMPLATE NODE: the template with the node's placeholders replaced.
render_bgp() {
    local tmpl="$1" node="$2"
    sed -e "s|@NAME@|$node|g" \
        -e "s|@ROUTER_ID@|${UP_IP[$node]:-$RTR_CLIENT_IP}|g" \
        -e "s|@PEER@|${RTR_IP[$node]:-}|g" \
        "$BGP_CONF_DIR/$tmpl"
}

frr_running() { pid_running "$(frr_dir "$1")/$2.pid" "$2"; }

# start_frr NODE BGPD_TEMPLATE: zebra, bfdd and bgpd in lab-NODE, each with
# its own pid file, log and vty socket in the state dir (owned by the frr
# user, as FRR drops privileges to it).
start_frr() {
    local node="$1" tmpl="$2" d dir
    dir="$(frr_dir "$node")"
    mkdir -p "$dir"
    : >"$dir/zebra.conf"
    cp "$BGP_CONF_DIR/frr-bfdd.conf" "$dir/bfdd.conf"
    render_bgp "$tmpl" "$node" >"$dir/bgpd.conf"
    grep -q '@[A-Z_]*@' "$dir/bgpd.conf" && die "unreplaced placeholder in $dir/bgpd.conf"
    chown -R frr:frr "$dir"
    for d in zebra bfdd bgpd; do
        frr_running "$node" "$d" && continue
        # (stderr apart: zebra reports "Disabling MPLS support" there)
        nsx "$node" "$FRR_DIR/$d" -d -f "$dir/$d.conf" -i "$dir/$d.pid" -z "$dir/zserv.api" \
            --vty_socket "$dir" -P 0 --log "file:$dir/$d.log" 2>>"$dir/$d.stderr" ||
            die "FRR $d failed to start in $(ns "$node"), see $dir/$d.log and $d.stderr"
        if [ "$d" = zebra ]; then
            wait_until 10 test -S "$dir/zserv.api" || die "zebra in $(ns "$node") made no zserv.api in 10 s"
        fi
    done
    log "started FRR (zebra, bfdd, bgpd) in $(ns "$node")"
}

stop_frr() {
    local node="$1" sig="${2:-TERM}" d dir
    dir="$(frr_dir "$node")"
    for d in bgpd bfdd zebra; do
        stop_pidfile "$dir/$d.pid" "$d" "$sig"
    done
}

bird_running() { pid_running "$STATE/bird-$1.pid" bird; }

start_bird() {
    local b="$1" conf="$STATE/bird-$1.conf"
    render_bgp bird-balancer.conf "$b" >"$conf"
    bird -p -c "$conf" || die "invalid BIRD config $conf"
    bird_running "$b" && return 0
    # Foreground (-f) in a background job, so its log goes to our file.
    setsid ip netns exec "$(ns "$b")" bird -f -c "$conf" -s "$STATE/bird-$b.ctl" -P "$STATE/bird-$b.pid" \
        >>"$STATE/bird-$b.log" 2>&1 </dev/null &
    wait_for "BIRD in $(ns "$b")" bird_running "$b"
    log "started BIRD in $(ns "$b")"
}

# speaker_pidfile BAL: the pid file vrrpd's "speaker" tracker watches (a
# link to bgpd's or BIRD's own).
speaker_pidfile() { echo "$STATE/speaker-$1.pid"; }

start_speaker() {
    local b="$1"
    if [ "$(speaker)" = bird ]; then
        start_bird "$b"
        ln -sf "$STATE/bird-$b.pid" "$(speaker_pidfile "$b")"
    else
        start_frr "$b" frr-balancer-bgpd.conf
        ln -sf "$(frr_dir "$b")/bgpd.pid" "$(speaker_pidfile "$b")"
    fi
}

stop_speaker() {
    local b="$1" sig="${2:-TERM}"
    if [ "$(speaker)" = bird ]; then
        stop_pidfile "$STATE/bird-$b.pid" bird "$sig"
    else
        stop_frr "$b" "$sig"
    fi
}

# vtysh_rtr CMD...: a vtysh command on the router's bgpd.
vtysh_rtr() { vtysh --vty_socket "$(frr_dir "$RTR")" -d bgpd -c "$*"; }

# bgp_established BAL: the router's session to BAL is up.
bgp_established() {
    vtysh_rtr "show bgp neighbor ${UP_IP[$1]} json" 2>/dev/null | grep -q '"bgpState":"Established"'
}

# fib_nexthops: the balancers the router's kernel forwards the VIP to, one
# per line (empty when it has no route).
fib_nexthops() {
    local out b
    out="$(ip -n "$(ns "$RTR")" -4 route show "$VIP/32" 2>/dev/null || true)"
    for b in "${ALL_BALANCERS[@]}"; do
        [[ " $out " == *" via ${UP_IP[$b]} "* ]] && echo "$b"
    done
    return 0
}

# announcers: balancers holding the VIP on vrrpd0.
vip_holders() {
    local b addrs
    for b in "${ALL_BALANCERS[@]}"; do
        ns_exists "$b" || continue
        addrs="$(ip -n "$(ns "$b")" -o -4 addr show dev vrrpd0 2>/dev/null || true)"
        [[ "$addrs" == *" $VIP/32 "* ]] && echo "$b"
    done
    return 0
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

check_bgp_tools() {
    if [ ! -x "$FRR_DIR/bgpd" ] || ! command -v vtysh >/dev/null; then
        die "FRR missing (apt-get install frr)"
    fi
    if [ "$(speaker)" = bird ]; then
        command -v bird >/dev/null || die "BIRD missing (apt-get install bird2)"
    fi
}

bgp_up() {
    local directors=2 with_vrrpd=1 m=standby sp=frr b s
    while [ $# -gt 0 ]; do
        case "$1" in
            --l3) [ "${2:-}" = bgp ] || die "--l3: this script is the 'bgp' layout"; shift ;;
            --l3=bgp) ;;
            --directors) directors="${2:-}"; shift ;;
            --directors=*) directors="${1#*=}" ;;
            --mode) m="${2:-}"; shift ;;
            --mode=*) m="${1#*=}" ;;
            --speaker) sp="${2:-}"; shift ;;
            --speaker=*) sp="${1#*=}" ;;
            --no-vrrpd) with_vrrpd=0 ;;
            *) die "up --l3 bgp: unknown option '$1'" ;;
        esac
        shift
    done
    [[ "$directors" =~ ^[23]$ ]] || die "--directors must be 2 or 3"
    [[ "$m" =~ ^(standby|active-active)$ ]] || die "--mode is standby or active-active"
    [[ "$sp" =~ ^(frr|bird)$ ]] || die "--speaker is frr or bird"
    need_root
    check_tools
    if [ -e "/run/netns/$SW" ] && [ "$(layout)" != bgp ]; then
        die "a lab with layout '$(layout)' is up; run '$0 down' first"
    fi
    if [ -e "/run/netns/$SW" ] && { [ "$(mode)" != "$m" ] || [ "$(speaker)" != "$sp" ]; }; then
        die "the bgp lab is up with --mode $(mode) --speaker $(speaker); run '$0 down' first"
    fi
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    echo bgp >"$STATE/layout"
    echo "$m" >"$STATE/bgp-mode"
    echo "$sp" >"$STATE/bgp-speaker"
    echo "$directors" >"$STATE/directors"
    check_bgp_tools

    build_topology_bgp
    start_frr "$RTR" frr-router-bgpd.conf
    for b in $(balancers); do
        start_speaker "$b"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        start_server "$s"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        wait_for "web server $s on ${INT_IP[$s]}:80" probe_server "$s"
    done
    for b in $(balancers); do
        start_haproxy "$b"
    done
    for b in $(balancers); do
        wait_for "HAProxy on ${UP_IP[$b]}:8000 ($b), through the router" probe_haproxy "$b"
        wait_for "BGP session rtr <-> $b" bgp_established "$b"
    done
    if [ "$with_vrrpd" -eq 1 ]; then
        for b in $(balancers); do
            start_vrrpd "$b"
        done
    else
        log "--no-vrrpd: not starting vrrpd"
    fi
    log "lab is up (layout bgp, --mode $m, --speaker $sp, $directors balancers); VIP $VIP; state in $STATE"
}

bgp_down() {
    local b
    for b in "${ALL_BALANCERS[@]}"; do
        stop_vrrpd "$b"
        stop_speaker "$b" 2>/dev/null || true
        stop_frr "$b" 2>/dev/null || true
        stop_pidfile "$STATE/bird-$b.pid" bird 2>/dev/null || true
    done
    stop_frr "$RTR" 2>/dev/null || true
    cmd_down
}

# link BAL down|up [up|hb|int]: cut / restore a balancer's link on the
# switch side; the balancer's end loses carrier, as with a pulled cable.
# The router's end of the uplink stays up (it is a switch port), so the
# router notices a dead uplink through BFD, as it would a dead node.
bgp_link() {
    [ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: link BAL down|up [up|hb|int]"
    local b="$1" dir="$2" which="${3:-up}" port
    check_balancer "$b"
    [[ "$dir" =~ ^(up|down)$ ]] || die "link: state must be up or down"
    case "$which" in
        up) port="$b-up$(bal_index "$b")" ;;
        hb | int) port="$b-$which" ;;
        *) die "link: the link is up (uplink), hb or int" ;;
    esac
    ip -n "$SW" link set "$port" "$dir"
    log "$b $which link $dir"
}

bgp_status() {
    local b
    if [ ! -e "/run/netns/$SW" ]; then
        echo "lab is down (no $SW namespace)"
        return 0
    fi
    echo "== layout bgp: --mode $(mode) --speaker $(speaker), VIP $VIP"
    echo "== VIP on vrrpd0: $(vip_holders | paste -sd' ' -)"
    echo "== router FIB for $VIP: $(fib_nexthops | paste -sd' ' -)"
    echo "== BGP sessions at the router"
    vtysh_rtr "show bgp summary" 2>/dev/null | sed -n '/^Neighbor/,$p' | sed 's/^/  /'
    echo "== processes"
    local proc=bgpd
    [ "$(speaker)" = bird ] && proc=bird
    for b in $(balancers); do
        printf '  %-5s haproxy:%s vrrpd:%s %s:%s\n' "$b" \
            "$(haproxy_running "$b" && echo up || echo down)" \
            "$(vrrpd_running "$b" && echo up || echo down)" \
            "$proc" "$(pid_running "$(speaker_pidfile "$b")" "$proc" && echo up || echo down)"
    done
}

bgp_usage() {
    cat <<EOF
Layout bgp (lab-bgp.sh; lab.sh passes every command here while it is up):
  up --l3 bgp [--directors 2|3] [--mode standby|active-active] [--speaker frr|bird] [--no-vrrpd]
  down                          stop everything, delete namespaces and $STATE
  status                        VIP holders, the router's FIB, BGP sessions, processes
  announcers                    balancers holding $VIP on vrrpd0 (exit 1: none)
  fib                           balancers the router forwards $VIP to (exit 1: none)
  link BAL down|up [up|hb|int]  cut / restore the uplink (default), heartbeat or int link
  kill-speaker BAL [SIG]        stop the balancer's BGP speaker (default SIGTERM)
  start-speaker BAL
  kill-haproxy, start-haproxy, kill-vrrpd, start-vrrpd, exec, stop-server,
  start-server, saturate        as in the default layout
Environment: LAB_BGP_CONF_DIR ($BGP_CONF_DIR) LAB_BGP_VRRPD_DIR ($BGP_VRRPD_DIR)
EOF
}

bgp_main() {
    local cmd="${1:-help}" out
    [ $# -gt 0 ] && shift
    case "$cmd" in
        up) bgp_up "$@" ;;
        down) bgp_down ;;
        status) bgp_status ;;
        announcers | master)
            out="$(vip_holders)"
            [ -n "$out" ] || { echo none; return 1; }
            echo "$out" | paste -sd' ' -
            ;;
        fib)
            out="$(fib_nexthops)"
            [ -n "$out" ] || { echo none; return 1; }
            echo "$out" | paste -sd' ' -
            ;;
        vips) echo "$VIP vrrpd0 $(vip_holders | paste -sd' ' -) fib: $(fib_nexthops | paste -sd' ' -)" ;;
        link) bgp_link "$@" ;;
        kill-speaker)
            check_balancer "${1:-}"
            stop_speaker "$1" "${2:-TERM}"
            log "sent SIG${2:-TERM} to the BGP speaker ($(speaker)) in $(ns "$1")"
            ;;
        start-speaker)
            check_balancer "${1:-}"
            start_speaker "$1"
            ;;
        help | -h | --help) bgp_usage ;;
        *) main "$cmd" "$@" ;;
    esac
}

bgp_main "$@"
