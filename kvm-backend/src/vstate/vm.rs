//! The VM file descriptor: opened from /dev/kvm, with guest RAM (registered just before the
//! vCPUs run), the in-kernel irqchip (PIC + IOAPIC + LAPICs) and PIT, and the host's
//! CPUID/MSR lists for its vCPUs.

use std::sync::Arc;

use kvm_bindings::CpuId;
use kvm_ioctls::{Cap, Kvm, VmFd};
use vm_memory::GuestMemoryMmap;

use super::memory::{self, MemoryError};
use super::pit::Pit;
use crate::arch::x86_64::{ArchError, cpuid, layout, msrs};

/// Failures while creating the VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// /dev/kvm could not be opened.
    #[error(
        "cannot open /dev/kvm: {0} (load kvm_intel or kvm_amd, check `rxl host-check`, and run as root or in group kvm)"
    )]
    OpenKvm(#[source] kvm_ioctls::Error),
    /// The kernel speaks another KVM API.
    #[error("/dev/kvm reports API version {0}, this VMM needs 12")]
    ApiVersion(i32),
    /// A capability the VMM relies on is missing.
    #[error("this host's KVM lacks {0:?}, which rxl-kvm requires")]
    MissingCap(Cap),
    /// A VM-level ioctl failed.
    #[error("KVM {op} failed: {source}")]
    Kvm {
        /// The ioctl.
        op: &'static str,
        /// The kernel's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Guest RAM could not be created or registered.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The host CPUID or MSR lists could not be read.
    #[error(transparent)]
    Arch(#[from] ArchError),
}

const REQUIRED_CAPS: [Cap; 6] = [
    Cap::Irqchip,
    Cap::Pit2,
    Cap::ReinjectControl,
    Cap::UserMemory,
    Cap::Irqfd,
    Cap::SetTssAddr,
];

/// One VM: the KVM handles and its guest memory.
pub struct Vm {
    /// The in-kernel PIT, if any; held for its `Drop`. Declared first: dropping it joins a
    /// thread that uses `fd`.
    _pit: Option<Pit>,
    /// The /dev/kvm system fd.
    pub kvm: Kvm,
    /// The VM fd. Declared before `mem` so it is closed before the RAM it maps is unmapped.
    pub fd: VmFd,
    /// Guest RAM.
    pub mem: Arc<GuestMemoryMmap>,
    /// What KVM_GET_SUPPORTED_CPUID returned (each vCPU patches its own copy).
    pub cpuid: CpuId,
    /// What KVM_GET_MSR_INDEX_LIST returned.
    pub msr_list: Vec<u32>,
}

impl Vm {
    /// Opens /dev/kvm and builds a VM with `memory_mib` MiB of RAM and the in-kernel devices
    /// (PIC, IOAPIC, LAPICs; the PIT only with `pit`).
    pub fn new(memory_mib: u64, pit: bool) -> Result<Vm, VmError> {
        let kvm = Kvm::new().map_err(VmError::OpenKvm)?;
        let api = kvm.get_api_version();
        if api != 12 {
            return Err(VmError::ApiVersion(api));
        }
        if let Some(cap) = REQUIRED_CAPS.into_iter().find(|c| !kvm.check_extension(*c)) {
            return Err(VmError::MissingCap(cap));
        }
        let kvm_op = |op| move |source| VmError::Kvm { op, source };
        let fd = kvm.create_vm().map_err(kvm_op("KVM_CREATE_VM"))?;
        fd.set_tss_address(layout::KVM_TSS_ADDRESS as usize)
            .map_err(kvm_op("KVM_SET_TSS_ADDR"))?;
        fd.set_identity_map_address(layout::KVM_IDENTITY_MAP_ADDRESS)
            .map_err(kvm_op("KVM_SET_IDENTITY_MAP_ADDR"))?;
        fd.create_irq_chip().map_err(kvm_op("KVM_CREATE_IRQCHIP"))?;
        let pit = pit
            .then(|| Pit::create(&fd))
            .transpose()
            .map_err(kvm_op("KVM_CREATE_PIT2"))?;
        // Mapped now, registered with KVM only by `register_memory`, just before the vCPUs
        // run (see there).
        let mem = memory::create(memory_mib)?;
        let cpuid = cpuid::supported(&kvm)?;
        let msr_list = msrs::supported(&kvm)?;
        Ok(Vm {
            _pit: pit,
            kvm,
            fd,
            mem: Arc::new(mem),
            cpuid,
            msr_list,
        })
    }

    /// Registers guest RAM with KVM. Call once, after the devices, vCPUs and the kernel are
    /// set up and before any vCPU runs.
    ///
    /// Why so late: registering a memory slot waits for an expedited SRCU grace period of
    /// `kvm->srcu`, and on Linux 6.18 (this project's hosts) each in-kernel device created before (the irqchip's
    /// and the PIT's I/O-bus registrations) leaves a normal grace period pending on it
    /// (`call_srcu` in `kvm_io_bus_register_dev`), which the slot then waits for: one to two
    /// timer ticks, 4-8 ms at HZ=250, whatever the VM's size (a known upstream regression;
    /// Linux's fix makes those callbacks expedited). Registered before the devices instead,
    /// the wait moves to the VM's teardown (`srcu_barrier`). Registered last, the tick runs
    /// out while this VMM builds the vCPUs and loads the kernel, which it would do anyway.
    pub fn register_memory(&self) -> Result<(), VmError> {
        Ok(memory::register(&self.fd, &self.mem)?)
    }
}

/// KVM facts for `rxl info` / `host-check`: `(name, value)` pairs, or why /dev/kvm is unusable.
pub fn host_capabilities() -> Result<Vec<(String, String)>, VmError> {
    let kvm = Kvm::new().map_err(VmError::OpenKvm)?;
    let mut out = vec![
        (
            "kvm_api_version".to_string(),
            kvm.get_api_version().to_string(),
        ),
        ("kvm_max_vcpus".to_string(), kvm.get_max_vcpus().to_string()),
        (
            "kvm_memslots".to_string(),
            kvm.get_nr_memslots().to_string(),
        ),
    ];
    let caps: Vec<String> = [
        (Cap::Irqchip, "irqchip"),
        (Cap::Pit2, "pit2"),
        (Cap::Irqfd, "irqfd"),
        (Cap::Ioeventfd, "ioeventfd"),
        (Cap::Xsave, "xsave"),
        (Cap::TscDeadlineTimer, "tsc_deadline"),
        (Cap::ImmediateExit, "immediate_exit"),
    ]
    .into_iter()
    .filter(|(c, _)| kvm.check_extension(*c))
    .map(|(_, n)| n.to_string())
    .collect();
    out.push(("kvm_caps".to_string(), caps.join(" ")));
    Ok(out)
}
