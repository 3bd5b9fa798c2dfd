//! The scheduling priority of the threads that carry messages between Hosts.
//!
//! Heartbeats, leases and failover commands cross a Host's MQTT connection and the broker. On a
//! machine whose cores are busy with best-effort work, threads of the normal class wait for the
//! scheduler for milliseconds, long enough for a lease to run out or a heartbeat to look lost.
//! So those threads run in the real-time class (`SCHED_FIFO`) at a low priority: above every
//! best-effort thread, below every real-time module (whose priorities start at 80, and which
//! `SCHED_DEADLINE` preempts anyway). The kernel's real-time throttling still leaves the rest of
//! the machine 5% of each second should one of them spin.

/// The `SCHED_FIFO` priority the message-carrying threads ask for by default.
pub const DEFAULT_IO_PRIORITY: i32 = 10;

/// Move the calling thread to `SCHED_FIFO` at `priority` (1–99). Threads it starts afterwards
/// inherit the policy.
pub fn raise_this_thread(priority: i32) -> Result<(), String> {
    if !(1..=99).contains(&priority) {
        return Err(format!("SCHED_FIFO priority {priority} is outside 1..=99"));
    }
    set_fifo(priority)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_fifo(priority: i32) -> Result<(), String> {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: `param` is a valid sched_param; pid 0 names the calling thread.
    match unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().to_string()),
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo(_: i32) -> Result<(), String> {
    Err("SCHED_FIFO is only requested on Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_outside_the_range_are_refused() {
        assert!(raise_this_thread(0).is_err());
        assert!(raise_this_thread(100).is_err());
    }

    #[test]
    #[allow(unsafe_code)]
    fn a_thread_that_may_raise_itself_runs_fifo_afterwards() {
        let policy = std::thread::spawn(|| raise_this_thread(DEFAULT_IO_PRIORITY).map(|()| unsafe { libc::sched_getscheduler(0) })).join().unwrap();
        match policy {
            Ok(p) => assert_eq!(p, libc::SCHED_FIFO),
            // Unprivileged (no CAP_SYS_NICE, no RLIMIT_RTPRIO): the refusal says why.
            Err(why) => assert!(!why.is_empty()),
        }
    }
}
