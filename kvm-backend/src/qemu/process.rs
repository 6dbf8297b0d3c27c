//! One boot of an HVM guest: a `qemu-system-x86_64` child process with its taps, its console
//! pipes and its QMP session. Guest power events arrive as [`BootEvent`]s; the child dying
//! without being asked is one too ([`BootEvent::Gone`]), never hidden.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::argv::{Launch, argv};
use super::qmp::{Incoming, Qmp, QmpError};
use super::spec::HvmSpec;
use crate::devices::serial::ConsoleOut;
use crate::devices::virtio::net::tap::Tap;
use crate::devices::virtio::net::{default_mac, netlink};
use crate::runstate::ExitReason;

/// How long QEMU may take to open its QMP socket.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `quit` may take before QEMU is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures starting QEMU.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A tap could not be created or bridged.
    #[error("vif {index}: {detail}")]
    Network {
        /// NIC index.
        index: usize,
        /// What failed.
        detail: String,
    },
    /// The QEMU binary could not be run.
    #[error(
        "cannot run {bin}: {source} (apt-get install qemu-system-x86, or set device_model_override)"
    )]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU exited before its QMP socket came up (its error is on stderr above).
    #[error("{bin} exited during start-up ({status}); its error is above")]
    Exited {
        /// The binary.
        bin: PathBuf,
        /// Its exit status.
        status: String,
    },
    /// QMP failed.
    #[error(transparent)]
    Qmp(#[from] QmpError),
}

/// Something that ends or changes a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootEvent {
    /// The guest powered off, reset or panicked (QEMU is paused, waiting for our decision).
    Guest(ExitReason),
    /// QEMU exited or closed QMP without being asked to.
    Gone,
    /// The toolstack asked for destroy.
    Destroy,
}

/// Maps a QMP event to a boot event (`None`: nothing to act on).
pub fn map_event(name: &str, data: &Value) -> Option<BootEvent> {
    match name {
        "SHUTDOWN" => match data.get("reason").and_then(Value::as_str) {
            Some("guest-shutdown") => Some(BootEvent::Guest(ExitReason::Poweroff)),
            Some("guest-reset" | "host-qmp-system-reset") => {
                Some(BootEvent::Guest(ExitReason::Reboot))
            }
            Some("guest-panic") => Some(BootEvent::Guest(ExitReason::Crash(
                "the guest reported a panic (pvpanic)".into(),
            ))),
            // host-qmp-quit is ours; host-signal ends in Gone when QEMU exits.
            _ => None,
        },
        "GUEST_PANICKED" => Some(BootEvent::Guest(ExitReason::Crash(
            "the guest reported a panic (pvpanic)".into(),
        ))),
        _ => None,
    }
}

/// A running QEMU.
pub struct Boot {
    bin: PathBuf,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    qmp: Qmp,
    events: Sender<BootEvent>,
    _taps: Vec<Tap>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A copy of `fd` that a child process inherits (plain dup() leaves FD_CLOEXEC clear).
fn inheritable(fd: i32) -> std::io::Result<i32> {
    // SAFETY: dup has no memory effects; `fd` is open (owned by a live Tap).
    let d = unsafe { libc::dup(fd) };
    if d < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(d)
}

impl Boot {
    /// Starts QEMU for `spec` (stopped, `-S`) with QMP on `qmp_path` and COM1 copied to
    /// `console`; returns it with the receiver of its events.
    pub fn launch(
        spec: &HvmSpec,
        qmp_path: &Path,
        cpu: &str,
        mut console: ConsoleOut,
    ) -> Result<(Boot, Receiver<BootEvent>), LaunchError> {
        let mut taps = Vec::new();
        let mut macs = Vec::new();
        for (index, nic) in spec.nics.iter().map(|n| &n.net).enumerate() {
            let net = |detail: String| LaunchError::Network { index, detail };
            let tap = Tap::open(nic.tap.as_deref().unwrap_or("rxltap%d"))
                .map_err(|e| net(e.to_string()))?;
            if let Some(br) = &nic.bridge {
                netlink::attach_to_bridge(tap.name(), br).map_err(|e| net(e.to_string()))?;
            }
            macs.push(nic.mac.unwrap_or_else(|| default_mac(&spec.name, index)));
            taps.push(tap);
        }
        let mut fds = Vec::new();
        let close_all = |fds: &[i32]| {
            for fd in fds {
                // SAFETY: closing descriptors this function dup'ed and owns.
                unsafe { libc::close(*fd) };
            }
        };
        for (index, t) in taps.iter().enumerate() {
            match inheritable(t.as_raw_fd()) {
                Ok(fd) => fds.push(fd),
                Err(e) => {
                    close_all(&fds);
                    return Err(LaunchError::Network {
                        index,
                        detail: format!("dup: {e}"),
                    });
                }
            }
        }
        let _ = std::fs::remove_file(qmp_path);
        let launch = Launch {
            qmp: qmp_path.to_path_buf(),
            tap_fds: fds.clone(),
            cpu: cpu.to_string(),
            macs,
        };
        let mut cmd = Command::new(&spec.qemu);
        cmd.args(argv(spec, &launch))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe: QEMU gets
        // SIGKILL if rxl-kvm dies, so no device model outlives its supervisor.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let spawned = cmd.spawn();
        close_all(&fds);
        let mut child = spawned.map_err(|source| LaunchError::Spawn {
            bin: spec.qemu.clone(),
            source,
        })?;
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        if let Some(mut out) = stdout {
            std::thread::Builder::new()
                .name("qemu-console".into())
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = out.read(&mut buf) {
                        if n == 0 || console.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        let _ = console.flush();
                    }
                })
                .ok();
        }
        let (tx, rx) = mpsc::channel();
        let etx = tx.clone();
        let on_event = move |inc: Incoming| {
            let ev = match inc {
                Incoming::Event(name, data) => map_event(&name, &data),
                Incoming::Closed => Some(BootEvent::Gone),
            };
            if let Some(ev) = ev {
                let _ = etx.send(ev);
            }
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let qmp = Qmp::connect(
            qmp_path,
            deadline,
            || matches!(child.try_wait(), Ok(None)),
            on_event,
        );
        let qmp = match qmp {
            Ok(q) => q,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(match e {
                    QmpError::Io { .. } => LaunchError::Exited {
                        bin: spec.qemu.clone(),
                        status,
                    },
                    other => other.into(),
                });
            }
        };
        // Only rxl-kvm talks to this QEMU, and it is connected: unlinking the path now leaves
        // nothing behind however rxl-kvm ends (even SIGKILL).
        let _ = std::fs::remove_file(qmp_path);
        let boot = Boot {
            bin: spec.qemu.clone(),
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            qmp,
            events: tx,
            _taps: taps,
        };
        if let Some(pw) = spec.vnc.as_ref().and_then(|v| v.password.as_ref()) {
            let set = boot
                .qmp
                .execute("change-vnc-password", Some(json!({ "password": pw })));
            if let Err(e) = set {
                boot.quit();
                return Err(e.into());
            }
        }
        Ok((boot, rx))
    }

    /// The QEMU binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Runs a QMP command that takes no arguments.
    pub fn command(&self, name: &str) -> Result<(), String> {
        self.qmp
            .execute(name, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Types `bytes` into COM1.
    pub fn input(&self, bytes: &[u8]) -> Result<(), String> {
        match lock(&self.stdin).as_mut() {
            Some(w) => w
                .write_all(bytes)
                .and_then(|()| w.flush())
                .map_err(|e| format!("console input: {e}")),
            None => Err("the console is closed".into()),
        }
    }

    /// Injects a destroy request into this boot's event stream.
    pub fn request_destroy(&self) {
        let _ = self.events.send(BootEvent::Destroy);
    }

    /// How QEMU exited, if it did.
    pub fn exit_status(&self) -> Option<String> {
        lock(&self.child)
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.to_string())
    }

    /// Ends QEMU: `quit` over QMP, SIGKILL if it lingers; reaps it.
    pub fn quit(&self) {
        if self.exit_status().is_none() {
            let _ = self.qmp.execute("quit", None);
        }
        let deadline = Instant::now() + QUIT_TIMEOUT;
        let mut child = lock(&self.child);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_events_map_to_exit_reasons() {
        let ev = |reason: &str| map_event("SHUTDOWN", &json!({ "guest": true, "reason": reason }));
        assert_eq!(
            ev("guest-shutdown"),
            Some(BootEvent::Guest(ExitReason::Poweroff))
        );
        assert_eq!(
            ev("guest-reset"),
            Some(BootEvent::Guest(ExitReason::Reboot))
        );
        assert_eq!(
            ev("host-qmp-system-reset"),
            Some(BootEvent::Guest(ExitReason::Reboot))
        );
        assert!(matches!(
            ev("guest-panic"),
            Some(BootEvent::Guest(ExitReason::Crash(_)))
        ));
        assert_eq!(ev("host-qmp-quit"), None);
        assert!(matches!(
            map_event("GUEST_PANICKED", &json!({ "action": "pause" })),
            Some(BootEvent::Guest(ExitReason::Crash(_)))
        ));
        assert_eq!(map_event("STOP", &Value::Null), None);
    }

    #[test]
    fn a_missing_qemu_binary_is_named() {
        let mut spec = HvmSpec::new("t");
        spec.qemu = "/nonexistent/qemu-system-x86_64".into();
        let dir = tempfile::tempdir().unwrap();
        let out: ConsoleOut = Box::new(std::io::sink());
        let e = Boot::launch(&spec, &dir.path().join("q"), "host", out)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/qemu-system-x86_64"), "{e}");
    }
}
