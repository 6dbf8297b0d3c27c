//! The KVM objects of one VM: its memory, the VM fd with its in-kernel devices, and the vCPUs.

pub mod memory;
pub mod pit;
pub mod vcpu;
pub mod vm;
