//! The network interface spec, xl-network-configuration(5), as xl's
//! `parse_nic_config` and libxlu's `xlu_vif_parse_rate` read it.
//!
//! Stricter than xl: an unknown key is an error here (xl prints
//! "unrecognized argument" and goes on in a config file; the caller may downgrade
//! [`SpecErrorKind::UnknownKey`] to a warning to match), the MAC must be six
//! `:`/`-`-separated hex bytes with nothing after, and every `ip=` entry must be
//! an IP address (optionally with a `/prefix`).

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind, SpecWarning};
use super::fields::{self, KeyValue};
use serde::Serialize;
use std::collections::BTreeMap;

/// `type=`, libxl's `libxl_nic_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NicType {
    /// `type=ioemu`: an emulated NIC (plus a PV one the guest may switch to).
    VifIoemu,
    /// `type=vif`: PV only.
    Vif,
}

/// A parsed `rate=` value, in the units libxl stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct VifRate {
    /// Bytes that may be sent per replenishment interval.
    pub bytes_per_interval: u64,
    /// Replenishment interval in microseconds (50 000 when not given).
    pub interval_usecs: u32,
}

/// A parsed vif spec; field names follow `libxl_device_nic` (`xl -N network-attach`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VifSpec {
    /// Driver domain (`backend=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_domname: Option<String>,
    /// Device id (`devid=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devid: Option<u32>,
    /// `mtu=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// `vlan=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<String>,
    /// Emulated NIC model (`model=`, e.g. `e1000`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `mac=`; `None` means "generate one" (the caller's job).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "mac_text")]
    pub mac: Option<[u8; 6]>,
    /// `ip=`: one or more addresses separated by spaces, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `bridge=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Backend interface name (`vifname=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// Hotplug script (`script=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// `type=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nictype: Option<NicType>,
    /// From `rate=`; 0 = unlimited.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_bytes_per_interval: u64,
    /// From `rate=`; 0 = unlimited.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub rate_interval_usecs: u32,
    /// `gatewaydev=` (or the deprecated `netdev=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gatewaydev: Option<String>,
    /// COLO settings (`forwarddev=` as `coloft_forwarddev`, and the `colo_*` keys),
    /// by libxl field name. Unstable in Xen; passed through as text.
    #[serde(flatten)]
    pub colo: BTreeMap<String, String>,
    /// `trusted` / `untrusted`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::disk::defbool"
    )]
    pub trusted: Option<bool>,
}

impl VifSpec {
    /// The `ip=` entries, split on blanks.
    pub fn ip_addrs(&self) -> Vec<&str> {
        self.ip
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// `mac=` as `xx:xx:xx:xx:xx:xx`.
    pub fn mac_string(&self) -> Option<String> {
        self.mac.map(|m| format_mac(&m))
    }
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn mac_text<S: serde::Serializer>(m: &Option<[u8; 6]>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&format_mac(m)),
        None => s.serialize_none(),
    }
}

/// Plain string keys and the field they set.
const STRING_KEYS: &[&str] = &[
    "bridge",
    "gatewaydev",
    "ip",
    "script",
    "backend",
    "vifname",
    "model",
    "vlan",
];

/// COLO keys xl accepts, each stored under its libxl name.
const COLO_KEYS: &[&str] = &[
    "colo_sock_mirror_id",
    "colo_sock_mirror_ip",
    "colo_sock_mirror_port",
    "colo_sock_compare_sec_in_id",
    "colo_sock_compare_sec_in_ip",
    "colo_sock_compare_sec_in_port",
    "colo_sock_redirector0_id",
    "colo_sock_redirector0_ip",
    "colo_sock_redirector0_port",
    "colo_sock_redirector1_id",
    "colo_sock_redirector1_ip",
    "colo_sock_redirector1_port",
    "colo_sock_redirector2_id",
    "colo_sock_redirector2_ip",
    "colo_sock_redirector2_port",
    "colo_sock_compare_pri_in_id",
    "colo_sock_compare_pri_in_ip",
    "colo_sock_compare_pri_in_port",
    "colo_sock_compare_notify_id",
    "colo_sock_compare_notify_ip",
    "colo_sock_compare_notify_port",
    "colo_filter_mirror_queue",
    "colo_filter_mirror_outdev",
    "colo_filter_redirector0_queue",
    "colo_filter_redirector0_indev",
    "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue",
    "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev",
    "colo_compare_pri_in",
    "colo_compare_sec_in",
    "colo_compare_out",
    "colo_compare_notify_dev",
    "colo_sock_sec_redirector0_id",
    "colo_sock_sec_redirector0_ip",
    "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id",
    "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port",
    "colo_filter_sec_redirector0_queue",
    "colo_filter_sec_redirector0_indev",
    "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue",
    "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev",
    "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host",
    "colo_checkpoint_port",
];

/// Every key, for "did you mean" hints.
const KNOWN: &[&str] = &[
    "mac",
    "bridge",
    "gatewaydev",
    "netdev",
    "ip",
    "script",
    "backend",
    "vifname",
    "model",
    "type",
    "rate",
    "devid",
    "mtu",
    "vlan",
    "accel",
    "forwarddev",
    "trusted",
    "untrusted",
];

/// Parses one vif spec string (one element of `vif=[...]`).
pub fn parse(spec: &str) -> Result<Parsed<VifSpec>, SpecError> {
    parse_fields(spec, fields::split_fields(spec))
}

/// Parses a vif given as separate fields, as `xl network-attach DOM FIELD...` does:
/// each part is one `key=value` (not split on commas). Offsets index the parts
/// joined with single spaces.
pub fn parse_parts(parts: &[&str]) -> Result<Parsed<VifSpec>, SpecError> {
    let joined = parts.join(" ");
    let mut list = Vec::new();
    let mut base = 0;
    for part in parts {
        if !part.is_empty() {
            list.push(fields::Field {
                offset: base,
                text: &joined[base..base + part.len()],
            });
        }
        base += part.len() + 1;
    }
    parse_fields(&joined, list)
}

fn parse_fields<'a>(
    spec: &'a str,
    list: Vec<fields::Field<'a>>,
) -> Result<Parsed<VifSpec>, SpecError> {
    let mut nic = VifSpec::default();
    let mut warnings = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for field in list {
        let Some(kv) = field.key_value() else {
            match field.text {
                "trusted" => nic.trusted = Some(true),
                "untrusted" => nic.trusted = Some(false),
                word => {
                    let e = fields::unknown_key(SpecKind::Vif, spec, field.offset, word, KNOWN);
                    let e = if e.hint.is_none() {
                        e.hint("parameters are `key=value`, e.g. `bridge=xenbr0`")
                    } else {
                        e
                    };
                    return Err(e);
                }
            }
            continue;
        };
        if seen.contains(&kv.key) {
            warnings.push(SpecWarning::new(
                SpecKind::Vif,
                spec,
                kv.key_offset,
                format!("`{}` is given twice; the last value wins", kv.key),
                None,
            ));
        }
        seen.push(kv.key);
        apply(&mut nic, &mut warnings, spec, kv)?;
    }
    Ok(Parsed {
        value: nic,
        warnings,
    })
}

fn apply(
    nic: &mut VifSpec,
    warnings: &mut Vec<SpecWarning>,
    spec: &str,
    kv: KeyValue<'_>,
) -> Result<(), SpecError> {
    let v = kv.value.to_string();
    let at = kv.value_offset;
    match kv.key {
        "type" => {
            nic.nictype = Some(match kv.value {
                "vif" => NicType::Vif,
                "ioemu" => NicType::VifIoemu,
                _ => {
                    return Err(SpecError::new(
                        SpecKind::Vif,
                        SpecErrorKind::InvalidValue,
                        spec,
                        at,
                        "type vif or ioemu",
                        kv.value,
                    ));
                }
            });
        }
        "mac" => {
            let mac = parse_mac(spec, at, kv.value)?;
            if mac[0] & 1 != 0 {
                warnings.push(SpecWarning::new(
                    SpecKind::Vif,
                    spec,
                    at,
                    format!("MAC {} is a multicast address", format_mac(&mac)),
                    Some(
                        "the first byte of a NIC's MAC must be even; Xen's prefix is 00:16:3e"
                            .into(),
                    ),
                ));
            }
            nic.mac = Some(mac);
        }
        "netdev" => {
            warnings.push(SpecWarning::new(
                SpecKind::Vif,
                spec,
                kv.key_offset,
                "`netdev` is deprecated",
                Some("use `gatewaydev=`".into()),
            ));
            nic.gatewaydev = Some(v);
        }
        "ip" => {
            check_ips(spec, at, kv.value)?;
            nic.ip = Some(v);
        }
        "rate" => {
            let rate = parse_rate(kv.value).map_err(|e| e.rebase(spec, at))?;
            nic.rate_bytes_per_interval = rate.bytes_per_interval;
            nic.rate_interval_usecs = rate.interval_usecs;
        }
        "accel" => warnings.push(SpecWarning::new(
            SpecKind::Vif,
            spec,
            kv.key_offset,
            "`accel` is not supported and is ignored",
            Some("remove it".into()),
        )),
        "devid" => {
            let n = fields::decimal_u64(SpecKind::Vif, spec, at, "devid", kv.value)?;
            nic.devid = Some(fields::bounded(
                SpecKind::Vif,
                spec,
                at,
                "devid",
                kv.value,
                n,
                i32::MAX as u64,
            )? as u32);
        }
        "mtu" => {
            let n = fields::decimal_u64(SpecKind::Vif, spec, at, "mtu", kv.value)?;
            nic.mtu =
                Some(fields::bounded(SpecKind::Vif, spec, at, "mtu", kv.value, n, 65535)? as u32);
        }
        "forwarddev" => {
            nic.colo.insert("coloft_forwarddev".into(), v);
        }
        key if STRING_KEYS.contains(&key) => {
            let slot = match key {
                "bridge" => &mut nic.bridge,
                "gatewaydev" => &mut nic.gatewaydev,
                "script" => &mut nic.script,
                "backend" => &mut nic.backend_domname,
                "vifname" => &mut nic.ifname,
                "model" => &mut nic.model,
                _ => &mut nic.vlan,
            };
            *slot = Some(v);
        }
        key if COLO_KEYS.contains(&key) => {
            nic.colo.insert(key.to_string(), v);
        }
        key => {
            return Err(fields::unknown_key(
                SpecKind::Vif,
                spec,
                kv.key_offset,
                key,
                KNOWN,
            ));
        }
    }
    Ok(())
}

/// Six hex bytes separated by `:` (or consistently by `-`).
fn parse_mac(spec: &str, at: usize, v: &str) -> Result<[u8; 6], SpecError> {
    let bad = || {
        SpecError::new(
            SpecKind::Vif,
            SpecErrorKind::InvalidValue,
            spec,
            at,
            "a MAC address of six hex bytes, e.g. 00:16:3e:12:34:56",
            v,
        )
    };
    let sep = if v.contains('-') && !v.contains(':') {
        '-'
    } else {
        ':'
    };
    let parts: Vec<&str> = v.split(sep).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (slot, p) in mac.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *slot = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

/// Each blank-separated entry must be an IPv4/IPv6 address, optionally `/prefix`.
fn check_ips(spec: &str, at: usize, v: &str) -> Result<(), SpecError> {
    if v.trim().is_empty() {
        return Err(SpecError::new(
            SpecKind::Vif,
            SpecErrorKind::InvalidValue,
            spec,
            at,
            "one or more IP addresses",
            v,
        ));
    }
    let mut pos = 0;
    for entry in v.split(' ') {
        let here = at + pos;
        pos += entry.len() + 1;
        if entry.is_empty() {
            continue;
        }
        let (addr, prefix) = entry.split_once('/').unwrap_or((entry, ""));
        let ok = match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => {
                prefix.is_empty() || prefix.parse::<u8>().is_ok_and(|p| p <= 32)
            }
            Ok(std::net::IpAddr::V6(_)) => {
                prefix.is_empty() || prefix.parse::<u8>().is_ok_and(|p| p <= 128)
            }
            Err(_) => false,
        };
        if !ok {
            return Err(SpecError::new(
                SpecKind::Vif,
                SpecErrorKind::InvalidValue,
                spec,
                here,
                "an IP address such as 192.0.2.10 or 2001:db8::1",
                entry,
            )
            .hint("separate several addresses with spaces, not commas"));
        }
    }
    Ok(())
}

/// Parses a `rate=` value `N<unit>/s[@interval]` exactly as libxlu does, offsets
/// relative to the value.
///
/// Units: `B`, `KB`, `MB`, `GB` (bytes) and `b`, `Kb`, `Mb`, `Gb` (bits), decimal
/// multiples (K = 1000). The number must be 1..2^32-1. Interval: `N` followed by
/// `s`, `ms`, `us` (also `m`, `u`, or nothing = seconds, as libxlu's pattern
/// `[0-9]+[mu]?s?` allows), 1..2^32-1 µs, default 50 ms. The product must fit in
/// 64 bits. Result: bytes per interval = bytes/s × interval µs / 10^6, rounded down.
pub fn parse_rate(rate: &str) -> Result<VifRate, SpecError> {
    let err = |kind, at: usize, expected: &str, found: &str| {
        SpecError::new(SpecKind::Vif, kind, rate, at, expected, found)
    };
    const RATE: &str = "a rate such as 10MB/s, 100Mb/s or 1GB/s@20ms";
    let (amount, interval) = match rate.split_once('@') {
        Some((a, i)) => (a, Some(i)),
        None => (rate, None),
    };
    if amount.is_empty() {
        return Err(err(SpecErrorKind::Missing, 0, RATE, rate));
    }
    // ^[0-9]+[GMK]?[Bb]/s$
    let digits = amount.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &amount[digits..];
    let (mult, bits) = match unit {
        "B/s" => (1u64, false),
        "b/s" => (1, true),
        "KB/s" => (1_000, false),
        "Kb/s" => (1_000, true),
        "MB/s" => (1_000_000, false),
        "Mb/s" => (1_000_000, true),
        "GB/s" => (1_000_000_000, false),
        "Gb/s" => (1_000_000_000, true),
        _ => {
            let e = err(SpecErrorKind::InvalidValue, digits, RATE, unit);
            return Err(if digits == 0 {
                e
            } else {
                e.hint("units are B, KB, MB, GB (bytes) or b, Kb, Mb, Gb (bits), followed by /s")
            });
        }
    };
    if digits == 0 {
        return Err(err(SpecErrorKind::InvalidValue, 0, RATE, amount));
    }
    let n = strtoull_base0(&amount[..digits]);
    if n == Some(0) {
        return Err(err(
            SpecErrorKind::OutOfRange,
            0,
            "a rate above zero",
            amount,
        ));
    }
    let Some(n) = n.filter(|n| *n <= u64::from(u32::MAX)) else {
        return Err(err(
            SpecErrorKind::OutOfRange,
            0,
            "a number below 2^32 before the unit",
            amount,
        )
        .hint("use a larger unit (KB, MB, GB)"));
    };
    let mut bytes_per_sec = n * mult;
    if bits {
        bytes_per_sec /= 8;
    }

    let mut interval_usecs: u64 = 50_000;
    if let Some(iv) = interval {
        let at = amount.len() + 1;
        const IV: &str = "an interval such as 50ms, 100us or 1s";
        // ^[0-9]+[mu]?s?$
        let d = iv.bytes().take_while(u8::is_ascii_digit).count();
        let mult = match &iv[d..] {
            "" | "s" => 1_000_000u64,
            "m" | "ms" => 1_000,
            "u" | "us" => 1,
            other => {
                return Err(err(SpecErrorKind::InvalidValue, at + d, IV, other)
                    .hint("interval units are s, ms and us"));
            }
        };
        if d == 0 {
            return Err(err(SpecErrorKind::InvalidValue, at, IV, iv));
        }
        let t = strtoull_base0(&iv[..d]);
        let Some(t) = t.filter(|t| (1..=u64::from(u32::MAX)).contains(t)) else {
            return Err(err(
                SpecErrorKind::OutOfRange,
                at,
                "an interval between 1us and 4294967295us",
                iv,
            ));
        };
        interval_usecs = t * mult;
        if interval_usecs > u64::from(u32::MAX) {
            return Err(err(
                SpecErrorKind::OutOfRange,
                at,
                "an interval of at most 4294967295us (about 71 minutes)",
                iv,
            ));
        }
    }
    if bytes_per_sec > u64::MAX / interval_usecs {
        return Err(err(
            SpecErrorKind::OutOfRange,
            0,
            "a rate × interval that fits in 64 bits",
            rate,
        )
        .hint("use a shorter interval or a lower rate"));
    }
    Ok(VifRate {
        bytes_per_interval: (u128::from(bytes_per_sec) * u128::from(interval_usecs) / 1_000_000)
            as u64,
        interval_usecs: interval_usecs as u32,
    })
}

/// `strtoull(digits, &end, 0)` over a string of decimal digits only: a leading `0`
/// makes it octal, and parsing stops at the first 8 or 9 (why: this is what xl
/// computes; `None` means overflow). The caller's pattern already guaranteed digits.
fn strtoull_base0(digits: &str) -> Option<u64> {
    if digits.len() > 1 && digits.starts_with('0') {
        let oct: String = digits[1..]
            .chars()
            .take_while(|c| ('0'..='7').contains(c))
            .collect();
        if oct.is_empty() {
            return Some(0);
        }
        u64::from_str_radix(&oct, 8).ok()
    } else {
        digits.parse().ok()
    }
}
