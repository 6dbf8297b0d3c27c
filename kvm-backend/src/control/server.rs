//! The control server inside `rxl-kvm`: owns the VM's lifecycle across reboots (the
//! [`Supervisor`]) and answers requests on the unix socket.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Phase, Reply, VmInfo, decode_hex, unknown_request};
use crate::devices::Devices;
use crate::rundir::{RunDir, VmRecord};
use crate::runstate::{ExitReason, RunControl};

/// How long `pause` waits for every vCPU to park.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest request line accepted.
const MAX_REQUEST: usize = 8192;

struct State {
    control: Option<Arc<RunControl>>,
    devices: Option<Arc<Devices>>,
    phase: Phase,
    boots: u32,
    last_exit: Option<ExitReason>,
    destroy: bool,
    start_paused: bool,
}

/// Lifecycle state shared by the VMM's main loop and the control server.
pub struct Supervisor {
    record: VmRecord,
    started: Instant,
    state: Mutex<State>,
    changed: Condvar,
}

impl Supervisor {
    /// A supervisor for the VM `record` describes; with `start_paused` the first boot's vCPUs
    /// wait for `resume` before running any guest code.
    pub fn new(record: VmRecord, start_paused: bool) -> Arc<Supervisor> {
        Arc::new(Supervisor {
            record,
            started: Instant::now(),
            state: Mutex::new(State {
                control: None,
                devices: None,
                phase: Phase::Booting,
                boots: 0,
                last_exit: None,
                destroy: false,
                start_paused,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called before each boot with that boot's run control; false if a destroy came first.
    pub fn booting(&self, control: Arc<RunControl>) -> bool {
        let mut s = self.lock();
        if s.destroy {
            return false;
        }
        s.phase = if std::mem::take(&mut s.start_paused) && control.pause() {
            Phase::Paused
        } else {
            Phase::Running
        };
        s.control = Some(control);
        // The previous boot's devices are gone; the new ones arrive with `set_devices`.
        s.devices = None;
        s.boots += 1;
        true
    }

    /// Gives the control server the built VM's devices (console input goes to its UART).
    pub fn set_devices(&self, devices: Arc<Devices>) {
        self.lock().devices = Some(devices);
    }

    fn input(&self, hex: &str) -> Result<(), String> {
        let bytes = decode_hex(hex.trim())
            .ok_or_else(|| "input: expected an even number of hex digits".to_string())?;
        let devices = self
            .lock()
            .devices
            .clone()
            .ok_or("the domain has no console yet")?;
        let mut serial = devices.serial.lock().unwrap_or_else(|e| e.into_inner());
        let taken = serial.enqueue_input(&bytes);
        if taken < bytes.len() {
            return Err(format!(
                "the guest's UART FIFO is full ({taken} of {} bytes taken); retry",
                bytes.len()
            ));
        }
        Ok(())
    }

    /// `shutdown`/`reboot`: presses the guest's ACPI power button; a guest that honours it
    /// powers off, which `reboot` turns into a reboot (then `on_reboot` applies).
    fn press_power_button(&self, reboot: bool) -> Result<(), String> {
        self.running_control()?;
        let devices = self
            .lock()
            .devices
            .clone()
            .ok_or("the domain is still being built; retry")?;
        devices
            .power_button()
            .press(reboot)
            .map_err(|e| format!("raising the power button's interrupt failed: {e}"))
    }

    /// Called when a boot ended.
    pub fn stopped(&self, reason: &ExitReason) {
        let mut s = self.lock();
        s.last_exit = Some(reason.clone());
        s.phase = match reason {
            ExitReason::Crash(_) => Phase::Crashed,
            ExitReason::Destroyed => Phase::Dying,
            _ => Phase::Shutdown,
        };
    }

    /// Blocks until `destroy` is requested (for `on_*=preserve`).
    pub fn wait_destroy(&self) {
        let mut s = self.lock();
        while !s.destroy {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether `destroy` was requested.
    pub fn destroy_requested(&self) -> bool {
        self.lock().destroy
    }

    /// Requests teardown: stops a running boot and releases a preserved VM.
    pub fn destroy(&self) {
        let mut s = self.lock();
        s.destroy = true;
        s.phase = Phase::Dying;
        if let Some(c) = &s.control {
            c.request_exit(ExitReason::Destroyed);
        }
        self.changed.notify_all();
    }

    /// The `info` reply.
    pub fn info(&self) -> VmInfo {
        let s = self.lock();
        let exits = s
            .control
            .as_ref()
            .map(|c| c.stats.snapshot())
            .unwrap_or_default();
        VmInfo::new(
            &self.record,
            self.started,
            s.phase,
            s.boots,
            s.last_exit.clone(),
            exits,
        )
    }

    fn running_control(&self) -> Result<Arc<RunControl>, String> {
        let s = self.lock();
        match (&s.control, s.phase) {
            (Some(c), Phase::Running | Phase::Paused) => Ok(c.clone()),
            (_, phase) => {
                Err(format!("the domain is not running (it is {phase:?})").to_lowercase())
            }
        }
    }

    /// Serves one request line.
    pub fn handle(&self, request: &str) -> Reply {
        let result = match request.trim() {
            "info" => return Reply::with_info(self.info()),
            "pause" => self.running_control().and_then(|c| {
                if c.pause_and_wait(PAUSE_TIMEOUT) {
                    self.lock().phase = Phase::Paused;
                    Ok(())
                } else {
                    c.resume();
                    Err("the vCPUs did not stop within 2 s; the domain keeps running".into())
                }
            }),
            "resume" => self.running_control().and_then(|c| {
                if c.resume() {
                    self.lock().phase = Phase::Running;
                    Ok(())
                } else {
                    Err("the domain is stopping".into())
                }
            }),
            "destroy" => {
                self.destroy();
                Ok(())
            }
            r if r.starts_with("input ") => self.input(&r["input ".len()..]),
            "shutdown" => self.press_power_button(false),
            "reboot" => self.press_power_button(true),
            other => Err(unknown_request(other)),
        };
        Reply::from_result(result)
    }
}

/// Hex encoding for `input` requests.
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What answers control requests: the microVM's [`Supervisor`] and the QEMU supervisor
/// ([`crate::qemu::supervisor::HvmSupervisor`]) speak the same protocol through [`serve`].
pub trait Handler: Send + Sync + 'static {
    /// Serves one request line.
    fn handle(&self, request: &str) -> Reply;
}

impl Handler for Supervisor {
    fn handle(&self, request: &str) -> Reply {
        Supervisor::handle(self, request)
    }
}

/// Accepts connections on `listener` forever, one request per connection.
pub fn serve<H: Handler>(listener: UnixListener, sup: Arc<H>) {
    for stream in listener.incoming() {
        match stream {
            Ok(s) => serve_one(s, &*sup),
            // A failed accept (e.g. EMFILE) only affects that client; keep serving.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve_one<H: Handler>(stream: UnixStream, sup: &H) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let mut reader = BufReader::new(&stream).take(MAX_REQUEST as u64);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let reply = sup.handle(&line);
    let mut out = serde_json::to_string(&reply).unwrap_or_else(|_| "{\"ok\":false}".into());
    out.push('\n');
    let _ = (&stream).write_all(out.as_bytes());
}

/// Managed mode's start, shared by the microVM and QEMU paths: takes domain `id`'s reserved
/// record in `dir` for this process (its pid filled in, not yet written), opens the console log
/// for appending, binds the control socket and serves it with the supervisor `make` builds.
pub fn start<H: Handler>(
    dir: &RunDir,
    id: u32,
    make: impl FnOnce(VmRecord) -> Arc<H>,
) -> Result<(Arc<H>, File, VmRecord), String> {
    let mut record = dir
        .records()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| format!("domain id {id} is not reserved in {}", dir.root().display()))?;
    record.pid = std::process::id();
    let console_path = dir.console_path(id);
    let console = File::options()
        .create(true)
        .append(true)
        .open(&console_path)
        .map_err(|e| format!("{}: {e}", console_path.display()))?;
    let sock = dir.socket_path(id);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    let sup = make(record.clone());
    let s = sup.clone();
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || serve(listener, s))
        .map_err(|e| format!("control thread: {e}"))?;
    Ok((sup, console, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> Arc<Supervisor> {
        Supervisor::new(
            VmRecord {
                id: 1,
                name: "t".into(),
                pid: 1,
                memory_mib: 16,
                vcpus: 1,
            },
            false,
        )
    }

    #[test]
    fn requests_before_boot_and_unknown_requests_fail_clearly() {
        let s = sup();
        let r = s.handle("pause\n");
        assert!(!r.ok && r.error.unwrap().contains("not running"));
        let r = s.handle("frobnicate");
        assert!(!r.ok && r.error.unwrap().contains("unknown request 'frobnicate'"));
        assert_eq!(s.handle("info").info.unwrap().phase, Phase::Booting);
    }

    #[test]
    fn input_needs_hex_and_a_console() {
        let s = sup();
        let r = s.handle("input 4");
        assert!(r.error.unwrap().contains("hex digits"));
        let r = s.handle("input 41");
        assert!(r.error.unwrap().contains("no console yet"));
        assert_eq!(decode_hex(&encode_hex(b"A\x1d")).unwrap(), b"A\x1d");
    }

    #[test]
    fn shutdown_needs_a_running_domain_with_devices() {
        let s = sup();
        let r = s.handle("shutdown");
        assert!(r.error.unwrap().contains("not running"));
        assert!(s.booting(Arc::new(RunControl::default())));
        let r = s.handle("reboot");
        assert!(r.error.unwrap().contains("still being built"));
    }

    #[test]
    fn destroy_stops_the_current_boot_and_blocks_the_next() {
        let s = sup();
        let c = Arc::new(RunControl::default());
        assert!(s.booting(c.clone()));
        assert!(s.handle("destroy").ok);
        assert_eq!(c.wait_exit(), ExitReason::Destroyed);
        assert!(!s.booting(Arc::new(RunControl::default())));
        s.wait_destroy();
    }
}
