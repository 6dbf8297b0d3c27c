//! Field splitting and small value readers shared by the `key=value,...` grammars
//! (vif, vfb, channel, vtpm, p9, usbctrl, usbdev, pci).
//!
//! xl splits those specs with `strtok(",")`, so empty fields vanish, and strips
//! leading blanks from each field. We do the same but keep byte offsets so errors
//! can point at the field.

use super::error::{SpecError, SpecErrorKind, SpecKind};

/// One comma-separated field of a spec, with its byte offset in the spec string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// Byte offset of `text` in the whole spec.
    pub offset: usize,
    /// The field with leading blanks removed.
    pub text: &'a str,
}

impl<'a> Field<'a> {
    /// Splits `key=value` at the first `=`; `None` for a bare word.
    pub fn key_value(&self) -> Option<KeyValue<'a>> {
        let eq = self.text.find('=')?;
        Some(KeyValue {
            key: &self.text[..eq],
            value: &self.text[eq + 1..],
            key_offset: self.offset,
            value_offset: self.offset + eq + 1,
        })
    }
}

/// A `key=value` field, both halves with their offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyValue<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub key_offset: usize,
    pub value_offset: usize,
}

/// Splits like xl's `strtok(buf, ",")` + `while (*p == ' ') p++`: empty fields are
/// dropped (why: xl accepts `"bridge=br0,,mac=..."` and so must we).
pub(crate) fn split_fields(spec: &str) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in spec.split(',') {
        let trimmed = piece.trim_start_matches(' ');
        let offset = start + (piece.len() - trimmed.len());
        if !trimmed.is_empty() {
            out.push(Field {
                offset,
                text: trimmed,
            });
        }
        start += piece.len() + 1;
    }
    out
}

/// Parses a plain unsigned decimal number (no sign, no blanks, no suffix).
///
/// Why stricter than xl's `atoi`/`strtoul`: `atoi("yes")` is 0 and silently
/// turns a setting off; we say so instead.
pub(crate) fn decimal_u64(
    kind: SpecKind,
    spec: &str,
    offset: usize,
    key: &str,
    value: &str,
) -> Result<u64, SpecError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecError::new(
            kind,
            SpecErrorKind::InvalidValue,
            spec,
            offset,
            format!("a decimal number for `{key}`"),
            value,
        ));
    }
    value.parse::<u64>().map_err(|_| {
        SpecError::new(
            kind,
            SpecErrorKind::OutOfRange,
            spec,
            offset,
            format!("a number for `{key}` below 2^64"),
            value,
        )
    })
}

/// Parses a number that xl reads with `strtoul(…, 0)`: decimal, `0x` hex, or
/// leading-`0` octal.
pub(crate) fn c_number_u64(
    kind: SpecKind,
    spec: &str,
    offset: usize,
    key: &str,
    value: &str,
) -> Result<u64, SpecError> {
    let bad = || {
        SpecError::new(
            kind,
            SpecErrorKind::InvalidValue,
            spec,
            offset,
            format!("a number for `{key}` (decimal, 0x hex or 0 octal)"),
            value,
        )
    };
    let (digits, radix) = if let Some(h) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        (h, 16)
    } else if value.len() > 1 && value.starts_with('0') {
        (&value[1..], 8)
    } else {
        (value, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    u64::from_str_radix(digits, radix).map_err(|_| {
        SpecError::new(
            kind,
            SpecErrorKind::OutOfRange,
            spec,
            offset,
            format!("a number for `{key}` below 2^64"),
            value,
        )
    })
}

/// Reads a number bounded by `max`, reporting `OutOfRange` with the bound.
pub(crate) fn bounded(
    kind: SpecKind,
    spec: &str,
    offset: usize,
    key: &str,
    value: &str,
    n: u64,
    max: u64,
) -> Result<u64, SpecError> {
    if n > max {
        Err(SpecError::new(
            kind,
            SpecErrorKind::OutOfRange,
            spec,
            offset,
            format!("`{key}` at most {max}"),
            value,
        ))
    } else {
        Ok(n)
    }
}

/// Parses a boolean that xl reads with `atoi`: a decimal integer, non-zero = true.
pub(crate) fn atoi_bool(
    kind: SpecKind,
    spec: &str,
    offset: usize,
    key: &str,
    value: &str,
) -> Result<bool, SpecError> {
    decimal_u64(kind, spec, offset, key, value)
        .map(|n| n != 0)
        .map_err(|e| {
            SpecError {
                kind: SpecErrorKind::InvalidValue,
                expected: format!("0 or 1 for `{key}`"),
                ..e
            }
            .hint(format!(
                "write `{key}=1` or `{key}=0`; xl reads words such as `yes` as 0"
            ))
        })
}

/// Error for a key the grammar does not know, with a "did you mean" hint.
pub(crate) fn unknown_key(
    kind: SpecKind,
    spec: &str,
    offset: usize,
    key: &str,
    known: &[&str],
) -> SpecError {
    let err = SpecError::new(
        kind,
        SpecErrorKind::UnknownKey,
        spec,
        offset,
        format!("one of {}", known.join(", ")),
        key,
    );
    match closest(key, known) {
        Some(k) => err.hint(format!("did you mean `{k}`?")),
        None => err,
    }
}

/// The known key closest to `word` by edit distance, if it is plausibly a typo.
pub(crate) fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars (why here: typo hints are the only user, and
/// pulling a crate for twenty lines is not worth it).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_empty_fields_and_leading_blanks() {
        let f = split_fields(",a=1,, b=2 ,");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].offset, f[0].text), (1, "a=1"));
        assert_eq!((f[1].offset, f[1].text), (7, "b=2 "));
    }

    #[test]
    fn c_numbers_follow_strtoul_base_0() {
        let p = |v| c_number_u64(SpecKind::Usbdev, v, 0, "k", v);
        assert_eq!(p("0x1f").unwrap(), 31);
        assert_eq!(p("010").unwrap(), 8);
        assert_eq!(p("10").unwrap(), 10);
        assert_eq!(p("0").unwrap(), 0);
        assert!(p("08").is_err());
        assert!(p("").is_err());
        assert!(p("0x").is_err());
    }

    #[test]
    fn typo_hint() {
        assert_eq!(closest("brdige", &["bridge", "mac"]), Some("bridge"));
        assert_eq!(closest("zzzzzz", &["bridge", "mac"]), None);
    }
}
