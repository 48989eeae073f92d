//! A seccomp filter for a spawned process: some system calls answer EPERM, as
//! a container's or systemd's profile does for a call it does not know.
//!
//! Installed in the child between fork and exec ([`deny_in_child`]), so `ip netns exec` and
//! the program it becomes both run under it; nothing else in the test process is affected.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// A system call to refuse with EPERM: every call, or only those whose third argument (its
/// low 32 bits) is a given value.
#[derive(Debug, Clone, Copy)]
pub struct Deny {
    /// The system call number.
    pub nr: i64,
    /// `Some(v)`: only when the third argument is `v`.
    pub arg2: Option<u32>,
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const RET_ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32; // SECCOMP_RET_ERRNO | EPERM
/// Offsets in `struct seccomp_data`: nr, arch, args[2] (its low half, little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG2_LOW: u32 = 16 + 2 * 8;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    }
}

/// The filter: for each denied call, a check of its number and (if asked) its argument;
/// everything else, and any other architecture, is allowed.
fn program(deny: &[Deny]) -> Vec<libc::sock_filter> {
    let mut p = vec![
        stmt(LD_W_ABS, ARCH),
        // Not this architecture: straight to the final allow (patched below).
        jeq(AUDIT_ARCH, 0, 0),
    ];
    for d in deny {
        // Each block starts by loading the number (an argument check loaded over it).
        p.push(stmt(LD_W_ABS, NR));
        match d.arg2 {
            None => {
                p.push(jeq(d.nr as u32, 0, 1));
                p.push(stmt(RET_K, RET_EPERM));
            }
            Some(v) => {
                p.push(jeq(d.nr as u32, 0, 3));
                p.push(stmt(LD_W_ABS, ARG2_LOW));
                p.push(jeq(v, 0, 1));
                p.push(stmt(RET_K, RET_EPERM));
            }
        }
    }
    p.push(stmt(RET_K, RET_ALLOW));
    let last = p.len() - 1;
    p[1].jf = u8::try_from(last - 2).expect("a short filter");
    p
}

/// Have `cmd`'s child install a seccomp filter refusing `deny` with EPERM before it execs.
pub fn deny_in_child(cmd: &mut Command, deny: &[Deny]) {
    let prog = program(deny);
    // SAFETY: the hook runs in the forked child before exec and only makes two prctl
    // calls (async-signal-safe) on memory the closure owns.
    unsafe {
        cmd.pre_exec(move || {
            let fprog = libc::sock_fprog {
                len: prog.len() as u16,
                filter: prog.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
