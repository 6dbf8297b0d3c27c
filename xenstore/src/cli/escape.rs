//! Value quoting exactly as xenstore-read/-ls print values and xenstore-write reads them.

/// Printable ASCII stays; backslash, tab, newline, CR become `\\ \t \n \r`; bytes below
/// 8 become three octal digits, every other byte `\xNN`.
pub fn sanitise(val: &[u8]) -> String {
    let mut out = String::with_capacity(val.len());
    for &c in val {
        match c {
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(c as char),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0..=7 => out.push_str(&format!("\\{c:03o}")),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out
}

fn take_digits(s: &[u8], max: usize, radix: u32) -> (Option<u8>, usize) {
    let n = s
        .iter()
        .take(max)
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if n == 0 {
        return (None, 0);
    }
    let v = u32::from_str_radix(std::str::from_utf8(&s[..n]).unwrap_or("0"), radix).unwrap_or(0);
    (Some(v as u8), n)
}

/// The inverse of [`sanitise`] as xenstore-write implements it: `\t \n \r \\`, `\xHH`
/// (up to two hex digits), `\ooo` (up to three octal digits); any other escaped character
/// stands for itself; a trailing backslash yields a NUL byte.
pub fn unsanitise(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = b.get(i) else {
            out.push(0);
            break;
        };
        i += 1;
        match e {
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let (v, n) = take_digits(&b[i..], 2, 16);
                i += n;
                out.push(v.unwrap_or(b'x'));
            }
            b'0'..=b'7' => {
                let (v, n) = take_digits(&b[i - 1..], 3, 8);
                i += n - 1;
                out.push(v.unwrap_or(e));
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_xenstore_client() {
        assert_eq!(
            sanitise(b"a b\\c\t\n\r\x01\x7f\xff"),
            "a b\\\\c\\t\\n\\r\\001\\x7f\\xff"
        );
        assert_eq!(unsanitise("a\\tb\\x41\\101\\q\\\\"), b"a\tbAAq\\");
        assert_eq!(unsanitise("end\\"), b"end\0");
        assert_eq!(unsanitise("\\xg"), b"xg");
        for v in [&b"plain"[..], b"\x00\x01\x08\xfe tab\t", b"\\\\x41"] {
            assert_eq!(unsanitise(&sanitise(v)), v);
        }
    }
}
