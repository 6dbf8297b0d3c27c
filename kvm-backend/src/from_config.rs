//! The one place that knows the xl.cfg model: `DomainConfig` → [`VmSpec`]. Keys the KVM
//! backend cannot honour are reported by name, never silently dropped.

use rxl_config::DomainConfig;
use rxl_hypervisor::{BackendError, BackendKind};

use crate::spec::VmSpec;

/// Builds the VM spec for `cfg`.
pub fn vm_spec(cfg: &DomainConfig) -> Result<VmSpec, BackendError> {
    // The typed model in rxl-config exposes only `name` so far; until kernel=, memory=,
    // disk= etc. are available from it, xl.cfg files cannot be mapped and `create` says so
    // instead of booting something half-configured. `KvmBackend::create_spec` takes a
    // VmSpec directly.
    let _ = &cfg.name;
    Err(BackendError::NotSupported {
        backend: BackendKind::Kvm,
        operation: "create from an xl.cfg (the rxl-config model does not expose kernel/memory/disk yet)",
    })
}
