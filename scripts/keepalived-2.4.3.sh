#!/usr/bin/env bash
# scripts/keepalived-2.4.3.sh - build keepalived 2.4.3 (a GPL test peer) once, print its path.
#
# Builds tests/peers/keepalived-2.4.3.tar.gz (upstream source, checked against
# tests/peers/keepalived-2.4.3.tar.gz.sha256) into a cache keyed by the
# tarball's sha256, /opt/keepalived-2.4.3-<first 12 hex digits>, and prints the
# path of the keepalived binary on stdout (progress goes to stderr). A second
# run finds the cache and only prints the path. About 26 s of CPU cold (1 min 12 s
# wall on the loaded 2-core machine; docs/TESTING.md), 0.14 s cached.
#
# Concurrent callers (cargo runs tests in parallel) wait on a lock and build
# once. The build lands in a scratch directory and is renamed into place only
# when it runs, so an interrupted build never leaves a half cache behind.
#
# Environment:
#   KEEPALIVED_243_CACHE   parent directory of the cache (default /opt)
#   KEEPALIVED_243_JOBS    make -j (default: nproc)
# Needs (Debian 12): autoconf automake gcc make pkg-config libssl-dev
# libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libmnl-dev; installed with
# apt-get when missing and running as root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tarball="$here/tests/peers/keepalived-2.4.3.tar.gz"
sumfile="$tarball.sha256"
log() { printf 'keepalived-2.4.3.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -r $tarball ]] || die "missing $tarball"
[[ -r $sumfile ]] || die "missing $sumfile"
want="$(awk '{print $1; exit}' "$sumfile")"
got="$(sha256sum "$tarball" | awk '{print $1}')"
[[ $got == "$want" ]] || die "$tarball: sha256 $got, expected $want (from $sumfile)"

parent="${KEEPALIVED_243_CACHE:-/opt}"
prefix="$parent/keepalived-2.4.3-${want:0:12}"
bin="$prefix/sbin/keepalived"

# The version is read whole first: `grep -q` in a pipe would close it early and,
# under pipefail, fail the check with keepalived's SIGPIPE.
says_243() { local v; v="$("$1" --version 2>&1)" && [[ $v == *"Keepalived v2.4.3"* ]]; }
built() { [[ -x $bin ]] && says_243 "$bin"; }

if built; then
    echo "$bin"
    exit 0
fi

mkdir -p "$parent"
exec 9>"$parent/.keepalived-2.4.3-${want:0:12}.lock"
flock 9
# Another caller may have built it while this one waited.
if built; then
    echo "$bin"
    exit 0
fi

pkgs=(autoconf automake gcc make pkg-config libssl-dev libnl-3-dev libnl-genl-3-dev
    libnl-route-3-dev libmnl-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing build packages ${missing[*]}; run as root to install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/keepalived-2.4.3-build.XXXXXX")"
# Staged beside the cache so the final step is a rename on one filesystem.
stage="$parent/.keepalived-2.4.3-${want:0:12}.stage"
rm -rf "$stage"
trap 'rm -rf "$work" "$stage"' EXIT
log "building keepalived 2.4.3 into $prefix (about 30 s to a minute; log in $work/build.log while it runs)"
tar xzf "$tarball" -C "$work"
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'keepalived*' | head -n1)"
[[ -n $src ]] || die "the tarball holds no keepalived* directory"
jobs="${KEEPALIVED_243_JOBS:-$(nproc)}"
if ! (
    cd "$src"
    ./autogen.sh
    ./configure --prefix="$prefix" --disable-lvs
    make -j"$jobs"
    make install DESTDIR="$stage"
) >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "build failed (the last 40 lines of the log are above)"
fi
staged="$stage$prefix"
says_243 "$staged/sbin/keepalived" ||
    die "the built binary does not say v2.4.3"
rm -rf "$prefix"
mv "$staged" "$prefix"
built || die "$bin does not run after install"
log "built $("$bin" --version 2>&1 | head -n1)"
echo "$bin"
