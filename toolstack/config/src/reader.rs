//! Typed reads of settings, with libxlu's number rules and rxl's diagnostics.
//!
//! libxlu decides a value's type only when xl reads a key: numbers are text run through C
//! `strtol(text, base 0)`, booleans are numbers. Where xl only warns and then silently ignores
//! the key (a bad number, a list where one value belongs), rxl reports an error: the author
//! clearly meant something, and a guest created without it is a worse surprise.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::diag::{DiagKind, Diagnostic, Span};
use crate::value::{Setting, Settings, Value};

/// Why text is not a C `long`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// No digits where the number should start (empty, or text such as `two`).
    #[error("no digits")]
    Empty,
    /// Characters left after the number.
    #[error("trailing characters after the number")]
    Trailing,
    /// Does not fit a 64-bit `long` (C's ERANGE).
    #[error("number out of range for a 64-bit long")]
    Overflow,
}

/// C `strtol(text, &end, 0)` that must consume all of `text`: leading blanks and a sign are
/// allowed, `0x`/`0X` means hex, a leading `0` means octal, otherwise decimal.
pub fn strtol(text: &str) -> Result<i64, NumberError> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return Err(NumberError::Empty);
    }
    if end != digits.len() {
        return Err(NumberError::Trailing);
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        v = v * i128::from(radix) + i128::from(c.to_digit(radix).unwrap_or(0));
        if v > i128::from(i64::MAX) + 1 {
            return Err(NumberError::Overflow);
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).map_err(|_| NumberError::Overflow)
}

/// Reads typed values out of [`Settings`], collecting diagnostics and remembering which keys were
/// read.
pub struct Reader<'a> {
    settings: &'a Settings,
    file: Arc<str>,
    /// Problems found while reading.
    pub diags: Vec<Diagnostic>,
    /// Keys read so far.
    pub used: BTreeSet<String>,
}

impl<'a> Reader<'a> {
    /// A reader over `settings` of the file named `file`.
    pub fn new(settings: &'a Settings, file: Arc<str>) -> Reader<'a> {
        Reader {
            settings,
            file,
            diags: Vec::new(),
            used: BTreeSet::new(),
        }
    }

    /// The file name.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// The raw setting of `key`, marking it read.
    pub fn setting(&mut self, key: &str) -> Option<&'a Setting> {
        self.used.insert(key.to_string());
        self.settings.get(key)
    }

    /// Where `key`'s value is, or the whole file when unset.
    pub fn span_of(&self, key: &str) -> Span {
        self.settings
            .get(key)
            .map_or_else(|| Span::file(&self.file), |s| s.value.span().clone())
    }

    /// An error about `key`, positioned at its value (not yet recorded: see [`Reader::push`]).
    pub fn error(&self, kind: DiagKind, key: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(kind, self.span_of(key), message).key(key)
    }

    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// A single text value. A list is an error.
    pub fn string(&mut self, key: &str) -> Option<String> {
        let s = self.setting(key)?;
        match &s.value {
            Value::Str { text, .. } => Some(text.clone()),
            v @ Value::List { .. } => {
                let d = Diagnostic::error(DiagKind::Shape, v.span().clone(), "expected one value")
                    .key(key)
                    .expected("a single value")
                    .found(v.describe())
                    .hint(format!(
                        "xl warns and ignores `{key}` when it is a list; write {key} = \"...\""
                    ));
                self.diags.push(d);
                None
            }
        }
    }

    /// A non-empty string (empty ones are reported).
    pub fn nonempty_string(&mut self, key: &str) -> Option<String> {
        let s = self.string(key)?;
        if s.is_empty() {
            let d = self
                .error(DiagKind::InvalidValue, key, "empty value")
                .hint(format!("remove `{key}` or give it a value"));
            self.push(d);
            return None;
        }
        Some(s)
    }

    /// A C `long` read with `strtol` rules.
    pub fn long(&mut self, key: &str) -> Option<i64> {
        let text = self.string(key)?;
        let s = self.settings.get(key)?;
        if s.appended {
            let d = Diagnostic::error(
                DiagKind::InvalidValue,
                s.value.span().clone(),
                "`+=` cannot be used with numbers",
            )
            .key(key)
            .hint("`+=` concatenates text; write the number with `=`");
            self.diags.push(d);
            return None;
        }
        match strtol(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                let hint = if text.chars().any(|c| c.is_ascii_alphabetic())
                    && text.starts_with(|c: char| c.is_ascii_digit())
                {
                    "write a plain number (decimal, 0x hex, or octal with a leading 0) without a unit"
                } else {
                    "write a plain number such as 512 (decimal, 0x1f hex, or 010 octal)"
                };
                let d = Diagnostic::error(
                    DiagKind::InvalidValue,
                    s.value.span().clone(),
                    format!("not a valid number ({e})"),
                )
                .key(key)
                .expected("a number")
                .found(s.value.describe())
                .hint(hint);
                self.diags.push(d);
                None
            }
        }
    }

    /// A number within `min..=max`.
    pub fn ranged(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.long(key)?;
        if v < min || v > max {
            let found = v.to_string();
            let d = self
                .error(DiagKind::OutOfRange, key, "value out of range")
                .expected(format!("a number from {min} to {max}"))
                .found(found);
            self.push(d);
            return None;
        }
        Some(v)
    }

    /// A non-negative number that fits `u64` and is at most `max`.
    pub fn unsigned(&mut self, key: &str, max: u64) -> Option<u64> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.ranged(key, 0, max).and_then(|v| u64::try_from(v).ok())
    }

    /// A boolean: a number, non-zero meaning true (libxlu has no `yes`/`true`).
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        let text = self.string(key)?;
        if matches!(
            text.to_ascii_lowercase().as_str(),
            "yes" | "no" | "true" | "false" | "on" | "off" | "y" | "n"
        ) {
            let found = format!("{text:?}");
            let d = self
                .error(DiagKind::InvalidValue, key, "not a boolean")
                .expected("1 or 0")
                .found(found)
                .hint(format!(
                    "xl reads booleans as numbers and ignores `{key}` otherwise; write {key} = 1 or 0"
                ));
            self.push(d);
            return None;
        }
        self.long(key).map(|v| v != 0)
    }

    /// One of a fixed set of words.
    pub fn choice<T: Copy>(&mut self, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(key)?;
        if let Some((_, v)) = choices.iter().find(|(n, _)| *n == text) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let found = format!("{text:?}");
        let prefixed: Vec<String> = names
            .iter()
            .filter(|n| !text.is_empty() && n.starts_with(text.as_str()))
            .map(|n| format!("\"{n}\""))
            .collect();
        let hint = if prefixed.is_empty() {
            crate::suggest::closest(&text, names.iter().copied())
                .map(|s| format!("did you mean \"{s}\"?"))
        } else {
            Some(format!("did you mean {}?", prefixed.join(" or ")))
        };
        let mut d = self
            .error(DiagKind::InvalidValue, key, "unknown value")
            .expected(format!("one of {}", names.join(", ")))
            .found(found);
        d.hint = hint;
        self.push(d);
        None
    }

    /// A list of strings (each with its position). A single value or a nested list is an error.
    pub fn string_list(&mut self, key: &str) -> Option<Vec<(String, Span)>> {
        let s = self.setting(key)?;
        match &s.value {
            Value::List { items, .. } => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Str { text, span, .. } => out.push((text.clone(), span.clone())),
                        Value::List { span, .. } => {
                            let d = Diagnostic::error(
                                DiagKind::Shape,
                                span.clone(),
                                format!("element {i} is a nested list"),
                            )
                            .key(key)
                            .expected("a string")
                            .hint("each element is one quoted spec string");
                            self.diags.push(d);
                        }
                    }
                }
                Some(out)
            }
            v @ Value::Str { text, .. } => {
                let d = Diagnostic::error(DiagKind::Shape, v.span().clone(), "expected a list")
                    .key(key)
                    .expected("a list [ ... ]")
                    .found(v.describe())
                    .hint(format!(
                        "xl warns and ignores a single value here; write {key} = [ {text:?} ]"
                    ));
                self.diags.push(d);
                None
            }
        }
    }

    /// Either one string or a list of strings (`cpus`, `device_model_args`, `bootloader_args`).
    pub fn string_or_list(&mut self, key: &str) -> Option<StrOrList> {
        let s = self.setting(key)?;
        match &s.value {
            Value::Str { text, .. } => Some(StrOrList::One(text.clone())),
            Value::List { .. } => self
                .string_list(key)
                .map(|v| StrOrList::Many(v.into_iter().map(|(s, _)| s).collect())),
        }
    }
}

/// A key that takes one string or a list of strings (xl keeps the two forms apart, e.g.
/// `serial` vs libxl's `serial_list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum StrOrList {
    /// `key = "text"`
    One(String),
    /// `key = [ "a", "b" ]`
    Many(Vec<String>),
}

impl StrOrList {
    /// The strings, whichever form was written.
    pub fn items(&self) -> Vec<&str> {
        match self {
            StrOrList::One(s) => vec![s.as_str()],
            StrOrList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_follows_c() {
        assert_eq!(strtol("512"), Ok(512));
        assert_eq!(strtol("0x1f"), Ok(31));
        assert_eq!(strtol("0X1F"), Ok(31));
        assert_eq!(strtol("010"), Ok(8));
        assert_eq!(strtol("0"), Ok(0));
        assert_eq!(strtol(" -5"), Ok(-5));
        assert_eq!(strtol("+7"), Ok(7));
        assert_eq!(strtol("08"), Err(NumberError::Trailing));
        assert_eq!(strtol("0x"), Err(NumberError::Trailing));
        assert_eq!(strtol("512M"), Err(NumberError::Trailing));
        assert_eq!(strtol("1e3"), Err(NumberError::Trailing));
        assert_eq!(strtol("5 "), Err(NumberError::Trailing));
        assert_eq!(strtol(""), Err(NumberError::Empty));
        assert_eq!(strtol("-"), Err(NumberError::Empty));
        assert_eq!(strtol("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(strtol("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(strtol("9223372036854775808"), Err(NumberError::Overflow));
    }
}
