//! Boot MSRs. The candidates are the architectural MSRs a freshly reset CPU has at zero and a
//! 64-bit kernel expects initialised; only those this host's KVM lists in
//! `KVM_GET_MSR_INDEX_LIST` are written, so a host lacking one (e.g. 0x10a ARCH_CAPABILITIES,
//! which aborts QEMU `-cpu host` on PVM) never makes vCPU setup fail.

use kvm_bindings::{Msrs, kvm_msr_entry};
use kvm_ioctls::{Kvm, VcpuFd};

use super::ArchError;

const MSR_IA32_TSC: u32 = 0x10;
const MSR_IA32_SYSENTER_CS: u32 = 0x174;
const MSR_IA32_SYSENTER_ESP: u32 = 0x175;
const MSR_IA32_SYSENTER_EIP: u32 = 0x176;
const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
/// MISC_ENABLE bit 0: fast string operations (Linux warns when it is off).
const MISC_ENABLE_FAST_STRING: u64 = 1;

const CANDIDATES: [(u32, u64); 10] = [
    (MSR_IA32_SYSENTER_CS, 0),
    (MSR_IA32_SYSENTER_ESP, 0),
    (MSR_IA32_SYSENTER_EIP, 0),
    (MSR_STAR, 0),
    (MSR_CSTAR, 0),
    (MSR_KERNEL_GS_BASE, 0),
    (MSR_SYSCALL_MASK, 0),
    (MSR_LSTAR, 0),
    (MSR_IA32_TSC, 0),
    (MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
];

/// The MSR indices KVM on this host can save/restore.
pub fn supported(kvm: &Kvm) -> Result<Vec<u32>, ArchError> {
    Ok(kvm
        .get_msr_index_list()
        .map_err(ArchError::kvm("KVM_GET_MSR_INDEX_LIST"))?
        .as_slice()
        .to_vec())
}

/// The boot entries, restricted to the MSRs in `supported`.
pub fn boot_entries(supported: &[u32]) -> Vec<kvm_msr_entry> {
    CANDIDATES
        .iter()
        .filter(|(index, _)| supported.contains(index))
        .map(|&(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect()
}

/// Writes the boot MSRs to `vcpu`; KVM must accept every one it listed.
pub fn setup(vcpu: &VcpuFd, supported: &[u32]) -> Result<(), ArchError> {
    let entries = boot_entries(supported);
    let msrs = Msrs::from_entries(&entries).map_err(|e| ArchError::Fam {
        what: "MSR",
        detail: format!("{e:?}"),
    })?;
    let written = vcpu
        .set_msrs(&msrs)
        .map_err(ArchError::kvm("KVM_SET_MSRS"))?;
    if written != entries.len() {
        let bad = entries[written].index;
        return Err(ArchError::Fam {
            what: "MSR",
            detail: format!("KVM listed MSR {bad:#x} but refused to set it"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_msrs_are_written() {
        let e = boot_entries(&[MSR_LSTAR, MSR_IA32_MISC_ENABLE, 0x10a]);
        let idx: Vec<u32> = e.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![MSR_LSTAR, MSR_IA32_MISC_ENABLE]);
        assert_eq!(e[1].data, MISC_ENABLE_FAST_STRING);
        assert!(boot_entries(&[]).is_empty());
    }
}
