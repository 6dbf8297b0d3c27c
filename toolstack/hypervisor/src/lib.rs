//! The backend interface shared by the Xen and KVM backends.
//!
//! The `rxl` command line never branches on the hypervisor: it picks a [`Backend`] once (see
//! `rxl::backend_select`) and drives every verb through this trait, the way Cloud Hypervisor's
//! `hypervisor` crate hides KVM and MSHV from its VMM. An operation a backend cannot perform
//! returns [`BackendError::NotSupported`] naming the backend and the operation, never a silent
//! no-op.

use std::fmt;

use rxl_config::DomainConfig;
use serde::Serialize;

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

/// A domain number as the hypervisor knows it (Xen domid, or the KVM backend's own numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DomainId(pub u32);

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The state flags `xl list` prints as `rbpscd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DomainState {
    /// Running on a physical CPU now.
    pub running: bool,
    /// Blocked, waiting for an event.
    pub blocked: bool,
    /// Paused by the toolstack.
    pub paused: bool,
    /// Shut down by the guest (poweroff, reboot, suspend).
    pub shutdown: bool,
    /// Crashed.
    pub crashed: bool,
    /// Being destroyed.
    pub dying: bool,
}

impl fmt::Display for DomainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}{}{}",
            flag(self.running, 'r'),
            flag(self.blocked, 'b'),
            flag(self.paused, 'p'),
            flag(self.shutdown, 's'),
            flag(self.crashed, 'c'),
            flag(self.dying, 'd'),
        )
    }
}

/// One row of `rxl list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSummary {
    /// Domain number.
    pub id: DomainId,
    /// Domain name.
    pub name: String,
    /// Current memory in KiB.
    pub mem_kib: u64,
    /// Online vCPUs.
    pub vcpus: u32,
    /// State flags.
    pub state: DomainState,
    /// Accumulated CPU time in seconds.
    pub cpu_time_secs: f64,
}

/// Host facts for `rxl info`, as ordered `key : value` lines (xl's layout).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostInfo {
    /// The lines in the order they print.
    pub fields: Vec<(String, String)>,
}

/// How `rxl create` should start a guest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Leave the guest paused after building it (`-p`).
    pub paused: bool,
    /// Attach to the guest console once it runs (`-c`).
    pub console: bool,
}

/// What a guest is asked to do by `rxl shutdown` / `rxl reboot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownKind {
    /// Power off.
    Poweroff,
    /// Reboot.
    Reboot,
}

/// Failures common to every backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No domain has this name or number.
    #[error("domain '{0}' does not exist (see `rxl list`)")]
    NoSuchDomain(String),
    /// The backend cannot do this at all.
    #[error("the {backend} backend does not support {operation}")]
    NotSupported {
        /// The backend asked.
        backend: BackendKind,
        /// The operation, e.g. "vcpu-pin".
        operation: &'static str,
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
    /// Resolves a name or a number as `xl` does (a number is an id first).
    fn lookup(&self, dom: &str) -> Result<DomainId, BackendError>;
    /// Builds and (unless `opts.paused`) starts a guest. On error nothing of it is left behind.
    fn create(&self, cfg: &DomainConfig, opts: &CreateOptions) -> Result<DomainId, BackendError>;
    /// Pauses a running guest.
    fn pause(&self, id: DomainId) -> Result<(), BackendError>;
    /// Resumes a paused guest.
    fn unpause(&self, id: DomainId) -> Result<(), BackendError>;
    /// Asks the guest to power off or reboot; with `wait`, returns once it has.
    fn shutdown(&self, id: DomainId, kind: ShutdownKind, wait: bool) -> Result<(), BackendError>;
    /// Kills the guest at once and frees everything it held.
    fn destroy(&self, id: DomainId) -> Result<(), BackendError>;
    /// Connects the terminal to the guest console until the user detaches (Ctrl-]).
    fn console(&self, id: DomainId) -> Result<(), BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_prints_like_xl() {
        let s = DomainState {
            running: true,
            paused: true,
            ..Default::default()
        };
        assert_eq!(s.to_string(), "r-p---");
        assert_eq!(DomainState::default().to_string(), "------");
    }
}
