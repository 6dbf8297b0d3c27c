//! Polling an io_uring's completion queue for a moment before blocking, in an adaptive
//! window; used by the daemon's io_uring loop and by the client's request path.
//!
//! Why poll at all: a client in lock step (one request, wait for the reply, the next
//! request) sends its next request a moment after the daemon's reply, and the reply comes
//! a moment after the request. If the waiting side has blocked by then, the message has to
//! wake it, and in a PV dom0 under TCG the wake-up of a blocked vCPU (an event channel
//! through Xen, then QEMU's halted-vCPU thread) costs as much as the daemon's whole work on
//! a request. Polling catches the message on a CPU that is still awake.
//!
//! Rings are set up with `IORING_SETUP_COOP_TASKRUN` and `IORING_SETUP_TASKRUN_FLAG`
//! (Linux 5.19+) where the kernel has them, so that a message arriving while the other side
//! polls costs the sender no inter-processor interrupt: the kernel only raises
//! `IORING_SQ_TASKRUN` in the ring, and the poller runs the pending work with a
//! non-blocking `io_uring_enter`, which posts the completion.
//!
//! The window adapts as KVM's halt polling does (`halt_poll_ns`, grow and shrink): it
//! starts closed, grows when a block ended sooner than the maximum window (polling would
//! have caught that completion), and closes again when a block outlasted the maximum (the
//! peer is idle or slow; polling only burns CPU). A quiet connection therefore never polls.

use std::io;
use std::time::{Duration, Instant};

use io_uring::IoUring;

/// Environment variable setting the daemon's maximum window in microseconds;
/// rxenstored's `--poll-us` sets the same (0 turns polling off).
pub const POLL_US_ENV: &str = "RXENSTORED_POLL_US";

/// Environment variable setting the client's maximum window in microseconds (0: off).
pub const CLIENT_POLL_US_ENV: &str = "RXENSTORE_CLIENT_POLL_US";

/// Default maximum window. Natively a lock-step gap is ~10-20 µs; in the Xen lab's PV
/// dom0 under TCG it is ~0.3-0.5 ms (docs/performance.md, xenstore).
pub const DEFAULT_MAX: Duration = Duration::from_micros(1000);

/// The largest window `$var` asks for (unset or empty: `default`).
pub fn max_from_env(var: &str, default: Duration) -> Result<Duration, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v
            .parse::<u64>()
            .map(Duration::from_micros)
            .map_err(|_| format!("{var}={v:?}: expected microseconds, e.g. 1000 (0: never poll)")),
        _ => Ok(default),
    }
}

/// Sets up a ring of `entries` entries for polling; the flag says whether the kernel
/// raises `IORING_SQ_TASKRUN`. Kernels older than 5.19 refuse the set-up flags
/// (`EINVAL`) and get a plain ring, on which a message interrupts the poller instead.
pub(crate) fn open_ring(entries: u32) -> io::Result<(IoUring, bool)> {
    if std::env::var("RXENSTORE_TASKRUN").is_ok_and(|v| v == "signal") {
        return Ok((IoUring::new(entries)?, false));
    }
    match IoUring::builder()
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .build(entries)
    {
        Ok(r) => Ok((r, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((IoUring::new(entries)?, false)),
        Err(e) => Err(e),
    }
}

/// The first window after it opens; it doubles from there.
const START: Duration = Duration::from_micros(20);

/// A poll longer than this between two looks at the clock means the poller lost its CPU
/// to another task: the CPU is contended, and polling takes time from whoever needs it.
const PREEMPTED: Duration = Duration::from_micros(200);

/// Waits after a preemption during which the window stays closed.
const COOL_DOWN: u32 = 256;

/// The adaptive polling window.
#[derive(Debug, Clone)]
pub struct SpinWindow {
    max: Duration,
    cur: Duration,
    /// Waits left before the window may open again after a preemption.
    cool: u32,
}

impl SpinWindow {
    /// A closed window that may grow to `max` (`Duration::ZERO`: never poll).
    pub fn new(max: Duration) -> SpinWindow {
        SpinWindow {
            max,
            cur: Duration::ZERO,
            cool: 0,
        }
    }

    /// How long the next poll may last (zero: block at once).
    pub fn current(&self) -> Duration {
        self.cur
    }

    /// Whether polling is on at all (a non-zero maximum).
    pub fn enabled(&self) -> bool {
        !self.max.is_zero()
    }

    /// Polls `ring`'s completion queue for the current window; true when a completion
    /// arrived. `taskrun_flag`: the ring was set up by [`open_ring`] with the flag.
    ///
    /// A poll that lost its CPU to another task closes the window for a while: the poller
    /// is then competing with runnable tasks (on a small dom0, with the very clients or
    /// daemon it waits for), where blocking is cheaper for everyone.
    pub(crate) fn poll(&mut self, ring: &mut IoUring, taskrun_flag: bool) -> io::Result<bool> {
        let start = Instant::now();
        let deadline = start + self.cur;
        let mut last = start;
        let mut n = 0u32;
        loop {
            if !ring.completion().is_empty() {
                return Ok(true);
            }
            if taskrun_flag && ring.submission().taskrun() {
                // Work is queued for this task (a recv's data came in): a non-blocking
                // enter runs it, which posts the completion.
                match ring.submit() {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                        ) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            n = n.wrapping_add(1);
            // Reading the clock may be a syscall (a PV dom0 without a vDSO clock): not on
            // every turn.
            if n % 64 == 0 {
                let now = Instant::now();
                if now - last > PREEMPTED {
                    self.cur = Duration::ZERO;
                    self.cool = COOL_DOWN;
                    return Ok(false);
                }
                if now >= deadline {
                    return Ok(false);
                }
                last = now;
            }
            std::hint::spin_loop();
        }
    }

    /// Accounts a blocking wait that lasted `blocked`.
    pub fn after_block(&mut self, blocked: Duration) {
        if self.max.is_zero() {
            return;
        }
        if self.cool > 0 {
            self.cool -= 1;
            return;
        }
        if blocked <= self.max {
            // It came soon after polling gave up: a longer window would have caught it.
            self.cur = (self.cur * 2).clamp(START, self.max);
        } else {
            // Idle: blocking was right, stop polling.
            self.cur = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn grows_on_short_blocks_up_to_max() {
        let mut w = SpinWindow::new(MS);
        assert_eq!(w.current(), Duration::ZERO);
        w.after_block(Duration::from_micros(300));
        assert_eq!(w.current(), START);
        for _ in 0..20 {
            w.after_block(Duration::from_micros(300));
        }
        assert_eq!(w.current(), MS);
    }

    #[test]
    fn closes_when_idle() {
        let mut w = SpinWindow::new(MS);
        for _ in 0..5 {
            w.after_block(Duration::from_micros(100));
        }
        assert!(w.current() > Duration::ZERO);
        w.after_block(Duration::from_secs(1));
        assert_eq!(w.current(), Duration::ZERO);
    }

    #[test]
    fn zero_max_never_polls() {
        let mut w = SpinWindow::new(Duration::ZERO);
        w.after_block(Duration::from_micros(1));
        assert_eq!(w.current(), Duration::ZERO);
        assert!(!w.enabled());
    }

    #[test]
    fn poll_sees_a_completion_and_times_out_without_one() {
        let Ok((mut ring, flag)) = open_ring(4) else {
            eprintln!("skipped: io_uring unavailable on this kernel");
            return;
        };
        let mut w = SpinWindow::new(MS);
        for _ in 0..10 {
            w.after_block(Duration::from_micros(100));
        }
        assert!(!w.poll(&mut ring, flag).unwrap(), "nothing was submitted");
        let nop = io_uring::opcode::Nop::new().build().user_data(7);
        // SAFETY: a NOP references no memory.
        unsafe { ring.submission().push(&nop).unwrap() };
        ring.submit().unwrap();
        assert!(w.poll(&mut ring, flag).unwrap());
        assert_eq!(ring.completion().next().map(|c| c.user_data()), Some(7));
    }

    #[test]
    fn a_preempted_poll_closes_the_window_for_a_while() {
        let mut w = SpinWindow::new(MS);
        for _ in 0..10 {
            w.after_block(Duration::from_micros(100));
        }
        w.cur = Duration::ZERO;
        w.cool = COOL_DOWN;
        for _ in 0..COOL_DOWN {
            w.after_block(Duration::from_micros(100));
            assert_eq!(w.current(), Duration::ZERO);
        }
        w.after_block(Duration::from_micros(100));
        assert_eq!(w.current(), START);
    }
}
