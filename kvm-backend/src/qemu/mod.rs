//! HVM guests on KVM, with `qemu-system-x86_64 -accel kvm` as the device model — as libxl uses
//! QEMU for HVM guests on Xen. One `rxl-kvm` process still runs one VM: it supervises one QEMU
//! per boot, serves the same control socket and run-directory state as a microVM, and applies
//! `on_poweroff` / `on_reboot` / `on_crash` itself (QEMU pauses on those events and waits).
//!
//! [`config`] maps xl.cfg onto an [`HvmSpec`], [`argv`] turns that into QEMU's command line,
//! [`process`] runs one QEMU, [`qmp`] talks to it, [`supervisor`] answers the control socket.

pub mod argv;
pub mod config;
pub mod probe;
pub mod process;
pub mod qmp;
pub mod spec;
pub mod supervisor;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use rxl_config::model::GuestType;

pub use spec::HvmSpec;

use crate::devices::serial::ConsoleOut;
use crate::rundir::{RunDir, VmRecord};
use crate::runstate::ExitReason;
use crate::spec::Action;
use process::{Boot, BootEvent};
use supervisor::HvmSupervisor;

/// Runs the VM if the arguments describe an HVM guest (a `--spec` file holding an
/// [`HvmSpec`], or a `--config` xl.cfg with `type="hvm"`); `None` leaves it to the microVM.
pub fn dispatch(
    spec_file: Option<&Path>,
    config: Option<&Path>,
    run_dir: Option<&Path>,
    id: Option<u32>,
    paused: bool,
) -> Option<ExitCode> {
    let spec = if let Some(path) = spec_file {
        let text = std::fs::read_to_string(path).ok()?;
        if !HvmSpec::is_hvm_json(&text) {
            return None;
        }
        serde_json::from_str::<HvmSpec>(&text).map_err(|e| {
            format!(
                "{}:{}:{}: invalid HVM spec: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })
    } else {
        let path = config?;
        // A file that does not load is the microVM path's to report, as before.
        let loaded = rxl_config::load(path).ok()?;
        if loaded.config.effective_type() != GuestType::Hvm {
            return None;
        }
        for w in &loaded.warnings {
            eprintln!("rxl-kvm: warning: {w}");
        }
        config::hvm_spec(&loaded.config)
            .map(|m| {
                for w in &m.warnings {
                    eprintln!("rxl-kvm: warning: {}: {w}", path.display());
                }
                m.spec
            })
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let spec = match spec {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rxl-kvm: {e}");
            return Some(ExitCode::from(2));
        }
    };
    Some(match (run_dir, id) {
        (Some(dir), Some(id)) => managed(&spec, &RunDir::new(dir), id, paused),
        _ => {
            let qmp = std::env::temp_dir().join(format!("rxl-kvm-{}.qmp", std::process::id()));
            let console = || -> std::io::Result<ConsoleOut> { Ok(Box::new(std::io::stdout())) };
            let code = boot_loop(&spec, &qmp, console, None, None, false);
            let _ = std::fs::remove_file(&qmp);
            code
        }
    })
}

/// The QMP socket of domain `id` in `dir`.
pub fn qmp_path(dir: &RunDir, id: u32) -> PathBuf {
    dir.root().join(format!("{id}.qmp"))
}

/// Managed mode: record our pid, serve the control socket, log the console, and remove every
/// trace of the VM from the run directory when it ends.
fn managed(spec: &HvmSpec, dir: &RunDir, id: u32, paused: bool) -> ExitCode {
    let qmp = qmp_path(dir, id);
    let code = match setup(dir, id) {
        Ok((sup, console, record)) => {
            let make = || console.try_clone().map(|f| Box::new(f) as ConsoleOut);
            // The pid goes in once QEMU is up: until then a failure is a failed create.
            let ready = Box::new(|| dir.write(&record).map_err(|e| e.to_string()));
            boot_loop(spec, &qmp, make, Some(&sup), Some(ready), paused)
        }
        Err(e) => {
            eprintln!("rxl-kvm: {}: {e}", spec.name);
            ExitCode::from(2)
        }
    };
    let _ = std::fs::remove_file(&qmp);
    dir.remove(id);
    code
}

fn setup(dir: &RunDir, id: u32) -> Result<(Arc<HvmSupervisor>, File, VmRecord), String> {
    crate::control::server::start(dir, id, HvmSupervisor::new)
}

type Ready<'a> = Box<dyn FnOnce() -> Result<(), String> + 'a>;

/// Boots `spec` (one QEMU per boot) until an `on_*` action says stop.
/// Exit status as for the microVM: 0 stopped normally, 2 could not start, 3 crashed.
fn boot_loop(
    spec: &HvmSpec,
    qmp: &Path,
    console: impl Fn() -> std::io::Result<ConsoleOut>,
    sup: Option<&HvmSupervisor>,
    mut ready: Option<Ready<'_>>,
    start_paused: bool,
) -> ExitCode {
    let cpu = probe::cpu_model();
    let mut first = true;
    loop {
        if sup.is_some_and(HvmSupervisor::destroy_requested) {
            return ExitCode::SUCCESS;
        }
        let launched = console()
            .map_err(|e| format!("console: {e}"))
            .and_then(|out| Boot::launch(spec, qmp, &cpu, out).map_err(|e| e.to_string()));
        let (boot, events) = match launched {
            Ok(b) => b,
            Err(e) => {
                eprintln!("rxl-kvm: {}: {e}", spec.name);
                if let Some(s) = sup {
                    s.stopped(&ExitReason::Crash(e));
                }
                return ExitCode::from(if first { 2 } else { 3 });
            }
        };
        let boot = Arc::new(boot);
        if let Some(f) = ready.take()
            && let Err(e) = f()
        {
            eprintln!("rxl-kvm: {}: {e}", spec.name);
            boot.quit();
            return ExitCode::from(2);
        }
        let paused = first && start_paused;
        first = false;
        if let Some(s) = sup
            && !s.booting(boot.clone(), paused)
        {
            boot.quit();
            return ExitCode::SUCCESS;
        }
        if !paused && let Err(e) = boot.command("cont") {
            eprintln!("rxl-kvm: {}: starting the guest: {e}", spec.name);
        }
        let mut dm_died = false;
        let reason = match events.recv() {
            Ok(BootEvent::Guest(r)) => r,
            Ok(BootEvent::Destroy) => ExitReason::Destroyed,
            Ok(BootEvent::Gone) | Err(_) => {
                dm_died = true;
                // QMP closes while QEMU is still exiting: wait (briefly) for its status.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                let status = loop {
                    match boot.exit_status() {
                        Some(st) => break st,
                        None if std::time::Instant::now() > deadline => {
                            break "it closed QMP but still runs".into();
                        }
                        None => std::thread::sleep(std::time::Duration::from_millis(10)),
                    }
                };
                ExitReason::Crash(format!(
                    "the device model {} (pid {}) exited unexpectedly: {status}",
                    boot.bin().display(),
                    boot.pid(),
                ))
            }
        };
        if let Some(s) = sup {
            s.stopped(&reason);
        }
        let action = match &reason {
            ExitReason::Destroyed => {
                boot.quit();
                return ExitCode::SUCCESS;
            }
            ExitReason::Poweroff => spec.on_poweroff,
            ExitReason::Reboot => spec.on_reboot,
            ExitReason::Crash(msg) => {
                eprintln!("rxl-kvm: {}: guest crashed: {msg}", spec.name);
                match spec.on_crash {
                    // Restarting cannot fix a device model that itself failed.
                    Action::Restart if dm_died => {
                        eprintln!(
                            "rxl-kvm: {}: not restarting after a device model failure",
                            spec.name
                        );
                        Action::Destroy
                    }
                    a => a,
                }
            }
        };
        match action {
            Action::Restart => {
                boot.quit();
                if let Some(s) = sup {
                    s.released();
                }
                continue;
            }
            // QEMU is paused in its shutdown state: memory and devices stay for inspection.
            Action::Preserve => {
                if let Some(s) = sup {
                    s.wait_destroy();
                }
                boot.quit();
            }
            Action::Destroy => boot.quit(),
        }
        return match reason {
            ExitReason::Crash(_) => ExitCode::from(3),
            _ => ExitCode::SUCCESS,
        };
    }
}
