//! `KvmBackend`: the rxl-hypervisor [`Backend`] on KVM. Each domain is one `rxl-kvm` process
//! in managed mode; this side reserves the id, writes the spec, spawns the VMM, and talks to
//! its control socket. Nothing here touches /dev/kvm except `host_info`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rxl_config::DomainConfig;
use rxl_hypervisor::{
    Backend, BackendError, BackendKind, Console, CreateOptions, Created, DomainId, DomainState,
    DomainSummary, HostInfo, ShutdownKind, ShutdownReason, ShutdownWait,
};

use crate::control::client::{self, ClientError};
use crate::control::{Phase, VmInfo};
use crate::rundir::{RunDir, RunDirError, VmRecord, pid_alive};
use crate::runstate::ExitReason;
use crate::spec::VmSpec;

/// Name of the VMM binary, looked up next to the running executable, then in PATH.
pub const VMM_BINARY: &str = "rxl-kvm";
/// Environment variable naming the VMM binary explicitly.
pub const VMM_BINARY_ENV: &str = "RXL_KVM_BIN";
/// How long `create` waits for a new VMM to come up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `destroy` waits for a VMM to exit before killing it.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures of the KVM backend.
#[derive(Debug, thiserror::Error)]
pub enum KvmBackendError {
    /// The run directory could not be used.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The VMM could not be reached or refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The VMM binary could not be started.
    #[error("cannot start {bin}: {source} (set {VMM_BINARY_ENV} or install rxl-kvm next to rxl)")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The VMM started but exited before its VM ran.
    #[error("domain '{name}' failed to start:\n{log}")]
    StartFailed {
        /// Domain name.
        name: String,
        /// What the VMM printed.
        log: String,
    },
    /// A file in the run directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl From<KvmBackendError> for BackendError {
    fn from(e: KvmBackendError) -> Self {
        BackendError::Backend {
            context: e.to_string(),
            source: Box::new(e),
        }
    }
}

/// The KVM backend.
#[derive(Debug, Clone)]
pub struct KvmBackend {
    run: RunDir,
    vmm_bin: PathBuf,
}

impl Default for KvmBackend {
    fn default() -> Self {
        KvmBackend::new(RunDir::from_env(), locate_vmm())
    }
}

fn locate_vmm() -> PathBuf {
    if let Some(p) = std::env::var_os(VMM_BINARY_ENV) {
        return p.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(VMM_BINARY)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(VMM_BINARY))
}

/// A domain's record and, if its VMM answers, its live info.
struct Status {
    record: VmRecord,
    live: Option<VmInfo>,
}

impl KvmBackend {
    /// A backend using run directory `run` and VMM binary `vmm_bin`.
    pub fn new(run: RunDir, vmm_bin: PathBuf) -> Self {
        KvmBackend { run, vmm_bin }
    }

    /// The run directory.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    fn status(&self, record: VmRecord) -> Status {
        let live = if vmm_alive(record.pid) {
            client::info(&self.run.socket_path(record.id)).ok()
        } else {
            None
        };
        Status { record, live }
    }

    fn record(&self, id: DomainId) -> Result<VmRecord, BackendError> {
        self.run
            .records()
            .map_err(KvmBackendError::from)?
            .into_iter()
            .find(|r| r.id == id.0)
            .ok_or_else(|| BackendError::NoSuchDomain(id.to_string()))
    }

    /// Live info of domain `id` from its VMM.
    pub fn info(&self, id: DomainId) -> Result<VmInfo, BackendError> {
        let rec = self.record(id)?;
        Ok(client::info(&self.run.socket_path(rec.id)).map_err(KvmBackendError::from)?)
    }

    fn request(&self, id: DomainId, req: &str) -> Result<(), BackendError> {
        let rec = self.record(id)?;
        client::request(&self.run.socket_path(rec.id), req).map_err(KvmBackendError::from)?;
        Ok(())
    }

    /// Starts a VMM for `spec`; on any failure nothing of it is left in the run directory.
    pub fn create_spec(
        &self,
        spec: &VmSpec,
        opts: &CreateOptions,
    ) -> Result<DomainId, KvmBackendError> {
        let text = serde_json::to_string_pretty(spec).unwrap_or_default();
        self.create_json(&spec.name, spec.memory_mib, spec.vcpus, &text, opts)
    }

    /// Starts a VMM for an HVM guest: `rxl-kvm` runs it under QEMU, with the same run
    /// directory entries and control socket as a microVM.
    pub fn create_hvm(
        &self,
        spec: &crate::qemu::HvmSpec,
        opts: &CreateOptions,
    ) -> Result<DomainId, KvmBackendError> {
        let text = serde_json::to_string_pretty(spec).unwrap_or_default();
        self.create_json(&spec.name, spec.memory_mib, spec.vcpus, &text, opts)
    }

    fn create_json(
        &self,
        name: &str,
        memory_mib: u64,
        vcpus: u8,
        spec_json: &str,
        opts: &CreateOptions,
    ) -> Result<DomainId, KvmBackendError> {
        let rec = self.run.reserve(name, memory_mib, vcpus)?;
        match self.spawn(name, spec_json, &rec, opts) {
            Ok(()) => Ok(DomainId(rec.id)),
            Err(e) => {
                self.run.remove(rec.id);
                Err(e)
            }
        }
    }

    fn spawn(
        &self,
        name: &str,
        spec_json: &str,
        rec: &VmRecord,
        opts: &CreateOptions,
    ) -> Result<(), KvmBackendError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KvmBackendError::Io { path, source }
        };
        let spec_path = self.run.spec_path(rec.id);
        std::fs::write(&spec_path, spec_json).map_err(io(&spec_path))?;
        let log_path = self.run.root().join(format!("{}.log", rec.id));
        let log = File::create(&log_path).map_err(io(&log_path))?;
        let mut cmd = Command::new(&self.vmm_bin);
        cmd.arg("--spec")
            .arg(&spec_path)
            .arg("--run-dir")
            .arg(self.run.root())
            .arg("--id")
            .arg(rec.id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: the VM outlives the terminal that created it.
            .process_group(0);
        if opts.paused {
            cmd.arg("--paused");
        }
        let mut child = cmd.spawn().map_err(|source| KvmBackendError::Spawn {
            bin: self.vmm_bin.clone(),
            source,
        })?;
        let deadline = Instant::now() + START_TIMEOUT;
        let result = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break Err(KvmBackendError::StartFailed {
                    name: name.to_string(),
                    log: std::fs::read_to_string(&log_path)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                });
            }
            // The VMM writes its pid into the record once its socket is listening.
            let up = self
                .run
                .records()?
                .iter()
                .any(|r| r.id == rec.id && r.pid != 0);
            if up {
                break Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break Err(KvmBackendError::StartFailed {
                    name: name.to_string(),
                    log: format!("the VMM did not come up within {START_TIMEOUT:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = std::fs::remove_file(&log_path);
        result
    }

    /// Types `bytes` into the guest's serial console.
    pub fn send_input(&self, id: DomainId, bytes: &[u8]) -> Result<(), BackendError> {
        self.request(
            id,
            &format!("input {}", crate::control::server::encode_hex(bytes)),
        )
    }

    /// Follows the console log of `id` until its VMM exits or `detach` is set.
    pub fn follow_console(
        &self,
        id: DomainId,
        out: &mut dyn Write,
        detach: &AtomicBool,
    ) -> Result<(), BackendError> {
        let rec = self.record(id)?;
        let path = self.run.console_path(rec.id);
        let mut file = File::open(&path).map_err(|source| KvmBackendError::Io {
            path: path.clone(),
            source,
        })?;
        let mut buf = [0u8; 4096];
        loop {
            let n = file.read(&mut buf).unwrap_or(0);
            if n > 0 {
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
                continue;
            }
            if !vmm_alive(rec.pid) || detach.load(Ordering::Relaxed) {
                return Ok(());
            }
            // At EOF: a later read returns whatever the VMM appended meanwhile.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether the VMM process `pid` is alive (a zombie counts as dead).
fn vmm_alive(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn summary(st: &Status) -> DomainSummary {
    let state = match &st.live {
        Some(info) => DomainState {
            running: info.phase == Phase::Running,
            blocked: info.phase == Phase::Booting,
            paused: info.phase == Phase::Paused,
            shutdown: match info.phase {
                Phase::Shutdown => Some(match info.last_exit {
                    Some(ExitReason::Reboot) => ShutdownReason::Reboot,
                    _ => ShutdownReason::Poweroff,
                }),
                Phase::Crashed => Some(ShutdownReason::Crash),
                _ => None,
            },
            dying: info.phase == Phase::Dying,
        },
        // The VMM is gone (or hung) but its record remains: report it, don't hide it.
        None => DomainState {
            shutdown: Some(ShutdownReason::Crash),
            dying: !vmm_alive(st.record.pid),
            ..Default::default()
        },
    };
    DomainSummary {
        id: DomainId(st.record.id),
        name: Some(st.record.name.clone()),
        mem_kib: st.record.memory_mib * 1024,
        vcpus: u32::from(st.record.vcpus),
        state,
        cpu_time_secs: st.live.as_ref().map_or(0.0, |i| i.uptime_secs),
        uuid: None,
        control: false,
        details: serde_json::json!({ "record": st.record, "live": st.live }),
    }
}

/// The console log of one VM, read as it grows: `read` waits for more output and returns 0
/// once the VMM has exited and everything it wrote was read.
struct ConsoleFollower {
    file: File,
    pid: u32,
}

impl Read for ConsoleFollower {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if !vmm_alive(self.pid) {
                // One last read: the VMM may have written just before it exited.
                return self.file.read(buf);
            }
            // At EOF: a later read returns whatever the VMM appended meanwhile.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Keystrokes for the guest's UART, through the VMM's control socket.
struct ConsoleInput {
    backend: KvmBackend,
    id: DomainId,
}

impl Write for ConsoleInput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() {
            self.backend
                .send_input(self.id, buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::BrokenPipe, e.to_string()))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Backend for KvmBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Kvm
    }

    fn host_info(&self) -> Result<HostInfo, BackendError> {
        let mut fields = vec![
            ("hypervisor".to_string(), "kvm".to_string()),
            (
                "nr_cpus".to_string(),
                std::thread::available_parallelism()
                    .map_or(0, |n| n.get())
                    .to_string(),
            ),
        ];
        if let Some(kib) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            fields.push(("total_memory".to_string(), (kib / 1024).to_string()));
        }
        match crate::vstate::vm::host_capabilities() {
            Ok(caps) => fields.extend(caps),
            Err(e) => fields.push(("kvm".to_string(), format!("unusable: {e}"))),
        }
        Ok(HostInfo::from_fields(fields))
    }

    fn list(&self) -> Result<Vec<DomainSummary>, BackendError> {
        let records = self.run.records().map_err(KvmBackendError::from)?;
        Ok(records
            .into_iter()
            .map(|r| summary(&self.status(r)))
            .collect())
    }

    fn lookup(&self, dom: &str) -> Result<DomainId, BackendError> {
        let records = self.run.records().map_err(KvmBackendError::from)?;
        if let Ok(n) = dom.parse::<u32>()
            && records.iter().any(|r| r.id == n)
        {
            return Ok(DomainId(n));
        }
        records
            .iter()
            .find(|r| r.name == dom)
            .map(|r| DomainId(r.id))
            .ok_or_else(|| BackendError::NoSuchDomain(dom.to_string()))
    }

    fn create(&self, cfg: &DomainConfig, opts: &CreateOptions) -> Result<Created, BackendError> {
        if cfg.effective_type() == rxl_config::model::GuestType::Hvm {
            // HVM: QEMU is the device model, supervised by rxl-kvm (kvm-backend/src/qemu).
            let mapped = crate::qemu::config::hvm_spec(cfg).map_err(|e| BackendError::Backend {
                context: e.to_string(),
                source: Box::new(e),
            })?;
            let id = self.create_hvm(&mapped.spec, opts)?;
            return Ok(Created {
                id,
                warnings: mapped.warnings,
            });
        }
        let mapped = crate::from_config::vm_spec(cfg).map_err(|e| BackendError::Backend {
            context: e.to_string(),
            source: Box::new(e),
        })?;
        // Keys that have no effect on KVM are reported, never silently dropped. The VMM carries
        // out on_poweroff/on_reboot/on_crash itself, so there is no monitor to start.
        let id = self.create_spec(&mapped.spec, opts)?;
        Ok(Created {
            id,
            warnings: mapped.warnings.iter().map(ToString::to_string).collect(),
        })
    }

    fn pause(&self, id: DomainId) -> Result<(), BackendError> {
        self.request(id, "pause")
    }

    fn unpause(&self, id: DomainId) -> Result<(), BackendError> {
        self.request(id, "resume")
    }

    fn shutdown(&self, id: DomainId, kind: ShutdownKind) -> Result<(), BackendError> {
        self.request(
            id,
            match kind {
                ShutdownKind::Poweroff => "shutdown",
                ShutdownKind::Reboot => "reboot",
            },
        )
    }

    fn wait_shutdown(&self, id: DomainId, timeout: Duration) -> Result<ShutdownWait, BackendError> {
        let start = Instant::now();
        // A reboot with on_reboot=restart happens inside the VMM: the boot count goes up.
        let mut boots = None;
        loop {
            let rec = match self.record(id) {
                Err(BackendError::NoSuchDomain(_)) => return Ok(ShutdownWait::Gone),
                other => other?,
            };
            if !vmm_alive(rec.pid) {
                return Ok(ShutdownWait::Gone);
            }
            if let Ok(info) = client::info(&self.run.socket_path(rec.id)) {
                if matches!(info.phase, Phase::Shutdown | Phase::Crashed | Phase::Dying)
                    || boots.is_some_and(|b| info.boots > b)
                {
                    return Ok(ShutdownWait::ShutDown);
                }
                boots.get_or_insert(info.boots);
            }
            if start.elapsed() > timeout {
                return Ok(ShutdownWait::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn destroy(&self, id: DomainId) -> Result<(), BackendError> {
        let rec = self.record(id)?;
        if vmm_alive(rec.pid) {
            // Ask first (the VMM cleans up after itself); kill if it does not answer.
            let _ = client::request(&self.run.socket_path(rec.id), "destroy");
            let deadline = Instant::now() + DESTROY_TIMEOUT;
            while vmm_alive(rec.pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if vmm_alive(rec.pid) {
                // SAFETY: kill(2) with a pid we recorded ourselves; no memory is involved.
                unsafe { libc::kill(rec.pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        self.run.remove(rec.id);
        Ok(())
    }

    /// The guest's serial console: output from the VMM's console log, keystrokes through its
    /// control socket to the UART.
    fn console(&self, id: DomainId) -> Result<Console, BackendError> {
        let rec = self.record(id)?;
        let path = self.run.console_path(rec.id);
        let file = File::open(&path).map_err(|source| KvmBackendError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Console {
            output: Box::new(ConsoleFollower { file, pid: rec.pid }),
            input: Box::new(ConsoleInput {
                backend: self.clone(),
                id,
            }),
        })
    }
}
