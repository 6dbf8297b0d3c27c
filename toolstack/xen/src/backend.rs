//! [`XenBackend`]: the `rxl_hypervisor::Backend` implementation for Xen.

use std::time::{Duration, Instant};

use rxl_config::DomainConfig;
use rxl_hypervisor::{
    Backend, BackendError, BackendKind, CreateOptions, DomainId, DomainState, DomainSummary,
    HostInfo, ShutdownKind,
};

use crate::control::Control;
use crate::error::XenError;
use crate::report::info::lines;
use crate::report::list::cpu_secs;

/// Xen driven from dom0 through privcmd and xenstore.
#[derive(Debug)]
pub struct XenBackend {
    ctl: Control,
}

fn wrap(context: &str) -> impl Fn(XenError) -> BackendError + '_ {
    move |e| match e {
        XenError::UnknownDomain(d) => BackendError::NoSuchDomain(d),
        XenError::NoSuchDomain(d) => BackendError::NoSuchDomain(d.to_string()),
        other => BackendError::Backend {
            context: context.to_owned(),
            source: Box::new(other),
        },
    }
}

impl XenBackend {
    /// Opens the hypervisor; fails with one clear error without Xen, without root, or on an
    /// unsupported Xen version.
    pub fn open() -> Result<Self, XenError> {
        Ok(XenBackend {
            ctl: Control::open()?,
        })
    }

    /// The control layer, for the Xen-only verbs.
    pub fn control(&self) -> &Control {
        &self.ctl
    }
}

impl Backend for XenBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Xen
    }

    fn host_info(&self) -> Result<HostInfo, BackendError> {
        let r = self.ctl.host_report().map_err(wrap("reading host facts"))?;
        Ok(HostInfo {
            fields: lines(&r)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.trim_start().to_owned()))
                .collect(),
        })
    }

    fn list(&self) -> Result<Vec<DomainSummary>, BackendError> {
        let doms = self
            .ctl
            .named_domains(None)
            .map_err(wrap("listing domains"))?;
        Ok(doms
            .into_iter()
            .map(|d| {
                let i = &d.info;
                DomainSummary {
                    id: DomainId(i.domid),
                    name: d.display_name().to_owned(),
                    mem_kib: i.current_memkb() + i.outstanding_memkb(),
                    vcpus: i.vcpu_online,
                    state: DomainState {
                        running: i.running,
                        blocked: i.blocked,
                        paused: i.paused,
                        shutdown: i.shutdown.is_some(),
                        crashed: i.shutdown == Some(crate::ctl::domain::ShutdownReason::Crash),
                        dying: i.dying,
                    },
                    cpu_time_secs: cpu_secs(i.cpu_time_ns),
                }
            })
            .collect())
    }

    fn lookup(&self, dom: &str) -> Result<DomainId, BackendError> {
        self.ctl
            .lookup(dom)
            .map(DomainId)
            .map_err(wrap("looking up the domain"))
    }

    fn create(&self, cfg: &DomainConfig, opts: &CreateOptions) -> Result<DomainId, BackendError> {
        // The builder (crate::build) undoes everything it did when a step fails.
        crate::build::create(&self.ctl, cfg, opts.paused)
            .map(|c| DomainId(c.domid))
            .map_err(|e| BackendError::Backend {
                context: "creating the domain".into(),
                source: Box::new(e),
            })
    }

    fn pause(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.xen().pause(id.0).map_err(wrap("pausing"))
    }

    fn unpause(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.xen().unpause(id.0).map_err(wrap("unpausing"))
    }

    fn shutdown(&self, id: DomainId, kind: ShutdownKind, wait: bool) -> Result<(), BackendError> {
        let word = match kind {
            ShutdownKind::Poweroff => "poweroff",
            ShutdownKind::Reboot => "reboot",
        };
        self.ctl
            .xen()
            .domain_info(id.0)
            .map_err(wrap("shutting down"))?;
        self.ctl
            .with_store(|s| s.write(&format!("/local/domain/{}/control/shutdown", id.0), word))
            .map_err(wrap("asking the guest to shut down"))?;
        if !wait {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            match self.ctl.xen().domain_info(id.0) {
                Err(XenError::NoSuchDomain(_)) => return Ok(()),
                Ok(i) if i.shutdown.is_some() || i.dying => return Ok(()),
                Ok(_) if start.elapsed() > Duration::from_secs(300) => {
                    return Err(wrap("waiting for the shutdown")(XenError::Protocol(
                        format!(
                            "domain {} did not shut down within 300 s (does its kernel watch \
                         control/shutdown?)",
                            id.0
                        ),
                    )));
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => return Err(wrap("waiting for the shutdown")(e)),
            }
        }
    }

    fn destroy(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.destroy(id.0).map_err(wrap("destroying"))
    }

    fn console(&self, _id: DomainId) -> Result<(), BackendError> {
        Err(BackendError::NotSupported {
            backend: BackendKind::Xen,
            operation: "console (use xenconsole from the Xen tools for now)",
        })
    }
}
