//! Guest lifecycle on Xen: `rxl create` (the real, non-dry-run path), `shutdown`, `reboot`,
//! and the per-domain monitor that `create` starts in the background.
//!
//! The domain builder lives in `rxl_xen::build`; this module turns its outcome into xl's
//! behaviour on the command line.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use clap::{Args, Subcommand};
use rxl_hypervisor::{Backend, DomainId, ShutdownKind};
use rxl_xen::build;
use rxl_xen::{Control, XenBackend};

use super::CmdResult;
use super::create::CreateArgs;

/// Builds and starts the domain of a loaded config on Xen.
pub fn create(args: &CreateArgs, loaded: &rxl_config::Loaded) -> CmdResult {
    eprintln!("Parsing config from {}", args.file.display());
    let ctl = Control::open()?;
    let t0 = std::time::Instant::now();
    let created = build::create(&ctl, &loaded.config, args.paused).map_err(|e| {
        format!(
            "cannot create domain from {}: {}; nothing was left behind",
            args.file.display(),
            super::error_chain(&e)
        )
    })?;
    tracing::info!(
        domid = created.domid,
        total_ms = t0.elapsed().as_millis() as u64,
        build_ms = created.build_ms as u64,
        "domain created"
    );
    let name = loaded.config.name.as_deref().unwrap_or("domain");
    if std::env::var_os("RXL_NO_MONITOR").is_none()
        && let Err(e) = spawn_monitor(args, name, created.domid)
    {
        eprintln!(
            "warning: domain {} runs, but its monitor did not start ({e}): on_poweroff, \
             on_reboot and on_crash will not be carried out",
            created.domid
        );
    }
    if args.console {
        return super::console::attach(&ctl, created.domid);
    }
    Ok(ExitCode::SUCCESS)
}

/// Lifecycle verbs (flattened into the top-level verb list, as in xl).
#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    /// Ask a guest to power off through its PV control interface (xl shutdown).
    Shutdown(ShutdownArgs),
    /// Ask a guest to reboot through its PV control interface (xl reboot).
    Reboot(ShutdownArgs),
    /// Attach to a guest's PV console (the pty xenconsoled gives it); Ctrl-] detaches.
    Console {
        /// The domain (name or id).
        dom: String,
    },
    /// Watch a domain and carry out on_poweroff/on_reboot/on_crash (started by `rxl create`).
    #[command(hide = true)]
    Monitor {
        /// The domain to watch.
        #[arg(long)]
        domid: u32,
        /// The domain file it was created from (restarts rebuild from it).
        file: PathBuf,
        /// The `key=value` overrides given to `rxl create`.
        overrides: Vec<String>,
    },
}

/// Arguments of `shutdown` and `reboot`.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Wait until the domain has shut down (and, with the default actions, is gone).
    #[arg(short = 'w', long)]
    wait: bool,
    /// Every domain except dom0.
    #[arg(short = 'a', long)]
    all: bool,
    /// The domain (name or id); not with `-a`.
    dom: Option<String>,
}

/// Runs a lifecycle verb.
pub fn run(cmd: DomainCmd) -> CmdResult {
    match cmd {
        DomainCmd::Shutdown(a) => shutdown(a, ShutdownKind::Poweroff),
        DomainCmd::Reboot(a) => shutdown(a, ShutdownKind::Reboot),
        DomainCmd::Console { dom } => {
            let ctl = Control::open()?;
            let domid = ctl.lookup(&dom)?;
            super::console::attach(&ctl, domid)
        }
        DomainCmd::Monitor {
            domid,
            file,
            overrides,
        } => monitor(domid, &file, &overrides),
    }
}

fn shutdown(a: ShutdownArgs, kind: ShutdownKind) -> CmdResult {
    let backend = XenBackend::open()?;
    let ctl = backend.control();
    let doms: Vec<u32> = match (&a.dom, a.all) {
        (Some(_), true) => return Err("give a domain or -a, not both".into()),
        (None, false) => return Err("which domain? give its name or id, or -a for all".into()),
        (Some(d), false) => vec![ctl.lookup(d)?],
        (None, true) => ctl
            .xen()
            .list_domains()?
            .iter()
            .map(|d| d.domid)
            .filter(|&d| d != 0)
            .collect(),
    };
    let feature = match kind {
        ShutdownKind::Poweroff => "feature-poweroff",
        ShutdownKind::Reboot => "feature-reboot",
    };
    for &domid in &doms {
        let f = ctl.with_store(|s| s.read(&format!("/local/domain/{domid}/control/{feature}")))?;
        if f.as_deref() != Some("1") {
            return Err(format!(
                "domain {domid} has no PV control interface (its kernel never wrote \
                 control/{feature}: no xenbus yet, or no Xen drivers); use `rxl destroy {domid}`"
            )
            .into());
        }
    }
    // Send every request first, then wait, so `-a -w` shuts guests down in parallel.
    for &domid in &doms {
        backend.shutdown(DomainId(domid), kind, false)?;
    }
    if a.wait {
        for &domid in &doms {
            wait_shut_down(ctl, domid)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits until a domain has shut down or is gone (xl shutdown -w), up to 300 s.
fn wait_shut_down(ctl: &Control, domid: u32) -> CmdResult {
    let start = std::time::Instant::now();
    loop {
        match ctl.xen().domain_info(domid) {
            Err(rxl_xen::XenError::NoSuchDomain(_)) => return Ok(ExitCode::SUCCESS),
            Ok(i) if i.shutdown.is_some() || i.dying => {
                eprintln!("Domain {domid} has been shut down");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(_) if start.elapsed() > std::time::Duration::from_secs(300) => {
                return Err(format!(
                    "domain {domid} did not shut down within 300 s (is its kernel hung? \
                     `rxl destroy {domid}` stops it)"
                )
                .into());
            }
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Starts the monitor of a new domain in the background, detached from the terminal, its
/// log in `/var/log/xen/rxl-<name>.log` (as xl's child logs to `xl-<name>.log`).
fn spawn_monitor(args: &CreateArgs, name: &str, domid: u32) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let log = std::fs::create_dir_all("/var/log/xen")
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("/var/log/xen/rxl-{name}.log"))
        })
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    Command::new(exe)
        .arg("-v")
        .arg("monitor")
        .arg("--domid")
        .arg(domid.to_string())
        .arg(&args.file)
        .arg("--")
        .args(&args.overrides)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map(drop)
}

fn monitor(domid: u32, file: &std::path::Path, overrides: &[String]) -> CmdResult {
    let loaded = rxl_config::load_with_overrides(file, overrides)
        .map_err(|e| format!("{}: {} error(s)", file.display(), e.errors().count()))?;
    let ctl = Control::open()?;
    build::monitor::run(&ctl, &loaded.config, domid)?;
    Ok(ExitCode::SUCCESS)
}
