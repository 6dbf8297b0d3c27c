//! The control socket of a QEMU-backed VM. It speaks the microVM's protocol
//! ([`crate::control`]: `info`, `pause`, `resume`, `shutdown`, `reboot`, `destroy`,
//! `input HEX`) and answers with the same [`Reply`]/[`VmInfo`], so `rxl list`, `rxl console`
//! and the other verbs cannot tell the two apart. Requests become QMP commands.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::process::Boot;
use crate::control::server::Handler;
use crate::control::{Phase, Reply, VmInfo, decode_hex, unknown_request};
use crate::rundir::VmRecord;
use crate::runstate::ExitReason;

struct State {
    boot: Option<Arc<Boot>>,
    phase: Phase,
    boots: u32,
    last_exit: Option<ExitReason>,
    destroy: bool,
}

/// Lifecycle state shared by the boot loop and the control server.
pub struct HvmSupervisor {
    record: VmRecord,
    started: Instant,
    state: Mutex<State>,
    changed: Condvar,
}

impl HvmSupervisor {
    /// A supervisor for the VM `record` describes.
    pub fn new(record: VmRecord) -> Arc<HvmSupervisor> {
        Arc::new(HvmSupervisor {
            record,
            started: Instant::now(),
            state: Mutex::new(State {
                boot: None,
                phase: Phase::Booting,
                boots: 0,
                last_exit: None,
                destroy: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A boot started (its QEMU is up, still stopped); false if a destroy came first.
    pub fn booting(&self, boot: Arc<Boot>, paused: bool) -> bool {
        let mut s = self.lock();
        if s.destroy {
            return false;
        }
        s.phase = if paused {
            Phase::Paused
        } else {
            Phase::Running
        };
        s.boot = Some(boot);
        s.boots += 1;
        true
    }

    /// A boot ended for `reason`.
    pub fn stopped(&self, reason: &ExitReason) {
        let mut s = self.lock();
        s.last_exit = Some(reason.clone());
        s.phase = match reason {
            ExitReason::Crash(_) => Phase::Crashed,
            ExitReason::Destroyed => Phase::Dying,
            _ => Phase::Shutdown,
        };
    }

    /// The boot is gone (its QEMU exited).
    pub fn released(&self) {
        self.lock().boot = None;
    }

    /// Whether `destroy` was requested.
    pub fn destroy_requested(&self) -> bool {
        self.lock().destroy
    }

    /// Blocks until `destroy` is requested (for `on_*=preserve`).
    pub fn wait_destroy(&self) {
        let mut s = self.lock();
        while !s.destroy {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Requests teardown of the running or preserved VM.
    pub fn destroy(&self) {
        let mut s = self.lock();
        s.destroy = true;
        s.phase = Phase::Dying;
        if let Some(b) = &s.boot {
            b.request_destroy();
        }
        self.changed.notify_all();
    }

    /// The `info` reply.
    pub fn info(&self) -> VmInfo {
        let s = self.lock();
        // QEMU's exits are its own: none are counted here.
        let exits = Default::default();
        VmInfo::new(
            &self.record,
            self.started,
            s.phase,
            s.boots,
            s.last_exit.clone(),
            exits,
        )
    }

    /// The current boot when it is in one of `phases`.
    fn boot_in(&self, phases: &[Phase]) -> Result<Arc<Boot>, String> {
        let s = self.lock();
        match &s.boot {
            Some(b) if phases.contains(&s.phase) => Ok(b.clone()),
            _ => Err(format!("the domain is not running (it is {:?})", s.phase).to_lowercase()),
        }
    }

    fn set_phase(&self, from: Phase, to: Phase) {
        let mut s = self.lock();
        if s.phase == from {
            s.phase = to;
        }
    }

    /// Serves one request line.
    pub fn handle(&self, request: &str) -> Reply {
        use Phase::{Paused, Running};
        let result = match request.trim() {
            "info" => return Reply::with_info(self.info()),
            "pause" => self.boot_in(&[Running, Paused]).and_then(|b| {
                b.command("stop")?;
                self.set_phase(Running, Paused);
                Ok(())
            }),
            "resume" => self.boot_in(&[Running, Paused]).and_then(|b| {
                b.command("cont")?;
                self.set_phase(Paused, Running);
                Ok(())
            }),
            // The ACPI power button: the guest decides (an OS without ACPI ignores it).
            "shutdown" => self
                .boot_in(&[Running, Paused])
                .and_then(|b| b.command("system_powerdown")),
            "reboot" => self
                .boot_in(&[Running, Paused])
                .and_then(|b| b.command("system_reset")),
            "destroy" => {
                self.destroy();
                Ok(())
            }
            r if r.starts_with("input ") => decode_hex(r["input ".len()..].trim())
                .ok_or_else(|| "input: expected an even number of hex digits".to_string())
                .and_then(|bytes| {
                    self.boot_in(&[Running, Paused])
                        .map_err(|_| "the domain has no console yet".to_string())
                        .and_then(|b| b.input(&bytes))
                }),
            other => Err(unknown_request(other)),
        };
        Reply::from_result(result)
    }
}

impl Handler for HvmSupervisor {
    fn handle(&self, request: &str) -> Reply {
        HvmSupervisor::handle(self, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_a_boot_fail_clearly() {
        let s = HvmSupervisor::new(VmRecord {
            id: 4,
            name: "h".into(),
            pid: 1,
            memory_mib: 64,
            vcpus: 1,
        });
        for req in ["pause", "resume", "shutdown", "reboot"] {
            let r = s.handle(req);
            assert!(!r.ok && r.error.unwrap().contains("not running"), "{req}");
        }
        assert!(s.handle("input 4").error.unwrap().contains("hex digits"));
        assert!(s.handle("input 41").error.unwrap().contains("no console"));
        assert!(
            s.handle("nope")
                .error
                .unwrap()
                .contains("unknown request 'nope'")
        );
        let info = s.handle("info").info.unwrap();
        assert_eq!((info.id, info.phase), (4, Phase::Booting));
        assert!(s.handle("destroy").ok);
        assert!(s.destroy_requested());
        s.wait_destroy();
    }
}
