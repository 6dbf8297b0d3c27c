//! Virtual disk names (`xvda`, `hdc`, `sdb1`, `d3p2`, `51712`) and their Xen device
//! numbers, per docs/man/xen-vbd-interface.7 and libxl's
//! `libxl__device_disk_dev_number`. Block backends and the xenstore device paths
//! need the number; the disk parser uses the decoder to reject bad names early.

use super::error::{SpecError, SpecErrorKind, SpecKind};

/// The naming scheme a vdev was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VdevScheme {
    /// `xvd<letters>[<partition>]`: Xen PV disks (major 202, or the extended form).
    Xvd,
    /// `d<disk>p<partition>`: the scheme-neutral spelling of an xvd disk.
    D,
    /// `hd<a-d>[<partition>]`: emulated IDE (majors 3 and 22).
    Hd,
    /// `sd<letters>[<partition>]`: emulated SCSI (major 8).
    Sd,
    /// A raw device number given as an integer; disk and partition unknown.
    Number,
}

/// A decoded virtual disk name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Vdev {
    /// How the name was written.
    pub scheme: VdevScheme,
    /// Disk index (0 for `xvda`/`hda`/`sda`), `None` for [`VdevScheme::Number`].
    pub disk: Option<u32>,
    /// Partition number (0 = whole disk), `None` for [`VdevScheme::Number`].
    pub partition: Option<u32>,
    /// The Xen virtual device number written to xenstore (`xvda` = 51712).
    pub devid: u32,
}

/// Why a name is not a vdev: shared text for the error's `expected` field.
const EXPECTED: &str =
    "a virtual disk name: xvd<a-z…>[N], hd<a-d>[N], sd<a-p>[N], d<disk>p<part> or a device number";

/// Decodes a virtual disk name to its scheme, disk, partition and device number.
///
/// The limits are libxl's: xvd disks up to 2^20-1 with partitions up to 255, hd
/// disks a-d with partitions up to 63, sd disks a-p with partitions up to 15.
pub fn decode(vdev: &str) -> Result<Vdev, SpecError> {
    let err = |kind| SpecError::new(SpecKind::Vdev, kind, vdev, 0, EXPECTED, vdev);
    if let Some((disk, part)) = d_form(vdev) {
        return Ok(xvd(VdevScheme::D, disk, part));
    }
    if let Some((disk, part)) = lettered(vdev, "xvd", (1 << 20) - 1, 255) {
        return Ok(xvd(VdevScheme::Xvd, disk, part));
    }
    // why here, between xvd and hd: libxl tries a plain number in the same order.
    if let Some(n) = c_uint(vdev) {
        return Ok(Vdev {
            scheme: VdevScheme::Number,
            disk: None,
            partition: None,
            devid: n,
        });
    }
    if let Some((disk, part)) = lettered(vdev, "hd", 3, 63) {
        let major = if disk < 2 { 3 } else { 22 };
        let devid = (major << 8) | ((disk & 1) << 6) | part;
        return Ok(Vdev {
            scheme: VdevScheme::Hd,
            disk: Some(disk),
            partition: Some(part),
            devid,
        });
    }
    if let Some((disk, part)) = lettered(vdev, "sd", 15, 15) {
        let devid = (8 << 8) | (disk << 4) | part;
        return Ok(Vdev {
            scheme: VdevScheme::Sd,
            disk: Some(disk),
            partition: Some(part),
            devid,
        });
    }
    let e = err(SpecErrorKind::InvalidValue);
    Err(if vdev.starts_with("hd") {
        e.hint("emulated IDE has only hda-hdd with partitions 1-63")
    } else if vdev.starts_with("sd") {
        e.hint("emulated SCSI has only sda-sdp with partitions 1-15")
    } else {
        e.hint("PV guests usually use xvda, xvdb, …")
    })
}

/// The xvd numbering: the compact major-202 form when it fits, else the extended
/// form with bit 28 set.
fn xvd(scheme: VdevScheme, disk: u32, part: u32) -> Vdev {
    let devid = if disk <= 15 && part <= 15 {
        (202 << 8) | (disk << 4) | part
    } else {
        (1 << 28) | (disk << 8) | part
    };
    Vdev {
        scheme,
        disk: Some(disk),
        partition: Some(part),
        devid,
    }
}

/// `d<disk>p<partition>`, both decimal, disk < 2^20, partition < 256.
fn d_form(s: &str) -> Option<(u32, u32)> {
    let rest = s.strip_prefix('d')?;
    let (disk, part) = rest.split_once('p')?;
    let disk = plain_decimal(disk)?;
    let part = plain_decimal(part)?;
    (disk < (1 << 20) && part < 256).then_some((disk, part))
}

fn plain_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `prefix` + letters in bijective base 26 (`a`=0, `z`=25, `aa`=26) + optional
/// partition number without leading zero.
fn lettered(s: &str, prefix: &str, max_disk: u32, max_part: u32) -> Option<(u32, u32)> {
    let rest = s.strip_prefix(prefix)?;
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if letters == 0 {
        return None;
    }
    let mut disk: i64 = -1;
    for b in rest[..letters].bytes() {
        disk = (disk + 1) * 26 + i64::from(b - b'a');
        if disk > i64::from(max_disk) {
            return None;
        }
    }
    let part_text = &rest[letters..];
    let part = if part_text.is_empty() {
        0
    } else if part_text.starts_with('0') {
        return None; // why: libxl refuses leading zeroes in partition numbers
    } else {
        plain_decimal(part_text)?
    };
    if part > max_part {
        return None;
    }
    Some((u32::try_from(disk).ok()?, part))
}

/// A number as `strtoul(…, 0)` reads it, up to `INT_MAX`.
fn c_uint(s: &str) -> Option<u32> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = u32::from_str_radix(digits, radix).ok()?;
    (n <= i32::MAX as u32).then_some(n)
}

/// Encodes a Xen device number back to its canonical `xvd…` name, as libxl's
/// `libxl__devid_to_vdev` does (used when listing devices from xenstore).
pub fn devid_to_xvd_name(devid: u32) -> String {
    let (minor, parts) = if devid & (1 << 28) == 0 {
        (devid & 0xff, 16)
    } else {
        (devid & !(1 << 28), 256)
    };
    let mut name = String::from("xvd");
    let mut letters = Vec::new();
    let mut n = minor / parts;
    loop {
        letters.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    letters.reverse();
    name.push_str(std::str::from_utf8(&letters).unwrap_or("?"));
    if minor % parts != 0 {
        name.push_str(&(minor % parts).to_string());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_from_the_vbd_interface_document() {
        let cases: &[(&str, u32, u32, u32)] = &[
            ("xvda", 0, 0, 51712),
            ("xvdb", 1, 0, 51728),
            ("xvda1", 0, 1, 51713),
            ("xvdp15", 15, 15, 51967),
            ("xvdq", 16, 0, (1 << 28) | (16 << 8)),
            ("xvda16", 0, 16, (1 << 28) | 16),
            ("xvdaa", 26, 0, (1 << 28) | (26 << 8)),
            ("d0p0", 0, 0, 51712),
            ("d3p2", 3, 2, 51762),
            ("hda", 0, 0, 768),
            ("hdb", 1, 0, 832),
            ("hdc", 2, 0, 5632),
            ("hdd1", 3, 1, 5697),
            ("sda", 0, 0, 2048),
            ("sdb3", 1, 3, 2067),
        ];
        for &(name, disk, part, devid) in cases {
            let v = decode(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (v.disk, v.partition, v.devid),
                (Some(disk), Some(part), devid),
                "{name}"
            );
        }
    }

    #[test]
    fn numbers_and_rejects() {
        assert_eq!(decode("51712").unwrap().scheme, VdevScheme::Number);
        assert_eq!(decode("0xca00").unwrap().devid, 51712);
        for bad in [
            "", "xvd", "xvda0", "xvda01", "xvda256", "hde", "hda64", "sdq", "sda16", "vda", "xvdA",
        ] {
            assert!(decode(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn devid_names_round_trip() {
        for name in ["xvda", "xvdb3", "xvdq", "xvdaa", "xvda16", "xvdzz255"] {
            assert_eq!(devid_to_xvd_name(decode(name).unwrap().devid), name);
        }
    }
}
