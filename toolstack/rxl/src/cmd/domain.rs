//! The lifecycle and status verbs every backend has: `info`, `list`, `domid`, `domname`,
//! `pause`, `unpause`, `destroy`, `shutdown`, `reboot`, `console`. Each is one code path over
//! `&dyn Backend`; text output is xl's layout ([`rxl_hypervisor::render`]), byte-identical to
//! `xl` on Xen, and every verb also takes `--json`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use rxl_hypervisor::{Backend, BackendError, DomainId, ShutdownKind, ShutdownWait, render};

use super::CmdResult;

/// How long `shutdown -w` / `reboot -w` wait for each guest.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(300);

/// `--json` shared by the verbs.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of xl's text.
    #[arg(long)]
    pub json: bool,
}

/// The common verbs (flattened into the top-level verb list, as in xl).
#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    /// Host and hypervisor facts (xl info); NAME prints only the values of lines starting so.
    Info {
        /// Print only the values of the lines starting with this, e.g. `free_memory`.
        name: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List domains (xl list); `-v` (the global flag, as in `rxl list -v`) adds the UUID and
    /// shutdown-reason columns of `xl list -v`.
    List {
        /// Details of each domain as JSON.
        #[arg(short, long)]
        long: bool,
        /// Only these domains (names or ids).
        doms: Vec<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Print the id of a domain name.
    Domid {
        /// Domain name.
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Print the name of a domain id.
    Domname {
        /// Domain id.
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Pause a domain.
    Pause {
        /// Domain name or id.
        dom: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Unpause a domain.
    Unpause {
        /// Domain name or id.
        dom: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Destroy a domain at once (no guest shutdown).
    Destroy {
        /// Domain name or id.
        dom: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Ask a guest to power off (xl shutdown; on Xen through its PV control interface).
    Shutdown(ShutdownArgs),
    /// Ask a guest to reboot (xl reboot).
    Reboot(ShutdownArgs),
    /// Attach to a guest's console; Ctrl-] detaches.
    Console {
        /// The domain (name or id).
        dom: String,
    },
}

/// Arguments of `shutdown` and `reboot`.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Wait until the domain has shut down (and, with the default actions, is gone).
    #[arg(short = 'w', long)]
    wait: bool,
    /// Every domain except the control domain (dom0).
    #[arg(short = 'a', long)]
    all: bool,
    /// The domain (name or id); not with `-a`.
    dom: Option<String>,
}

fn json(out: &mut dyn Write, v: &impl serde::Serialize) -> CmdResult {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a verb on `backend`, printing to `out`; `verbose` is the global `-v` count
/// (`rxl list -v` is xl's `list -v`).
pub fn run(cmd: DomainCmd, backend: &dyn Backend, verbose: u8, out: &mut dyn Write) -> CmdResult {
    match cmd {
        DomainCmd::Info { name, out: o } => {
            let host = backend.host_info()?;
            if o.json {
                return json(out, &host.details);
            }
            write!(out, "{}", render::info(&host, name.as_deref()))?;
        }
        DomainCmd::List { long, doms, out: o } => {
            let rows = if doms.is_empty() {
                backend.list()?
            } else {
                doms.iter()
                    .map(|d| backend.summary(backend.lookup(d)?))
                    .collect::<Result<_, _>>()?
            };
            if long || o.json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| serde_json::json!({ "name": r.name, "info": r.details }))
                    .collect();
                return json(out, &v);
            }
            write!(out, "{}", render::list(&rows, verbose > 0))?;
        }
        DomainCmd::Domid { name, out: o } => {
            // xl resolves names only: a number is not a name.
            if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BackendError::NoSuchDomain(name).into());
            }
            let id = backend.lookup(&name)?;
            if o.json {
                return json(out, &serde_json::json!({ "name": name, "domid": id }));
            }
            writeln!(out, "{id}")?;
        }
        DomainCmd::Domname { id, out: o } => {
            let domid: u32 = id
                .parse()
                .map_err(|_| format!("invalid domain id '{id}': expected a number"))?;
            let d = backend.summary(DomainId(domid))?;
            let name = d
                .name
                .ok_or_else(|| format!("domain {domid} has no name on record"))?;
            if o.json {
                return json(out, &serde_json::json!({ "domid": domid, "name": name }));
            }
            writeln!(out, "{name}")?;
        }
        DomainCmd::Pause { dom, out: o } => {
            let id = backend.lookup(&dom)?;
            backend.pause(id)?;
            if o.json {
                return json(out, &serde_json::json!({ "domid": id, "paused": true }));
            }
        }
        DomainCmd::Unpause { dom, out: o } => {
            let id = backend.lookup(&dom)?;
            backend.unpause(id)?;
            if o.json {
                return json(out, &serde_json::json!({ "domid": id, "paused": false }));
            }
        }
        DomainCmd::Destroy { dom, out: o } => {
            let id = backend.lookup(&dom)?;
            backend.destroy(id)?;
            if o.json {
                return json(out, &serde_json::json!({ "domid": id, "destroyed": true }));
            }
        }
        DomainCmd::Shutdown(a) => return shutdown(backend, a, ShutdownKind::Poweroff),
        DomainCmd::Reboot(a) => return shutdown(backend, a, ShutdownKind::Reboot),
        DomainCmd::Console { dom } => {
            let id = backend.lookup(&dom)?;
            return super::console::attach(backend.console(id)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn shutdown(backend: &dyn Backend, a: ShutdownArgs, kind: ShutdownKind) -> CmdResult {
    let doms: Vec<DomainId> = match (&a.dom, a.all) {
        (Some(_), true) => return Err("give a domain or -a, not both".into()),
        (None, false) => return Err("which domain? give its name or id, or -a for all".into()),
        (Some(d), false) => vec![backend.lookup(d)?],
        (None, true) => backend
            .list()?
            .into_iter()
            .filter(|d| !d.control)
            .map(|d| d.id)
            .collect(),
    };
    // Send every request first, then wait, so `-a -w` shuts guests down in parallel.
    for &id in &doms {
        backend.shutdown(id, kind)?;
    }
    if a.wait {
        for &id in &doms {
            match backend.wait_shutdown(id, SHUTDOWN_WAIT)? {
                ShutdownWait::ShutDown => eprintln!("Domain {id} has been shut down"),
                ShutdownWait::Gone => {}
                ShutdownWait::TimedOut => {
                    return Err(format!(
                        "domain {id} did not shut down within {} s (is its kernel hung? \
                         `rxl destroy {id}` stops it)",
                        SHUTDOWN_WAIT.as_secs()
                    )
                    .into());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
