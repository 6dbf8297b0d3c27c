//! rxl-kvm: a rust-vmm microVM on kvm-ioctls that boots xl.cfg domain files.
//!
//! One `rxl-kvm` process runs one VM. The pieces, bottom up:
//! [`arch`] (x86_64 boot state), [`vstate`] (VM, memory, vCPUs), [`devices`] (COM1, i8042,
//! power-off port, virtio-mmio block), [`loader`] (PVH ELF / ELF64 / bzImage), [`vmm`]
//! (assembly and the run loop), [`runstate`] (pause/resume/stop shared by threads).

pub mod arch;
pub mod backend;
pub mod control;
pub mod devices;
pub mod from_config;
pub mod loader;
pub mod qemu;
pub mod rundir;
pub mod runstate;
pub mod spec;
pub mod unpack;
pub mod vmm;
pub mod vstate;

pub use backend::KvmBackend;
pub use runstate::{ExitCounts, ExitReason, RunControl};
pub use spec::{Action, DiskSpec, VmSpec};
pub use vmm::{Vmm, VmmError};
