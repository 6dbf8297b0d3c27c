//! Phase timings of a create, logged at `info` (`rxl -v create`): wall time and the page
//! faults taken, since in a PV dom0 under emulation a page fault costs about a millisecond
//! and faults, not instructions, dominate most phases. Backend-neutral: the CLI starts the
//! stopwatch in `main`, the backends' builders take their own laps.

use std::time::Instant;

/// Minor page faults of this process so far.
pub fn minor_faults() -> i64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `struct rusage` to the pointer, which is valid for it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: zero-initialised, and filled in by the successful call above.
    unsafe { u.assume_init() }.ru_minflt
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of the lab's timestamps (`/proc/timer_list`),
/// so a script can tell how long `exec` took to reach `main`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `struct timespec` to the pointer, valid for it.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A stopwatch for consecutive phases.
#[derive(Debug)]
pub struct Laps {
    at: Instant,
    faults: i64,
}

impl Default for Laps {
    fn default() -> Self {
        Self::new()
    }
}

impl Laps {
    /// Starts timing now.
    pub fn new() -> Self {
        Laps {
            at: Instant::now(),
            faults: minor_faults(),
        }
    }

    /// Logs where the process stands at start-up: the monotonic time of this [`Laps`]'
    /// start (the beginning of `main`) and the page faults taken before it (loading and
    /// relocating the binary and its libraries).
    pub fn log_start(&self) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let now = monotonic_ns();
        let since = self.at.elapsed().as_nanos() as u64;
        tracing::info!(
            main_mono_ns = now.saturating_sub(since),
            faults_before_main = self.faults,
            "phase: process started"
        );
    }

    /// Logs the phase that just ended and starts the next one.
    pub fn lap(&mut self, phase: &str) {
        // Without `-v` nobody reads the figures: skip the getrusage (a syscall, not free in
        // a PV dom0).
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let faults = minor_faults();
        tracing::info!(
            ms = self.at.elapsed().as_millis() as u64,
            faults = faults - self.faults,
            "phase: {phase}"
        );
        self.at = Instant::now();
        self.faults = faults;
    }
}
