//! Which `-cpu` model QEMU gets: `host`, unless this host's KVM advertises a feature MSR it then
//! refuses to set — QEMU aborts on that (`failed to set MSR 0x10a`), as it does on the software
//! /dev/kvm of the development machines. Probed with a throw-away VM and vCPU.

use kvm_bindings::{Msrs, kvm_msr_entry};
use kvm_ioctls::Kvm;

/// Environment variable that forces the `-cpu` model (e.g. `qemu64` or `host`).
pub const CPU_MODEL_ENV: &str = "RXL_KVM_QEMU_CPU";
/// IA32_ARCH_CAPABILITIES.
const MSR_ARCH_CAPABILITIES: u32 = 0x10a;

/// The `-cpu` model for this host.
pub fn cpu_model() -> String {
    if let Ok(m) = std::env::var(CPU_MODEL_ENV)
        && !m.is_empty()
    {
        return m;
    }
    if arch_capabilities_settable().unwrap_or(true) {
        "host".into()
    } else {
        "host,-arch-capabilities".into()
    }
}

/// Whether a vCPU accepts the IA32_ARCH_CAPABILITIES value KVM itself reports; `None` when
/// the probe cannot run (QEMU will then report the problem itself).
fn arch_capabilities_settable() -> Option<bool> {
    let kvm = Kvm::new().ok()?;
    let features = kvm.get_msr_feature_index_list().ok()?;
    if !features.as_slice().contains(&MSR_ARCH_CAPABILITIES) {
        // Not advertised: QEMU will not try to set it.
        return Some(true);
    }
    let entry = kvm_msr_entry {
        index: MSR_ARCH_CAPABILITIES,
        ..Default::default()
    };
    let mut msrs = Msrs::from_entries(&[entry]).ok()?;
    if kvm.get_msrs(&mut msrs).ok()? != 1 {
        return Some(false);
    }
    let vm = kvm.create_vm().ok()?;
    let vcpu = vm.create_vcpu(0).ok()?;
    Some(vcpu.set_msrs(&msrs).ok() == Some(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_host_based_or_forced() {
        let m = cpu_model();
        assert!(
            m.starts_with("host") || std::env::var(CPU_MODEL_ENV).is_ok(),
            "{m}"
        );
    }
}
