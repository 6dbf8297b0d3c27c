//! Choosing the hypervisor a command drives: `--backend` (or `RXL_BACKEND`) when given, else Xen
//! in a Xen control domain, else KVM when `/dev/kvm` is usable. `rxl host-check` reports the
//! choice; the lifecycle verbs drive Xen today and move onto `rxl_hypervisor::Backend` objects
//! opened from this choice next (see docs/architecture.md).

use std::fmt;

use rxl_hypervisor::BackendKind;

use crate::host_check::{Capabilities, HostView, run_checks};

/// The values of `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// Xen, from dom0.
    Xen,
    /// KVM, through rxl-kvm.
    Kvm,
}

/// Why no backend could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    /// Neither hypervisor is usable here.
    #[error(
        "no hypervisor to drive: this is not a Xen dom0 and /dev/kvm is not usable \
         (run `rxl host-check` to see what is missing and how to fix it)"
    )]
    NoneUsable,
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Xen => "xen",
            BackendChoice::Kvm => "kvm",
        })
    }
}

/// The backend a command would use on `host`: the forced one, else Xen in dom0, else KVM.
pub fn choose(
    forced: Option<BackendChoice>,
    host: &dyn HostView,
) -> Result<BackendKind, ChooseError> {
    match forced {
        Some(BackendChoice::Xen) => return Ok(BackendKind::Xen),
        Some(BackendChoice::Kvm) => return Ok(BackendKind::Kvm),
        None => {}
    }
    let (_, Capabilities { xen_dom0, kvm }) = run_checks(host);
    if xen_dom0 {
        Ok(BackendKind::Xen)
    } else if kvm {
        Ok(BackendKind::Kvm)
    } else {
        Err(ChooseError::NoneUsable)
    }
}

/// Refuses `--backend kvm` for a verb that so far only drives Xen, naming what works instead.
pub fn require_xen(forced: Option<BackendChoice>, verb: &str) -> Result<(), String> {
    match forced {
        Some(BackendChoice::Kvm) => Err(format!(
            "`rxl {verb}` drives Xen only so far; on KVM run the domain file with \
             `rxl-kvm --config FILE` (the KVM backend's own binary)"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_check::RealHost;

    #[test]
    fn forced_choice_wins_over_the_host() {
        let host = RealHost::new();
        assert_eq!(
            choose(Some(BackendChoice::Xen), &host).unwrap(),
            BackendKind::Xen
        );
        assert_eq!(
            choose(Some(BackendChoice::Kvm), &host).unwrap(),
            BackendKind::Kvm
        );
    }

    #[test]
    fn kvm_is_refused_where_only_xen_works() {
        let e = require_xen(Some(BackendChoice::Kvm), "list").unwrap_err();
        assert!(e.contains("rxl list") && e.contains("rxl-kvm --config"));
        assert!(require_xen(Some(BackendChoice::Xen), "list").is_ok());
        assert!(require_xen(None, "list").is_ok());
    }
}
