//! A process's threads under `/proc`: finding one by name, counting its wake-ups.

/// The thread of process `pid` named `name` (its `comm`; for vrrpd,
/// `vrrpd-loop`: the protocol thread, which runs the event loop;
/// `vrrpd-keeper`: the advert keeper). Panics when there is none.
pub fn thread_of(pid: i32, name: &str) -> i32 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm"))
                .is_ok_and(|c| c.trim() == name)
        })
        .unwrap_or_else(|| panic!("no {name} thread in {pid}"))
        .parse()
        .unwrap()
}

/// How often thread `tid` of process `pid` has woken so far: its voluntary
/// context switches (`/proc/PID/task/TID/status`). The main thread's `tid`
/// is `pid`. Panics when the thread is gone.
pub fn wakeups(pid: i32, tid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .unwrap()
        .trim()
        .parse::<u64>()
        .unwrap()
}
