//! The backend interface shared by the Xen and KVM backends.
//!
//! The `rxl` command line never branches on the hypervisor: it picks a [`Backend`] once (see
//! `toolstack/rxl/src/cmd/backend.rs`) and drives every verb through this trait, the way Cloud
//! Hypervisor's `hypervisor` crate hides KVM and MSHV from its VMM. The data it returns is typed
//! ([`DomainSummary`], [`HostInfo`]) and rendered once, by [`render`], for both backends. An
//! operation a backend cannot perform returns [`BackendError::Unsupported`] naming the backend,
//! the verb and why, never a silent no-op. Verbs only one hypervisor has (Xen's `mem-set`,
//! `vcpu-pin`, ...) are reached through [`Backend::extension`], a capability query.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rxl_config::DomainConfig;
use serde::Serialize;

mod console;
mod domain;
mod host;
pub mod render;
pub mod timing;

pub use console::Console;
pub use domain::{DomainId, DomainState, DomainSummary, ShutdownReason, uuid_string};
pub use host::HostInfo;

/// Which hypervisor a backend drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Xen, driven from dom0 through /dev/xen/privcmd and xenstore.
    Xen,
    /// Linux KVM, one `rxl-kvm` VMM process per guest.
    Kvm,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Xen => "xen",
            BackendKind::Kvm => "kvm",
        })
    }
}

/// Where a domain's configuration came from, so a backend that must rebuild the guest later
/// (Xen's monitor on `on_reboot="restart"`) can read it again exactly as `rxl create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// The xl.cfg file.
    pub file: PathBuf,
    /// The `key=value` overrides given after it.
    pub overrides: Vec<String>,
}

/// How `rxl create` should start a guest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Leave the guest paused after building it (`-p`).
    pub paused: bool,
    /// The file the configuration was read from, if any.
    pub source: Option<ConfigSource>,
}

/// A guest the backend created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its domain number.
    pub id: DomainId,
    /// Things the user should know (keys without effect on this backend, a monitor that did
    /// not start); the guest runs regardless.
    pub warnings: Vec<String>,
}

/// What a guest is asked to do by `rxl shutdown` / `rxl reboot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownKind {
    /// Power off.
    Poweroff,
    /// Reboot.
    Reboot,
}

/// How waiting for a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownWait {
    /// The guest shut down (or, on a reboot in place, started over).
    ShutDown,
    /// The domain is gone (its `on_*` action destroyed it).
    Gone,
    /// The time ran out with the guest still running.
    TimedOut,
}

/// Failures common to every backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No domain has this name or number.
    #[error("domain '{0}' does not exist (see `rxl list`)")]
    NoSuchDomain(String),
    /// The backend cannot do this verb at all.
    #[error("`rxl {verb}` is not supported on {backend}: {reason}")]
    Unsupported {
        /// The backend asked.
        backend: BackendKind,
        /// The verb, e.g. "vcpu-pin".
        verb: &'static str,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A backend-specific failure, with its own typed error as the source.
    #[error("{context}")]
    Backend {
        /// What was being done.
        context: String,
        /// The backend's typed error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The operations every `rxl` verb is built from.
pub trait Backend {
    /// Which hypervisor this is.
    fn kind(&self) -> BackendKind;
    /// Host facts for `rxl info`.
    fn host_info(&self) -> Result<HostInfo, BackendError>;
    /// Every domain, ordered by id.
    fn list(&self) -> Result<Vec<DomainSummary>, BackendError>;
    /// One domain (the default picks it out of [`Backend::list`]).
    fn summary(&self, id: DomainId) -> Result<DomainSummary, BackendError> {
        self.list()?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| BackendError::NoSuchDomain(id.to_string()))
    }
    /// Resolves a name or a number as `xl` does (a number is an id first).
    fn lookup(&self, dom: &str) -> Result<DomainId, BackendError>;
    /// Builds and (unless `opts.paused`) starts a guest, and whatever carries out its
    /// `on_poweroff`/`on_reboot`/`on_crash` actions. On error nothing of it is left behind.
    fn create(&self, cfg: &DomainConfig, opts: &CreateOptions) -> Result<Created, BackendError>;
    /// Pauses a running guest.
    fn pause(&self, id: DomainId) -> Result<(), BackendError>;
    /// Resumes a paused guest.
    fn unpause(&self, id: DomainId) -> Result<(), BackendError>;
    /// Asks the guest to power off or reboot, and returns at once.
    fn shutdown(&self, id: DomainId, kind: ShutdownKind) -> Result<(), BackendError>;
    /// Waits up to `timeout` for a guest asked by [`Backend::shutdown`] to get there.
    fn wait_shutdown(&self, id: DomainId, timeout: Duration) -> Result<ShutdownWait, BackendError>;
    /// Kills the guest at once and frees everything it held.
    fn destroy(&self, id: DomainId) -> Result<(), BackendError>;
    /// Connects to the guest's console.
    fn console(&self, id: DomainId) -> Result<Console, BackendError>;
    /// The backend's own control plane, for the verbs only its hypervisor has; callers ask
    /// for a concrete type with `downcast_ref` and get [`BackendError::Unsupported`] when the
    /// backend offers none of that type.
    fn extension(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// The extension of type `T` of `backend`, or [`BackendError::Unsupported`] for `verb` with
/// `reason`.
pub fn extension<'a, T: 'static>(
    backend: &'a dyn Backend,
    verb: &'static str,
    reason: &str,
) -> Result<&'a T, BackendError> {
    backend
        .extension()
        .and_then(|x| x.downcast_ref::<T>())
        .ok_or_else(|| BackendError::Unsupported {
            backend: backend.kind(),
            verb,
            reason: reason.to_owned(),
        })
}
