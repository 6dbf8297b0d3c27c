//! The per-domain monitor: what xl's background child does after `xl create`. It waits on
//! `@releaseDomain`, and when the guest shuts down carries out the configured action
//! (`on_poweroff`, `on_reboot`, `on_watchdog`, `on_crash`, `on_soft_reset`).
//!
//! It is a capability of the Xen backend behind `create`: [`spawn`] starts it as a detached
//! process (`<program> -v monitor --domid N FILE -- OVERRIDES`, the program being `rxl`, whose
//! hidden `monitor` verb calls [`serve`]). It must outlive the `rxl create` that started it, as
//! xl's background child does; KVM needs none, since its VMM carries out the actions itself.

use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rxl_hypervisor::ConfigSource;

use rxl_config::DomainConfig;
use rxl_config::model::{Action, Actions};
use rxl_xenstore::client::Client;

use super::error::{BuildError, at, xs_at};
use crate::console::{ConsoleServer, Placement, RingLocation};
use crate::control::Control;
use crate::ctl::domain::ShutdownReason;
use crate::error::XenError;

/// The action configured for a shutdown reason, with xl's defaults (restart on reboot,
/// soft-reset on soft reset, destroy otherwise). `None` for a suspend, which is not an end.
pub fn action_for(reason: ShutdownReason, a: &Actions) -> Option<Action> {
    Some(match reason {
        ShutdownReason::Poweroff => a.on_poweroff.unwrap_or(Action::Destroy),
        ShutdownReason::Reboot => a.on_reboot.unwrap_or(Action::Restart),
        ShutdownReason::Crash => a.on_crash.unwrap_or(Action::Destroy),
        ShutdownReason::Watchdog => a.on_watchdog.unwrap_or(Action::Destroy),
        ShutdownReason::SoftReset => a.on_soft_reset.unwrap_or(Action::SoftReset),
        ShutdownReason::Suspend => return None,
        ShutdownReason::Unknown(_) => a.on_crash.unwrap_or(Action::Destroy),
    })
}

/// What happens to the domain after its core (if any, see [`wants_core`]) is written, soft
/// reset (which rxl does not do) mapped to a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Destroy it; the monitor ends.
    Destroy,
    /// Leave it as it is; the monitor ends.
    Preserve,
    /// Destroy it and build it again.
    Restart,
    /// Rename it (`<name>-<time>`), keep it, and build a new one.
    RenameRestart,
}

/// Maps an action to a step; the second value is a warning for actions rxl approximates.
pub fn step_for(a: Action) -> (Step, Option<&'static str>) {
    match a {
        Action::Destroy => (Step::Destroy, None),
        Action::Preserve => (Step::Preserve, None),
        Action::Restart => (Step::Restart, None),
        Action::RenameRestart => (Step::RenameRestart, None),
        // The core itself is written first: see `wants_core`.
        Action::CoredumpDestroy => (Step::Destroy, None),
        Action::CoredumpRestart => (Step::Restart, None),
        Action::SoftReset => (
            Step::Restart,
            Some("soft reset is not supported; restarting instead"),
        ),
    }
}

/// Whether `a` writes the domain's core (to [`super::coredump::core_path`]) before its step.
pub fn wants_core(a: Action) -> bool {
    matches!(a, Action::CoredumpDestroy | Action::CoredumpRestart)
}

/// Writes domain `domid`'s core where xl would. A failure is logged, never fatal: the
/// configured destroy or restart still happens, as with xl.
fn write_core(ctl: &Control, domid: u32, name: &str) {
    let path = super::coredump::core_path(name);
    match super::coredump::dump(ctl.xen(), domid, &path) {
        Ok(d) => tracing::info!(domid, path = %d.path.display(), pages = d.pages, "core written"),
        Err(e) => tracing::warn!(domid, path = %path.display(), error = %e, "core dump failed"),
    }
}

/// Starts the monitor of domain `domid` (named `name`) in the background, detached from the
/// terminal, its log in `/var/log/xen/rxl-<name>.log` (as xl's child logs to `xl-<name>.log`).
pub fn spawn(program: &Path, domid: u32, name: &str, source: &ConfigSource) -> std::io::Result<()> {
    let log = std::fs::create_dir_all("/var/log/xen")
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("/var/log/xen/rxl-{name}.log"))
        })
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    Command::new(program)
        .arg("-v")
        .arg("monitor")
        .arg("--domid")
        .arg(domid.to_string())
        .arg(&source.file)
        .arg("--")
        .args(&source.overrides)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group: the terminal's Ctrl-C must not reach it.
        .process_group(0)
        .spawn()
        .map(drop)
}

/// The monitor process's body: reads the domain file again (as `rxl create` did, overrides
/// included) and watches domain `domid` until its job ends.
pub fn serve(domid: u32, source: &ConfigSource) -> Result<(), BuildError> {
    let loaded = rxl_config::load_with_overrides(&source.file, &source.overrides).map_err(|e| {
        BuildError::Config {
            key: "monitor",
            why: format!(
                "{}: {} error(s) reading the domain file again",
                source.file.display(),
                e.errors().count()
            ),
        }
    })?;
    let ctl = Control::open().map_err(at("monitor: opening the hypervisor"))?;
    run(&ctl, &loaded.config, domid)
}

/// Watches domain `domid` built from `cfg` until the monitor's job ends (the domain is
/// destroyed or preserved). Restarts rebuild from `cfg` and keep watching the new domain.
pub fn run(ctl: &Control, cfg: &DomainConfig, mut domid: u32) -> Result<(), BuildError> {
    let name = cfg.name.as_deref().unwrap_or("domain");
    // Dropped (stopped) when the monitor ends, replaced when the domain is rebuilt.
    let mut _console = ServedConsole::start(ctl, domid, name);
    let xs = Client::open().map_err(xs_at("monitor: connecting to xenstore"))?;
    let events = xs
        .watch("@releaseDomain", "rxl-monitor")
        .map_err(xs_at("monitor: watching @releaseDomain"))?;
    loop {
        let info = match ctl.xen().domain_info(domid) {
            Err(XenError::NoSuchDomain(_)) => {
                tracing::info!(domid, "domain is gone; monitor ends");
                return Ok(());
            }
            other => other.map_err(at("monitor: reading the domain state"))?,
        };
        if info.dying {
            tracing::info!(domid, "domain is being destroyed; monitor ends");
            return Ok(());
        }
        if let Some(reason) = info.shutdown
            && let Some(action) = action_for(reason, &cfg.actions)
        {
            let (step, warning) = step_for(action);
            if let Some(w) = warning {
                tracing::warn!(domid, "{w}");
            }
            tracing::info!(domid, ?reason, ?step, "domain shut down");
            if wants_core(action) {
                write_core(ctl, domid, name);
            }
            match step {
                Step::Preserve => return Ok(()),
                Step::Destroy => {
                    ctl.destroy(domid).map_err(at("monitor: destroying"))?;
                    return Ok(());
                }
                Step::Restart => {
                    ctl.destroy(domid)
                        .map_err(at("monitor: destroying before the restart"))?;
                    _console = None;
                    domid = super::create(ctl, cfg, false)?.domid;
                    _console = ServedConsole::start(ctl, domid, name);
                    tracing::info!(domid, "restarted");
                }
                Step::RenameRestart => {
                    rename_preserved(ctl, domid, name)?;
                    _console = None;
                    domid = super::create(ctl, cfg, false)?.domid;
                    _console = ServedConsole::start(ctl, domid, name);
                    tracing::info!(domid, "restarted; the old domain is kept under a new name");
                }
            }
            continue;
        }
        // Wake on any domain's release, and every few seconds anyway (a missed event must not
        // leave a dead guest behind).
        let _ = events.recv_timeout(Duration::from_secs(5));
    }
}

/// rxl's own console backend for the watched domain, when it was built with one (its
/// `console/type` says `rxl` because no xenconsoled ran): a thread serving the ring, the socket
/// `rxl console` attaches to, and the guest's console log. Stops when dropped.
struct ServedConsole {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    socket: PathBuf,
}

impl ServedConsole {
    /// Starts serving domain `domid`'s console if it is ours to serve; `None` otherwise, or
    /// (logged) when it cannot be served: the domain still runs and its actions still happen.
    fn start(ctl: &Control, domid: u32, name: &str) -> Option<ServedConsole> {
        let node = |rel: &str| {
            ctl.with_store(|s| s.read(&format!("/local/domain/{domid}/console/{rel}")))
                .ok()
                .flatten()
        };
        if node("type").as_deref() != Some(Placement::Rxl.type_node()) {
            return None;
        }
        let at = match (
            node("ring-ref").and_then(|v| v.trim().parse::<u64>().ok()),
            node("port").and_then(|v| v.trim().parse::<u32>().ok()),
        ) {
            (Some(frame), Some(remote_port)) => RingLocation {
                domid,
                frame,
                remote_port,
            },
            _ => {
                tracing::warn!(
                    domid,
                    "console/ring-ref or console/port missing; no console"
                );
                return None;
            }
        };
        let socket = crate::console::socket_path(domid);
        // Where xenconsoled --log=guest writes, so admins find it in the same place.
        let log = std::fs::create_dir_all("/var/log/xen/console")
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(format!("/var/log/xen/console/guest-{name}.log"))
            })
            .ok();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, path) = (stop.clone(), socket.clone());
        let (ready_tx, ready) = std::sync::mpsc::channel();
        // The server holds a foreign mapping (not Send): it is set up on its own thread.
        let thread = std::thread::spawn(move || {
            let started = (|| -> Result<(ConsoleServer, UnixListener), String> {
                let server = ConsoleServer::connect(at).map_err(|e| e.to_string())?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let _ = std::fs::remove_file(&path);
                let listener =
                    UnixListener::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok((server, listener))
            })();
            match started {
                Ok((server, listener)) => {
                    let _ = ready_tx.send(Ok(()));
                    if let Err(e) = server.serve(listener, log, flag) {
                        tracing::info!(domid, "console server ended: {e}");
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
        if let Err(e) = ready
            .recv()
            .unwrap_or_else(|_| Err("its thread died".into()))
        {
            tracing::warn!(domid, "cannot serve the console: {e}");
            let _ = thread.join();
            return None;
        }
        tracing::info!(domid, socket = %socket.display(), "serving the console");
        Some(ServedConsole {
            stop,
            thread: Some(thread),
            socket,
        })
    }
}

impl Drop for ServedConsole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Renames the shut-down domain `<name>-<YYYYmmddTHHMMSS>`, as xl's `preserve_domain` does.
fn rename_preserved(ctl: &Control, domid: u32, name: &str) -> Result<(), BuildError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let new = format!("{name}-{secs}");
    ctl.with_store(|s| {
        s.write(&format!("/local/domain/{domid}/name"), &new)?;
        if let Some(vm) = s.read(&format!("/local/domain/{domid}/vm"))? {
            s.write(&format!("{vm}/name"), &new)?;
        }
        Ok(())
    })
    .map_err(at("monitor: renaming the old domain"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_xl() {
        let a = Actions::default();
        assert_eq!(
            action_for(ShutdownReason::Poweroff, &a),
            Some(Action::Destroy)
        );
        assert_eq!(
            action_for(ShutdownReason::Reboot, &a),
            Some(Action::Restart)
        );
        assert_eq!(action_for(ShutdownReason::Crash, &a), Some(Action::Destroy));
        assert_eq!(action_for(ShutdownReason::Suspend, &a), None);
    }

    #[test]
    fn configured_actions_win() {
        let a = Actions {
            on_crash: Some(Action::Preserve),
            on_reboot: Some(Action::RenameRestart),
            ..Default::default()
        };
        assert_eq!(
            action_for(ShutdownReason::Crash, &a),
            Some(Action::Preserve)
        );
        assert_eq!(step_for(Action::RenameRestart).0, Step::RenameRestart);
        let (s, w) = step_for(Action::CoredumpDestroy);
        assert_eq!(s, Step::Destroy);
        assert!(w.is_none(), "core dumps are done, not approximated");
        assert!(wants_core(Action::CoredumpRestart) && wants_core(Action::CoredumpDestroy));
        assert!(!wants_core(Action::Destroy) && !wants_core(Action::Preserve));
    }
}
