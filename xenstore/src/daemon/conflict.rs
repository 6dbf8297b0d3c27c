//! Transaction-conflict rate limiting: a domain whose writes keep making other domains'
//! transactions fail is paused, so one storming guest cannot starve everyone else's
//! transactions (modelled on oxenstored's defence against repeated-update storms, XSA-206; the C
//! xenstored 4.17 has per-node generation counts but no such rate limit).
//!
//! As in oxenstored (`conflict-burst-limit = 5.0`, `conflict-max-history-seconds = 0.05`,
//! `conflict-rate-limit-is-aggregate = true`): every domain holds up to `burst` credits;
//! each transaction of *another* domain that fails because of one of its writes costs it
//! one; a domain at zero is not served (its requests wait, nothing is dropped). One
//! credit is issued per `tick`: to the penalised domain at the front of a FIFO queue
//! (aggregate: several storming domains together earn no more than one), otherwise to
//! each domain below `burst`. Dom0 is never paused: it is the toolstack.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Default burst: conflicts a domain may cause before it is paused.
pub const DEFAULT_BURST: u32 = 5;
/// Default tick: one credit is issued this often.
pub const DEFAULT_TICK: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
struct Credit {
    left: u32,
    /// When the last credit was issued to (or taken from) this domain.
    since: Instant,
}

/// Per-domain conflict credits.
#[derive(Debug)]
pub struct ConflictLimiter {
    burst: u32,
    tick: Duration,
    credits: HashMap<u32, Credit>,
    /// Paused domains (no credit left), first paused first.
    paused: VecDeque<u32>,
    /// When the paused queue was last given a credit.
    queue_since: Instant,
    /// Conflicts blamed so far (for `CONTROL stats`).
    pub blamed: u64,
}

impl Default for ConflictLimiter {
    fn default() -> Self {
        ConflictLimiter::new(DEFAULT_BURST, DEFAULT_TICK)
    }
}

impl ConflictLimiter {
    /// A limiter allowing `burst` conflicts (0 disables limiting), one credit per `tick`.
    pub fn new(burst: u32, tick: Duration) -> ConflictLimiter {
        ConflictLimiter {
            burst,
            tick: tick.max(Duration::from_millis(1)),
            credits: HashMap::new(),
            paused: VecDeque::new(),
            queue_since: Instant::now(),
            blamed: 0,
        }
    }

    /// Whether limiting is on.
    pub fn enabled(&self) -> bool {
        self.burst > 0
    }

    fn ticks(&self, since: Instant, now: Instant) -> u32 {
        let n = now.saturating_duration_since(since).as_nanos() / self.tick.as_nanos();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Issues the credits due by `now`.
    fn refill(&mut self, now: Instant) {
        // The paused queue: one credit per tick, to its front.
        let mut due = self.ticks(self.queue_since, now);
        if self.paused.is_empty() {
            self.queue_since = now;
        } else if due > 0 {
            self.queue_since += self.tick * due;
            while due > 0 {
                let Some(&front) = self.paused.front() else {
                    break;
                };
                let c = self.credits.entry(front).or_insert(Credit {
                    left: 0,
                    since: now,
                });
                c.left += 1;
                c.since = now;
                due -= 1;
                self.paused.pop_front();
            }
        }
        // Everyone else recovers at one credit per tick each, up to the burst.
        let (burst, tick) = (self.burst, self.tick);
        let paused = &self.paused;
        self.credits.retain(|domid, c| {
            if paused.contains(domid) {
                return true;
            }
            let n = (now.saturating_duration_since(c.since).as_nanos() / tick.as_nanos()) as u64;
            if n > 0 {
                c.left = (u64::from(c.left) + n).min(u64::from(burst)) as u32;
                c.since = now;
            }
            c.left < burst
        });
    }

    /// `culprit`'s write made a transaction of another domain fail.
    pub fn blame(&mut self, culprit: u32, now: Instant) {
        if !self.enabled() || culprit == 0 {
            return;
        }
        self.refill(now);
        self.blamed += 1;
        let burst = self.burst;
        let c = self.credits.entry(culprit).or_insert(Credit {
            left: burst,
            since: now,
        });
        c.left = c.left.saturating_sub(1);
        c.since = now;
        if c.left == 0 && !self.paused.contains(&culprit) {
            if self.paused.is_empty() {
                self.queue_since = now;
            }
            self.paused.push_back(culprit);
        }
    }

    /// How long `domid` must still wait before it is served again; `None` if it may go.
    pub fn wait(&mut self, domid: u32, now: Instant) -> Option<Duration> {
        if self.paused.is_empty() {
            return None;
        }
        self.refill(now);
        let pos = self.paused.iter().position(|d| *d == domid)?;
        // Credits go to the queue's front one tick apart.
        let next = self.queue_since + self.tick * (pos as u32 + 1);
        Some(
            next.saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        )
    }

    /// Whether any domain is paused now (if not, [`ConflictLimiter::wait`] is `None` for all).
    pub fn any_paused(&self) -> bool {
        !self.paused.is_empty()
    }

    /// Forgets a domain (released).
    pub fn forget(&mut self, domid: u32) {
        self.credits.remove(&domid);
        self.paused.retain(|d| *d != domid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(50);

    #[test]
    fn a_domain_is_paused_after_the_burst_and_resumes_one_tick_later() {
        let t0 = Instant::now();
        let mut l = ConflictLimiter::new(3, TICK);
        for _ in 0..2 {
            l.blame(5, t0);
            assert_eq!(l.wait(5, t0), None, "within the burst");
        }
        l.blame(5, t0);
        assert_eq!(l.wait(5, t0), Some(TICK), "paused for one tick");
        assert!(l.wait(5, t0 + TICK / 2).is_some());
        assert_eq!(l.wait(5, t0 + TICK), None, "one credit back");
        // Only one credit came back: the next conflict pauses it again.
        l.blame(5, t0 + TICK);
        assert!(l.wait(5, t0 + TICK).is_some());
        assert_eq!(l.wait(6, t0 + TICK), None, "other domains are not paused");
    }

    #[test]
    fn credits_recover_up_to_the_burst() {
        let t0 = Instant::now();
        let mut l = ConflictLimiter::new(3, TICK);
        l.blame(5, t0);
        l.blame(5, t0);
        // Ten ticks later it is back at the full burst, not above it.
        let t1 = t0 + TICK * 10;
        for _ in 0..2 {
            l.blame(5, t1);
        }
        assert_eq!(l.wait(5, t1), None);
        l.blame(5, t1);
        assert!(l.wait(5, t1).is_some(), "burst is the ceiling");
    }

    #[test]
    fn paused_domains_share_one_credit_per_tick_in_order() {
        let t0 = Instant::now();
        let mut l = ConflictLimiter::new(1, TICK);
        l.blame(5, t0);
        l.blame(7, t0);
        assert_eq!(l.wait(5, t0), Some(TICK));
        assert_eq!(
            l.wait(7, t0),
            Some(TICK * 2),
            "aggregate: second in the queue"
        );
        assert_eq!(l.wait(5, t0 + TICK), None);
        assert!(l.wait(7, t0 + TICK).is_some());
        assert_eq!(l.wait(7, t0 + TICK * 2), None);
    }

    #[test]
    fn dom0_and_a_disabled_limiter_never_pause() {
        let t0 = Instant::now();
        let mut l = ConflictLimiter::new(1, TICK);
        for _ in 0..10 {
            l.blame(0, t0);
        }
        assert_eq!(l.wait(0, t0), None);
        let mut off = ConflictLimiter::new(0, TICK);
        for _ in 0..10 {
            off.blame(5, t0);
        }
        assert_eq!(off.wait(5, t0), None);
        l.blame(5, t0);
        l.forget(5);
        assert_eq!(l.wait(5, t0), None, "a released domain starts afresh");
    }
}
