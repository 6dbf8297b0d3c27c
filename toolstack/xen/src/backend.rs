//! [`XenBackend`]: the `rxl_hypervisor::Backend` implementation for Xen.
//!
//! Besides the common verbs it owns the per-domain monitor (`on_poweroff`/`on_reboot`/
//! `on_crash`, see [`crate::build::monitor`]), started by `create`, and offers its
//! [`Control`] plane as the backend's extension for the Xen-only verbs (`mem-set`, `vcpu-pin`,
//! `dmesg`, ...).

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rxl_config::DomainConfig;
use rxl_hypervisor::{
    Backend, BackendError, BackendKind, Console, CreateOptions, Created, DomainId, DomainSummary,
    HostInfo, ShutdownKind, ShutdownWait,
};

use crate::control::Control;
use crate::error::XenError;
use crate::report::info::host_info;
use crate::report::list::summary;

/// How long `console` waits for xenconsoled to publish the guest's pty (it does so right
/// after the domain is introduced).
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Xen driven from dom0 through privcmd and xenstore.
#[derive(Debug)]
pub struct XenBackend {
    ctl: Control,
    /// The program whose `monitor` verb watches new domains; `None`: start no monitor.
    monitor: Option<PathBuf>,
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
    /// unsupported Xen version. Starts no monitors until [`XenBackend::with_monitor`].
    pub fn open() -> Result<Self, XenError> {
        Ok(XenBackend {
            ctl: Control::open()?,
            monitor: None,
        })
    }

    /// Makes `create` start a monitor for each new domain by running `program -v monitor
    /// --domid N FILE -- OVERRIDES` (the `rxl` binary; its `monitor` verb calls
    /// [`crate::build::monitor::serve`]).
    pub fn with_monitor(mut self, program: PathBuf) -> Self {
        self.monitor = Some(program);
        self
    }

    /// The control layer, for the Xen-only verbs.
    pub fn control(&self) -> &Control {
        &self.ctl
    }

    /// Refuses a shutdown request the guest cannot see: without a PV control interface its
    /// kernel never reads `control/shutdown`.
    fn check_pv_control(&self, domid: u32, kind: ShutdownKind) -> Result<(), BackendError> {
        let feature = match kind {
            ShutdownKind::Poweroff => "feature-poweroff",
            ShutdownKind::Reboot => "feature-reboot",
        };
        let f = self
            .ctl
            .with_store(|s| s.read(&format!("/local/domain/{domid}/control/{feature}")))
            .map_err(wrap("reading the guest's control features"))?;
        if f.as_deref() == Some("1") {
            return Ok(());
        }
        Err(BackendError::Backend {
            context: format!("cannot ask domain {domid} to shut down"),
            source: Box::new(XenError::Invalid(format!(
                "domain {domid} has no PV control interface (its kernel never wrote \
                 control/{feature}: no xenbus yet, or no Xen drivers); use `rxl destroy {domid}`"
            ))),
        })
    }
}

impl Backend for XenBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Xen
    }

    fn host_info(&self) -> Result<HostInfo, BackendError> {
        let r = self.ctl.host_report().map_err(wrap("reading host facts"))?;
        Ok(host_info(&r))
    }

    fn list(&self) -> Result<Vec<DomainSummary>, BackendError> {
        let doms = self
            .ctl
            .named_domains(None)
            .map_err(wrap("listing domains"))?;
        Ok(doms.iter().map(summary).collect())
    }

    fn summary(&self, id: DomainId) -> Result<DomainSummary, BackendError> {
        let doms = self
            .ctl
            .named_domains(Some(id.0))
            .map_err(wrap("reading the domain"))?;
        doms.first()
            .map(summary)
            .ok_or_else(|| BackendError::NoSuchDomain(id.to_string()))
    }

    fn lookup(&self, dom: &str) -> Result<DomainId, BackendError> {
        self.ctl
            .lookup(dom)
            .map(DomainId)
            .map_err(wrap("looking up the domain"))
    }

    fn create(&self, cfg: &DomainConfig, opts: &CreateOptions) -> Result<Created, BackendError> {
        // The builder (crate::build) undoes everything it did when a step fails.
        let t0 = Instant::now();
        let created = crate::build::create(&self.ctl, cfg, opts.paused).map_err(|e| {
            BackendError::Backend {
                context: "creating the domain".into(),
                source: Box::new(e),
            }
        })?;
        tracing::info!(
            domid = created.domid,
            total_ms = t0.elapsed().as_millis() as u64,
            build_ms = created.build_ms as u64,
            "domain created"
        );
        let mut warnings = Vec::new();
        let unwatched = |why: String| {
            format!(
                "domain {} runs, but {why}: on_poweroff, on_reboot and on_crash will not be \
                 carried out",
                created.domid
            )
        };
        match (&self.monitor, &opts.source) {
            (Some(program), Some(source)) => {
                let name = cfg.name.as_deref().unwrap_or("domain");
                let mut laps = rxl_hypervisor::timing::Laps::new();
                if let Err(e) = crate::build::monitor::spawn(program, created.domid, name, source) {
                    warnings.push(unwatched(format!("its monitor did not start ({e})")));
                }
                laps.lap("monitor spawned");
            }
            (Some(_), None) => {
                warnings.push(unwatched("it was not created from a file".into()));
            }
            (None, _) => {}
        }
        Ok(Created {
            id: DomainId(created.domid),
            warnings,
        })
    }

    fn pause(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.xen().pause(id.0).map_err(wrap("pausing"))
    }

    fn unpause(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.xen().unpause(id.0).map_err(wrap("unpausing"))
    }

    fn shutdown(&self, id: DomainId, kind: ShutdownKind) -> Result<(), BackendError> {
        let word = match kind {
            ShutdownKind::Poweroff => "poweroff",
            ShutdownKind::Reboot => "reboot",
        };
        self.ctl
            .xen()
            .domain_info(id.0)
            .map_err(wrap("shutting down"))?;
        self.check_pv_control(id.0, kind)?;
        self.ctl
            .with_store(|s| s.write(&format!("/local/domain/{}/control/shutdown", id.0), word))
            .map_err(wrap("asking the guest to shut down"))
    }

    fn wait_shutdown(&self, id: DomainId, timeout: Duration) -> Result<ShutdownWait, BackendError> {
        let start = Instant::now();
        loop {
            match self.ctl.xen().domain_info(id.0) {
                Err(XenError::NoSuchDomain(_)) => return Ok(ShutdownWait::Gone),
                Ok(i) if i.shutdown.is_some() || i.dying => return Ok(ShutdownWait::ShutDown),
                Ok(_) if start.elapsed() > timeout => return Ok(ShutdownWait::TimedOut),
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(wrap("waiting for the shutdown")(e)),
            }
        }
    }

    fn destroy(&self, id: DomainId) -> Result<(), BackendError> {
        self.ctl.destroy(id.0).map_err(wrap("destroying"))
    }

    /// The primary PV console: through rxl's own console backend (the domain's monitor serves
    /// it on a socket) when `console/type` says `rxl`, else through the pty xenconsoled
    /// allocated (`console/tty`).
    fn console(&self, id: DomainId) -> Result<Console, BackendError> {
        let domid = id.0;
        self.ctl
            .xen()
            .domain_info(domid)
            .map_err(wrap("attaching to the console"))?;
        let kind = self
            .ctl
            .with_store(|s| s.read(&format!("/local/domain/{domid}/console/type")))
            .map_err(wrap("finding the console"))?;
        if kind.as_deref() == Some(crate::console::Placement::Rxl.type_node()) {
            return crate::console::attach(domid).map_err(wrap("attaching to the console"));
        }
        let path = format!("/local/domain/{domid}/console/tty");
        let start = Instant::now();
        let tty = loop {
            let t = self
                .ctl
                .with_store(|s| s.read(&path))
                .map_err(wrap("finding the console"))?;
            match t {
                Some(t) if !t.is_empty() => break t,
                _ if start.elapsed() > CONSOLE_TIMEOUT => {
                    return Err(wrap("attaching to the console")(XenError::Protocol(
                        format!(
                            "domain {domid} has no console pty ({path} is empty): is \
                             xenconsoled running?"
                        ),
                    )));
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let io = |e: std::io::Error| BackendError::Backend {
            context: format!("opening the console pty {tty}"),
            source: Box::new(e),
        };
        let pty = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tty)
            .map_err(io)?;
        let output = pty.try_clone().map_err(io)?;
        Ok(Console {
            output: Box::new(output),
            input: Box::new(pty),
        })
    }

    fn extension(&self) -> Option<&dyn std::any::Any> {
        Some(&self.ctl)
    }
}
