//! How long the io_uring loop polls for the next completion before it blocks.
//!
//! Why poll at all: a client in lock step (one request, wait for the reply, the next
//! request) sends its next request a moment after our reply. If the daemon has blocked by
//! then, that request has to wake it, and in a PV dom0 under TCG the wake-up of a blocked
//! vCPU (an event channel through Xen, then QEMU's halted-vCPU thread) costs as much as
//! the daemon's whole work on the request. Polling the completion queue for a moment
//! catches the request on a CPU that is still awake.
//!
//! The window adapts as KVM's halt polling does (`halt_poll_ns`, grow and shrink): it
//! starts closed, grows when a block ended sooner than the maximum window (polling would
//! have caught that completion), and closes again when a block outlasted the maximum (the
//! daemon is idle; polling only burns CPU). A daemon whose clients are quiet therefore
//! never polls, and one serving a stream of requests polls only as long as the gaps
//! between them.

use std::time::Duration;

/// Environment variable setting the maximum window in microseconds; rxenstored's
/// `--poll-us` sets the same (0 turns polling off).
pub const POLL_US_ENV: &str = "RXENSTORED_POLL_US";

/// Default maximum window. Natively a lock-step gap is ~10-20 µs; in the Xen lab's PV
/// dom0 under TCG it is ~0.3-0.5 ms (docs/performance.md, xenstore).
pub const DEFAULT_MAX: Duration = Duration::from_micros(1000);

/// The largest window `$RXENSTORED_POLL_US` asks for (unset or empty: [`DEFAULT_MAX`]).
pub fn max_from_env() -> Result<Duration, String> {
    match std::env::var(POLL_US_ENV) {
        Ok(v) if !v.is_empty() => v.parse::<u64>().map(Duration::from_micros).map_err(|_| {
            format!("{POLL_US_ENV}={v:?}: expected microseconds, e.g. 1000 (0: never poll)")
        }),
        _ => Ok(DEFAULT_MAX),
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

    /// How long to poll before the next block.
    pub fn current(&self) -> Duration {
        self.cur
    }

    /// The largest window.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Accounts a wait: `polled_hit` when a completion arrived while polling, else the
    /// time spent blocked afterwards (`None`: the wait did not block, e.g. a completion
    /// was already there).
    pub fn after_wait(&mut self, polled_hit: bool, blocked: Option<Duration>) {
        if polled_hit || self.max.is_zero() {
            return;
        }
        match blocked {
            Some(b) if b <= self.max => {
                // It came soon after polling gave up: a longer window would have caught it.
                self.cur = (self.cur * 2).clamp(START, self.max);
            }
            // Idle: blocking was right, stop polling.
            Some(_) => self.cur = Duration::ZERO,
            None => {}
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
        w.after_wait(false, Some(Duration::from_micros(300)));
        assert_eq!(w.current(), START);
        for _ in 0..20 {
            w.after_wait(false, Some(Duration::from_micros(300)));
        }
        assert_eq!(w.current(), MS);
    }

    #[test]
    fn a_hit_keeps_the_window() {
        let mut w = SpinWindow::new(MS);
        w.after_wait(false, Some(Duration::from_micros(100)));
        w.after_wait(false, Some(Duration::from_micros(100)));
        let before = w.current();
        w.after_wait(true, None);
        assert_eq!(w.current(), before);
    }

    #[test]
    fn closes_when_idle() {
        let mut w = SpinWindow::new(MS);
        for _ in 0..5 {
            w.after_wait(false, Some(Duration::from_micros(100)));
        }
        assert!(w.current() > Duration::ZERO);
        w.after_wait(false, Some(Duration::from_secs(1)));
        assert_eq!(w.current(), Duration::ZERO);
    }

    #[test]
    fn zero_max_never_polls() {
        let mut w = SpinWindow::new(Duration::ZERO);
        w.after_wait(false, Some(Duration::from_micros(1)));
        assert_eq!(w.current(), Duration::ZERO);
    }
}
