//! Guest RAM: anonymous mappings from vm-memory, registered with KVM slot by slot.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{Address, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::arch::x86_64::layout;

/// Failures while creating or registering guest RAM.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The requested size is unusable.
    #[error("memory = {mib} MiB is invalid: {why}")]
    BadSize {
        /// What was asked for.
        mib: u64,
        /// Why it cannot be used.
        why: &'static str,
    },
    /// mmap of the guest RAM failed.
    #[error("cannot map {mib} MiB of guest RAM: {source}")]
    Mmap {
        /// Size asked for.
        mib: u64,
        /// vm-memory's reason.
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
    /// KVM_SET_USER_MEMORY_REGION failed.
    #[error("KVM_SET_USER_MEMORY_REGION for slot {slot} failed: {source}")]
    Register {
        /// The memory slot.
        slot: u32,
        /// The kernel's errno.
        #[source]
        source: kvm_ioctls::Error,
    },
}

/// Smallest VM we build: the fixed low structures plus a kernel need at least this.
pub const MIN_MEMORY_MIB: u64 = 4;

/// Maps `mib` MiB of RAM laid out around the device hole (see [`layout::ram_ranges`]).
pub fn create(mib: u64) -> Result<GuestMemoryMmap, MemoryError> {
    if mib < MIN_MEMORY_MIB {
        return Err(MemoryError::BadSize {
            mib,
            why: "the VMM needs at least 4 MiB (boot structures live below 1 MiB, kernels at 1 MiB)",
        });
    }
    let bytes = mib.checked_mul(1 << 20).ok_or(MemoryError::BadSize {
        mib,
        why: "too large",
    })?;
    let ranges: Vec<(GuestAddress, usize)> = layout::ram_ranges(bytes)
        .into_iter()
        .map(|(start, size)| (GuestAddress(start), size as usize))
        .collect();
    GuestMemoryMmap::from_ranges(&ranges).map_err(|source| MemoryError::Mmap { mib, source })
}

/// Registers every region of `mem` with `vm`, one slot each.
pub fn register(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), MemoryError> {
    for (slot, region) in mem.iter().enumerate() {
        let slot = slot as u32;
        let host = region.as_ptr() as u64;
        let desc = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: region.start_addr().raw_value(),
            memory_size: region.len(),
            userspace_addr: host,
        };
        // SAFETY: `host..host+len` is a live mapping owned by `mem`, and the caller keeps `mem`
        // alive for as long as `vm` (both are fields of `Vm`, memory dropped after the fd).
        unsafe { vm.set_user_memory_region(desc) }
            .map_err(|source| MemoryError::Register { slot, source })?;
    }
    Ok(())
}

/// The RAM size in bytes of `mem` (sum of its regions).
pub fn ram_bytes(mem: &GuestMemoryMmap) -> u64 {
    mem.iter().map(|r| r.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_tiny_vm() {
        assert!(matches!(
            create(1),
            Err(MemoryError::BadSize { mib: 1, .. })
        ));
    }

    #[test]
    fn maps_requested_size() {
        let mem = create(16).unwrap();
        assert_eq!(ram_bytes(&mem), 16 << 20);
    }
}
