//! Run state shared by the vCPU threads, the devices and the control socket: running, paused or
//! stopping (with why), plus per-kind exit counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Why a VM stopped running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "reason", content = "detail")]
pub enum ExitReason {
    /// The guest powered off (ACPI S5 on the shutdown port).
    Poweroff,
    /// The guest reset itself (i8042 reset line or a triple fault).
    Reboot,
    /// The guest failed in a way KVM could not handle; the text says how.
    Crash(String),
    /// The toolstack destroyed it.
    Destroyed,
}

/// What the vCPUs should be doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Executing guest code.
    Running,
    /// Parked by `pause` until `resume`.
    Paused,
    /// Leaving their run loops; the first reason recorded wins.
    Stopping(ExitReason),
}

/// Counts of VM exits by kind (what tests and `info` report).
#[derive(Debug, Default)]
pub struct ExitStats {
    /// Port-I/O reads.
    pub io_in: AtomicU64,
    /// Port-I/O writes.
    pub io_out: AtomicU64,
    /// MMIO reads.
    pub mmio_read: AtomicU64,
    /// MMIO writes.
    pub mmio_write: AtomicU64,
    /// HLT exits (only without an in-kernel LAPIC halt).
    pub hlt: AtomicU64,
    /// Accesses no device claimed.
    pub unhandled: AtomicU64,
    /// The most frequent unclaimed addresses (port or MMIO), for diagnosing a guest that
    /// probes hardware this VMM does not have.
    unclaimed: Mutex<std::collections::HashMap<u64, u64>>,
}

/// A point-in-time copy of [`ExitStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitCounts {
    /// Port-I/O reads.
    pub io_in: u64,
    /// Port-I/O writes.
    pub io_out: u64,
    /// MMIO reads.
    pub mmio_read: u64,
    /// MMIO writes.
    pub mmio_write: u64,
    /// HLT exits.
    pub hlt: u64,
    /// Accesses no device claimed.
    pub unhandled: u64,
    /// Up to 8 most frequent unclaimed addresses, `(address, count)`, busiest first.
    pub unclaimed_top: Vec<(u64, u64)>,
}

impl ExitStats {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an access to `addr` that no device claimed.
    pub fn unclaimed(&self, addr: u64) {
        Self::bump(&self.unhandled);
        // Bounded: a guest sweeping the address space must not grow the map without limit.
        let mut m = self.unclaimed.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < 4096 || m.contains_key(&addr) {
            *m.entry(addr).or_insert(0) += 1;
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> ExitCounts {
        let mut top: Vec<(u64, u64)> = self
            .unclaimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(a, c)| (*a, *c))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(8);
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExitCounts {
            io_in: g(&self.io_in),
            io_out: g(&self.io_out),
            mmio_read: g(&self.mmio_read),
            mmio_write: g(&self.mmio_write),
            hlt: g(&self.hlt),
            unhandled: g(&self.unhandled),
            unclaimed_top: top,
        }
    }
}

/// The shared state plus the condition variable parked vCPUs wait on.
#[derive(Debug)]
pub struct RunControl {
    state: Mutex<RunState>,
    changed: Condvar,
    parked: Mutex<usize>,
    threads: Mutex<Vec<libc::pthread_t>>,
    /// Exit counters.
    pub stats: ExitStats,
}

impl Default for RunControl {
    fn default() -> Self {
        RunControl {
            state: Mutex::new(RunState::Running),
            changed: Condvar::new(),
            parked: Mutex::new(0),
            threads: Mutex::new(Vec::new()),
            stats: ExitStats::default(),
        }
    }
}

impl RunControl {
    fn lock(&self) -> MutexGuard<'_, RunState> {
        // A poisoned lock only means another thread panicked while holding it; the state value
        // itself is always consistent (single assignments), so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> RunState {
        self.lock().clone()
    }

    /// Records that the VM must stop; the first reason wins.
    pub fn request_exit(&self, reason: ExitReason) {
        let mut s = self.lock();
        if !matches!(*s, RunState::Stopping(_)) {
            *s = RunState::Stopping(reason);
        }
        self.changed.notify_all();
    }

    /// Asks running vCPUs to park. Returns false if the VM is already stopping.
    pub fn pause(&self) -> bool {
        let mut s = self.lock();
        match *s {
            RunState::Stopping(_) => false,
            _ => {
                *s = RunState::Paused;
                true
            }
        }
    }

    /// Releases parked vCPUs. Returns false if the VM is stopping.
    pub fn resume(&self) -> bool {
        let mut s = self.lock();
        match *s {
            RunState::Stopping(_) => false,
            _ => {
                *s = RunState::Running;
                self.changed.notify_all();
                true
            }
        }
    }

    /// Called by a vCPU before each KVM_RUN: parks while paused, returns the reason once stopping.
    pub fn checkpoint(&self) -> Option<ExitReason> {
        let mut s = self.lock();
        loop {
            match &*s {
                RunState::Running => return None,
                RunState::Stopping(r) => return Some(r.clone()),
                RunState::Paused => {
                    *self.parked.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
                    *self.parked.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                }
            }
        }
    }

    /// How many vCPUs are parked right now.
    pub fn parked(&self) -> usize {
        *self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the calling thread as a vCPU thread to kick out of KVM_RUN.
    pub fn register_thread(&self) {
        install_kick_handler();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(me);
    }

    /// Removes the calling thread; must run before the thread exits.
    pub fn deregister_thread(&self) {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t| *t != me);
    }

    /// Number of vCPU threads still in their run loop.
    pub fn live_threads(&self) -> usize {
        self.threads.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Interrupts every registered vCPU thread's KVM_RUN with the kick signal.
    pub fn kick_all(&self) {
        let threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        for t in threads.iter() {
            // SAFETY: `t` is a live thread: threads deregister under this same lock before
            // they exit, so the id cannot be stale. The signal's handler is a no-op.
            unsafe { libc::pthread_kill(*t, kick_signal()) };
        }
    }

    /// Pauses and kicks until every vCPU is parked (or `timeout` passes); false on timeout or
    /// when the VM is stopping.
    pub fn pause_and_wait(&self, timeout: Duration) -> bool {
        if !self.pause() {
            return false;
        }
        let deadline = Instant::now() + timeout;
        // A kick can land between a vCPU's checkpoint and its KVM_RUN and be lost, so kick
        // again until all are parked.
        while self.parked() < self.live_threads() {
            if Instant::now() > deadline {
                return false;
            }
            self.kick_all();
            std::thread::sleep(Duration::from_micros(500));
        }
        true
    }

    /// Blocks until the VM is stopping and returns why.
    pub fn wait_exit(&self) -> ExitReason {
        let mut s = self.lock();
        loop {
            if let RunState::Stopping(r) = &*s {
                return r.clone();
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The real-time signal used to kick vCPU threads out of KVM_RUN.
fn kick_signal() -> libc::c_int {
    vmm_sys_util::signal::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Installed without SA_RESTART, so KVM_RUN returns EINTR when the signal arrives. The
        // only failure is an invalid signal number, which SIGRTMIN is not.
        let _ = vmm_sys_util::signal::register_signal_handler(kick_signal(), on_kick);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclaimed_addresses_are_ranked() {
        let s = ExitStats::default();
        for _ in 0..3 {
            s.unclaimed(0x80);
        }
        s.unclaimed(0xcf8);
        let snap = s.snapshot();
        assert_eq!(snap.unhandled, 4);
        assert_eq!(snap.unclaimed_top, vec![(0x80, 3), (0xcf8, 1)]);
    }

    #[test]
    fn first_exit_reason_wins_and_pause_is_refused_after() {
        let c = RunControl::default();
        assert!(c.pause());
        assert!(c.resume());
        c.request_exit(ExitReason::Reboot);
        c.request_exit(ExitReason::Poweroff);
        assert_eq!(c.checkpoint(), Some(ExitReason::Reboot));
        assert!(!c.pause());
        assert_eq!(c.wait_exit(), ExitReason::Reboot);
    }
}
