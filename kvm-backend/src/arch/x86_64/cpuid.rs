//! Guest CPUID: exactly what this host's KVM says it can virtualise
//! (`KVM_GET_SUPPORTED_CPUID`), with the per-vCPU topology fields and the hypervisor bit filled in.
//! Nothing is enabled that KVM did not offer, so the same binary is correct on any host.

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, kvm_cpuid_entry2};
use kvm_ioctls::Kvm;

use super::ArchError;

const LEAF_FEATURES: u32 = 0x1;
const LEAF_EXT_TOPOLOGY: u32 = 0xb;
const LEAF_V2_EXT_TOPOLOGY: u32 = 0x1f;
const ECX_HYPERVISOR: u32 = 1 << 31;
const EBX_APIC_ID_SHIFT: u32 = 24;
const EBX_LOGICAL_COUNT_SHIFT: u32 = 16;
const EDX_HTT: u32 = 1 << 28;

/// The host's supported CPUID list (asked once per VM, shared by its vCPUs).
pub fn supported(kvm: &Kvm) -> Result<CpuId, ArchError> {
    kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(ArchError::kvm("KVM_GET_SUPPORTED_CPUID"))
}

/// Patches one vCPU's copy: APIC id `cpu_id` of `nr_cpus`, and the hypervisor-present bit.
pub fn patch_for_vcpu(cpuid: &mut CpuId, cpu_id: u8, nr_cpus: u8) {
    for entry in cpuid.as_mut_slice() {
        patch_entry(entry, cpu_id, nr_cpus);
    }
}

fn patch_entry(entry: &mut kvm_cpuid_entry2, cpu_id: u8, nr_cpus: u8) {
    match entry.function {
        LEAF_FEATURES => {
            entry.ebx = (entry.ebx & 0x0000_ffff)
                | (u32::from(cpu_id) << EBX_APIC_ID_SHIFT)
                | (u32::from(nr_cpus) << EBX_LOGICAL_COUNT_SHIFT);
            entry.ecx |= ECX_HYPERVISOR;
            if nr_cpus > 1 {
                entry.edx |= EDX_HTT;
            }
        }
        LEAF_EXT_TOPOLOGY | LEAF_V2_EXT_TOPOLOGY => {
            // EDX is the x2APIC id on every sub-leaf.
            entry.edx = u32::from(cpu_id);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf1_gets_apic_id_and_hypervisor_bit() {
        let mut e = kvm_cpuid_entry2 {
            function: 1,
            ebx: 0xff00_0800,
            ..Default::default()
        };
        patch_entry(&mut e, 3, 4);
        assert_eq!(e.ebx >> 24, 3);
        assert_eq!((e.ebx >> 16) & 0xff, 4);
        assert_eq!(e.ebx & 0xffff, 0x0800);
        assert_ne!(e.ecx & ECX_HYPERVISOR, 0);
        assert_ne!(e.edx & EDX_HTT, 0);
    }

    #[test]
    fn topology_leaf_gets_x2apic_id() {
        let mut e = kvm_cpuid_entry2 {
            function: 0xb,
            index: 1,
            ..Default::default()
        };
        patch_entry(&mut e, 7, 8);
        assert_eq!(e.edx, 7);
    }
}
