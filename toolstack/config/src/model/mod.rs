//! The typed domain configuration, split by area: [`build`] (type, boot, lifecycle), [`hvm`]
//! (emulated platform), [`dm`] (device model), [`devices`] (device lists), [`cpu`] (vCPUs and
//! affinity). [`DomainConfig::from_settings`] reads it from parsed settings.

pub mod build;
pub mod cpu;
pub mod devices;
pub mod dm;
pub mod hvm;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::DiagKind;
use crate::reader::Reader;
use crate::value::{Settings, Value};

pub use build::{Action, Actions, Boot, Builder, GuestType};
pub use cpu::Affinity;
pub use devices::{Device, Devices};
pub use dm::DeviceModel;
pub use hvm::{Hvm, Vga, Viridian};

/// `tsc_mode=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TscMode {
    /// Xen picks.
    Default,
    /// Always emulate the TSC.
    AlwaysEmulate,
    /// Native TSC (needed for PVH/HVM guests in the nested lab).
    Native,
    /// Native, with PV clock hints.
    NativeParavirt,
}

/// Every `tsc_mode` word.
pub const TSC_MODES: &[(&str, TscMode)] = &[
    ("default", TscMode::Default),
    ("always_emulate", TscMode::AlwaysEmulate),
    ("native", TscMode::Native),
    ("native_paravirt", TscMode::NativeParavirt),
];

impl TscMode {
    /// The xl.cfg (and libxl) spelling.
    pub fn as_str(self) -> &'static str {
        TSC_MODES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("default", |(n, _)| n)
    }
}

/// A domain as an xl.cfg file describes it. `None` (or empty) fields take xl's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DomainConfig {
    /// `name`: the domain name (mandatory; [`DomainConfig::validate`] says so).
    pub name: Option<String>,
    /// `type`: pv, pvh or hvm.
    pub guest_type: Option<GuestType>,
    /// `builder`: the deprecated spelling of the type.
    pub builder: Option<Builder>,
    /// `uuid`, in canonical lower-case form.
    pub uuid: Option<String>,
    /// `pool`: the CPU pool.
    pub pool: Option<String>,
    /// `memory`: initial memory in MiB.
    pub memory: Option<u64>,
    /// `maxmem`: maximum memory in MiB.
    pub maxmem: Option<u64>,
    /// vCPU counts and affinity.
    pub cpu: cpu::Cpu,
    /// Kernel, bootloader, firmware.
    pub boot: Boot,
    /// `on_poweroff` and friends.
    pub actions: Actions,
    /// HVM platform.
    pub hvm: Hvm,
    /// Device model.
    pub dm: DeviceModel,
    /// Device lists.
    pub devices: Devices,
    /// `tsc_mode`.
    pub tsc_mode: Option<TscMode>,
    /// `localtime`: the RTC runs in local time.
    pub localtime: Option<bool>,
    /// `rtc_timeoffset`: RTC offset in seconds.
    pub rtc_timeoffset: Option<i64>,
    /// `max_grant_frames`.
    pub max_grant_frames: Option<u32>,
    /// `max_maptrack_frames`.
    pub max_maptrack_frames: Option<u32>,
    /// `max_event_channels`.
    pub max_event_channels: Option<u32>,
    /// `nomigrate`: forbid migration.
    pub nomigrate: Option<bool>,
    /// `driver_domain`: the guest runs device backends.
    pub driver_domain: Option<bool>,
    /// `e820_host` (PV): use the host's memory map.
    pub e820_host: Option<bool>,
    /// Keys xl reads that rxl does not model yet, kept as written (a warning says so).
    pub other: BTreeMap<String, Value>,
}

impl DomainConfig {
    /// The guest type in effect: `type`, else `builder`, else PV (xl's x86 default).
    pub fn effective_type(&self) -> GuestType {
        self.guest_type
            .or(self.builder.map(Builder::guest_type))
            .unwrap_or(GuestType::Pv)
    }

    /// Reads the configuration from settings. Problems go to `r.diags`.
    pub(crate) fn from_settings(r: &mut Reader<'_>, settings: &Settings) -> DomainConfig {
        let (guest_type, builder) = build::read_type(r);
        let uuid = r.nonempty_string("uuid").and_then(|u| {
            let ok = u.len() == 36
                && u.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if ok {
                Some(u.to_ascii_lowercase())
            } else {
                let found = format!("{u:?}");
                let d = r
                    .error(DiagKind::InvalidValue, "uuid", "not a UUID")
                    .expected("8-4-4-4-12 hex digits, e.g. 06ed00fe-1162-4fc4-b5d8-11993ee4a8b9")
                    .found(found);
                r.push(d);
                None
            }
        });
        let mut cfg = DomainConfig {
            name: r.nonempty_string("name"),
            guest_type,
            builder,
            uuid,
            pool: r.nonempty_string("pool"),
            memory: r.unsigned("memory", MAX_MIB),
            maxmem: r.unsigned("maxmem", MAX_MIB),
            cpu: cpu::Cpu::read(r),
            boot: Boot::read(r),
            actions: Actions::read(r),
            hvm: Hvm::read(r),
            dm: DeviceModel::read(r),
            devices: Devices::read(r),
            tsc_mode: read_tsc_mode(r),
            localtime: r.boolean("localtime"),
            // libxl keeps it in a uint32 (negative values wrap), so the range is that of i32
            // for negative and u32 for positive offsets.
            rtc_timeoffset: r.ranged("rtc_timeoffset", i64::from(i32::MIN), i64::from(u32::MAX)),
            max_grant_frames: u32_key(r, "max_grant_frames"),
            max_maptrack_frames: u32_key(r, "max_maptrack_frames"),
            max_event_channels: u32_key(r, "max_event_channels"),
            nomigrate: r.boolean("nomigrate"),
            driver_domain: r.boolean("driver_domain"),
            e820_host: r.boolean("e820_host"),
            other: BTreeMap::new(),
        };
        for s in settings.iter() {
            if !r.used.contains(&s.key) && crate::keys::is_xl_key(&s.key) {
                cfg.other.insert(s.key.clone(), s.value.clone());
            }
        }
        cfg
    }
}

/// 16 TiB in MiB: far above any x86 host, low enough that KiB still fit in `u64` arithmetic.
pub const MAX_MIB: u64 = 16 << 20;

fn u32_key(r: &mut Reader<'_>, key: &str) -> Option<u32> {
    r.unsigned(key, u64::from(u32::MAX))
        .and_then(|v| u32::try_from(v).ok())
}

fn read_tsc_mode(r: &mut Reader<'_>) -> Option<TscMode> {
    let s = r.setting("tsc_mode")?;
    // xl still takes the old numbers 0-3, with a deprecation warning.
    if let Value::Str { bare: true, .. } = s.value {
        let n = r.ranged("tsc_mode", 0, 3)?;
        let mode = TSC_MODES[usize::try_from(n).unwrap_or(0)].1;
        let mut d = r
            .error(
                DiagKind::DeprecatedKey,
                "tsc_mode",
                "a number for tsc_mode is deprecated",
            )
            .hint(format!("write tsc_mode = \"{}\"", mode.as_str()));
        d.severity = crate::diag::Severity::Warning;
        r.push(d);
        return Some(mode);
    }
    r.choice("tsc_mode", TSC_MODES)
}
