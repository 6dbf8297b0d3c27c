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
//! A poller must not take CPU time that someone else needs, so it does not poll while
//! `/proc/loadavg` shows more runnable tasks than CPUs (looked at every 16 polls). (A first
//! guard that closed the window when a poll lost its CPU fired constantly in the Xen lab,
//! where QEMU's vCPU threads lose the host's CPUs whatever the guest does.)

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use io_uring::IoUring;

/// Environment variable setting the daemon's maximum window in microseconds;
/// rxenstored's `--poll-us` sets the same (0 turns polling off).
pub const POLL_US_ENV: &str = "RXENSTORED_POLL_US";

/// Environment variable setting the client's maximum window in microseconds (0: off;
/// default [`DEFAULT_MAX`]).
pub const CLIENT_POLL_US_ENV: &str = "RXENSTORE_CLIENT_POLL_US";

/// Default maximum window. Natively a lock-step gap is ~10-20 µs; in the Xen lab's PV
/// dom0 under TCG it is ~0.3-0.5 ms (docs/performance.md, xenstore).
pub const DEFAULT_MAX: Duration = Duration::from_micros(1000);

/// The largest window `$var` asks for (unset or empty: `default`); an error names the
/// variable, its value and what it takes.
pub fn max_from_env(var: &str, default: Duration) -> Result<Duration, String> {
    parse_max(var, std::env::var(var).ok().as_deref(), default)
}

fn parse_max(var: &str, value: Option<&str>, default: Duration) -> Result<Duration, String> {
    match value {
        Some(v) if !v.is_empty() => v
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

/// The adaptive polling window.
#[derive(Debug, Clone)]
pub struct SpinWindow {
    max: Duration,
    cur: Duration,
}

impl SpinWindow {
    /// A closed window that may grow to `max` (`Duration::ZERO`: never poll).
    pub fn new(max: Duration) -> SpinWindow {
        SpinWindow {
            max,
            cur: Duration::ZERO,
        }
    }

    /// How long the next poll may last (zero: block at once).
    pub fn current(&self) -> Duration {
        self.cur
    }

    /// Whether to poll before the next block: the window is open and the machine is not
    /// crowded (more runnable tasks than CPUs). Asked before submitting, so that a waiter
    /// that will not poll submits and waits in one `io_uring_enter`.
    pub fn should_poll(&self) -> bool {
        !self.cur.is_zero() && !crowded()
    }

    /// Polls `ring`'s completion queue for the current window; true when a completion
    /// arrived. `taskrun_flag`: the ring was set up by [`open_ring`] with the flag.
    ///
    /// Callers ask [`SpinWindow::should_poll`] first.
    pub(crate) fn poll(&mut self, ring: &mut IoUring, taskrun_flag: bool) -> io::Result<bool> {
        // The clock is read only every CLOCK_EVERY turns, and the window counts from the
        // first read: in a PV dom0 without a vDSO clock (Xen's clocksource without a
        // stable TSC) every read is a syscall, and a reply that comes quickly then costs
        // none.
        let mut since: Option<Instant> = None;
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
            if n % CLOCK_EVERY == 0 {
                let now = Instant::now();
                match since {
                    None => since = Some(now),
                    Some(t0) if now - t0 >= self.cur => return Ok(false),
                    Some(_) => {}
                }
            }
            std::hint::spin_loop();
        }
    }

    /// How long a blocking wait should first last to tell whether the window should
    /// grow: the largest window (`None` when polling is off). The kernel times that wait,
    /// so no clock is read.
    pub fn probe(&self) -> Option<Duration> {
        (!self.max.is_zero()).then_some(self.max)
    }

    /// Accounts a blocking wait that first waited [`SpinWindow::probe`]: `soon` when a
    /// completion came within it.
    pub fn after_block(&mut self, soon: bool) {
        if self.max.is_zero() {
            return;
        }
        if soon {
            // It came soon after polling gave up: a longer window would have caught it.
            self.cur = (self.cur * 2).clamp(START, self.max);
        } else {
            // Idle: blocking was right, stop polling.
            self.cur = Duration::ZERO;
        }
    }
}

/// Turns of the polling loop between two looks at the clock (natively ~20-50 µs, under
/// TCG a few hundred).
const CLOCK_EVERY: u32 = 1024;

/// How many polls (by any thread of the process) pass between two looks at
/// `/proc/loadavg` (one `pread` a look).
const LOAD_EVERY: u32 = 16;

/// Polls since the process started, and what the last look at the load said.
static POLLS: AtomicU32 = AtomicU32::new(0);
static CROWDED: AtomicBool = AtomicBool::new(false);

/// Whether more tasks are runnable than there are CPUs: then a poller takes CPU time from
/// a task that is waiting for it — on a small dom0 often the very client or daemon it
/// waits for — and blocking is cheaper for everyone. This is KVM's rule for halt polling
/// (poll only while `single_task_running()`), taken to a user-space view of the machine.
/// Shared by the process's threads (a load generator's clients look once for all).
fn crowded() -> bool {
    if POLLS.fetch_add(1, Ordering::Relaxed) % LOAD_EVERY == 0 {
        CROWDED.store(runnable_over_cpus().unwrap_or(false), Ordering::Relaxed);
    }
    CROWDED.load(Ordering::Relaxed)
}

/// Whether the runnable tasks in `/proc/loadavg` (the numerator of its fourth field,
/// counting the reader) outnumber the CPUs this process may run on.
fn runnable_over_cpus() -> Option<bool> {
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    static CPUS: OnceLock<usize> = OnceLock::new();
    let file = FILE
        .get_or_init(|| File::open("/proc/loadavg").ok())
        .as_ref()?;
    let mut buf = [0u8; 128];
    let n = file.read_at(&mut buf, 0).ok()?;
    let running = parse_running(std::str::from_utf8(&buf[..n]).ok()?)?;
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    Some(running > cpus)
}

/// The runnable-task count of a `/proc/loadavg` line (`0.52 0.58 0.59 2/389 12345`).
fn parse_running(text: &str) -> Option<usize> {
    text.split_whitespace()
        .nth(3)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn grows_on_short_blocks_up_to_max() {
        let mut w = SpinWindow::new(MS);
        assert_eq!(w.current(), Duration::ZERO);
        w.after_block(true);
        assert_eq!(w.current(), START);
        for _ in 0..20 {
            w.after_block(true);
        }
        assert_eq!(w.current(), MS);
    }

    #[test]
    fn closes_when_idle() {
        let mut w = SpinWindow::new(MS);
        for _ in 0..5 {
            w.after_block(true);
        }
        assert!(w.current() > Duration::ZERO);
        w.after_block(false);
        assert_eq!(w.current(), Duration::ZERO);
    }

    #[test]
    fn window_maximum_from_the_environment() {
        let d = DEFAULT_MAX;
        assert_eq!(parse_max("V", None, d), Ok(d));
        assert_eq!(parse_max("V", Some(""), d), Ok(d));
        assert_eq!(
            parse_max("V", Some("250"), d),
            Ok(Duration::from_micros(250))
        );
        assert_eq!(parse_max("V", Some("0"), d), Ok(Duration::ZERO));
        let e = parse_max("RXENSTORED_POLL_US", Some("1ms"), d).unwrap_err();
        assert!(
            e.contains("RXENSTORED_POLL_US=\"1ms\"") && e.contains("microseconds"),
            "{e}"
        );
    }

    #[test]
    fn loadavg_runnable_count() {
        assert_eq!(parse_running("0.52 0.58 0.59 2/389 12345\n"), Some(2));
        assert_eq!(parse_running("0.52 0.58 0.59 17/1200 9"), Some(17));
        assert_eq!(parse_running("garbage"), None);
        assert!(
            runnable_over_cpus().is_some(),
            "/proc/loadavg is readable here"
        );
    }

    #[test]
    fn zero_max_never_polls() {
        let mut w = SpinWindow::new(Duration::ZERO);
        w.after_block(true);
        assert_eq!(w.current(), Duration::ZERO);
        assert_eq!(w.probe(), None, "no probing wait either");
    }

    #[test]
    fn poll_sees_a_completion_and_times_out_without_one() {
        let Ok((mut ring, flag)) = open_ring(4) else {
            eprintln!("skipped: io_uring unavailable on this kernel");
            return;
        };
        let mut w = SpinWindow::new(MS);
        for _ in 0..10 {
            w.after_block(true);
        }
        // (On a crowded machine the poll returns at once, with the same answer.)
        assert!(!w.poll(&mut ring, flag).unwrap(), "nothing was submitted");
        let nop = io_uring::opcode::Nop::new().build().user_data(7);
        // SAFETY: a NOP references no memory.
        unsafe { ring.submission().push(&nop).unwrap() };
        ring.submit().unwrap();
        assert!(w.poll(&mut ring, flag).unwrap());
        assert_eq!(ring.completion().next().map(|c| c.user_data()), Some(7));
    }
}
