#!/usr/bin/env bash
# lab.sh - the vrrpd reference lab, built from Linux network namespaces.
#
# Each namespace stands in for a container on its own VM:
#   lab-client            172.16.1.100                       (ext0)
#   lab-bal1..lab-bal3    172.16.1.250-252 / 10.0.0.250-252  (ext0 / int0)
#   lab-serv1..lab-serv3  10.0.0.1-3                         (int0)
#   lab-bkp1, lab-bkp2    10.0.0.11-12                       (int0)
#   lab-sw                the "switch": bridges "ext" and "int"
# The bridges live inside lab-sw, so the host's root namespace gets no new
# link, address or route. See README.md next to this file for the details.
#
# Two more layouts (chosen at "up", remembered in the state dir):
#   up --sync           three directors with an external and an internal VIP
#                       in a sync group (the internal VIP is the web servers'
#                       default gateway) plus a heartbeat bridge "hb"
#   up --l2 stp-vxlan   two "VM" namespaces lab-vm1/lab-vm2 holding bridges:
#                       the external side joined by two redundant STP bridges,
#                       the internal side joined by VXLAN over an underlay veth
#
# Usage: lab.sh <command> [args]   (run "lab.sh help" for the list)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

# ---------------------------------------------------------------------------
# Settings (environment overrides)
# ---------------------------------------------------------------------------
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
STATE="${LAB_STATE:-/run/vrrpd-lab}"   # pid files, logs, generated configs
WAIT_SECS="${LAB_WAIT:-30}"            # bound on every wait for a service
MAXCONN="${LAB_MAXCONN:-4}"            # concurrent requests per web server
QUEUE="${LAB_QUEUE:-1}"                # queued requests that trigger overflow
SLOW_BYTES="${LAB_SLOW_BYTES:-2048}"   # size of /slow (sent at 1 KiB/s)
VRRPD_CONF_DIR="${LAB_VRRPD_CONF_DIR:-$REPO_DIR/config}"  # bal1.toml, ...
SYNC_CONF_DIR="${LAB_SYNC_CONF_DIR:-$REPO_DIR/config/sync}"    # dir1.toml, ... (--sync)
STP_CONF_DIR="${LAB_STP_CONF_DIR:-$REPO_DIR/config/stp-vxlan}" # bal1.toml, bal2.toml (--l2 stp-vxlan)
NSP="${LAB_NS_PREFIX:-lab-}"           # namespace name prefix

VIP=172.16.1.254
INT_VIP=10.0.0.254        # --sync: the internal VIP, the servers' gateway
HB_VIP=192.168.100.254    # --sync: VI_3's address on the heartbeat link
SW="${NSP}sw"             # namespace holding the bridges
VMS=(vm1 vm2)             # --l2 stp-vxlan: the two "VM" namespaces
PRIMARIES=(serv1 serv2 serv3)
BACKUPS=(bkp1 bkp2)
ALL_BALANCERS=(bal1 bal2 bal3)

# Address of each node, per subnet.
declare -A EXT_IP=([client]=172.16.1.100 [bal1]=172.16.1.250 [bal2]=172.16.1.251 [bal3]=172.16.1.252)
declare -A INT_IP=([bal1]=10.0.0.250 [bal2]=10.0.0.251 [bal3]=10.0.0.252
    [serv1]=10.0.0.1 [serv2]=10.0.0.2 [serv3]=10.0.0.3 [bkp1]=10.0.0.11 [bkp2]=10.0.0.12)
# --sync: heartbeat link (a private subnet that exists only inside the lab).
declare -A HB_IP=([bal1]=192.168.100.1 [bal2]=192.168.100.2 [bal3]=192.168.100.3)
# --l2 stp-vxlan: which VM each node lives on, and the VXLAN underlay.
declare -A VM_OF=([client]=vm2 [bal1]=vm1 [bal2]=vm2
    [serv1]=vm1 [serv3]=vm1 [bkp1]=vm1 [serv2]=vm2 [bkp2]=vm2)
declare -A UL_IP=([vm1]=192.168.200.1 [vm2]=192.168.200.2)
# STP bridge priorities: vm1's bridge is the root, and at equal cost vm2
# prefers the path through "exta" (lower bridge id), so "extb" is blocked.
declare -A STP_PRIO=([vm1]=4096 [exta]=8192 [extb]=12288 [vm2]=16384)

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# ns NAME -> namespace name ("bal1" and "lab-bal1" both give "lab-bal1").
ns() { case "$1" in "$NSP"*) echo "$1" ;; *) echo "$NSP$1" ;; esac; }

ns_exists() { [ -e "/run/netns/$(ns "$1")" ]; }

# nsx NAME cmd... : run a command inside a lab namespace.
nsx() { local n; n="$(ns "$1")"; shift; ip netns exec "$n" "$@"; }

# The layout of the current lab: default, sync or stp-vxlan.
layout() {
    if [ -f "$STATE/layout" ]; then cat "$STATE/layout"; else echo default; fi
}

# The balancers of the current lab (from the state dir, default 2).
balancers() {
    local n=2
    [ -f "$STATE/directors" ] && n="$(cat "$STATE/directors")"
    printf '%s\n' "${ALL_BALANCERS[@]:0:n}"
}

# Every namespace this lab may have created (used by down/status).
all_namespaces() {
    local n
    for n in client "${ALL_BALANCERS[@]}" "${PRIMARIES[@]}" "${BACKUPS[@]}" "${VMS[@]}"; do
        echo "$NSP$n"
    done
    echo "$SW"
}

# pid_running PIDFILE PATTERN: true when the pid in PIDFILE is alive and its
# command line contains PATTERN (guards against stale or recycled pids).
pid_running() {
    local pidfile="$1" pattern="$2" pid
    [ -s "$pidfile" ] || return 1
    pid="$(head -n1 "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$pattern"* ]]
}

# pid_gone PID: the process has exited (a zombie is gone for practical
# purposes); prints its state otherwise.
pid_gone() {
    local st
    st="$(grep '^State:' "/proc/$1/status" 2>/dev/null)" || return 0
    echo "$st"
    [[ "$st" == *Z* ]]
}

# stop_pidfile PIDFILE PATTERN [SIG]: signal the process. For TERM/INT/KILL
# (the default is TERM) wait until it has exited (at most WAIT_SECS; a
# daemon's clean stop includes its own work, such as vrrpd's priority-0
# advert), escalate to SIGKILL (logged), and remove the pid file. Any other
# signal (STOP, CONT, USR1, HUP, ...) is just sent: the process lives on.
stop_pidfile() {
    local pidfile="$1" pattern="$2" sig="${3:-TERM}" pid
    sig="${sig#SIG}"
    if pid_running "$pidfile" "$pattern"; then
        pid="$(head -n1 "$pidfile")"
        kill -s "$sig" "$pid" 2>/dev/null || true
        case "$sig" in
            TERM | INT | KILL | 15 | 2 | 9) ;;
            *) return 0 ;;
        esac
        if ! wait_until "$WAIT_SECS" pid_gone "$pid"; then
            log "pid $pid ($pattern) still there ${WAIT_SECS}s after SIG$sig ($WAIT_LAST): SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

# wait_for DESCRIPTION CMD...: wait until CMD succeeds (wait_until, at most
# WAIT_SECS); dies with what CMD said last when it never does.
wait_for() {
    local what="$1"
    shift
    wait_until "$WAIT_SECS" "$@" ||
        die "timed out after ${WAIT_SECS}s waiting for $what (last: ${WAIT_LAST:-no output})"
}

# ---------------------------------------------------------------------------
# deps: install the tools the lab needs, only if missing
# ---------------------------------------------------------------------------
cmd_deps() {
    need_root
    local -a pkgs=()
    command -v ip >/dev/null || pkgs+=(iproute2)
    command -v haproxy >/dev/null || pkgs+=(haproxy)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || pkgs+=(nginx-light)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v ab >/dev/null || pkgs+=(apache2-utils)
    command -v wrk >/dev/null || pkgs+=(wrk)
    if [ "${#pkgs[@]}" -eq 0 ]; then
        log "all dependencies present"
        return 0
    fi
    log "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # nginx-light may be gone in newer Debian releases: fall back to nginx.
    local i
    for i in "${!pkgs[@]}"; do
        if [ "${pkgs[$i]}" = nginx-light ] && ! apt-cache show nginx-light >/dev/null 2>&1; then
            pkgs[i]=nginx
        fi
    done
    # wrk is optional (not in every release).
    if [[ " ${pkgs[*]} " == *" wrk "* ]] && ! apt-cache show wrk >/dev/null 2>&1; then
        log "wrk not available from apt, skipping it"
        pkgs=("${pkgs[@]/wrk/}")
    fi
    # Keep Debian's service scripts from starting the system nginx/haproxy:
    # the lab runs its own instances in namespaces. policy-rc.d is Debian's
    # standard switch for that; add one only if there is none, then remove it.
    local added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local rc=0
    # shellcheck disable=SC2068  # empty entries (removed wrk) must vanish
    apt-get install -y ${pkgs[@]} || rc=$?
    [ "$added_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || die "apt-get install failed"
}

check_tools() {
    command -v haproxy >/dev/null || die "haproxy missing (run: $0 deps)"
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx missing (run: $0 deps)"
    command -v curl >/dev/null || die "curl missing (run: $0 deps)"
}

nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }

# ---------------------------------------------------------------------------
# Topology
# ---------------------------------------------------------------------------

# make_ns NAME: create the namespace (if missing) with loopback up.
make_ns() {
    local n
    n="$(ns "$1")"
    [ -e "/run/netns/$n" ] || ip netns add "$n"
    ip -n "$n" link set lo up
}

# make_bridge NAME [NS]: a bridge inside the switch namespace (or NS), STP
# off, no multicast snooping (VRRP adverts are multicast and must reach
# everyone).
make_bridge() {
    local br="$1" n="${2:-$SW}"
    if ! ip -n "$n" link show "$br" >/dev/null 2>&1; then
        ip -n "$n" link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    fi
    ip -n "$n" link set "$br" type bridge mcast_snooping 0
    ip -n "$n" link set "$br" up
}

# make_stp_bridge NAME NS PRIO: a bridge with the kernel's STP (802.1D, no
# userspace daemon) and the shortest timers the kernel accepts: hello 1 s,
# forward delay 2 s (a port needs 2 x 2 s listening + learning before it
# forwards), max age 6 s.
make_stp_bridge() {
    local br="$1" n="$2" prio="$3"
    if ! ip -n "$n" link show "$br" >/dev/null 2>&1; then
        ip -n "$n" link add "$br" type bridge stp_state 1 priority "$prio" \
            hello_time 100 forward_delay 200 max_age 600 mcast_snooping 0
    fi
    ip -n "$n" link set "$br" up
}

# attach NODE IFNAME BRIDGE CIDR [BRNS]: a veth pair, IFNAME inside lab-NODE
# with address CIDR, and NODE-BRIDGE (e.g. bal1-ext) plugged into the bridge
# in the switch namespace (or BRNS). The pair is created directly inside the
# namespaces, never in the root namespace.
attach() {
    local node="$1" ifname="$2" br="$3" cidr="$4" brns="${5:-$SW}" n peer
    n="$(ns "$node")"
    peer="$node-$br"
    if ! ip -n "$brns" link show "$peer" >/dev/null 2>&1; then
        ip -n "$brns" link add "$peer" type veth peer name "$ifname" netns "$n"
    fi
    ip -n "$brns" link set "$peer" master "$br" up
    ip -n "$n" link set "$ifname" up
    ip -n "$n" addr replace "$cidr" dev "$ifname"
}

# balancer_sysctls BAL: answer ARP for a VIP only on the interface that
# holds it.
balancer_sysctls() {
    nsx "$1" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 >/proc/sys/net/ipv4/conf/all/arp_announce'
}

build_topology() {
    case "$(layout)" in
        stp-vxlan) build_topology_stp ;;
        *) build_topology_flat ;;
    esac
}

# The default layout, and --sync (which adds the heartbeat bridge, the
# servers' gateway and forwarding on the directors).
build_topology_flat() {
    local b s sync=0
    [ "$(layout)" = sync ] && sync=1
    make_ns "$SW"
    make_bridge ext
    make_bridge int
    [ "$sync" -eq 1 ] && make_bridge hb

    make_ns client
    attach client ext0 ext "${EXT_IP[client]}/24"

    for b in $(balancers); do
        make_ns "$b"
        attach "$b" ext0 ext "${EXT_IP[$b]}/24"
        attach "$b" int0 int "${INT_IP[$b]}/24"
        balancer_sysctls "$b"
        if [ "$sync" -eq 1 ]; then
            attach "$b" hb0 hb "${HB_IP[$b]}/24"
            # Directors route between the client side and the servers.
            nsx "$b" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
        fi
    done

    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        make_ns "$s"
        attach "$s" int0 int "${INT_IP[$s]}/24"
        if [ "$sync" -eq 1 ]; then
            # Replies to anything outside 10.0.0.0/24 go through whichever
            # director holds the internal VIP.
            ip -n "$(ns "$s")" route replace default via "$INT_VIP" dev int0
        fi
    done
    if [ "$sync" -eq 1 ]; then
        # The client reaches the server subnet through the external VIP.
        ip -n "$(ns client)" route replace 10.0.0.0/24 via "$VIP" dev ext0
    fi
}

# --l2 stp-vxlan:
#   lab-vm1 / lab-vm2: bridge "ext" (STP) and bridge "int" (+ vx0) each;
#   lab-sw: bridges "exta" and "extb" (STP), each linked to both VMs' "ext"
#           (ports upa/upb in the VMs, vm1-exta ... in lab-sw): a loop that
#           STP breaks by blocking vm2's "upb";
#   ul0: a veth vm1 <-> vm2 (192.168.200.0/24), the VXLAN underlay;
#   vx0: VXLAN id 42 (UDP 4789) over ul0, a port of each VM's "int".
build_topology_stp() {
    local v x b s other
    for v in "${VMS[@]}"; do
        make_ns "$v"
        make_stp_bridge ext "$(ns "$v")" "${STP_PRIO[$v]}"
        make_bridge int "$(ns "$v")"
    done
    make_ns "$SW"
    for x in a b; do
        make_stp_bridge "ext$x" "$SW" "${STP_PRIO[ext$x]}"
        for v in "${VMS[@]}"; do
            if ! ip -n "$SW" link show "$v-ext$x" >/dev/null 2>&1; then
                ip -n "$SW" link add "$v-ext$x" type veth peer name "up$x" netns "$(ns "$v")"
            fi
            ip -n "$SW" link set "$v-ext$x" master "ext$x" up
            ip -n "$(ns "$v")" link set "up$x" master ext up
        done
    done
    # Underlay: a lab-private point-to-point link between the two VMs. Its
    # MTU leaves room for the 50-byte VXLAN header, so "int" keeps 1500.
    if ! ip -n "$(ns vm1)" link show ul0 >/dev/null 2>&1; then
        ip -n "$(ns vm1)" link add ul0 mtu 1550 type veth peer name ul0 mtu 1550 netns "$(ns vm2)"
    fi
    for v in "${VMS[@]}"; do
        other=vm2
        [ "$v" = vm2 ] && other=vm1
        ip -n "$(ns "$v")" link set ul0 up
        ip -n "$(ns "$v")" addr replace "${UL_IP[$v]}/24" dev ul0
        if ! ip -n "$(ns "$v")" link show vx0 >/dev/null 2>&1; then
            ip -n "$(ns "$v")" link add vx0 mtu 1500 type vxlan id 42 local "${UL_IP[$v]}" \
                remote "${UL_IP[$other]}" dstport 4789 dev ul0
        fi
        ip -n "$(ns "$v")" link set vx0 master int up
    done

    make_ns client
    attach client ext0 ext "${EXT_IP[client]}/24" "$(ns "${VM_OF[client]}")"
    for b in $(balancers); do
        make_ns "$b"
        attach "$b" ext0 ext "${EXT_IP[$b]}/24" "$(ns "${VM_OF[$b]}")"
        attach "$b" int0 int "${INT_IP[$b]}/24" "$(ns "${VM_OF[$b]}")"
        balancer_sysctls "$b"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        make_ns "$s"
        attach "$s" int0 int "${INT_IP[$s]}/24" "$(ns "${VM_OF[$s]}")"
    done
}

# ---------------------------------------------------------------------------
# Web servers (nginx, one instance per server namespace)
# ---------------------------------------------------------------------------

# write_nginx_conf NAME: generate the config, document root and temp dirs.
write_nginx_conf() {
    local s="$1"
    local root="$STATE/www-$s" tmp="$STATE/nginx-$s" padded
    # Same body length on every server ("bkp1 " vs "serv1"), so load tools
    # like ab do not count different servers as "Length" failures.
    padded="$(printf '%-5s' "$s")"
    mkdir -p "$root" "$tmp"
    chmod 755 "$root"
    # A small HTML page, and a /slow body of SLOW_BYTES bytes that nginx
    # sends at 1 KiB/s (keeps a connection busy: used to saturate servers).
    cat >"$root/index.html" <<EOF
<!DOCTYPE html>
<html><head><title>$s</title></head>
<body><h1>Hello from $s</h1><p>web server $s (${INT_IP[$s]}) in the vrrpd reference lab</p></body></html>
EOF
    {
        echo "server=$s slow"
        head -c "$SLOW_BYTES" /dev/zero | tr '\0' '.'
        echo
    } >"$root/slow.txt"
    chmod 644 "$root/index.html" "$root/slow.txt"

    cat >"$STATE/nginx-$s.conf" <<EOF
# Generated by lab.sh for web server $s - do not edit.
daemon on;
worker_processes 1;
pid $STATE/nginx-$s.pid;
error_log $STATE/nginx-$s.error.log warn;
events { worker_connections 512; }
http {
    access_log $STATE/nginx-$s.access.log;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    default_type text/plain;
    keepalive_timeout 5s;
    server {
        listen 80;
        server_name $s;
        root $root;
        add_header X-Server $s always;
        # Health check target for HAProxy.
        location = /health { return 200 "ok $s\n"; }
        # Slow response (limit_rate): ties up a connection for a while.
        location = /slow { limit_rate 1k; alias $root/slow.txt; }
        location = /index.html { default_type text/html; }
        # Everything else: name the server and the client address it saw
        # (the balancer's internal address) plus the original client.
        location / {
            return 200 "server=$padded client=\$remote_addr forwarded_for=\$http_x_forwarded_for\n";
        }
    }
}
EOF
}

server_running() { pid_running "$STATE/nginx-$1.pid" "nginx"; }

start_server() {
    local s="$1"
    ns_exists "$s" || die "no namespace for $s (is the lab up?)"
    if server_running "$s"; then
        return 0
    fi
    write_nginx_conf "$s"
    nsx "$s" "$(nginx_bin)" -c "$STATE/nginx-$s.conf" -p "$STATE/nginx-$s/" -e "$STATE/nginx-$s.error.log" \
        || die "nginx failed to start in $(ns "$s"), see $STATE/nginx-$s.error.log"
    log "started nginx in $(ns "$s")"
}

stop_server() {
    local s="$1"
    if server_running "$s"; then
        stop_pidfile "$STATE/nginx-$s.pid" nginx
        log "stopped nginx in $(ns "$s")"
    else
        rm -f "$STATE/nginx-$s.pid"
    fi
}

# expand_servers ARG: serv1 | bkp2 | all-primaries | all-backups | all
expand_servers() {
    case "$1" in
        all-primaries) printf '%s\n' "${PRIMARIES[@]}" ;;
        all-backups) printf '%s\n' "${BACKUPS[@]}" ;;
        all) printf '%s\n' "${PRIMARIES[@]}" "${BACKUPS[@]}" ;;
        serv[1-3] | bkp[12]) echo "$1" ;;
        *) die "unknown server '$1' (serv1..serv3, bkp1, bkp2, all-primaries, all-backups, all)" ;;
    esac
}

# ---------------------------------------------------------------------------
# HAProxy (master-worker mode, one per balancer)
# ---------------------------------------------------------------------------

render_haproxy_cfg() {
    local b="$1"
    sed -e "s|@NAME@|$b|g" \
        -e "s|@EXT_IP@|${EXT_IP[$b]}|g" \
        -e "s|@INT_IP@|${INT_IP[$b]}|g" \
        -e "s|@STATEDIR@|$STATE|g" \
        -e "s|@MAXCONN@|$MAXCONN|g" \
        -e "s|@QUEUE@|$QUEUE|g" \
        "$SCRIPT_DIR/haproxy.cfg.tmpl" >"$STATE/haproxy-$b.cfg"
    if grep -q '@[A-Z_]*@' "$STATE/haproxy-$b.cfg"; then
        die "unreplaced placeholder in $STATE/haproxy-$b.cfg"
    fi
}

haproxy_running() { pid_running "$STATE/haproxy-$1.pid" "haproxy-$1.cfg"; }

# HAProxy runs as a background job in master-worker mode (-W) without -D:
# the master's pid goes to haproxy-<b>.pid (-p), its log to haproxy-<b>.log.
start_haproxy() {
    local b="$1" cfg="$STATE/haproxy-$1.cfg"
    ns_exists "$b" || die "no namespace for $b (is the lab up?)"
    if haproxy_running "$b"; then
        return 0
    fi
    cp "$SCRIPT_DIR/sorry.http" "$STATE/sorry.http"
    render_haproxy_cfg "$b"
    haproxy -c -q -f "$cfg" || die "invalid HAProxy config $cfg"
    rm -f "$STATE/haproxy-$b.pid"
    setsid ip netns exec "$(ns "$b")" haproxy -W -f "$cfg" -p "$STATE/haproxy-$b.pid" \
        >>"$STATE/haproxy-$b.log" 2>&1 </dev/null &
    wait_until "$WAIT_SECS" haproxy_running "$b" ||
        die "HAProxy did not start in $(ns "$b") within ${WAIT_SECS}s, see $STATE/haproxy-$b.log"
    log "started haproxy in $(ns "$b") (master pid $(cat "$STATE/haproxy-$b.pid"))"
}

stop_haproxy() {
    local b="$1" sig="${2:-TERM}"
    if haproxy_running "$b"; then
        stop_pidfile "$STATE/haproxy-$b.pid" "haproxy-$b.cfg" "$sig"
        log "stopped haproxy in $(ns "$b")"
    else
        rm -f "$STATE/haproxy-$b.pid"
    fi
}

# ---------------------------------------------------------------------------
# vrrpd (one per balancer, optional)
# ---------------------------------------------------------------------------

# vrrpd_bin: VRRPD_BIN, else target/release/vrrpd, else target/debug/vrrpd.
vrrpd_bin() {
    local c
    for c in "${VRRPD_BIN:-}" "$REPO_DIR/target/release/vrrpd" "$REPO_DIR/target/debug/vrrpd"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

vrrpd_running() { pid_running "$STATE/vrrpd-$1.pid" "vrrpd"; }

# vrrpd_started BAL PID: vrrpd serves its control socket, or PID has exited
# (either ends the wait after a start).
vrrpd_started() { [ -S "$STATE/vrrpd-$1.sock" ] || pid_gone "$2" >/dev/null; }

# vrrpd_conf BAL: the balancer's config for the current layout.
vrrpd_conf() {
    case "$(layout)" in
        sync) echo "$SYNC_CONF_DIR/dir${1#bal}.toml" ;;
        stp-vxlan) echo "$STP_CONF_DIR/$1.toml" ;;
        *) echo "$VRRPD_CONF_DIR/$1.toml" ;;
    esac
}

# start_vrrpd BAL [strict]: start vrrpd in the balancer's namespace. Without
# "strict" a missing binary/config or an early exit is only a warning (so
# the lab is usable while vrrpd is in development).
start_vrrpd() {
    local b="$1" strict="${2:-}" bin conf pid
    conf="$(vrrpd_conf "$b")"
    ns_exists "$b" || die "no namespace for $b (is the lab up?)"
    vrrpd_running "$b" && return 0
    local fail=log
    [ "$strict" = strict ] && fail=die
    if ! bin="$(vrrpd_bin)"; then
        $fail "no vrrpd binary (set VRRPD_BIN or build target/release/vrrpd); not starting it in $(ns "$b")"
        return 0
    fi
    if [ ! -f "$conf" ]; then
        $fail "missing $conf; not starting vrrpd in $(ns "$b")"
        return 0
    fi
    # Every namespace shares one filesystem: each daemon gets its own
    # control socket (vrrpd status --socket $STATE/vrrpd-bal1.sock). A
    # socket left by a killed vrrpd goes first: the new one says "ready".
    rm -f "$STATE/vrrpd-$b.sock"
    setsid ip netns exec "$(ns "$b")" "$bin" --config "$conf" --socket "$STATE/vrrpd-$b.sock" \
        >>"$STATE/vrrpd-$b.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE/vrrpd-$b.pid"
    # Ready once it serves its control socket; an early exit ends the wait too.
    wait_until "$WAIT_SECS" vrrpd_started "$b" "$pid" || true
    if vrrpd_running "$b" && [ -S "$STATE/vrrpd-$b.sock" ]; then
        log "started vrrpd in $(ns "$b") (pid $pid, log $STATE/vrrpd-$b.log)"
    else
        if vrrpd_running "$b"; then kill -KILL "$pid" 2>/dev/null || true; fi
        rm -f "$STATE/vrrpd-$b.pid"
        $fail "vrrpd did not come up in $(ns "$b") (exited, or no control socket after ${WAIT_SECS}s): $(tail -n 3 "$STATE/vrrpd-$b.log" | tr '\n' ' ')"
    fi
}

stop_vrrpd() {
    local b="$1" sig="${2:-TERM}"
    if vrrpd_running "$b"; then
        stop_pidfile "$STATE/vrrpd-$b.pid" vrrpd "$sig"
        log "sent SIG$sig to vrrpd in $(ns "$b")"
    else
        rm -f "$STATE/vrrpd-$b.pid"
    fi
}

# ---------------------------------------------------------------------------
# Readiness probes (used by "up")
# ---------------------------------------------------------------------------

# Web server answers on :80 (probed from the first balancer, like HAProxy).
probe_server() {
    local s="$1" first
    first="$(balancers | head -n1)"
    local out
    out="$(nsx "$first" curl -fsS -m 1 "http://${INT_IP[$s]}/health")" || return 1
    [[ "$out" == "ok $s"* ]]
}

# HAProxy answers on :8000 from the client side with a primary server.
probe_haproxy() {
    local b="$1"
    local out
    out="$(nsx client curl -fsS -m 1 "http://${EXT_IP[$b]}:8000/")" || return 1
    [[ "$out" == server=serv* ]]
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_up() {
    local directors="" with_vrrpd=1 b s want=default
    while [ $# -gt 0 ]; do
        case "$1" in
            --directors)
                directors="${2:-}"
                shift
                ;;
            --directors=*) directors="${1#*=}" ;;
            --no-vrrpd) with_vrrpd=0 ;;
            --sync) want=sync ;;
            --l2)
                [ "${2:-}" = stp-vxlan ] || die "--l2: the only layout is 'stp-vxlan'"
                want=stp-vxlan
                shift
                ;;
            --l2=stp-vxlan) want=stp-vxlan ;;
            *) die "up: unknown option '$1'" ;;
        esac
        shift
    done
    # --sync is seed 003's layout: three directors unless told otherwise.
    if [ -z "$directors" ]; then
        directors=2
        [ "$want" = sync ] && directors=3
    fi
    [[ "$directors" =~ ^[23]$ ]] || die "--directors must be 2 or 3"
    [ "$want" = stp-vxlan ] && [ "$directors" != 2 ] && die "--l2 stp-vxlan has two balancers (bal1 on vm1, bal2 on vm2)"
    need_root
    check_tools
    if [ -e "/run/netns/$SW" ] && [ "$(layout)" != "$want" ]; then
        die "a lab with layout '$(layout)' is up; run '$0 down' first"
    fi

    mkdir -p "$STATE"
    chmod 755 "$STATE"
    echo "$want" >"$STATE/layout"
    if [ -f "$STATE/directors" ] && [ "$(cat "$STATE/directors")" -gt "$directors" ]; then
        log "lab already has $(cat "$STATE/directors") balancers; keeping them"
        directors="$(cat "$STATE/directors")"
    fi
    echo "$directors" >"$STATE/directors"

    build_topology
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        start_server "$s"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        wait_for "web server $s on ${INT_IP[$s]}:80" probe_server "$s"
    done
    # lab-containers.sh boots the balancers as containers with their own services.
    [ "${LAB_BALANCERS:-}" = containers ] && { log "namespaces and servers up; balancers left to lab-containers.sh"; return 0; }
    for b in $(balancers); do
        start_haproxy "$b"
    done
    for b in $(balancers); do
        wait_for "HAProxy on ${EXT_IP[$b]}:8000 ($b)" probe_haproxy "$b"
    done
    if [ "$with_vrrpd" -eq 1 ]; then
        for b in $(balancers); do
            start_vrrpd "$b"
        done
    else
        log "--no-vrrpd: not starting vrrpd"
    fi
    if [ "$want" = default ]; then
        log "lab is up ($directors balancers); state in $STATE"
    else
        log "lab is up (layout $want, $directors balancers); state in $STATE"
    fi
}

# no_live_pids: no live (non-zombie) process left in any lab namespace.
no_live_pids() {
    local n pid left=""
    for n in $(all_namespaces); do
        [ -e "/run/netns/$n" ] || continue
        for pid in $(ip netns pids "$n" 2>/dev/null); do
            pid_gone "$pid" >/dev/null || left+=" $pid"
        done
    done
    [ -z "$left" ] || { echo "left:$left"; return 1; }
}

cmd_down() {
    need_root
    local b s n pid
    for b in "${ALL_BALANCERS[@]}"; do
        stop_vrrpd "$b"
        stop_haproxy "$b"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        stop_server "$s"
    done
    # Anything else still running inside a lab namespace was started there
    # by this lab (e.g. via "lab.sh exec"): end it by pid before deleting.
    for n in $(all_namespaces); do
        [ -e "/run/netns/$n" ] || continue
        for pid in $(ip netns pids "$n" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null || true
        done
    done
    # Whatever did not exit on TERM within a few seconds gets KILL below.
    wait_until 5 no_live_pids || true
    for n in $(all_namespaces); do
        [ -e "/run/netns/$n" ] || continue
        for pid in $(ip netns pids "$n" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        # Deleting a namespace removes its veth ends (and so their peers).
        ip netns delete "$n"
    done
    # The state dir only holds files this script generated.
    if [ -d "$STATE" ]; then
        rm -rf -- "$STATE"
    fi
    log "lab is down"
}

# vip_holders [ADDR DEV]: balancers whose DEV (default ext0) carries ADDR
# (default the VIP).
vip_holders() {
    local b addrs addr="${1:-$VIP}" dev="${2:-ext0}"
    for b in "${ALL_BALANCERS[@]}"; do
        ns_exists "$b" || continue
        # (captured first: "cmd | grep -q" can fail on SIGPIPE under pipefail)
        addrs="$(ip -n "$(ns "$b")" -o -4 addr show dev "$dev" 2>/dev/null || true)"
        if [[ "$addrs" == *" $addr/"* ]]; then
            echo "$b"
        fi
    done
}

# master: print the VIP holder. Exit 0 with one holder, 1 with none
# (prints "none"), 2 with several (split brain; prints them all).
cmd_master() {
    local holders count
    holders="$(vip_holders)"
    count="$(printf '%s' "$holders" | grep -c . || true)"
    if [ "$count" -eq 0 ]; then
        echo none
        return 1
    fi
    echo "$holders" | paste -sd' ' -
    [ "$count" -eq 1 ] || return 2
}

# vips: every VIP of the layout and who holds it, one line each:
# "172.16.1.254 ext0 bal1" ("none" if nobody, several names on a split brain).
cmd_vips() {
    local line addr dev holders
    local -a list=("$VIP ext0")
    [ "$(layout)" = sync ] && list+=("$INT_VIP int0" "$HB_VIP hb0")
    for line in "${list[@]}"; do
        read -r addr dev <<<"$line"
        holders="$(vip_holders "$addr" "$dev" | paste -sd' ' -)"
        echo "$addr $dev ${holders:-none}"
    done
}

cmd_status() {
    local n b s line state holders
    if [ ! -e "/run/netns/$SW" ]; then
        echo "lab is down (no $SW namespace)"
        return 0
    fi
    echo "== namespaces"
    for n in $(all_namespaces); do
        [ -e "/run/netns/$n" ] || continue
        line="$(ip -n "$n" -br -4 addr show 2>/dev/null | awk '$1 != "lo" {printf "%s %s %s  ", $1, $2, $3}')"
        if [ "$n" = "$SW" ]; then
            line="bridges: $(ip -n "$SW" -br link show type bridge | awk '{printf "%s(%s) ", $1, $2}')"
        fi
        printf '  %-11s %s\n' "$n" "$line"
    done
    echo "== switch ports (in $SW)"
    ip -n "$SW" -br link show type veth | awk '{printf "  %-14s %s\n", $1, $2}'
    echo "== VIP $VIP"
    holders="$(vip_holders)"
    if [ -z "$holders" ]; then
        echo "  held by: nobody"
    else
        echo "  held by: $(echo "$holders" | paste -sd' ' -)"
    fi
    if [ "$(layout)" != default ]; then
        echo "== layout $(layout)"
        cmd_vips | sed 's/^/  /'
        [ "$(layout)" = stp-vxlan ] && cmd_stp | sed 's/^/  /'
    fi
    echo "== processes"
    for b in "${ALL_BALANCERS[@]}"; do
        ns_exists "$b" || continue
        state="haproxy:"
        if haproxy_running "$b"; then state+="running(pid $(cat "$STATE/haproxy-$b.pid"))"; else state+="stopped"; fi
        state+="  vrrpd:"
        if vrrpd_running "$b"; then state+="running(pid $(cat "$STATE/vrrpd-$b.pid"))"; else state+="stopped"; fi
        printf '  %-6s %s\n' "$b" "$state"
    done
    for s in "${PRIMARIES[@]}" "${BACKUPS[@]}"; do
        ns_exists "$s" || continue
        if server_running "$s"; then state="nginx:running(pid $(cat "$STATE/nginx-$s.pid"))"; else state="nginx:stopped"; fi
        printf '  %-6s %s\n' "$s" "$state"
    done
    echo "== state dir: $STATE"
}

cmd_exec() {
    [ $# -ge 2 ] || die "usage: exec NS cmd..."
    local n="$1"
    shift
    ns_exists "$n" || die "no namespace $(ns "$n")"
    nsx "$n" "$@"
}

# port_ns PORT: the namespace holding the bridge port PORT (lab-sw, or a VM
# namespace in the stp-vxlan layout).
port_ns() {
    local n
    for n in "$SW" "$(ns vm1)" "$(ns vm2)"; do
        if [ -e "/run/netns/$n" ] && ip -n "$n" link show "$1" >/dev/null 2>&1; then
            echo "$n"
            return 0
        fi
    done
    return 1
}

# link BAL down|up [ext|int|hb]: one of the balancer's links (default the
# external one), switched on the bridge side (what a dead VM or a cut cable
# looks like to the others).
cmd_link() {
    [ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: link BAL down|up [ext|int|hb]"
    local b="$1" dir="$2" br="${3:-ext}" n
    [[ "$dir" =~ ^(up|down)$ ]] || die "link: state must be up or down"
    [[ "$br" =~ ^(ext|int|hb)$ ]] || die "link: the link is ext, int or hb"
    n="$(port_ns "$b-$br")" || die "no switch port $b-$br"
    ip -n "$n" link set "$b-$br" "$dir"
    if [ "$br" = ext ]; then
        log "$b external link $dir"
    else
        log "$b $br link $dir"
    fi
}

# path a|b down|up (stp-vxlan): cut / restore both cables of the redundant
# switch "exta" or "extb" (the lab-sw ends vm1-extX and vm2-extX), so both
# VMs see their port upX lose carrier.
cmd_path() {
    [ $# -eq 2 ] || die "usage: path a|b down|up"
    local x="$1" dir="$2" v
    [[ "$x" =~ ^[ab]$ ]] || die "path: a or b"
    [[ "$dir" =~ ^(up|down)$ ]] || die "path: state must be up or down"
    [ "$(layout)" = stp-vxlan ] || die "path: only in the --l2 stp-vxlan layout"
    for v in "${VMS[@]}"; do
        ip -n "$SW" link set "$v-ext$x" "$dir"
    done
    log "path $x (bridge ext$x) $dir"
}

# stp (stp-vxlan): the STP state of every port of the external bridges,
# one line each: "vm2 ext upb blocking".
cmd_stp() {
    [ "$(layout)" = stp-vxlan ] || die "stp: only in the --l2 stp-vxlan layout"
    local n
    for n in "$(ns vm1)" "$(ns vm2)" "$SW"; do
        [ -e "/run/netns/$n" ] || continue
        bridge -n "$n" link show 2>/dev/null | awk -v n="${n#"$NSP"}" '
            { dev = $2; sub(/:$/, "", dev); sub(/@.*/, "", dev); br = ""; st = ""
              for (i = 1; i < NF; i++) { if ($i == "master") br = $(i + 1); if ($i == "state") st = $(i + 1) }
              if (br ~ /^ext/) print n, br, dev, st }'
    done
}

# saturate BAL [N] [TARGET]: N (default 3*MAXCONN+4) concurrent slow requests
# from the client to BAL:8000/slow (each takes ~SLOW_BYTES/1024 s). While
# they run, the primaries are full and requests queue, so new requests
# overflow to the backups. Blocks until all are done; prints who served them.
cmd_saturate() {
    check_balancer "${1:-}"
    local b="$1" n="${2:-$((3 * MAXCONN + 4))}" target="${3:-}" i out
    [[ "$n" =~ ^[0-9]+$ ]] || die "saturate: N must be a number"
    [ -n "$target" ] || target="${EXT_IP[$b]}"
    out="$(mktemp -d "${TMPDIR:-/tmp}/lab-saturate.XXXXXX")"
    for i in $(seq "$n"); do
        nsx client curl -s -m 30 -o "$out/$i" "http://$target:8000/slow" &
    done
    wait
    head -qn1 "$out"/* 2>/dev/null | sort | uniq -c
    rm -rf -- "$out"
}

check_balancer() {
    [[ "${1:-}" =~ ^bal[1-3]$ ]] || die "expected a balancer name (bal1..bal3), got '${1:-}'"
}

usage() {
    cat <<EOF
Usage: $0 <command> [args]
  deps                          install haproxy, nginx, curl, iproute2, ab, wrk if missing
  up [--directors 2|3] [--no-vrrpd] [--sync | --l2 stp-vxlan | --l3 bgp]
                                build the lab (idempotent), start nginx, HAProxy, vrrpd
                                --sync: ext + int VIP in a sync group, heartbeat bridge
                                (3 directors by default); --l2 stp-vxlan: two VMs, STP
                                on the external side, VXLAN on the internal side;
                                --l3 bgp: netns-scripts/lab-bgp.sh (its own help)
  up --containers [--directors 2|3]
                                balancers as systemd containers (lab-containers.sh help)
  down                          stop everything, delete namespaces and $STATE
  status                        namespaces, VIP holder, processes
  master                        print the VIP holder (exit 1: none, 2: several)
  exec NS cmd...                run a command in lab-NS (NS: client, bal1, serv2, sw, ...)
  stop-server  S                S: serv1..serv3, bkp1, bkp2, all-primaries, all-backups, all
  start-server S
  kill-haproxy BAL [SIG]        stop HAProxy in lab-BAL (default SIGTERM)
  start-haproxy BAL
  kill-vrrpd BAL [SIG]          signal vrrpd in lab-BAL (default TERM; KILL = crash)
  start-vrrpd BAL               start vrrpd (fails if binary/config missing)
  link BAL down|up [ext|int|hb] cut / restore one of the balancer's links (default ext)
  vips                          every VIP of the layout and its holder
  path a|b down|up              stp-vxlan: cut / restore the redundant bridge exta/extb
  stp                           stp-vxlan: STP state of every external bridge port
  saturate BAL [N] [ADDR]       N parallel slow requests to BAL (or ADDR, e.g. the VIP)
                                :8000/slow: fills the primaries so requests overflow
Environment: LAB_STATE ($STATE) LAB_WAIT ($WAIT_SECS s) LAB_MAXCONN ($MAXCONN)
             LAB_QUEUE ($QUEUE) LAB_SLOW_BYTES ($SLOW_BYTES) VRRPD_BIN
             LAB_VRRPD_CONF_DIR ($VRRPD_CONF_DIR) LAB_SYNC_CONF_DIR LAB_STP_CONF_DIR
             LAB_NS_PREFIX ($NSP)
EOF
}

main() {
    local cmd="${1:-help}" s
    # Balancers as systemd containers (up --containers): lab-containers.sh.
    if [ -z "${LAB_CT_INNER:-}" ] && { [ -f "$STATE/containers" ] || [[ " $* " == *" --containers "* ]]; }; then
        exec "$SCRIPT_DIR/lab-containers.sh" "$@"
    fi
    [ $# -gt 0 ] && shift
    case "$cmd" in
        deps) cmd_deps ;;
        up) cmd_up "$@" ;;
        down) cmd_down ;;
        status) cmd_status ;;
        master) cmd_master ;;
        exec) cmd_exec "$@" ;;
        stop-server | start-server)
            [ $# -eq 1 ] || die "usage: $cmd SERVER"
            for s in $(expand_servers "$1"); do
                if [ "$cmd" = stop-server ]; then stop_server "$s"; else start_server "$s"; fi
            done
            ;;
        kill-haproxy)
            check_balancer "${1:-}"
            stop_haproxy "$1" "${2:-TERM}"
            ;;
        start-haproxy)
            check_balancer "${1:-}"
            start_haproxy "$1"
            ;;
        kill-vrrpd)
            check_balancer "${1:-}"
            stop_vrrpd "$1" "${2:-TERM}"
            ;;
        start-vrrpd)
            check_balancer "${1:-}"
            start_vrrpd "$1" strict
            ;;
        link) cmd_link "$@" ;;
        vips) cmd_vips ;;
        path) cmd_path "$@" ;;
        stp) cmd_stp ;;
        saturate) cmd_saturate "$@" ;;
        help | -h | --help) usage ;;
        *)
            usage >&2
            exit 1
            ;;
    esac
}

# A layout with a script of its own (lab-NAME.sh, e.g. lab-bgp.sh for
# "up --l3 bgp") gets "up --l3 NAME" and every command while it is up. That
# script sources this file for its helpers, so main runs only when executed.
own_layout_script() {
    local want="" prev="" a
    for a in "$@"; do
        [ "$prev" = --l3 ] && want="$a"
        case "$a" in --l3=*) want="${a#--l3=}" ;; esac
        prev="$a"
    done
    [ -n "$want" ] || want="$(layout)"
    if [ -x "$SCRIPT_DIR/lab-$want.sh" ] && [[ "$want" =~ ^[a-z0-9]+$ ]]; then
        echo "$SCRIPT_DIR/lab-$want.sh"
    elif [[ " $* " == *" --l3"* ]]; then
        die "--l3: no layout '$want' (no $SCRIPT_DIR/lab-$want.sh)"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    own="$(own_layout_script "$@")"
    [ -z "$own" ] || exec "$own" "$@"
    main "$@"
fi
