//! x86_64: guest physical layout, GDT, identity page tables, CPUID, MSRs and boot registers.

pub mod acpi;
pub mod cpuid;
pub mod gdt;
pub mod layout;
pub mod msrs;
pub mod paging;
pub mod regs;

/// Failures while putting a vCPU into its boot state.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// A KVM ioctl on the vCPU or the system fd failed.
    #[error("KVM {op} failed: {source}")]
    Kvm {
        /// The ioctl, e.g. "KVM_SET_SREGS".
        op: &'static str,
        /// The kernel's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Guest memory was too small or unmapped where a boot structure must go.
    #[error("cannot write {what} at guest address {addr:#x}: {source}")]
    GuestMemory {
        /// The structure, e.g. "GDT".
        what: &'static str,
        /// Where it should have gone.
        addr: u64,
        /// vm-memory's reason.
        #[source]
        source: vm_memory::GuestMemoryError,
    },
    /// A FAM wrapper could not be built (more entries than KVM allows).
    #[error("cannot build the {what} list: {detail}")]
    Fam {
        /// Which list.
        what: &'static str,
        /// The wrapper's reason.
        detail: String,
    },
}

impl ArchError {
    pub(crate) fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> ArchError {
        move |source| ArchError::Kvm { op, source }
    }
}
