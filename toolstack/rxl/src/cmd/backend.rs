//! Choosing and opening the hypervisor a command drives: `--backend` (or `RXL_BACKEND`) when
//! given, else Xen in a Xen control domain (`/proc/xen/capabilities` says `control_d`), else
//! KVM when `/dev/kvm` is usable. Every verb then runs against the `Box<dyn Backend>` [`open`]
//! returns, with one code path for both hypervisors.

use std::fmt;

use rxl_hypervisor::{Backend, BackendKind};

use crate::host_check::{HostView, RealHost, is_xen_dom0, kvm_usable};

/// The values of `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// Xen, from dom0.
    Xen,
    /// KVM, through rxl-kvm.
    Kvm,
}

/// Why no backend could be chosen or opened.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    /// Neither hypervisor is usable here.
    #[error(
        "no hypervisor to drive: this is not a Xen dom0 and /dev/kvm is not usable \
         (run `rxl host-check` to see what is missing and how to fix it)"
    )]
    NoneUsable,
    /// Xen was chosen but could not be opened (not root, unsupported version, ...).
    #[error(transparent)]
    Xen(#[from] rxl_xen::XenError),
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
///
/// Xen is chosen on `control_d` alone, not on whether this user may drive it, so that a
/// non-root user in dom0 gets Xen's own clear error rather than a fall back to KVM.
pub fn choose(
    forced: Option<BackendChoice>,
    host: &dyn HostView,
) -> Result<BackendKind, ChooseError> {
    match forced {
        Some(BackendChoice::Xen) => Ok(BackendKind::Xen),
        Some(BackendChoice::Kvm) => Ok(BackendKind::Kvm),
        None if is_xen_dom0(host) => Ok(BackendKind::Xen),
        None if kvm_usable(host) => Ok(BackendKind::Kvm),
        None => Err(ChooseError::NoneUsable),
    }
}

/// Opens the backend of `kind`. Xen's starts a monitor (this very binary's hidden `monitor`
/// verb) for each domain it creates; `RXL_NO_MONITOR` set turns that off.
pub fn open_kind(kind: BackendKind) -> Result<Box<dyn Backend>, ChooseError> {
    Ok(match kind {
        BackendKind::Xen => {
            let mut xen = rxl_xen::XenBackend::open()?;
            if std::env::var_os("RXL_NO_MONITOR").is_none()
                && let Ok(exe) = std::env::current_exe()
            {
                xen = xen.with_monitor(exe);
            }
            Box::new(xen)
        }
        BackendKind::Kvm => Box::new(rxl_kvm::KvmBackend::default()),
    })
}

/// Chooses (see [`choose`]) and opens the backend for this command.
pub fn open(forced: Option<BackendChoice>) -> Result<Box<dyn Backend>, ChooseError> {
    open_kind(choose(forced, &RealHost::new())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with a chosen set of facts.
    struct FakeHost {
        capabilities: Option<&'static str>,
        kvm_api: Result<i32, String>,
    }

    impl HostView for FakeHost {
        fn read(&self, path: &str) -> Option<String> {
            (path == "/proc/xen/capabilities")
                .then_some(self.capabilities)
                .flatten()
                .map(str::to_owned)
        }
        fn exists(&self, path: &str) -> bool {
            path == "/dev/kvm" && self.kvm_api.is_ok()
        }
        fn list_dir(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn opens_rw(&self, path: &str) -> Result<(), String> {
            self.kvm_api
                .as_ref()
                .map(drop)
                .map_err(|e| format!("{path}: {e}"))
        }
        fn kvm_api_version(&self) -> Result<i32, String> {
            self.kvm_api.clone()
        }
        fn socket_accepts(&self, _: &str) -> bool {
            false
        }
        fn is_root(&self) -> bool {
            false
        }
    }

    #[test]
    fn forced_choice_wins_over_the_host() {
        let host = FakeHost {
            capabilities: None,
            kvm_api: Err("absent".into()),
        };
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
    fn dom0_picks_xen_even_when_kvm_works_and_without_root() {
        let host = FakeHost {
            capabilities: Some("control_d\n"),
            kvm_api: Ok(12),
        };
        assert_eq!(choose(None, &host).unwrap(), BackendKind::Xen);
    }

    #[test]
    fn a_domu_or_bare_metal_host_falls_back_to_a_usable_kvm() {
        let domu = FakeHost {
            capabilities: Some(""),
            kvm_api: Ok(12),
        };
        assert_eq!(choose(None, &domu).unwrap(), BackendKind::Kvm);
        let old_kvm = FakeHost {
            capabilities: None,
            kvm_api: Ok(11),
        };
        assert!(matches!(
            choose(None, &old_kvm),
            Err(ChooseError::NoneUsable)
        ));
        let nothing = FakeHost {
            capabilities: None,
            kvm_api: Err("no such device".into()),
        };
        let e = choose(None, &nothing).unwrap_err();
        assert!(e.to_string().contains("rxl host-check"), "{e}");
    }
}
