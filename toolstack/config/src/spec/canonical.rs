//! Canonical spec strings: `Display` for the parsed specs, writing every setting
//! by name in a fixed order, so that parsing the output gives the same value back
//! (checked by tests/spec_proptest.rs). Used to show a normalised config, and to
//! turn deprecated forms (`phy:/dev/x,hdc:cdrom,r`) into their modern spelling.

use super::cpus::{CpuItem, CpuSpec};
use super::disk::{DiskBackend, DiskFormat, DiskSpec, DiskSpecification};
use super::pci::{PciSpec, RdmPolicy};
use super::vif::{NicType, VifSpec};
use std::fmt::{self, Display, Formatter};

/// Writes `parts` joined by `,`.
fn join(f: &mut Formatter<'_>, parts: &[String]) -> fmt::Result {
    f.write_str(&parts.join(","))
}

fn flag(parts: &mut Vec<String>, v: Option<bool>, yes: &str, no: &str) {
    if let Some(b) = v {
        parts.push(if b { yes } else { no }.to_string());
    }
}

fn opt(parts: &mut Vec<String>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        parts.push(format!("{key}={v}"));
    }
}

/// `format=…,vdev=…,access=…,[named keys…],target=…` — `target=` last, because it
/// takes the rest of the string (so paths with commas survive).
impl Display for DiskSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let format = match self.format {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow => "qcow",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Qed => "qed",
            DiskFormat::Empty => "empty",
        };
        let mut p = vec![
            format!("format={format}"),
            format!("vdev={}", self.vdev),
            format!("access={}", if self.readwrite { "rw" } else { "ro" }),
        ];
        if self.is_cdrom {
            p.push("devtype=cdrom".into());
        }
        if let Some(b) = self.backend {
            let b = match b {
                DiskBackend::Phy => "phy",
                DiskBackend::Tap => "tap",
                DiskBackend::Qdisk => "qdisk",
                DiskBackend::Standalone => "standalone",
            };
            p.push(format!("backendtype={b}"));
        }
        opt(&mut p, "backend", &self.backend_domname);
        opt(&mut p, "script", &self.script);
        if let Some(s) = self.specification {
            let s = match s {
                DiskSpecification::Xen => "xen",
                DiskSpecification::Virtio => "virtio",
            };
            p.push(format!("specification={s}"));
        }
        if self.direct_io_safe {
            p.push("direct-io-safe".into());
        }
        flag(&mut p, self.discard_enable, "discard", "no-discard");
        flag(&mut p, self.colo_enable, "colo", "no-colo");
        opt(&mut p, "colo-host", &self.colo_host);
        if let Some(port) = self.colo_port {
            p.push(format!("colo-port={port}"));
        }
        opt(&mut p, "colo-export", &self.colo_export);
        opt(&mut p, "active-disk", &self.active_disk);
        opt(&mut p, "hidden-disk", &self.hidden_disk);
        flag(&mut p, self.trusted, "trusted", "untrusted");
        flag(&mut p, self.grant_usage, "grant_usage=1", "grant_usage=0");
        opt(&mut p, "target", &self.pdev_path);
        join(f, &p)
    }
}

/// Every set field as `key=value` in xl-network-configuration(5) terms.
impl Display for VifSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut p = Vec::new();
        if let Some(mac) = self.mac_string() {
            p.push(format!("mac={mac}"));
        }
        opt(&mut p, "bridge", &self.bridge);
        opt(&mut p, "ip", &self.ip);
        if let Some(t) = self.nictype {
            p.push(format!(
                "type={}",
                if t == NicType::Vif { "vif" } else { "ioemu" }
            ));
        }
        opt(&mut p, "model", &self.model);
        opt(&mut p, "vifname", &self.ifname);
        opt(&mut p, "script", &self.script);
        opt(&mut p, "backend", &self.backend_domname);
        opt(&mut p, "gatewaydev", &self.gatewaydev);
        if self.rate_interval_usecs != 0 {
            p.push(format!(
                "rate={}",
                rate_text(self.rate_bytes_per_interval, self.rate_interval_usecs)
            ));
        }
        if let Some(mtu) = self.mtu {
            p.push(format!("mtu={mtu}"));
        }
        if let Some(devid) = self.devid {
            p.push(format!("devid={devid}"));
        }
        opt(&mut p, "vlan", &self.vlan);
        for (k, v) in &self.colo {
            let key = if k == "coloft_forwarddev" {
                "forwarddev"
            } else {
                k
            };
            p.push(format!("{key}={v}"));
        }
        flag(&mut p, self.trusted, "trusted", "untrusted");
        join(f, &p)
    }
}

/// A `rate=` value that parses back to exactly `bytes_per_interval` over
/// `interval_usecs` (libxlu rounds down, so several texts map to one value; pick
/// the smallest count in the first unit that hits it exactly).
fn rate_text(bytes_per_interval: u64, interval_usecs: u32) -> String {
    const UNITS: [(&str, u128, bool); 8] = [
        ("B/s", 1, false),
        ("KB/s", 1_000, false),
        ("MB/s", 1_000_000, false),
        ("GB/s", 1_000_000_000, false),
        ("b/s", 1, true),
        ("Kb/s", 1_000, true),
        ("Mb/s", 1_000_000, true),
        ("Gb/s", 1_000_000_000, true),
    ];
    let (bpi, iv) = (u128::from(bytes_per_interval), u128::from(interval_usecs));
    let per_interval = |n: u128, unit: u128, bits: bool| {
        let bps = if bits { n * unit / 8 } else { n * unit };
        bps * iv / 1_000_000
    };
    for (name, unit, bits) in UNITS {
        // Smallest n whose rate reaches bpi; the floor may then land exactly on it.
        let scale = if bits { unit } else { unit * 8 };
        let n0 = (bpi * 8_000_000).div_ceil(iv * scale);
        for n in [n0.saturating_sub(1), n0, n0 + 1] {
            if (1..=u128::from(u32::MAX)).contains(&n) && per_interval(n, unit, bits) == bpi {
                return format!("{n}{name}@{interval_usecs}us");
            }
        }
    }
    // Not reachable for values produced by the parser; stay close rather than fail.
    let bps = bpi * 1_000_000 / iv;
    format!(
        "{}B/s@{interval_usecs}us",
        bps.clamp(1, u128::from(u32::MAX))
    )
}

/// `BDF[@VSLOT][,key=value…]`, or `name=…` first for named devices.
impl Display for PciSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut p = Vec::new();
        match (&self.bdf, &self.name) {
            (Some(bdf), _) => match self.vslot() {
                Some(slot) => p.push(format!("{bdf}@{slot:x}")),
                None => p.push(bdf.to_string()),
            },
            (None, name) => {
                opt(&mut p, "name", name);
                if let Some(slot) = self.vslot() {
                    p.push(format!("vslot={slot:x}"));
                }
            }
        }
        for (key, v) in [
            ("permissive", self.permissive),
            ("msitranslate", self.msitranslate),
            ("seize", self.seize),
            ("power_mgmt", self.power_mgmt),
        ] {
            if let Some(b) = v {
                p.push(format!("{key}={}", u8::from(b)));
            }
        }
        if let Some(r) = self.rdm_policy {
            let r = if r == RdmPolicy::Strict {
                "strict"
            } else {
                "relaxed"
            };
            p.push(format!("rdm_policy={r}"));
        }
        join(f, &p)
    }
}

/// The terms in order: `all`, `N`, `N-M`, `nodes:N-M`, each with `^` if excluded.
impl Display for CpuSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let range = |a: u32, b: u32| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        let p: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let body = match t.item {
                    CpuItem::All => "all".to_string(),
                    CpuItem::Cpus { first, last } => range(first, last),
                    CpuItem::Nodes { first, last } => format!("nodes:{}", range(first, last)),
                };
                if t.exclude { format!("^{body}") } else { body }
            })
            .collect();
        join(f, &p)
    }
}
