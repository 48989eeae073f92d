//! `notify_master`, `notify_backup`, `notify_fault` and `notify_stop` in a
//! `vrrp_instance`: the command, split into argv, run without a shell.

use super::ctx::Ctx;
use super::values::joined;
use crate::import::argv;
use crate::import::parse::Stmt;

/// The keywords of `vrrp_instance` this file reads.
pub(super) const KEYWORDS: &[&str] = &[
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
];

/// Read one of [`KEYWORDS`] into its slot: master, backup, fault, stop.
pub(super) fn read(ctx: &mut Ctx<'_>, st: &Stmt, notify: &mut [Option<Vec<String>>; 4]) {
    let i = match st.keyword() {
        "notify_master" => 0,
        "notify_backup" => 1,
        "notify_fault" => 2,
        _ => 3,
    };
    if let Some(argv) = notify_argv(ctx, st) {
        notify[i] = Some(argv);
    }
}

/// `notify_* CMD [user [group]]`: CMD (quoted when it has arguments) split into argv.
pub(super) fn notify_argv(ctx: &mut Ctx<'_>, st: &Stmt) -> Option<Vec<String>> {
    if st.block.is_some() {
        ctx.warn(
            st.line,
            format!(
                "`{}` takes a command, not a {{ }} block; not converted",
                st.keyword()
            ),
        );
        return None;
    }
    let Some((cmd, rest)) = st.args().split_first() else {
        ctx.warn(
            st.line,
            format!("`{}` needs a command; not converted", st.keyword()),
        );
        return None;
    };
    let argv = match argv::split(&cmd.text) {
        Ok(a) => a,
        Err(e) => {
            ctx.warn(st.line, format!("{e}; not converted"));
            return None;
        }
    };
    if !argv[0].starts_with('/') {
        ctx.warn(st.line, format!("vrrpd runs notify programs without a shell or PATH lookup: {:?} must be an absolute path; not converted", argv[0]));
        return None;
    }
    if !rest.is_empty() {
        ctx.warn(st.line, format!("vrrpd runs notify programs as its own user; the user/group \"{}\" was not converted (the command was)", joined(rest)));
    }
    Some(argv)
}
