//! Memory sizes as `xl mem-set` / `mem-max` take them (xl's `parse_mem_size_kb`):
//! a decimal number with an optional one-letter unit, case-insensitive:
//! `b` bytes, `k` KiB, `m` MiB (the default), `g` GiB, `t` TiB. Binary multiples.
//!
//! Stricter than xl: no sign, blanks or negative values (xl's `strtoll` accepts
//! `-5`, giving a negative size), and overflow is an error rather than a wrap.

use super::error::{SpecError, SpecErrorKind, SpecKind};

/// Parses a size and returns it in KiB (`"4G"` → 4194304, `"512"` → 524288).
/// Bytes are rounded down to whole KiB, as xl does.
pub fn parse_mem_size_kb(text: &str) -> Result<u64, SpecError> {
    let err = |kind, at: usize, found: &str| {
        SpecError::new(
            SpecKind::MemSize,
            kind,
            text,
            at,
            "a size such as 512, 512m, 4g or 1t (default unit MiB)",
            found,
        )
    };
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(err(SpecErrorKind::InvalidValue, 0, text));
    }
    let n: u64 = text[..digits]
        .parse()
        .map_err(|_| err(SpecErrorKind::OutOfRange, 0, text))?;
    let unit = &text[digits..];
    let shift_left = |bits: u32| {
        n.checked_mul(1u64 << bits)
            .ok_or_else(|| err(SpecErrorKind::OutOfRange, 0, text))
    };
    match unit.to_ascii_lowercase().as_str() {
        "t" => shift_left(30),
        "g" => shift_left(20),
        "" | "m" => shift_left(10),
        "k" => Ok(n),
        "b" => Ok(n >> 10),
        _ => Err(err(SpecErrorKind::InvalidValue, digits, unit)
            .hint("units are b, k, m, g, t (one letter, no `iB`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_xl() {
        for (t, kb) in [
            ("512", 524_288),
            ("512m", 524_288),
            ("512M", 524_288),
            ("4g", 4_194_304),
            ("1T", 1 << 30),
            ("64k", 64),
            ("4096b", 4),
            ("1023b", 0),
            ("0", 0),
        ] {
            assert_eq!(parse_mem_size_kb(t).unwrap(), kb, "{t}");
        }
        for bad in [
            "",
            "-5",
            "+5",
            " 5",
            "5 ",
            "5gb",
            "5GiB",
            "g",
            "5x",
            "99999999999999999999",
            "20000000000000t",
        ] {
            assert!(parse_mem_size_kb(bad).is_err(), "{bad}");
        }
    }
}
