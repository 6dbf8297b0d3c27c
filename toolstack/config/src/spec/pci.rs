//! The PCI passthrough spec, xl-pci-configuration(5), as libxlu's `libxlu_pci.c`
//! reads it: `[DDDD:]BB:DD.F[@VSLOT][,key=value...]` or only `key=value` pairs.
//!
//! Stricter than xl: numbers are plain hex digits (no `0x`, sign or blanks, which
//! `sscanf("%x")` would take), booleans must be numbers, and each parameter may be
//! given only once (as the man page says; libxlu does not check).

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// `vfunc_mask` value meaning "all functions" (`BB:DD.*`), libxl's `LIBXL_PCI_FUNC_ALL`.
pub const FUNC_ALL: u32 = u32::MAX;

/// A host PCI address. Serialized with libxl's field names; zero fields omitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PciBdf {
    /// Function 0-7 (0 when `vfunc_mask` is [`FUNC_ALL`]).
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub func: u8,
    /// Device (slot) 0-0x1f.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub dev: u8,
    /// Bus 0-0xff.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub bus: u8,
    /// PCI segment (domain) 0-0xffff.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub domain: u16,
    /// 1 for a single function, [`FUNC_ALL`] for `.*`.
    pub vfunc_mask: u32,
}

impl PciBdf {
    /// Whether the spec said `.*` (pass through every function of the device).
    pub fn all_functions(&self) -> bool {
        self.vfunc_mask == FUNC_ALL
    }
}

impl std::fmt::Display for PciBdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.", self.domain, self.bus, self.dev)?;
        if self.all_functions() {
            f.write_str("*")
        } else {
            write!(f, "{}", self.func)
        }
    }
}

/// `rdm_policy=`, libxl's `libxl_rdm_reserve_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RdmPolicy {
    /// Fail if a reserved region conflicts.
    Strict,
    /// Warn only.
    Relaxed,
}

/// A parsed PCI spec (`libxl_device_pci`). The booleans are `None` when not given,
/// so the caller can apply the top-level `pci_permissive=` etc. defaults; in JSON
/// they appear only when true, as libxl prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PciSpec {
    /// The host device; `None` when it is named with `name=`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub bdf: Option<PciBdf>,
    /// Guest slot from `@VSLOT` / `vslot=`, as libxl's `vdevfn` (slot << 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vdevfn: Option<u32>,
    /// `msitranslate=`.
    #[serde(skip_serializing_if = "not_true")]
    pub msitranslate: Option<bool>,
    /// `power_mgmt=`.
    #[serde(skip_serializing_if = "not_true")]
    pub power_mgmt: Option<bool>,
    /// `permissive=`.
    #[serde(skip_serializing_if = "not_true")]
    pub permissive: Option<bool>,
    /// `seize=`.
    #[serde(skip_serializing_if = "not_true")]
    pub seize: Option<bool>,
    /// `rdm_policy=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdm_policy: Option<RdmPolicy>,
    /// `name=`: a device made assignable under a name (`xl pci-assignable-add -n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl PciSpec {
    /// The guest slot (`@VSLOT`), if one was given.
    pub fn vslot(&self) -> Option<u8> {
        self.vdevfn.map(|v| (v >> 3) as u8)
    }
}

fn not_true(b: &Option<bool>) -> bool {
    *b != Some(true)
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

const KNOWN: &[&str] = &[
    "bdf",
    "vslot",
    "permissive",
    "msitranslate",
    "seize",
    "power_mgmt",
    "rdm_policy",
    "name",
];
const BDF_EXPECTED: &str = "a PCI address [DDDD:]BB:DD.F in hex, F being 0-7 or *";

/// Parses a bare BDF (`xl pci-assignable-add BDF`), offsets relative to `text`.
pub fn parse_bdf(text: &str) -> Result<PciBdf, SpecError> {
    match bdf_prefix(text) {
        Some((bdf, n)) if n == text.len() => Ok(bdf),
        _ => Err(SpecError::new(
            SpecKind::Pci,
            SpecErrorKind::InvalidValue,
            text,
            0,
            BDF_EXPECTED,
            text,
        )
        .hint("e.g. 0000:03:00.0, 03:00.0 or 03:00.*")),
    }
}

/// Reads a BDF at the start of `s`; returns it and the bytes consumed.
fn bdf_prefix(s: &str) -> Option<(PciBdf, usize)> {
    let b = s.as_bytes();
    let hexrun = |from: usize| {
        b[from..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count()
    };
    // Why count colons first: like libxlu, decide whether a domain is present.
    let colons = b
        .iter()
        .take_while(|c| c.is_ascii_hexdigit() || **c == b':')
        .filter(|c| **c == b':')
        .count();
    let mut pos = 0;
    let mut nums = [0u32; 3];
    let want = match colons {
        1 => 2,
        2 => 3,
        _ => return None,
    };
    for (i, slot) in nums.iter_mut().take(want).enumerate() {
        let n = hexrun(pos);
        if n == 0 || n > 8 {
            return None;
        }
        *slot = u32::from_str_radix(&s[pos..pos + n], 16).ok()?;
        pos += n;
        let sep = if i + 1 == want { b'.' } else { b':' };
        if b.get(pos) != Some(&sep) {
            return None;
        }
        pos += 1;
    }
    let (domain, bus, dev) = if want == 2 {
        (0, nums[0], nums[1])
    } else {
        (nums[0], nums[1], nums[2])
    };
    if domain > 0xffff || bus > 0xff || dev > 0x1f {
        return None;
    }
    let (func, mask) = if b.get(pos) == Some(&b'*') {
        pos += 1;
        (0, FUNC_ALL)
    } else {
        let n = hexrun(pos);
        if n == 0 || n > 8 {
            return None;
        }
        let f = u32::from_str_radix(&s[pos..pos + n], 16).ok()?;
        if f > 7 {
            return None;
        }
        pos += n;
        (f, 1)
    };
    Some((
        PciBdf {
            func: func as u8,
            dev: dev as u8,
            bus: bus as u8,
            domain: domain as u16,
            vfunc_mask: mask,
        },
        pos,
    ))
}

/// A guest slot in hex (optionally `0x`-prefixed), 0-0x1f, as libxl's `vdevfn`.
fn parse_vslot(spec: &str, at: usize, v: &str) -> Result<u32, SpecError> {
    let bad = |kind| {
        SpecError::new(
            SpecKind::Pci,
            kind,
            spec,
            at,
            "a virtual slot in hex, 0-1f",
            v,
        )
        .hint("the slot is hexadecimal: slot 20 is written `14`")
    };
    // libxlu reads the slot with sscanf("%x"), which also takes a `0x` prefix.
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(SpecErrorKind::InvalidValue));
    }
    let n = u32::from_str_radix(digits, 16).map_err(|_| bad(SpecErrorKind::InvalidValue))?;
    if n > 0x1f {
        return Err(bad(SpecErrorKind::OutOfRange));
    }
    Ok(n << 3)
}

/// Parses one PCI spec string (one element of `pci=[...]`).
pub fn parse(spec: &str) -> Result<Parsed<PciSpec>, SpecError> {
    let err = |kind, at: usize, expected: &str, found: &str| {
        SpecError::new(SpecKind::Pci, kind, spec, at, expected, found)
    };
    let mut pci = PciSpec::default();
    let mut pos = 0;
    let mut seen: Vec<&str> = Vec::new();
    if let Some((bdf, n)) = bdf_prefix(spec) {
        pci.bdf = Some(bdf);
        seen.push("bdf");
        pos = n;
        if spec[pos..].starts_with('@') {
            pos += 1;
            let len = spec[pos..].find(',').unwrap_or(spec.len() - pos);
            pci.vdevfn = Some(parse_vslot(spec, pos, &spec[pos..pos + len])?);
            seen.push("vslot");
            pos += len;
        }
        match spec.as_bytes().get(pos) {
            None => {}
            Some(b',') => pos += 1,
            Some(_) => {
                let rest = &spec[pos..];
                let found = &rest[..rest.find(',').unwrap_or(rest.len())];
                return Err(err(
                    SpecErrorKind::Syntax,
                    pos,
                    "`@VSLOT`, `,` or the end after the PCI address",
                    found,
                ));
            }
        }
    }
    while pos < spec.len() {
        let rest = &spec[pos..];
        let len = rest.find(',').unwrap_or(rest.len());
        let item = &rest[..len];
        let Some(eq) = item.find('=') else {
            let e = if pos == 0 {
                err(SpecErrorKind::InvalidValue, 0, BDF_EXPECTED, item)
                    .hint("e.g. 0000:03:00.0, 03:00.0@5 or 03:00.*")
            } else {
                err(SpecErrorKind::Syntax, pos, "`key=value`", item)
            };
            return Err(e);
        };
        let (key, v, at) = (&item[..eq], &item[eq + 1..], pos + eq + 1);
        if seen.contains(&key) {
            return Err(err(
                SpecErrorKind::Duplicate,
                pos,
                format!("`{key}` only once").as_str(),
                item,
            )
            .hint(match key {
                "bdf" => "the address at the start of the spec already sets bdf",
                "vslot" => "`@VSLOT` after the address already sets vslot",
                _ => "remove one of them",
            }));
        }
        match key {
            "bdf" => pci.bdf = Some(parse_bdf(v).map_err(|e| e.rebase(spec, at))?),
            "vslot" => pci.vdevfn = Some(parse_vslot(spec, at, v)?),
            "permissive" | "msitranslate" | "seize" | "power_mgmt" => {
                // xl-pci-configuration(5): an empty value means "the default".
                let b = if v.is_empty() {
                    None
                } else {
                    Some(fields::atoi_bool(SpecKind::Pci, spec, at, key, v)?)
                };
                *match key {
                    "permissive" => &mut pci.permissive,
                    "msitranslate" => &mut pci.msitranslate,
                    "seize" => &mut pci.seize,
                    _ => &mut pci.power_mgmt,
                } = b;
            }
            "rdm_policy" => {
                pci.rdm_policy = Some(match v {
                    "strict" => RdmPolicy::Strict,
                    "relaxed" => RdmPolicy::Relaxed,
                    _ => {
                        return Err(err(
                            SpecErrorKind::InvalidValue,
                            at,
                            "rdm_policy strict or relaxed",
                            v,
                        ));
                    }
                });
            }
            "name" => {
                if v.is_empty() {
                    return Err(err(SpecErrorKind::InvalidValue, at, "a device name", v));
                }
                pci.name = Some(v.to_string());
            }
            _ => return Err(fields::unknown_key(SpecKind::Pci, spec, pos, key, KNOWN)),
        }
        seen.push(key);
        pos += len + usize::from(len < rest.len());
    }
    match (pci.bdf.is_some(), pci.name.is_some()) {
        (true, false) | (false, true) => Ok(Parsed::clean(pci)),
        (true, true) => Err(err(
            SpecErrorKind::Conflict,
            0,
            "either a PCI address or name=, not both",
            spec,
        )),
        (false, false) => Err(err(
            SpecErrorKind::Missing,
            spec.len(),
            "a PCI address (BB:DD.F) or name=",
            "",
        )
        .hint("e.g. `03:00.0` or `bdf=03:00.0,permissive=1`")),
    }
}
