//! Hotplug scripts, run as libxl runs them (`libxl__get_hotplug_script_info` in
//! libxl_linux.c): the script named by the backend's `script` node, with `XENBUS_TYPE`,
//! `XENBUS_PATH` (relative to dom0's home), `XENBUS_BASE_PATH`, `script` and, for vifs,
//! `vif` and `netdev` in the environment; `block add|remove`, `vif-bridge online|offline
//! type_if=vif`. The scripts report failures in the backend's `hotplug-error` node and log
//! to `/var/log/xen/xen-hotplug.log`.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rxl_xenstore::client::Client;

use super::vif::Nic;
use super::{Device, DeviceError, Kind, backend_path, read};

/// How long a script may run (libxl's `LIBXL_HOTPLUG_TIMEOUT` is 40 s; emulated hosts fork
/// slowly, and `block` forks a few dozen times).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// How long the kernel may take to let go of a removed device (its interface, its loop
/// device).
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Add or remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The device is being added.
    Add,
    /// The device is being removed.
    Remove,
}

/// The arguments and environment of the script for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// argv, the script first.
    pub argv: Vec<String>,
    /// Variables added to rxl's environment.
    pub env: Vec<(&'static str, String)>,
}

/// What libxl passes to `script` for device `devid` of `domid`.
pub fn invocation(
    kind: Kind,
    domid: u32,
    devid: u32,
    script: &str,
    gatewaydev: Option<&str>,
    action: Action,
) -> Invocation {
    let mut env = vec![
        ("script", script.to_owned()),
        ("XENBUS_TYPE", kind.dir().to_owned()),
        (
            "XENBUS_PATH",
            format!("backend/{}/{domid}/{devid}", kind.dir()),
        ),
        ("XENBUS_BASE_PATH", "backend".to_owned()),
    ];
    let argv = match kind {
        Kind::Vbd => {
            let a = if action == Action::Add {
                "add"
            } else {
                "remove"
            };
            vec![script.to_owned(), a.to_owned()]
        }
        Kind::Vif => {
            env.push(("netdev", gatewaydev.unwrap_or_default().to_owned()));
            env.push(("vif", Nic::backend_ifname(domid, devid)));
            let a = if action == Action::Add {
                "online"
            } else {
                "offline"
            };
            vec![script.to_owned(), a.to_owned(), "type_if=vif".to_owned()]
        }
    };
    Invocation { argv, env }
}

/// One script about to run: what errors call the device, its backend, its command line.
#[derive(Debug)]
pub struct Job {
    what: String,
    be: String,
    inv: Invocation,
}

impl Job {
    /// The `add` script of `dev` (added just now), as its backend's `script` node names it.
    pub fn add(xs: &Client, dev: &Device) -> Result<Job, DeviceError> {
        let be = dev.backend_path();
        Job::prepare(xs, dev.kind, dev.domid, dev.devid, &dev.what, Action::Add).ok_or_else(|| {
            DeviceError::Hotplug {
                what: dev.what.clone(),
                command: "(none)".into(),
                outcome: "cannot run".into(),
                detail: format!("{be}/script is missing"),
            }
        })
    }

    /// The `remove`/`offline` script of an existing device, as its nodes say. Only a device
    /// whose `add` script ran has something to undo: the scripts leave `hotplug-status` (and
    /// `block` the loop device in `node`); a device without them, or without a `script`
    /// node, has nothing to run (`None`).
    pub fn remove(xs: &Client, kind: Kind, domid: u32, devid: u32) -> Option<Job> {
        let be = backend_path(kind, domid, devid);
        let ran = read(xs, &format!("{be}/hotplug-status")).is_some_and(|s| !s.is_empty())
            || read(xs, &format!("{be}/node")).is_some();
        if !ran {
            return None;
        }
        let what = format!("{} {devid} of domain {domid}", kind.dir());
        Job::prepare(xs, kind, domid, devid, &what, Action::Remove)
    }

    /// A job for `inv` (tests).
    #[cfg(test)]
    pub(crate) fn new(what: &str, be: &str, inv: Invocation) -> Job {
        Job {
            what: what.to_owned(),
            be: be.to_owned(),
            inv,
        }
    }

    /// `None` when the backend names no script.
    fn prepare(
        xs: &Client,
        kind: Kind,
        domid: u32,
        devid: u32,
        what: &str,
        action: Action,
    ) -> Option<Job> {
        let be = backend_path(kind, domid, devid);
        let script = read(xs, &format!("{be}/script"))?;
        let gatewaydev = read(xs, &format!("{be}/gatewaydev"));
        let inv = invocation(kind, domid, devid, &script, gatewaydev.as_deref(), action);
        Some(Job {
            what: what.to_owned(),
            be,
            inv,
        })
    }

    /// Runs the script (without touching xenstore, so that several can run at once).
    fn exec(&self) -> Ran {
        let t = Instant::now();
        let r = spawn_with_timeout(&self.inv, SCRIPT_TIMEOUT);
        tracing::debug!(
            command = self.inv.argv.join(" "),
            ms = t.elapsed().as_millis() as u64,
            "hotplug script ran"
        );
        r
    }

    /// What the run means: a failure names the device, the command, the outcome, the
    /// script's `hotplug-error` and its output.
    fn outcome(&self, xs: &Client, ran: Ran) -> Result<(), DeviceError> {
        let fail = |outcome: String, output: &str| {
            let mut detail = read(xs, &format!("{}/hotplug-error", self.be))
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "the script wrote no hotplug-error".into());
            let out = output.trim();
            if !out.is_empty() {
                detail.push_str(&format!("; output: {out}"));
            }
            detail.push_str("; more in /var/log/xen/xen-hotplug.log");
            DeviceError::Hotplug {
                what: self.what.clone(),
                command: self.inv.argv.join(" "),
                outcome,
                detail,
            }
        };
        match ran {
            Err(e) => Err(fail(e, "")),
            Ok((Some(0), _)) => Ok(()),
            Ok((Some(code), output)) => Err(fail(format!("exited with status {code}"), &output)),
            Ok((None, output)) => Err(fail("was killed by a signal".into(), &output)),
        }
    }
}

/// A script's exit code (`None` after a signal) and output, or why it did not run to its end.
pub(crate) type Ran = Result<(Option<i32>, String), String>;

/// Runs the scripts of `jobs` all at once and returns each one's outcome, in `jobs`' order.
/// The scripts of different devices are independent (each takes the lock of what it shares:
/// `block` its own, `vif-bridge` the iptables one); under an emulated dom0 each spends
/// seconds forking, so running them side by side saves most of the slower ones' time.
pub fn run_all(xs: &Client, jobs: &[Job]) -> Vec<Result<(), DeviceError>> {
    jobs.iter()
        .zip(exec_all(jobs))
        .map(|(j, r)| j.outcome(xs, r))
        .collect()
}

/// Runs the scripts of `jobs`, each in a thread of its own; their results in `jobs`' order.
pub(crate) fn exec_all(jobs: &[Job]) -> Vec<Ran> {
    match jobs {
        [] => Vec::new(),
        [one] => vec![one.exec()],
        _ => std::thread::scope(|s| {
            let threads: Vec<_> = jobs.iter().map(|j| s.spawn(|| j.exec())).collect();
            threads
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err("its supervising thread panicked".into()))
                })
                .collect()
        }),
    }
}

/// Runs the script in its own process group with output captured; kills the group when it
/// outlives `limit`. Returns the exit code (`None` after a signal) and the output.
pub(crate) fn spawn_with_timeout(
    inv: &Invocation,
    limit: Duration,
) -> Result<(Option<i32>, String), String> {
    let mut cmd = Command::new(&inv.argv[0]);
    cmd.args(&inv.argv[1..])
        .envs(inv.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not be started ({e})"))?;
    // Drain both pipes in threads so a chatty script cannot block on a full pipe.
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let mut buf = Vec::new();
                let _ = p.read_to_end(&mut buf);
                s = String::from_utf8_lossy(&buf).into_owned();
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let end = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
                let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "timed out after {} s and was killed",
                    limit.as_secs()
                ));
            }
            Err(e) => return Err(format!("could not be waited for ({e})")),
        }
    };
    let mut output = out.join().unwrap_or_default();
    output.push_str(&err.join().unwrap_or_default());
    Ok((status.code(), output))
}

/// Waits (up to 10 s) until netback has registered `vif<domid>.<devid>`.
pub fn wait_interface(domid: u32, devid: u32) {
    let path = format!("/sys/class/net/{}", Nic::backend_ifname(domid, devid));
    let end = Instant::now() + RELEASE_WAIT;
    while !std::path::Path::new(&path).exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 10 s) until the kernel has let go of a removed device: the vif's interface
/// is gone, the loop device behind a file-backed disk is detached. Removing the backend
/// nodes starts both, asynchronously in the kernel's xenwatch thread.
pub fn wait_released(kind: Kind, domid: u32, devid: u32, loop_dev: Option<&str>) {
    let probe = match kind {
        Kind::Vif => format!("/sys/class/net/{}", Nic::backend_ifname(domid, devid)),
        Kind::Vbd => match loop_dev.and_then(|d| d.strip_prefix("/dev/")) {
            Some(name) if name.starts_with("loop") => {
                format!("/sys/block/{name}/loop/backing_file")
            }
            _ => return,
        },
    };
    let end = Instant::now() + RELEASE_WAIT;
    while std::path::Path::new(&probe).exists() {
        if Instant::now() >= end {
            tracing::warn!(
                probe,
                "the kernel still holds the device 10 s after its removal"
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
