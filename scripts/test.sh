#!/usr/bin/env bash
# scripts/test.sh - the whole test suite, as README.md gives it.
#
# Installs what the tests need (Debian packages), then runs: rustfmt check,
# clippy with warnings as errors, every cargo test (unit, simulated LAN,
# captures, config, and the network-namespace tests with real kernel sockets,
# real HAProxy, keepalived and FRR), the lab's own tests (self-test, demo,
# a quick load test, the other layouts), the Debian package and the
# balancers as systemd containers (selftest-containers.sh), a 2-minute chaos
# soak, cargo deny (licences, bans) and a 10 s fuzzing smoke run per target.
# cargo-deny, cargo-deb and cargo-fuzz are installed from crates.io when
# missing.
#
# Run as root: the namespace tests need it. With VRRPD_REQUIRE_NETNS=1 (CI
# sets it) a namespace test that would skip fails instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests use. Installed only when missing.
PKGS=(iproute2 iputils-ping procps psmisc curl haproxy keepalived frr nginx-light apache2-utils
    debootstrap systemd-container lintian podman runc nftables bird2)
# What scripts/keepalived-2.4.3.sh needs to build the auth_hmac interop peer
# (it would install them itself; one apt-get run here saves a second update).
PKGS+=(autoconf automake gcc make pkg-config libssl-dev libnl-3-dev libnl-genl-3-dev
    libnl-route-3-dev libmnl-dev)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "scripts/test.sh: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts services on install; the tests run their own instances.
for svc in haproxy keepalived frr nginx bird; do
    systemctl stop "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true
done

# keepalived 2.4.3, the auth_hmac interop peer: built once and cached in /opt
# (scripts/keepalived-2.4.3.sh; docs/TESTING.md has the cold build time).
# A cold build runs in the background while fmt, clippy and cargo deny run,
# and is waited for before cargo test; a cached one only prints its path.
ka243_out="$(mktemp)"
ka243_log="$(mktemp)"
scripts/keepalived-2.4.3.sh >"$ka243_out" 2>"$ka243_log" &
ka243_pid=$!

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

# cargo_tool BIN CRATE@VERSION: make sure a cargo subcommand is installed,
# from crates.io (cargo install --locked, ~3 min for both on 2 cores). If it
# cannot be had: a loud SKIPPED line, or a failure under CI
# (VRRPD_REQUIRE_NETNS=1 means "skip nothing").
cargo_tool() {
    local sub="${1#cargo-}" crate="$2"
    # Asked through cargo, which also finds $CARGO_HOME/bin off the PATH.
    cargo "$sub" --version >/dev/null 2>&1 && return 0
    say "installing $crate (cargo install --locked)"
    if cargo install --locked --quiet "$crate" && cargo "$sub" --version >/dev/null 2>&1; then
        return 0
    fi
    if [[ "${VRRPD_REQUIRE_NETNS:-}" == 1 ]]; then
        echo "scripts/test.sh: cannot install $crate, and CI skips nothing" >&2
        exit 1
    fi
    printf '\n********** SKIPPED: %s could not be installed **********\n\n' "$crate" >&2
    return 1
}

say "cargo deny check licenses bans sources (deny.toml)"
# Advisories need the RustSec database from GitHub, which this network
# cannot reach; licences, bans and sources are checked offline.
if cargo_tool cargo-deny cargo-deny@0.20.2; then
    cargo deny check licenses bans sources
fi

say "scripts/keepalived-2.4.3.sh (the auth_hmac interop peer, started in the background above)"
ka243_rc=0
wait "$ka243_pid" || ka243_rc=$?
cat "$ka243_log" >&2
if ((ka243_rc != 0)); then
    echo "scripts/test.sh: scripts/keepalived-2.4.3.sh failed (exit $ka243_rc)" >&2
    exit 1
fi
# The tests find the binary through this variable (or run the script themselves).
VRRPD_KEEPALIVED_243="$(cat "$ka243_out")"
export VRRPD_KEEPALIVED_243
rm -f "$ka243_out" "$ka243_log"
echo "keepalived 2.4.3: $VRRPD_KEEPALIVED_243"

say "cargo test"
cargo test --all-targets 2>&1 | tee /tmp/vrrpd-cargo-test.log
# cargo's exit code is lost through tee; pipefail keeps it.

say "cargo test -p vrrpd-labtool (the lab's prober and report)"
cargo test -p vrrpd-labtool 2>&1 | tee -a /tmp/vrrpd-cargo-test.log

if [[ $(id -u) -eq 0 ]]; then
    say "netns-scripts/lab-test.sh (lab self-test, the demo, a quick load test)"
    netns-scripts/lab-test.sh
    say "netns-scripts/selftest-layouts.sh (the sync-group, STP+VXLAN and BGP lab layouts)"
    netns-scripts/selftest-layouts.sh
    say "netns-scripts/selftest-containers.sh (the .deb, lintian, balancers as systemd containers, the OCI image)"
    # The container root (debootstrap from the mirror: downloads and
    # unpacking) is built while cargo-deb compiles (CPU), so that on a fresh
    # machine the two overlap instead of adding up; the self-test then finds
    # the root cached. A root that fails to build here is tried again, and
    # reported, by the self-test.
    t0=$SECONDS
    netns-scripts/lab-containers.sh root >/tmp/vrrpd-ct-root.log 2>&1 &
    root_pid=$!
    # cargo-deb compiled at opt-level 0 (its own profile says 1; the crates
    # it names, xz2, lzma-sys, zopfli, ..., stay at 2): 32 s of CPU instead
    # of 75, and the .deb it makes is byte for byte the same (docs/CONTAINERS.md).
    if CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo_tool cargo-deb cargo-deb@3.8.0; then
        wait "$root_pid" || echo "the container root did not build (/tmp/vrrpd-ct-root.log); the self-test tries again"
        echo "cargo-deb and the container root ready in $((SECONDS - t0)) s"
        netns-scripts/selftest-containers.sh
    else
        wait "$root_pid" || true
    fi
    say "netns-scripts/chaos.sh --minutes 2 (random faults under load, invariants checked)"
    netns-scripts/chaos.sh --minutes 2
elif [[ "${VRRPD_REQUIRE_NETNS:-}" == 1 ]]; then
    echo "scripts/test.sh: VRRPD_REQUIRE_NETNS=1 but not root: the lab tests cannot run" >&2
    exit 1
else
    echo "SKIPPED (not root): netns-scripts/lab-test.sh" >&2
fi

say "fuzz/smoke.sh 10 (every cargo-fuzz target for 10 s from its seeds)"
if cargo_tool cargo-fuzz cargo-fuzz@0.13.2; then
    fuzz/smoke.sh 10
fi

say "all tests passed"
