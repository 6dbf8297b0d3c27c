//! The per-VM control socket: a line-oriented request, a one-line JSON reply.
//!
//! Requests: `info`, `pause`, `resume`, `destroy`, `shutdown`, `reboot`. The server side runs
//! inside the `rxl-kvm` process ([`server`]); the toolstack talks to it with [`client`].

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::runstate::{ExitCounts, ExitReason};

/// What the VM is doing, as `info` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Building or rebuilding the VM.
    Booting,
    /// vCPUs executing guest code.
    Running,
    /// vCPUs parked by `pause`.
    Paused,
    /// The guest shut down and `on_*=preserve` keeps it for inspection.
    Shutdown,
    /// The guest crashed and `on_crash=preserve` keeps it for inspection.
    Crashed,
    /// Being torn down.
    Dying,
}

/// The `info` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmInfo {
    /// Domain id.
    pub id: u32,
    /// Domain name.
    pub name: String,
    /// VMM process id.
    pub pid: u32,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// vCPUs.
    pub vcpus: u8,
    /// Current phase.
    pub phase: Phase,
    /// How many times the guest was booted (reboots with on_reboot=restart add one).
    pub boots: u32,
    /// Why the last boot ended, if one did.
    pub last_exit: Option<ExitReason>,
    /// VM exits of the current boot.
    pub exits: ExitCounts,
    /// Seconds since the VMM started.
    pub uptime_secs: f64,
}

impl VmInfo {
    /// The `info` reply of the VM described by `record`, started at `started`, in its current
    /// boot state (shared by the microVM supervisor and the QEMU one).
    pub fn new(
        record: &crate::rundir::VmRecord,
        started: std::time::Instant,
        phase: Phase,
        boots: u32,
        last_exit: Option<ExitReason>,
        exits: ExitCounts,
    ) -> VmInfo {
        VmInfo {
            id: record.id,
            name: record.name.clone(),
            pid: record.pid,
            memory_mib: record.memory_mib,
            vcpus: record.vcpus,
            phase,
            boots,
            last_exit,
            exits,
            uptime_secs: started.elapsed().as_secs_f64(),
        }
    }
}

/// A reply on the socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The failure, when `!ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<VmInfo>,
}

impl Reply {
    /// The reply to `info`.
    pub fn with_info(info: VmInfo) -> Reply {
        Reply {
            ok: true,
            error: None,
            info: Some(info),
        }
    }

    /// The reply to any other request: `ok`, or the reason it failed.
    pub fn from_result(result: Result<(), String>) -> Reply {
        match result {
            Ok(()) => Reply {
                ok: true,
                error: None,
                info: None,
            },
            Err(e) => Reply {
                ok: false,
                error: Some(e),
                info: None,
            },
        }
    }
}

/// The error for a request neither supervisor knows (at most 32 of its characters quoted).
pub(crate) fn unknown_request(request: &str) -> String {
    format!(
        "unknown request '{}' (expected info, pause, resume, destroy, shutdown, reboot, input HEX)",
        request.chars().take(32).collect::<String>()
    )
}

/// Decodes the argument of an `input HEX` request.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}
