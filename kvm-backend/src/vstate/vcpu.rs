//! One vCPU: created with this host's CPUID and MSRs, then run on its own thread, turning
//! each VM exit into a device access or a stop reason.

use std::sync::Arc;

use kvm_bindings::{KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN};
use kvm_ioctls::{VcpuExit, VcpuFd};
use vm_memory::GuestMemoryMmap;

use super::vm::Vm;
use crate::arch::x86_64::regs::{self, BootEntry};
use crate::arch::x86_64::{ArchError, cpuid, msrs};
use crate::devices::Devices;
use crate::runstate::{ExitReason, ExitStats, RunControl};

/// Failures while creating a vCPU.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// KVM_CREATE_VCPU failed.
    #[error("KVM_CREATE_VCPU {id} failed: {source}")]
    Create {
        /// vCPU index.
        id: u8,
        /// The kernel's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Register, CPUID, MSR or LAPIC setup failed.
    #[error("vCPU {id}: {source}")]
    Arch {
        /// vCPU index.
        id: u8,
        /// What failed.
        #[source]
        source: ArchError,
    },
}

/// A configured vCPU, not yet running.
pub struct Vcpu {
    fd: VcpuFd,
    id: u8,
}

impl Vcpu {
    /// Creates vCPU `id` of `nr` in `vm` with patched CPUID, boot MSRs and LAPIC LINT pins.
    pub fn new(vm: &Vm, id: u8, nr: u8) -> Result<Vcpu, VcpuError> {
        let fd = vm
            .fd
            .create_vcpu(u64::from(id))
            .map_err(|source| VcpuError::Create { id, source })?;
        let arch = |source| VcpuError::Arch { id, source };
        let mut cpuid = vm.cpuid.clone();
        cpuid::patch_for_vcpu(&mut cpuid, id, nr);
        fd.set_cpuid2(&cpuid)
            .map_err(ArchError::kvm("KVM_SET_CPUID2"))
            .map_err(arch)?;
        msrs::setup(&fd, &vm.msr_list).map_err(arch)?;
        regs::setup_lint(&fd).map_err(arch)?;
        Ok(Vcpu { fd, id })
    }

    /// Sets the boot register state (boot vCPU only; APs wait for the guest's INIT-SIPI).
    pub fn set_entry(&self, mem: &GuestMemoryMmap, entry: BootEntry) -> Result<(), VcpuError> {
        regs::setup(&self.fd, mem, entry).map_err(|source| VcpuError::Arch {
            id: self.id,
            source,
        })
    }

    /// The vCPU index.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Runs guest code until the VM stops. Runs on the vCPU's own thread.
    pub fn run(mut self, devices: Arc<Devices>, control: Arc<RunControl>) {
        control.register_thread();
        while control.checkpoint().is_none() {
            if let Some(reason) = self.step(&devices, &control) {
                control.request_exit(reason);
            }
        }
        control.deregister_thread();
    }

    /// One KVM_RUN and the handling of its exit; `Some` when the VM must stop.
    fn step(&mut self, devices: &Devices, control: &RunControl) -> Option<ExitReason> {
        let stats = &control.stats;
        let exit = match self.fd.run() {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                // A kick (pause, stop) interrupted KVM_RUN; the caller's checkpoint decides.
                self.fd.set_kvm_immediate_exit(0);
                return None;
            }
            Err(e) => return Some(ExitReason::Crash(format!("vCPU {}: KVM_RUN: {e}", self.id))),
        };
        let stop = match exit {
            VcpuExit::IoIn(port, data) => {
                ExitStats::bump(&stats.io_in);
                if !devices.pio_read(port, data) {
                    stats.unclaimed(u64::from(port));
                }
                None
            }
            VcpuExit::IoOut(port, data) => {
                ExitStats::bump(&stats.io_out);
                if !devices.pio_write(port, data) {
                    stats.unclaimed(u64::from(port));
                }
                None
            }
            VcpuExit::MmioRead(addr, data) => {
                ExitStats::bump(&stats.mmio_read);
                if !devices.mmio_read(addr, data) {
                    stats.unclaimed(addr);
                }
                None
            }
            VcpuExit::MmioWrite(addr, data) => {
                ExitStats::bump(&stats.mmio_write);
                if !devices.mmio_write(addr, data) {
                    stats.unclaimed(addr);
                }
                None
            }
            // With the in-kernel LAPIC, KVM halts the vCPU itself; an HLT exit means the
            // guest halted for good (as Firecracker treats it): a power-off.
            VcpuExit::Hlt => {
                ExitStats::bump(&stats.hlt);
                Some(ExitReason::Poweroff)
            }
            // A triple fault resets an x86 CPU: that is how many kernels reboot.
            VcpuExit::Shutdown => Some(ExitReason::Reboot),
            VcpuExit::SystemEvent(kind, _) => Some(match kind {
                KVM_SYSTEM_EVENT_SHUTDOWN => ExitReason::Poweroff,
                KVM_SYSTEM_EVENT_RESET => ExitReason::Reboot,
                KVM_SYSTEM_EVENT_CRASH => ExitReason::Crash("guest reported a crash".into()),
                other => ExitReason::Crash(format!("unknown system event {other}")),
            }),
            VcpuExit::FailEntry(reason, cpu) => Some(ExitReason::Crash(format!(
                "VM entry failed on host CPU {cpu}, hardware reason {reason:#x}"
            ))),
            VcpuExit::InternalError => Some(ExitReason::Crash("KVM internal error".into())),
            other => Some(ExitReason::Crash(format!("unexpected VM exit {other:?}"))),
        };
        stop.map(|reason| match reason {
            ExitReason::Crash(msg) => ExitReason::Crash(self.describe(&msg)),
            r => r,
        })
    }

    /// Adds the guest's instruction pointer to a crash message (the first thing one debugs).
    fn describe(&self, msg: &str) -> String {
        match self.fd.get_regs() {
            Ok(r) => format!("vCPU {}: {msg} at rip={:#x}", self.id, r.rip),
            Err(_) => format!("vCPU {}: {msg}", self.id),
        }
    }
}
