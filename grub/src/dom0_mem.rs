//! Xen's x86 `dom0_mem=` option: its exact grammar, a typed value, and what it resolves to.
//!
//! The grammar follows Xen 4.17's `parse_dom0_mem()`/`parse_amt()` (xen/arch/x86/dom0_build.c)
//! character for character:
//!
//! ```text
//! dom0_mem = item { "," item }          item = "min:" amt | "max:" amt | amt
//! amt      = [ "-" ] ( size | frac "%" | size "+" frac "%" )
//! size     = C base-0 integer [ T | G | M | K | B ]   (case-insensitive; no suffix = KiB)
//! frac     = C base-0 integer below 100
//! ```
//!
//! A bare number is **KiB** (`dom0_mem=4096` is 4 MiB), `010G` is octal (8 GiB), and a percentage
//! is of the memory available to dom0. `-` means "all available memory but this". Later items
//! replace earlier ones of the same kind. [`Dom0Mem::resolve`] reproduces Xen's
//! `dom0_compute_nr_pages()` clamping (amount raised to `min:`, then cut to `max:`, then to what
//! is available; no amount = all but min(1/16, 128 MiB)).
//!
//! ```
//! use rxl_grub::dom0_mem::Dom0Mem;
//! let m: Dom0Mem = "4096M,max:4096M".parse().unwrap();
//! assert_eq!(m.to_string(), "4G,max:4G");
//! assert_eq!(m.resolve(16 << 20).initial_kib, 4 << 20);
//! ```

use std::fmt;
use std::str::FromStr;

use crate::xen_size::{self, Radix, Unit};

/// Xen's page size; sizes are truncated to whole pages, as Xen does (`bytes >> PAGE_SHIFT`).
const PAGE_SHIFT: u32 = 12;
/// KiB per page.
const PAGE_KIB: u64 = 4;

/// One `amt`: `[-] size`, `[-] frac%` or `[-] size+frac%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    /// `-`: "all available memory except this".
    pub minus: bool,
    /// The absolute part in bytes (0 when only a percentage was given).
    pub bytes: u64,
    /// The percentage of available memory (0..=99), when one was given.
    pub percent: Option<u8>,
}

impl Amount {
    /// A plain absolute size in bytes.
    pub fn bytes(bytes: u64) -> Self {
        Amount {
            minus: false,
            bytes,
            percent: None,
        }
    }

    /// A plain absolute size in MiB.
    pub fn mib(mib: u64) -> Self {
        Amount::bytes(mib << 20)
    }

    /// Whether the amount depends on the host's memory (a percentage or `-`).
    pub fn is_relative(&self) -> bool {
        self.minus || self.percent.is_some()
    }

    /// Xen's `get_memsize()`: pages for this amount given `avail` pages. Wrapping arithmetic on
    /// purpose: Xen uses unsigned longs, so `-` of more than is available wraps to a huge value
    /// that the later clamping turns into "all available memory".
    fn pages(&self, avail: u64) -> u64 {
        let pages = (self.bytes >> PAGE_SHIFT)
            .wrapping_add(u64::from(self.percent.unwrap_or(0)).wrapping_mul(avail) / 100);
        if self.minus {
            avail.wrapping_sub(pages)
        } else {
            pages
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minus {
            f.write_str("-")?;
        }
        match (self.bytes, self.percent) {
            (b, None) => f.write_str(&xen_size::format_size(b)),
            (0, Some(p)) => write!(f, "{p}%"),
            (b, Some(p)) => write!(f, "{}+{p}%", xen_size::format_size(b)),
        }
    }
}

/// A parsed `dom0_mem=` value. Each part is `None` when not given (Xen's defaults apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Dom0Mem {
    /// The plain item: dom0's initial memory.
    pub amount: Option<Amount>,
    /// `min:`: a lower bound for the initial memory.
    pub min: Option<Amount>,
    /// `max:`: an upper bound for the initial memory and for ballooning up.
    pub max: Option<Amount>,
}

/// What Xen will give dom0, from [`Dom0Mem::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// dom0's initial memory in KiB (whole 4 KiB pages).
    pub initial_kib: u64,
    /// The most dom0 may balloon up to in KiB; `None` when unlimited (no `max:`).
    pub max_kib: Option<u64>,
}

/// Something legal that is probably not what the writer meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dom0MemWarning {
    /// A size without a unit: Xen reads it as KiB.
    BareNumberIsKib {
        /// The number as written.
        text: String,
    },
    /// A number with a leading zero: Xen reads it as octal.
    Octal {
        /// The number as written.
        text: String,
        /// Its value.
        value: u64,
    },
    /// The same kind of item appears twice; the later one wins.
    Repeated {
        /// `amount`, `min:` or `max:`.
        what: &'static str,
    },
    /// `min:` is above `max:`: Xen ignores the minimum.
    MinAboveMax,
}

impl fmt::Display for Dom0MemWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dom0MemWarning::BareNumberIsKib { text } => write!(
                f,
                "\"{text}\" has no unit, so Xen reads it as KiB ({text}K); write e.g. {text}M if \
                 you meant MiB"
            ),
            Dom0MemWarning::Octal { text, value } => write!(
                f,
                "\"{text}\" starts with 0, so Xen reads it as octal ({value}); drop the leading 0 \
                 for decimal"
            ),
            Dom0MemWarning::Repeated { what } => {
                write!(f, "{what} is given more than once; Xen uses the last one")
            }
            Dom0MemWarning::MinAboveMax => {
                f.write_str("min: is larger than max:, so Xen ignores min:")
            }
        }
    }
}

/// Why a `dom0_mem` value is invalid (Xen would log `rc=-22` and ignore the rest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dom0_mem \"{input}\" at column {column}: {reason}; {fix}")]
pub struct Dom0MemError {
    /// The whole value.
    pub input: String,
    /// 1-based column of the offending character.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
    /// How to write it instead.
    pub fix: &'static str,
}

const FIX_SYNTAX: &str = "write items like 4G, max:4G, min:1G, -2G, 10% or 1G+10%, separated by \
                          commas";

impl Dom0Mem {
    /// The usual fixed set-up: `X,max:X` (dom0 starts with X and cannot balloon above it).
    pub fn fixed(amount: Amount) -> Self {
        Dom0Mem {
            amount: Some(amount),
            min: None,
            max: Some(amount),
        }
    }

    /// Parses with Xen's grammar and also returns the warnings (bare KiB numbers, octal, ...).
    pub fn parse_with_warnings(s: &str) -> Result<(Dom0Mem, Vec<Dom0MemWarning>), Dom0MemError> {
        let mut p = Parser {
            input: s,
            pos: 0,
            warnings: Vec::new(),
        };
        let mut out = Dom0Mem::default();
        loop {
            let (slot, what) = if p.rest().starts_with("min:") {
                p.pos += 4;
                (&mut out.min, "min:")
            } else if p.rest().starts_with("max:") {
                p.pos += 4;
                (&mut out.max, "max:")
            } else {
                (&mut out.amount, "the plain amount")
            };
            let amt = p.amount()?;
            if slot.replace(amt).is_some() {
                p.warnings.push(Dom0MemWarning::Repeated { what });
            }
            match p.peek() {
                None => break,
                Some(b',') => p.pos += 1,
                Some(_) => return Err(p.error("unexpected text after an item", FIX_SYNTAX)),
            }
        }
        if let (Some(min), Some(max)) = (out.min, out.max) {
            if !min.is_relative() && !max.is_relative() && min.bytes > max.bytes {
                p.warnings.push(Dom0MemWarning::MinAboveMax);
            }
        }
        Ok((out, p.warnings))
    }

    /// Whether any part depends on the host's memory (percentages or `-`).
    pub fn is_relative(&self) -> bool {
        [self.amount, self.min, self.max]
            .iter()
            .flatten()
            .any(Amount::is_relative)
    }

    /// What Xen gives dom0 when `avail_kib` KiB are available to it.
    ///
    /// Xen's `avail` is the free heap at dom0-build time (host RAM minus Xen's own use), so
    /// passing the host total slightly overestimates percentages and `-` amounts.
    pub fn resolve(&self, avail_kib: u64) -> Resolved {
        let avail = avail_kib / PAGE_KIB;
        let default = || avail - (avail / 16).min(128 << (20 - PAGE_SHIFT));
        // Xen: `get_memsize(&dom0_size) ?: default_nr_pages()`, so an amount of 0 means default.
        let mut pages = self
            .amount
            .map(|a| a.pages(avail))
            .filter(|&p| p != 0)
            .unwrap_or_else(default);
        let min = self.min.map_or(0, |a| a.pages(avail));
        // Xen's default maximum is LONG_MAX pages.
        let max = self.max.map_or(i64::MAX as u64, |a| a.pages(avail));
        pages = pages.max(min).min(max).min(avail);
        Resolved {
            initial_kib: pages * PAGE_KIB,
            max_kib: self
                .max
                .map(|_| max.min(u64::from(u32::MAX)).saturating_mul(PAGE_KIB)),
        }
    }
}

impl FromStr for Dom0Mem {
    type Err = Dom0MemError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dom0Mem::parse_with_warnings(s).map(|(m, _)| m)
    }
}

impl fmt::Display for Dom0Mem {
    /// Canonical text: the amount, then `min:`, then `max:`; sizes in their largest exact unit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [("", self.amount), ("min:", self.min), ("max:", self.max)];
        let mut first = true;
        for (prefix, amt) in parts {
            if let Some(a) = amt {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{prefix}{a}")?;
            }
        }
        Ok(())
    }
}

/// A cursor over the value, mirroring the pointer walk in Xen's C parser.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
    warnings: Vec<Dom0MemWarning>,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn error(&self, reason: impl Into<String>, fix: &'static str) -> Dom0MemError {
        Dom0MemError {
            input: self.input.to_owned(),
            column: self.pos + 1,
            reason: reason.into(),
            fix,
        }
    }

    /// Xen's `parse_amt()`: at most a size then a percentage, joined by `+`.
    fn amount(&mut self) -> Result<Amount, Dom0MemError> {
        let mut amt = Amount {
            minus: false,
            bytes: 0,
            percent: None,
        };
        if self.peek() == Some(b'-') {
            amt.minus = true;
            self.pos += 1;
        }
        let mut items = 0;
        loop {
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let reason = match self.peek() {
                    None => "a size is missing at the end".to_owned(),
                    Some(c) => format!("expected a number, found '{}'", c as char),
                };
                return Err(self.error(reason, FIX_SYNTAX));
            }
            let start = self.pos;
            let size = xen_size::parse_size(self.rest()).map_err(|_| {
                self.error(
                    "the number does not fit in 64 bits",
                    "use a smaller number or a unit",
                )
            })?;
            self.pos += size.len;
            let text = &self.input[start..start + size.number.len];
            if size.number.radix == Radix::Octal && size.number.len > 1 {
                self.warnings.push(Dom0MemWarning::Octal {
                    text: text.to_owned(),
                    value: size.number.value,
                });
            }
            if self.peek() == Some(b'%') {
                if size.bytes >= 100 {
                    let at = self.error(
                        format!("the percentage {} is not below 100", size.bytes),
                        "use a fraction from 0 to 99, e.g. 50%, or omit the amount to get all \
                         memory but a reserve",
                    );
                    return Err(Dom0MemError {
                        column: start + 1,
                        ..at
                    });
                }
                amt.percent = Some(size.bytes as u8);
                self.pos += 1;
                items += 1;
            } else {
                if items > 0 {
                    let at = self.error(
                        "a size must come before the percentage, not after it",
                        "write SIZE+N% (e.g. 1G+10%)",
                    );
                    return Err(Dom0MemError {
                        column: start + 1,
                        ..at
                    });
                }
                if size.unit == Some(Unit::DefaultKib) {
                    self.warnings.push(Dom0MemWarning::BareNumberIsKib {
                        text: text.to_owned(),
                    });
                }
                amt.bytes = size.bytes;
            }
            items += 1;
            if self.peek() == Some(b'+') && items < 2 {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.peek() == Some(b'+') {
            return Err(self.error(
                "only one size and one percentage, in that order, may be added",
                "write SIZE+N% (e.g. 1G+10%)",
            ));
        }
        if matches!(self.peek(), Some(c) if c != b',') {
            let c = self.peek().unwrap_or_default() as char;
            return Err(self.error(format!("unexpected '{c}'"), FIX_SYNTAX));
        }
        Ok(amt)
    }
}

#[cfg(test)]
#[path = "dom0_mem_tests.rs"]
mod tests;
