//! Numbers and sizes exactly as Xen's command-line parser reads them.
//!
//! Xen parses numbers with its own `simple_strtoull(s, &end, 0)` (C "base 0": `0x` hex, a leading
//! `0` octal, else decimal) and sizes with `parse_size_and_unit()` (an optional `T`/`G`/`M`/`K`/`B`
//! suffix, case-insensitive; **no suffix means KiB**). Both stop at the first character that does
//! not fit and leave the caller to judge what follows, which is why this module returns the number
//! of bytes consumed instead of failing on trailing text.
//!
//! Xen silently wraps on overflow; we refuse instead, because a wrapped size is never what the
//! administrator meant.

/// The radix a number was written in (C base-0 rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Radix {
    /// Plain decimal digits.
    Decimal,
    /// A leading `0`: octal (so `010` is eight).
    Octal,
    /// A `0x`/`0X` prefix followed by at least one hex digit.
    Hex,
}

/// A number read by [`parse_c_number`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CNumber {
    /// Its value.
    pub value: u64,
    /// The radix the text used.
    pub radix: Radix,
    /// How many bytes of the input it consumed.
    pub len: usize,
}

/// Reads a number the way Xen's `simple_strtoull(s, &end, 0)` does.
///
/// Returns `None` when the value does not fit in 64 bits. A string that starts with no digit
/// yields a zero-length number (value 0), as in C; callers check `len`.
pub fn parse_c_number(s: &str) -> Option<CNumber> {
    let b = s.as_bytes();
    let (radix, base, mut i) = if b.first() == Some(&b'0') {
        // "0x" switches to hex only when a hex digit follows; otherwise the "0" is an octal zero
        // and the "x" is left for the caller (Xen then rejects it as trailing junk).
        if matches!(b.get(1), Some(b'x' | b'X')) && b.get(2).is_some_and(u8::is_ascii_hexdigit) {
            (Radix::Hex, 16u64, 2)
        } else {
            (Radix::Octal, 8u64, 1)
        }
    } else {
        (Radix::Decimal, 10u64, 0)
    };
    let mut value: u64 = 0;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(16)) {
        let d = u64::from(d);
        if d >= base {
            break;
        }
        value = value.checked_mul(base)?.checked_add(d)?;
        i += 1;
    }
    Some(CNumber {
        value,
        radix,
        len: i,
    })
}

/// The unit suffix of a size, as `parse_size_and_unit()` recognises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// No suffix: Xen's default, kibibytes.
    DefaultKib,
    /// `B`/`b`: bytes.
    Bytes,
    /// `K`/`k`.
    Kib,
    /// `M`/`m`.
    Mib,
    /// `G`/`g`.
    Gib,
    /// `T`/`t`.
    Tib,
}

impl Unit {
    /// log2 of the unit's size in bytes.
    pub fn shift(self) -> u32 {
        match self {
            Unit::Bytes => 0,
            Unit::Kib | Unit::DefaultKib => 10,
            Unit::Mib => 20,
            Unit::Gib => 30,
            Unit::Tib => 40,
        }
    }
}

/// A size read by [`parse_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// The size in bytes.
    pub bytes: u64,
    /// The number before the unit (for percentages this is the whole value).
    pub number: CNumber,
    /// The suffix, `None` when the number is directly followed by `%` (Xen then applies no unit).
    pub unit: Option<Unit>,
    /// Bytes consumed, suffix included.
    pub len: usize,
}

/// Why a size could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// The number or the number shifted by its unit does not fit in 64 bits.
    Overflow,
}

/// Reads a size the way Xen's `parse_size_and_unit(s, &end)` does.
///
/// A number directly followed by `%` is returned unscaled with `unit: None`, because Xen's
/// percentage syntax reads the same function's raw result.
pub fn parse_size(s: &str) -> Result<Size, SizeError> {
    let number = parse_c_number(s).ok_or(SizeError::Overflow)?;
    let rest = &s.as_bytes()[number.len..];
    let (unit, suffix_len) = match rest.first().map(u8::to_ascii_lowercase) {
        Some(b't') => (Some(Unit::Tib), 1),
        Some(b'g') => (Some(Unit::Gib), 1),
        Some(b'm') => (Some(Unit::Mib), 1),
        Some(b'k') => (Some(Unit::Kib), 1),
        Some(b'b') => (Some(Unit::Bytes), 1),
        Some(b'%') => (None, 0),
        _ => (Some(Unit::DefaultKib), 0),
    };
    let bytes = match unit {
        None => number.value,
        Some(u) => {
            let shift = u.shift();
            if shift > 0 && number.value.leading_zeros() < shift {
                return Err(SizeError::Overflow);
            }
            number.value << shift
        }
    };
    Ok(Size {
        bytes,
        number,
        unit,
        len: number.len + suffix_len,
    })
}

/// Formats a byte count in the largest unit that represents it exactly (`4G`, `1536M`, `12K`,
/// `100B`), which Xen reads back to the same value.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u32, char); 4] = [(40, 'T'), (30, 'G'), (20, 'M'), (10, 'K')];
    for (shift, c) in UNITS {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{c}", bytes >> shift);
        }
    }
    if bytes == 0 {
        "0K".to_owned()
    } else {
        format!("{bytes}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_base_rules() {
        let n = |s| parse_c_number(s).map(|n| (n.value, n.radix, n.len));
        assert_eq!(n("123"), Some((123, Radix::Decimal, 3)));
        assert_eq!(n("010"), Some((8, Radix::Octal, 3)));
        assert_eq!(
            n("08"),
            Some((0, Radix::Octal, 1)),
            "8 is not an octal digit"
        );
        assert_eq!(n("0x1f"), Some((31, Radix::Hex, 4)));
        assert_eq!(n("0X1F"), Some((31, Radix::Hex, 4)));
        assert_eq!(
            n("0xg"),
            Some((0, Radix::Octal, 1)),
            "0x needs a hex digit after it"
        );
        assert_eq!(n("abc"), Some((0, Radix::Decimal, 0)));
        assert_eq!(
            n("18446744073709551615"),
            Some((u64::MAX, Radix::Decimal, 20))
        );
        assert_eq!(n("18446744073709551616"), None);
    }

    #[test]
    fn sizes_and_units() {
        let b = |s| parse_size(s).map(|z| (z.bytes, z.len));
        assert_eq!(b("4096"), Ok((4096 << 10, 4)), "no suffix is KiB");
        assert_eq!(b("1g"), Ok((1 << 30, 2)));
        assert_eq!(b("2T"), Ok((2 << 40, 2)));
        assert_eq!(b("512b"), Ok((512, 4)));
        assert_eq!(b("0x1b"), Ok((27 << 10, 4)), "b is a hex digit after 0x");
        assert_eq!(b("1b"), Ok((1, 2)), "b is the byte suffix after decimal");
        assert_eq!(b("10%"), Ok((10, 2)), "percent keeps the raw number");
        assert_eq!(b("16777216T"), Err(SizeError::Overflow));
        assert_eq!(parse_size("3Gx").unwrap().len, 2);
    }

    #[test]
    fn canonical_format_round_trips() {
        for (bytes, text) in [
            (4 << 30, "4G"),
            (1536 << 20, "1536M"),
            (12 << 10, "12K"),
            (100, "100B"),
            (0, "0K"),
        ] {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text).unwrap().bytes, bytes);
        }
    }
}
