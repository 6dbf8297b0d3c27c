//! What a backend reports about one domain: its id, state flags and the `rxl list` row.

use std::fmt;

use serde::Serialize;

/// A domain number as the hypervisor knows it (Xen domid, or the KVM backend's own numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DomainId(pub u32);

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through u32's own Display, so width and alignment flags apply.
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a domain shut down, with Xen's `SHUTDOWN_*` codes (KVM maps its exits onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownReason {
    /// Powered off (code 0).
    Poweroff,
    /// Rebooted (1).
    Reboot,
    /// Suspended (2).
    Suspend,
    /// Crashed (3).
    Crash,
    /// Killed by its watchdog (4).
    Watchdog,
    /// Soft reset (5).
    SoftReset,
    /// Any other code.
    Unknown(u32),
}

impl ShutdownReason {
    /// Decodes a `SHUTDOWN_*` code.
    pub fn from_code(c: u32) -> Self {
        match c {
            0 => Self::Poweroff,
            1 => Self::Reboot,
            2 => Self::Suspend,
            3 => Self::Crash,
            4 => Self::Watchdog,
            5 => Self::SoftReset,
            n => Self::Unknown(n),
        }
    }

    /// The raw code, as `xl list -v` prints it in hex.
    pub fn code(self) -> u32 {
        match self {
            Self::Poweroff => 0,
            Self::Reboot => 1,
            Self::Suspend => 2,
            Self::Crash => 3,
            Self::Watchdog => 4,
            Self::SoftReset => 5,
            Self::Unknown(n) => n,
        }
    }

    /// The letter `xl list` prints in the fifth state column (`-rscwS`, `?` otherwise).
    pub fn letter(self) -> char {
        match self {
            Self::Poweroff => '-',
            Self::Reboot => 'r',
            Self::Suspend => 's',
            Self::Crash => 'c',
            Self::Watchdog => 'w',
            Self::SoftReset => 'S',
            Self::Unknown(_) => '?',
        }
    }
}

/// The state flags `xl list` prints as `rbpscd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DomainState {
    /// Running on a physical CPU now.
    pub running: bool,
    /// Blocked, waiting for an event.
    pub blocked: bool,
    /// Paused by the toolstack.
    pub paused: bool,
    /// Shut down by the guest, and why (the fourth and fifth columns).
    pub shutdown: Option<ShutdownReason>,
    /// Being destroyed.
    pub dying: bool,
}

impl DomainState {
    /// Whether the guest crashed.
    pub fn crashed(&self) -> bool {
        self.shutdown == Some(ShutdownReason::Crash)
    }
}

impl fmt::Display for DomainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}{}{}",
            flag(self.running, 'r'),
            flag(self.blocked, 'b'),
            flag(self.paused, 'p'),
            flag(self.shutdown.is_some(), 's'),
            self.shutdown.map_or('-', ShutdownReason::letter),
            flag(self.dying, 'd'),
        )
    }
}

/// One domain as `rxl list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSummary {
    /// Domain number.
    pub id: DomainId,
    /// Domain name; `None` when the hypervisor has none on record (xl prints `(null)`).
    pub name: Option<String>,
    /// Memory the domain holds in KiB (Xen: current plus outstanding claims).
    pub mem_kib: u64,
    /// Online vCPUs.
    pub vcpus: u32,
    /// State flags.
    pub state: DomainState,
    /// Accumulated CPU time in seconds (KVM: the VMM's uptime).
    pub cpu_time_secs: f64,
    /// The domain's UUID, where the backend keeps one.
    pub uuid: Option<[u8; 16]>,
    /// The control domain (Xen's dom0): `shutdown -a` skips it and `destroy` refuses it.
    pub control: bool,
    /// Everything else the backend knows, for `rxl list --json` (Xen: the domctl domain info;
    /// KVM: the VMM's record and live state).
    pub details: serde_json::Value,
}

impl DomainSummary {
    /// The name as xl prints it.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("(null)")
    }

    /// The UUID in its canonical 8-4-4-4-12 form (all zeroes when the backend keeps none).
    pub fn uuid_string(&self) -> String {
        uuid_string(&self.uuid.unwrap_or([0; 16]))
    }
}

/// UUID bytes in the canonical lower-case 8-4-4-4-12 form (libxl's `LIBXL_UUID_FMT`).
pub fn uuid_string(u: &[u8; 16]) -> String {
    let h =
        |r: std::ops::Range<usize>| -> String { u[r].iter().map(|b| format!("{b:02x}")).collect() };
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_prints_like_xl() {
        let s = DomainState {
            running: true,
            paused: true,
            ..Default::default()
        };
        assert_eq!(s.to_string(), "r-p---");
        assert_eq!(DomainState::default().to_string(), "------");
        let crashed = DomainState {
            shutdown: Some(ShutdownReason::Crash),
            ..Default::default()
        };
        assert_eq!(crashed.to_string(), "---sc-");
        assert!(crashed.crashed());
        let off = DomainState {
            shutdown: Some(ShutdownReason::Poweroff),
            ..Default::default()
        };
        assert_eq!(off.to_string(), "---s--");
    }

    #[test]
    fn shutdown_codes_round_trip() {
        for c in 0..8 {
            assert_eq!(ShutdownReason::from_code(c).code(), c);
        }
        assert_eq!(ShutdownReason::from_code(3), ShutdownReason::Crash);
        assert_eq!(
            ShutdownReason::from_code(0x2f),
            ShutdownReason::Unknown(0x2f)
        );
    }

    #[test]
    fn uuids_print_8_4_4_4_12() {
        let u: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        assert_eq!(uuid_string(&u), "00112233-4455-6677-8899-aabbccddeeff");
    }
}
