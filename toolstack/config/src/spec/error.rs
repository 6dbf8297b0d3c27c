//! The error and warning types shared by every spec parser.
//!
//! A spec parser only sees the string from one list element, so positions are byte
//! offsets *within that string*; the config parser (which knows where the string
//! literal starts in the file) maps them to `file:line:column`.

use std::fmt;

/// Which sub-grammar produced an error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecKind {
    /// `disk=[...]` element, xl-disk-configuration(5).
    Disk,
    /// `vif=[...]` element, xl-network-configuration(5).
    Vif,
    /// `pci=[...]` element, xl-pci-configuration(5).
    Pci,
    /// `vfb=[...]` element.
    Vfb,
    /// `channel=[...]` element.
    Channel,
    /// `vtpm=[...]` element.
    Vtpm,
    /// `p9=[...]` element.
    P9,
    /// `usbctrl=[...]` element.
    Usbctrl,
    /// `usbdev=[...]` element.
    Usbdev,
    /// `cpus=` / `cpus_soft=` value, or one element of their list form.
    Cpus,
    /// A memory size such as `4G` (`rxl mem-set`).
    MemSize,
    /// A virtual disk name such as `xvda` (docs/man/xen-vbd-interface.7).
    Vdev,
}

impl fmt::Display for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecKind::Disk => "disk",
            SpecKind::Vif => "vif",
            SpecKind::Pci => "pci",
            SpecKind::Vfb => "vfb",
            SpecKind::Channel => "channel",
            SpecKind::Vtpm => "vtpm",
            SpecKind::P9 => "p9",
            SpecKind::Usbctrl => "usbctrl",
            SpecKind::Usbdev => "usbdev",
            SpecKind::Cpus => "cpus",
            SpecKind::MemSize => "memory size",
            SpecKind::Vdev => "vdev",
        })
    }
}

/// The class of a spec error, so callers can react to it without matching text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecErrorKind {
    /// A `key=value` whose key the grammar does not know.
    UnknownKey,
    /// A known key (or positional field) with a value outside its domain.
    InvalidValue,
    /// The same parameter given twice with different values.
    Duplicate,
    /// A mandatory parameter is absent.
    Missing,
    /// More positional fields than the grammar has slots for.
    TooManyPositional,
    /// Text that fits no rule of the grammar at all.
    Syntax,
    /// A number too large or too small for its field.
    OutOfRange,
    /// Two parameters that exclude each other.
    Conflict,
}

impl fmt::Display for SpecErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecErrorKind::UnknownKey => "unknown parameter",
            SpecErrorKind::InvalidValue => "invalid value",
            SpecErrorKind::Duplicate => "parameter given twice",
            SpecErrorKind::Missing => "missing parameter",
            SpecErrorKind::TooManyPositional => "too many positional parameters",
            SpecErrorKind::Syntax => "syntax error",
            SpecErrorKind::OutOfRange => "value out of range",
            SpecErrorKind::Conflict => "conflicting parameters",
        })
    }
}

/// A parse failure inside one spec string.
///
/// `offset` is the byte offset of the offending text in the spec string and `column`
/// its 1-based character column, so a caller can point at it; `expected`, `found`
/// and `hint` are written for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{spec} spec, column {column}: {kind}: expected {expected}, found {}{}", show_found(.found), show_hint(.hint))]
pub struct SpecError {
    /// Which grammar failed.
    pub spec: SpecKind,
    /// What went wrong.
    pub kind: SpecErrorKind,
    /// Byte offset of the offending text within the spec string.
    pub offset: usize,
    /// 1-based character column of `offset` (what an editor shows).
    pub column: usize,
    /// What the grammar expected at that point.
    pub expected: String,
    /// The offending text (possibly empty, e.g. at the end of the string).
    pub found: String,
    /// How to fix it, when there is a likely fix.
    pub hint: Option<String>,
}

fn show_found(found: &str) -> String {
    if found.is_empty() {
        "nothing".to_string()
    } else {
        format!("`{found}`")
    }
}

fn show_hint(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!(" (hint: {h})"))
        .unwrap_or_default()
}

impl SpecError {
    /// Builds an error at byte `offset` of `spec_text`.
    pub(crate) fn new(
        spec: SpecKind,
        kind: SpecErrorKind,
        spec_text: &str,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        SpecError {
            spec,
            kind,
            offset,
            column: column_of(spec_text, offset),
            expected: expected.into(),
            found: found.into(),
            hint: None,
        }
    }

    /// Adds a fix suggestion.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Shifts the position by `base` bytes of `whole`, for grammars that parse a
    /// sub-string (one field) and report relative to it.
    pub(crate) fn rebase(mut self, whole: &str, base: usize) -> Self {
        self.offset += base;
        self.column = column_of(whole, self.offset);
        self
    }
}

/// A non-fatal remark: a deprecated form, or something xl ignores silently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecWarning {
    /// Which grammar produced it.
    pub spec: SpecKind,
    /// Byte offset of the text it is about.
    pub offset: usize,
    /// 1-based character column of `offset`.
    pub column: usize,
    /// What is wrong, e.g. "the `phy:` prefix is deprecated".
    pub message: String,
    /// The modern replacement, when there is one.
    pub hint: Option<String>,
}

impl SpecWarning {
    pub(crate) fn new(
        spec: SpecKind,
        spec_text: &str,
        offset: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        SpecWarning {
            spec,
            offset,
            column: column_of(spec_text, offset),
            message: message.into(),
            hint,
        }
    }
}

impl SpecWarning {
    /// Shifts the position by `base` bytes of `whole` (see [`SpecError::rebase`]).
    pub(crate) fn rebase(&mut self, whole: &str, base: usize) {
        self.offset += base;
        self.column = column_of(whole, self.offset);
    }
}

impl fmt::Display for SpecWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} spec, column {}: {}",
            self.spec, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// A successfully parsed spec plus the warnings met on the way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Parsed<T> {
    /// The typed result.
    pub value: T,
    /// Deprecations and other non-fatal remarks, in spec order.
    pub warnings: Vec<SpecWarning>,
}

impl<T> Parsed<T> {
    /// Wraps a value that produced no warnings.
    pub fn clean(value: T) -> Self {
        Parsed {
            value,
            warnings: Vec::new(),
        }
    }
}

/// 1-based character column of byte `offset` in `text` (clamped to the end, and to
/// the enclosing character when `offset` falls inside a multi-byte one).
pub(crate) fn column_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.char_indices().take_while(|(i, _)| *i < offset).count() + 1
}
