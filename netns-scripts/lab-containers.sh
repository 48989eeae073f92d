#!/usr/bin/env bash
# lab-containers.sh - the lab with each balancer as a system container.
#
#   netns-scripts/lab.sh up --containers [--directors 2|3]   (lab.sh hands over to this)
#   netns-scripts/lab-containers.sh <command> [args]         (the same, directly)
#
# The namespaces, the switch, the client and the web servers are lab.sh's
# (it builds them with LAB_BALANCERS=containers, which leaves the balancers
# empty). Each balancer lab-balN then boots a Debian 12 system container
# with systemd (systemd-nspawn --boot) inside its network namespace:
#   - its root is built once with debootstrap and cached under
#     $VRRPD_LAB_CACHE (/var/cache/vrrpd-lab/root-<hash of the package
#     list>); the containers share it read-only as the lowest layer of an
#     overlay, never copy it;
#   - one overlay layer on top of it holds vrrpd, installed from the .deb
#     (contrib/deb/build.sh) with apt-get in a container, and its unit
#     enabled, as an operator would; each balancer's own upper layer holds
#     its hostname, machine-id, /etc/haproxy/haproxy.cfg and
#     /etc/vrrpd/vrrp.toml (from config/balN.toml, tracking Debian's
#     haproxy.service) and its journal;
#   - HAProxy runs as Debian's haproxy.service, vrrpd as vrrpd.service
#     (Type=notify), both started by systemd at boot.
# Faults are an operator's: systemctl kill / stop inside the container,
# powering it off, cutting its link (lab.sh link). For the lab's tools, each
# vrrpd's journal is followed into $STATE/vrrpd-balN.log and its control
# socket is reachable as $STATE/vrrpd-balN.sock.
#
# Commands (any other command goes to lab.sh unchanged):
#   root                      build (or reuse) the cached root; print its path
#   deb                       build the .deb (contrib/deb/build.sh) or take VRRPD_DEB; print its path
#   image                     build the OCI image (contrib/Containerfile) offline with podman,
#                             the cached root imported as its base; print its name
#   oci-demo                  the lab with vrrpd as two OCI containers (podman) in lab-bal1
#                             and lab-bal2 (HAProxy on the host): a failover by podman stop
#   up [--containers] [--directors 2|3]
#   down                      power every container off, then lab.sh down
#   status                    lab.sh status, then each container's units
#   ct BAL cmd...             run a command inside the container (nsenter)
#   kill-haproxy BAL [SIG]    TERM: systemctl stop haproxy; else systemctl kill -s SIG haproxy
#   start-haproxy BAL         systemctl start haproxy (waits until HAProxy serves)
#   kill-vrrpd BAL [SIG]      TERM: systemctl stop vrrpd; HUP: systemctl reload vrrpd;
#                             else systemctl kill -s SIG vrrpd (KILL: Restart=on-failure
#                             brings it back after RestartSec=1s)
#   start-vrrpd BAL           systemctl start vrrpd (returns once vrrpd sent READY=1)
#   poweroff BAL              SIGRTMIN+4 to its init, as machinectl poweroff (or systemctl
#                             poweroff inside): units stop in order; waits until it is gone
#   power-cut BAL             the container's init SIGKILLed and its links cut: a dead VM
#   boot BAL                  boot a powered-off container (links up again)
#   journal BAL [args]        journalctl in the container (e.g. journal bal1 -u vrrpd)
#
# Environment: VRRPD_LAB_CACHE (/var/cache/vrrpd-lab), VRRPD_LAB_MIRROR
# (http://deb.debian.org/debian), VRRPD_DEB (a .deb to use instead of
# building one), plus lab.sh's LAB_STATE and LAB_NS_PREFIX.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"

NSP="${LAB_NS_PREFIX:-lab-}"
CACHE="${VRRPD_LAB_CACHE:-/var/cache/vrrpd-lab}"
MIRROR="${VRRPD_LAB_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# What the containers run. The cache key is a hash of these lines (and of
# ROOT_RECIPE, raised whenever the steps after debootstrap change).
ROOT_PKGS=(systemd systemd-sysv dbus iproute2 haproxy)
ROOT_RECIPE=2
CT_DIR="$STATE/ct"
CT_WAIT="${LAB_CT_WAIT:-90}" # bound on a boot or a power-off, in seconds
declare -A EXT_IP=([bal1]=172.16.1.250 [bal2]=172.16.1.251 [bal3]=172.16.1.252)
declare -A INT_IP=([bal1]=10.0.0.250 [bal2]=10.0.0.251 [bal3]=10.0.0.252)

log() { printf '[lab-ct] %s\n' "$*" >&2; }
die() {
    printf '[lab-ct] error: %s\n' "$*" >&2
    exit 1
}
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# inner CMD...: lab.sh itself, without handing back to this script.
inner() { LAB_CT_INNER=1 "$LAB" "$@"; }

check_balancer() {
    [[ "${1:-}" =~ ^bal[1-3]$ ]] || die "expected a balancer name (bal1..bal3), got '${1:-}'"
}

balancers() {
    local n=2
    [ -f "$STATE/directors" ] && n="$(cat "$STATE/directors")"
    local -a all=(bal1 bal2 bal3)
    printf '%s\n' "${all[@]:0:n}"
}

# wait_or_die SECS DESCRIPTION CMD...: common.sh's wait_until, or die
# saying what CMD printed last.
wait_or_die() {
    local secs="$1" what="$2"
    shift 2
    wait_until "$secs" "$@" || die "timed out after ${secs}s waiting for $what (last: ${WAIT_LAST:-nothing})"
}

# ---------------------------------------------------------------------------
# Tools, the cached root and the package
# ---------------------------------------------------------------------------

# ensure_tools: systemd-nspawn, debootstrap and nsenter (apt-get when missing).
ensure_tools() {
    local -a pkgs=()
    command -v systemd-nspawn >/dev/null || pkgs+=(systemd-container)
    command -v debootstrap >/dev/null || pkgs+=(debootstrap)
    command -v nsenter >/dev/null || pkgs+=(util-linux)
    [ "${#pkgs[@]}" -eq 0 ] && return 0
    log "installing ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2; }
}

root_key() {
    printf '%s\n' "suite $SUITE" "recipe $ROOT_RECIPE" "${ROOT_PKGS[@]}" | sha256sum | cut -c1-12
}

# root_path: where the cached root for the current package list lives.
root_path() { echo "$CACHE/root-$(root_key)"; }

# cmd_root: build the root once (debootstrap), or reuse it; print its path.
# Built into a temporary directory and renamed, under a lock, so a build
# that was interrupted or runs twice at once never leaves a half root.
cmd_root() {
    need_root
    ensure_tools
    local root tmp t0=$SECONDS
    root="$(root_path)"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [ -f "$root/.vrrpd-lab-root" ]; then
        exec 9>&-
        echo "$root"
        return 0
    fi
    tmp="$root.tmp"
    rm -rf -- "$tmp"
    log "building the container root with debootstrap ($SUITE, ${ROOT_PKGS[*]}) into $root"
    if ! debootstrap --variant=minbase --include="$(
        IFS=,
        echo "${ROOT_PKGS[*]}"
    )" "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
        tail -n 20 "$CACHE/debootstrap.log" >&2
        rm -rf -- "$tmp"
        die "debootstrap failed (log: $CACHE/debootstrap.log)"
    fi
    # A quiet, quick boot: no timers or login prompt; a persistent journal
    # (so a balancer's log survives its power-off and the host can read it).
    systemctl --root="$tmp" mask --quiet apt-daily.timer apt-daily-upgrade.timer \
        dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service console-getty.service ||
        log "warning: could not mask the timers in the root (harmless)"
    mkdir -p "$tmp/var/log/journal"
    # Each container gets its own machine-id and hostname in its layer.
    : >"$tmp/etc/machine-id"
    rm -rf "$tmp/var/lib/apt/lists/"* "$tmp/var/cache/apt/archives/"*.deb
    {
        echo "# vrrpd lab container root, built by netns-scripts/lab-containers.sh"
        echo "built $(date -u '+%Y-%m-%dT%H:%M:%SZ') in $((SECONDS - t0)) s from $MIRROR"
        printf '%s\n' "suite $SUITE" "recipe $ROOT_RECIPE" "${ROOT_PKGS[@]}"
    } >"$tmp/.vrrpd-lab-root"
    rm -rf -- "$root" # a root without its marker is a leftover, never in use
    mv -- "$tmp" "$root"
    exec 9>&-
    log "root built in $((SECONDS - t0)) s"
    echo "$root"
}

# deb_path: VRRPD_DEB, else contrib/deb/build.sh's package (installing
# cargo-deb first when it is missing).
deb_path() {
    if [ -n "${VRRPD_DEB:-}" ]; then
        [ -f "$VRRPD_DEB" ] || die "VRRPD_DEB=$VRRPD_DEB: no such file"
        echo "$VRRPD_DEB"
        return 0
    fi
    if ! cargo deb --version >/dev/null 2>&1; then
        log "installing cargo-deb (cargo install --locked cargo-deb@3.8.0 at opt-level 0; about a minute, once)"
        CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo install --locked --quiet cargo-deb@3.8.0 >&2 ||
            die "cannot install cargo-deb"
    fi
    log "building the .deb (contrib/deb/build.sh)"
    "$REPO_DIR/contrib/deb/build.sh" | tail -n 1
}

# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------

ns_of() { echo "$NSP$1"; }

# mount_overlay LOWERS DIR: DIR/upper + DIR/work over LOWERS on DIR/root.
mount_overlay() {
    local lowers="$1" dir="$2"
    mkdir -p "$dir/upper" "$dir/work" "$dir/root"
    mountpoint -q "$dir/root" ||
        mount -t overlay overlay -o "lowerdir=$lowers,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
}

unmount_dir() {
    local d="$1"
    mountpoint -q "$d" || return 0
    umount "$d" 2>/dev/null || umount -l "$d"
}

# vrrpd_layer ROOT DEB: the overlay layer with vrrpd installed from DEB by
# apt-get inside a (non-booted) container, and its unit enabled.
vrrpd_layer() {
    local root="$1" deb="$2" d="$CT_DIR/vrrpd-layer" name
    [ -f "$d/installed" ] && return 0
    name="$(basename "$deb")"
    mount_overlay "$root" "$d"
    log "installing $name into the containers' vrrpd layer (apt-get install)"
    if ! systemd-nspawn --quiet --register=no --keep-unit --private-network --pipe \
        -D "$d/root" --bind-ro="$deb:/tmp/$name" -E DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get install -y -q /tmp/$name && systemctl enable vrrpd.service" \
        >"$CT_DIR/vrrpd-layer.log" 2>&1; then
        tail -n 20 "$CT_DIR/vrrpd-layer.log" >&2
        die "apt-get install of $name failed in the container (log: $CT_DIR/vrrpd-layer.log)"
    fi
    unmount_dir "$d/root"
    rm -rf -- "$d/work" "$d/root"
    echo "$name" >"$d/installed"
}

# render_configs BAL: the balancer's own files, written into its layer.
render_configs() {
    local b="$1" r="$CT_DIR/$1/root" src
    echo "$b" >"$r/etc/hostname"
    tr -d '-' </proc/sys/kernel/random/uuid >"$r/etc/machine-id"
    # HAProxy: the lab's template, as Debian's haproxy.service runs it
    # (/etc/haproxy/haproxy.cfg); stats socket in /run/haproxy.
    mkdir -p "$r/etc/haproxy/errors"
    cp "$SCRIPT_DIR/sorry.http" "$r/etc/haproxy/errors/sorry.http"
    sed -e "s|@STATEDIR@/sorry.http|/etc/haproxy/errors/sorry.http|g" \
        -e "s|@NAME@|$b|g" \
        -e "s|@EXT_IP@|${EXT_IP[$b]}|g" \
        -e "s|@INT_IP@|${INT_IP[$b]}|g" \
        -e "s|@STATEDIR@|/run/haproxy|g" \
        -e "s|@MAXCONN@|${LAB_MAXCONN:-4}|g" \
        -e "s|@QUEUE@|${LAB_QUEUE:-1}|g" \
        "$SCRIPT_DIR/haproxy.cfg.tmpl" >"$r/etc/haproxy/haproxy.cfg"
    ! grep -q '@[A-Z_]*@' "$r/etc/haproxy/haproxy.cfg" || die "unreplaced placeholder in $b's haproxy.cfg"
    # vrrpd: the bare lab's config/balN.toml, tracking the HAProxy of
    # haproxy.service. The container has its own PID namespace, so
    # same_netns = false: no CAP_SYS_PTRACE, the unit's two capabilities.
    src="${LAB_VRRPD_CONF_DIR:-$REPO_DIR/config}/$b.toml"
    [ -f "$src" ] || die "missing $src"
    {
        echo "# Generated by netns-scripts/lab-containers.sh from $(basename "$src") - do not edit."
        sed -e 's|^cmdline_contains = .*|cmdline_contains = "/etc/haproxy/haproxy.cfg"\nsame_netns = false|' "$src"
    } >"$r/etc/vrrpd/vrrp.toml"
    chmod 600 "$r/etc/vrrpd/vrrp.toml"
    grep -q '^same_netns = false' "$r/etc/vrrpd/vrrp.toml" || die "$src has no process tracker to adapt"
}

ct_pid() { head -n1 "$CT_DIR/$1.pid" 2>/dev/null; }

# ct_leader BAL: the container's init (systemd), a child of systemd-nspawn.
ct_leader() {
    local pid child
    pid="$(ct_pid "$1")" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] || return 1
    # shellcheck disable=SC2013  # the file is a list of pids separated by spaces
    for child in $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
        [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ] && echo "$child" && return 0
    done
    return 1
}

ct_running() { ct_leader "$1" >/dev/null; }

# ct BAL cmd...: run a command inside the container.
ct() {
    local b="$1" leader
    shift
    leader="$(ct_leader "$b")" || die "container $b is not running"
    nsenter -t "$leader" -a -- "$@"
}

# booted BAL: systemd in the container has finished booting.
booted() {
    local st
    st="$(ct "$1" systemctl is-system-running 2>/dev/null)" || true
    [ "$st" = running ] || [ "$st" = degraded ]
}

# cgroup_roots: the cgroup hierarchies to give each container a group in.
# Without a systemd on the host: the named "systemd" v1 hierarchy and the
# unified one (hybrid layout), or /sys/fs/cgroup itself when it is cgroup2.
cgroup_roots() {
    local h
    if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
        echo /sys/fs/cgroup
        return 0
    fi
    for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
        [ -e "$h/cgroup.procs" ] && echo "$h"
    done
    return 0
}

# ct_launch BAL: (in a subshell) become the container. systemd-nspawn
# --keep-unit runs the container in its caller's cgroup, and two
# containers in one cgroup would share their units' cgroups (systemctl kill
# and stop in one would see the other's processes): each container gets its
# own, a transient scope on a host with systemd, else a group made here.
ct_launch() {
    local b="$1" d="$CT_DIR/$1" h
    local -a nspawn=(systemd-nspawn --boot --quiet --register=no --keep-unit --link-journal=no
        # CAP_NET_ADMIN: nspawn leaves it out of a container's bounding set
        # unless told; vrrpd needs it (and HAProxy does not mind).
        --capability=CAP_NET_ADMIN
        --network-namespace-path="/run/netns/$(ns_of "$b")" --machine="$(ns_of "$b")"
        --console=read-only -D "$d/root")
    if [ -d /run/systemd/system ]; then
        exec setsid systemd-run --quiet --scope --unit="vrrpd-$(ns_of "$b")-$$" "${nspawn[@]}"
    fi
    for h in $(cgroup_roots); do
        mkdir -p "$h/vrrpd-lab/$b"
        echo "$BASHPID" >"$h/vrrpd-lab/$b/cgroup.procs"
    done
    exec setsid "${nspawn[@]}"
}

# cgroup_remove BAL: remove the container's groups (once it is gone).
cgroup_remove() {
    local h
    for h in $(cgroup_roots); do
        [ -d "$h/vrrpd-lab/$1" ] || continue
        find "$h/vrrpd-lab/$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$h/vrrpd-lab" 2>/dev/null || true
    done
}

# ct_boot BAL: boot the container in lab-BAL (in the background).
ct_boot() {
    local b="$1" d="$CT_DIR/$1"
    ct_running "$b" && return 0
    [ -e "/run/netns/$(ns_of "$b")" ] || die "no namespace $(ns_of "$b") (is the lab up?)"
    mountpoint -q "$d/root" || die "$b has no root mounted ($d/root)"
    date +%s >"$d/booted-at"
    (ct_launch "$b") >>"$d/console.log" 2>&1 </dev/null &
    echo $! >"$CT_DIR/$b.pid"
}

# ct_wait_booted BAL: bounded wait for the boot, then the host-side links.
ct_wait_booted() {
    local b="$1" d="$CT_DIR/$1" leader st
    wait_or_die "$CT_WAIT" "container $b to start systemd" ct_leader "$b"
    wait_or_die "$CT_WAIT" "container $b to finish booting" booted "$b"
    st="$(ct "$b" systemctl is-system-running 2>/dev/null || true)"
    if [ "$st" != running ]; then
        log "warning: $b is $st: $(ct "$b" systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd' ' -)"
    fi
    leader="$(ct_leader "$b")"
    ln -sfn "/proc/$leader/root/run/vrrpd/vrrpd.sock" "$STATE/vrrpd-$b.sock"
    follow_journal "$b"
    log "$b booted (nspawn pid $(ct_pid "$b"), init pid $leader)"
}

# follow_journal BAL: vrrpd's messages of this boot, appended to
# $STATE/vrrpd-BAL.log (vrrpd writes its own RFC 3339 timestamps).
follow_journal() {
    local b="$1" d="$CT_DIR/$1"
    stop_follower "$b"
    setsid journalctl --directory="$d/root/var/log/journal" -u vrrpd.service -o cat -f -n all \
        --since "@$(cat "$d/booted-at")" >>"$STATE/vrrpd-$b.log" 2>/dev/null </dev/null &
    echo $! >"$d/follower.pid"
}

stop_follower() {
    local f="$CT_DIR/$1/follower.pid" pid
    [ -s "$f" ] || return 0
    pid="$(cat "$f")"
    if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = journalctl ]; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

# ct_gone BAL: systemd-nspawn has exited.
ct_gone() {
    local pid
    pid="$(ct_pid "$1")" || return 0
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# ct_poweroff BAL [force]: power the container off as machinectl does,
# SIGRTMIN+4 to its init (systemd stops every unit in order: vrrpd sends
# priority 0), or with "force" SIGKILL to its init (the kernel ends every
# process of its PID namespace at once). False if it is still there after
# CT_WAIT seconds.
ct_poweroff() {
    local b="$1" force="${2:-}" leader
    if leader="$(ct_leader "$b")"; then
        if [ "$force" = force ]; then kill -KILL "$leader"; else kill -s RTMIN+4 "$leader"; fi
        if ! wait_until "$CT_WAIT" ct_gone "$b"; then
            log "container $b did not power off within ${CT_WAIT}s"
            return 1
        fi
    fi
    stop_follower "$b"
    cgroup_remove "$b"
    rm -f "$CT_DIR/$b.pid" "$STATE/vrrpd-$b.sock"
}

# service_serves BAL: HAProxy in BAL answers the client with a web server.
service_serves() {
    local out
    out="$(ip netns exec "${NSP}client" curl -fsS -m 1 "http://${EXT_IP[$1]}:8000/")" || return 1
    [[ "$out" == server=serv* ]]
}

unit_active() { [ "$(ct "$1" systemctl is-active "$2" 2>/dev/null)" = active ]; }

# ---------------------------------------------------------------------------
# The OCI image (contrib/Containerfile), built offline with podman
# ---------------------------------------------------------------------------

# podman's global flags here: runc (crun refuses a host with cgroup v1 and a
# cgroup v2 hierarchy that has controllers, "hybrid mode"), and rlimits no
# higher than ours (podman asks for nofile 1048576, which root without
# CAP_SYS_RESOURCE cannot set).
PODMAN=(podman)
ULIMITS=()
podman_setup() {
    local -a pkgs=()
    local nofile
    command -v podman >/dev/null || pkgs+=(podman)
    command -v runc >/dev/null || pkgs+=(runc)
    if [ "${#pkgs[@]}" -gt 0 ]; then
        log "installing ${pkgs[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
    fi
    PODMAN=(podman --runtime runc)
    nofile="$(ulimit -Hn)"
    if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
    ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
}

# cmd_image: localhost/vrrpd:VERSION from contrib/Containerfile, with the
# cached root imported as its base (localhost/vrrpd-lab-base:KEY): no pull.
cmd_image() {
    need_root
    podman_setup
    local root base deb ctx version image old
    root="$(cmd_root)"
    base="localhost/vrrpd-lab-base:$(root_key)"
    if ! podman image exists "$base"; then
        log "importing the cached root as the image $base"
        tar -C "$root" --exclude=./.vrrpd-lab-root -c . | podman import --quiet - "$base" >/dev/null
    fi
    deb="$(deb_path)"
    version="$(dpkg-deb -f "$deb" Version)"
    image="localhost/vrrpd:$version"
    old="$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/vrrpd-image.XXXXXX")"
    cp "$deb" "$ctx/"
    log "building $image (contrib/Containerfile, BASE=$base)"
    if ! "${PODMAN[@]}" build --pull=never "${ULIMITS[@]}" --build-arg "BASE=$base" \
        -f "$REPO_DIR/contrib/Containerfile" -t "$image" "$ctx" >"$ctx.log" 2>&1; then
        tail -n 20 "$ctx.log" >&2
        rm -rf -- "$ctx"
        die "podman build failed (log: $ctx.log)"
    fi
    rm -rf -- "$ctx" "$ctx.log"
    # The image this build replaced under the same tag (none left behind).
    if [ -n "$old" ] && [ "$old" != "$(podman image inspect --format '{{.Id}}' "$image")" ]; then
        podman rmi "$old" >/dev/null 2>&1 || true
    fi
    echo "$image"
}

# oci_config BAL: config/balN.toml with an HTTP tracker on HAProxy's stats
# page instead of the process tracker (the container has its own PID
# namespace; it shares only the network namespace with HAProxy).
oci_config() {
    local b="$1"
    echo "# Generated by netns-scripts/lab-containers.sh (oci-demo) from $b.toml."
    sed -n '/^\[\[track\]\]/q;p' "${LAB_VRRPD_CONF_DIR:-$REPO_DIR/config}/$b.toml"
    cat <<EOF
[[track]]
name = "haproxy"
type = "http"
url = "http://${EXT_IP[$b]}:8404/stats"
interval = "500ms"
timeout = "400ms"
weight = -100
EOF
}

oci_name() { echo "vrrpd-${NSP}$1"; }

oci_ready() { "${PODMAN[@]}" exec "$(oci_name "$1")" vrrpd status >/dev/null 2>&1; }

# oci_cleanup: remove the demo's containers and take the lab down.
oci_cleanup() {
    local x
    for x in bal1 bal2; do "${PODMAN[@]}" rm -f -t 5 "$(oci_name "$x")" >/dev/null 2>&1 || true; done
    if [ -e "/run/netns/${NSP}sw" ]; then inner down >/dev/null 2>&1 || true; fi
}

# cmd_oci_demo: the bare lab (HAProxy on the host, in the namespaces) with
# vrrpd as two OCI containers in lab-bal1 and lab-bal2; a failover by
# `podman stop` (SIGTERM) of the master's container, and back.
cmd_oci_demo() {
    need_root
    [ -e "/run/netns/${NSP}sw" ] && die "a lab is up; run '$LAB down' first"
    local image b t0 ms logfile
    image="$(cmd_image)"
    podman_setup
    trap oci_cleanup EXIT
    inner up --no-vrrpd >&2
    for b in bal1 bal2; do
        oci_config "$b" >"$STATE/oci-$b.toml"
        "${PODMAN[@]}" run -d --name "$(oci_name "$b")" "${ULIMITS[@]}" \
            --network "ns:/run/netns/$(ns_of "$b")" --cap-drop all --cap-add NET_ADMIN,NET_RAW \
            -v "$STATE/oci-$b.toml:/etc/vrrpd/vrrp.toml:ro" "$image" >/dev/null
    done
    for b in bal1 bal2; do
        wait_or_die 60 "vrrpd status in the container of $b (the readiness probe)" oci_ready "$b"
    done
    echo "oci: $image running in $(ns_of bal1) and $(ns_of bal2) (podman, runc, --cap-drop all --cap-add NET_ADMIN,NET_RAW)"
    echo "oci: readiness probe (vrrpd status) answers in both"
    echo "oci: bal1 capabilities: $("${PODMAN[@]}" exec "$(oci_name bal1)" grep -E '^Cap(Prm|Eff|Bnd)' /proc/1/status | tr -s '\t\n' '  ')"
    wait_master bal1 60 || die "bal1 does not hold the VIP (holder: $(master))"
    echo "oci: VIP holder: $(master)"
    t0="$(now_ms)"
    "${PODMAN[@]}" stop -t 10 "$(oci_name bal1)" >/dev/null
    wait_master bal2 30 || die "bal2 did not take the VIP (holder: $(master))"
    ms=$(($(now_ms) - t0))
    echo "oci: podman stop of bal1's container (SIGTERM: priority 0): bal2 holds the VIP after ${ms} ms"
    logfile="$("${PODMAN[@]}" inspect --format '{{.HostConfig.LogConfig.Path}}' "$(oci_name bal2)")"
    echo "oci: bal2's log (stdout, JSON): $(grep -m1 'stdout F {.*Entering MASTER STATE' "$logfile" | sed 's/^.* stdout F //')"
    "${PODMAN[@]}" start "$(oci_name bal1)" >/dev/null
    wait_master bal1 30 || die "bal1 did not take the VIP back (holder: $(master))"
    echo "oci: podman start of bal1's container: VIP holder $(master) again (preempt)"
    oci_cleanup
    trap - EXIT
    echo "oci: done"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_up() {
    local directors=2 b root deb
    while [ $# -gt 0 ]; do
        case "$1" in
            --containers) ;;
            --directors)
                directors="${2:-}"
                shift
                ;;
            --directors=*) directors="${1#*=}" ;;
            *) die "up --containers: unsupported option '$1' (the container lab has the default layout)" ;;
        esac
        shift
    done
    [[ "$directors" =~ ^[23]$ ]] || die "--directors must be 2 or 3"
    need_root
    if [ -e "/run/netns/${NSP}sw" ] && [ ! -f "$STATE/containers" ]; then
        die "a lab without containers is up; run '$LAB down' first"
    fi
    root="$(cmd_root)"
    deb="$(deb_path)"
    [ -f "$deb" ] || die "no .deb ($deb)"
    vrrpd_bin_path >/dev/null || die "no host vrrpd binary (cargo build --release)"
    # lab.sh: namespaces, switch, client, web servers; balancers left empty.
    LAB_BALANCERS=containers inner up --no-vrrpd --directors "$directors" >&2
    echo containers >"$STATE/containers"
    mkdir -p "$CT_DIR"
    vrrpd_layer "$root" "$deb"
    for b in $(balancers); do
        mount_overlay "$CT_DIR/vrrpd-layer/upper:$root" "$CT_DIR/$b"
        render_configs "$b"
        ct_boot "$b"
    done
    for b in $(balancers); do
        ct_wait_booted "$b"
    done
    for b in $(balancers); do
        wait_or_die "$CT_WAIT" "HAProxy (haproxy.service) in $b to serve" service_serves "$b"
        wait_or_die "$CT_WAIT" "vrrpd.service in $b to be active" unit_active "$b" vrrpd.service
    done
    log "lab is up: $directors balancers as systemd containers (root $root, $(basename "$deb"))"
}

cmd_down() {
    need_root
    local b
    for b in bal1 bal2 bal3; do
        [ -f "$CT_DIR/$b.pid" ] || [ -d "$CT_DIR/$b" ] || continue
        ct_poweroff "$b" || ct_poweroff "$b" force || true
        unmount_dir "$CT_DIR/$b/root"
    done
    unmount_dir "$CT_DIR/vrrpd-layer/root"
    for b in bal1 bal2 bal3 vrrpd-layer; do
        if mountpoint -q "$CT_DIR/$b/root" 2>/dev/null; then
            die "$CT_DIR/$b/root is still mounted; not removing $STATE"
        fi
    done
    rm -f "$STATE/containers"
    inner down
}

cmd_status() {
    local b st
    inner status
    echo "== containers (systemd-nspawn; root $(root_path))"
    for b in bal1 bal2 bal3; do
        [ -d "$CT_DIR/$b" ] || continue
        if ct_running "$b"; then
            st="$(ct "$b" systemctl is-system-running 2>/dev/null || true)"
            printf '  %-6s %s (init pid %s)  haproxy:%s  vrrpd:%s\n' "$b" "$st" "$(ct_leader "$b")" \
                "$(ct "$b" systemctl is-active haproxy 2>/dev/null || true)" \
                "$(ct "$b" systemctl is-active vrrpd 2>/dev/null || true)"
        else
            printf '  %-6s powered off\n' "$b"
        fi
    done
}

# sig_name SIG: "KILL" for KILL, SIGKILL or 9.
sig_name() {
    local s="${1#SIG}"
    case "$s" in
        9) echo KILL ;;
        15) echo TERM ;;
        1) echo HUP ;;
        *) echo "$s" ;;
    esac
}

cmd_kill_unit() {
    local b="$1" unit="$2" sig
    sig="$(sig_name "${3:-TERM}")"
    ct_running "$b" || die "container $b is not running"
    case "$sig" in
        TERM)
            ct "$b" systemctl stop "$unit"
            log "$b: systemctl stop $unit"
            ;;
        HUP)
            ct "$b" systemctl reload "$unit"
            log "$b: systemctl reload $unit"
            ;;
        *)
            ct "$b" systemctl kill -s "$sig" "$unit"
            log "$b: systemctl kill -s $sig $unit"
            ;;
    esac
}

cmd_start_unit() {
    local b="$1" unit="$2"
    ct_running "$b" || die "container $b is not running"
    ct "$b" systemctl start "$unit"
    if [ "$unit" = haproxy ]; then
        wait_or_die "$CT_WAIT" "HAProxy in $b to serve" service_serves "$b"
    fi
    log "$b: systemctl start $unit"
}

cmd_power_cut() {
    local b="$1"
    ct_running "$b" || die "container $b is not running"
    ct_poweroff "$b" force || die "container $b is still there after SIGKILL"
    inner link "$b" down ext >&2
    inner link "$b" down int >&2
    log "$b: power cut (init SIGKILLed, links down)"
}

cmd_boot() {
    local b="$1"
    mountpoint -q "$CT_DIR/$b/root" || die "no container $b (is the lab up with --containers?)"
    inner link "$b" up ext >&2
    inner link "$b" up int >&2
    ct_boot "$b"
    ct_wait_booted "$b"
}

main() {
    local cmd="${1:-help}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
        root) cmd_root ;;
        deb) deb_path ;;
        image) cmd_image ;;
        oci-demo) cmd_oci_demo ;;
        up) cmd_up "$@" ;;
        down) cmd_down ;;
        status) cmd_status ;;
        ct)
            check_balancer "${1:-}"
            ct "$@"
            ;;
        journal)
            check_balancer "${1:-}"
            local b="$1"
            shift
            journalctl --directory="$CT_DIR/$b/root/var/log/journal" --no-pager "$@"
            ;;
        kill-haproxy | kill-vrrpd)
            check_balancer "${1:-}"
            cmd_kill_unit "$1" "${cmd#kill-}" "${2:-TERM}"
            ;;
        start-haproxy | start-vrrpd)
            check_balancer "${1:-}"
            cmd_start_unit "$1" "${cmd#start-}"
            ;;
        poweroff)
            check_balancer "${1:-}"
            ct_running "$1" || die "container $1 is not running"
            ct_poweroff "$1" || die "container $1 did not power off"
            log "$1 powered off"
            ;;
        power-cut)
            check_balancer "${1:-}"
            cmd_power_cut "$1"
            ;;
        boot)
            check_balancer "${1:-}"
            cmd_boot "$1"
            ;;
        help | -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
        *) inner "$cmd" "$@" ;;
    esac
}

main "$@"
