//! The dom0_mem grammar against a table of accepted and rejected inputs, each checked against
//! what Xen 4.17's parser does with it.

use super::*;

const GIB_KIB: u64 = 1 << 20;
const MIB_KIB: u64 = 1 << 10;
/// Memory available to dom0 in the resolution cases: 16 GiB.
const AVAIL: u64 = 16 * GIB_KIB;

/// (input, canonical text, resolved initial KiB, resolved max KiB)
const ACCEPTED: &[(&str, &str, u64, Option<u64>)] = &[
    (
        "4096M,max:4096M",
        "4G,max:4G",
        4 * GIB_KIB,
        Some(4 * GIB_KIB),
    ),
    ("4G", "4G", 4 * GIB_KIB, None),
    ("4g", "4G", 4 * GIB_KIB, None),
    ("1t", "1T", AVAIL, None), // clamped to what is available
    ("512m", "512M", 512 * MIB_KIB, None),
    ("4096", "4M", 4 * MIB_KIB, None), // bare number = KiB
    ("262144k", "256M", 256 * MIB_KIB, None),
    ("1073741824b", "1G", GIB_KIB, None),
    ("0x40000", "256M", 256 * MIB_KIB, None), // hex KiB
    ("0x1G", "1G", GIB_KIB, None),
    ("010G", "8G", 8 * GIB_KIB, None), // octal
    ("-1G", "-1G", 15 * GIB_KIB, None),
    ("50%", "50%", 8 * GIB_KIB, None),
    ("0%", "0%", AVAIL - 128 * MIB_KIB, None), // 0 pages = not given: default
    ("1G+10%", "1G+10%", GIB_KIB + AVAIL / 10 / 4 * 4, None),
    (
        "-1G+10%",
        "-1G+10%",
        AVAIL - (GIB_KIB + AVAIL / 10 / 4 * 4),
        None,
    ),
    ("99%", "99%", AVAIL * 99 / 100 / 4 * 4, None),
    ("0x10%", "16%", AVAIL * 16 / 100 / 4 * 4, None),
    ("min:1G", "min:1G", AVAIL - 128 * MIB_KIB, None), // no amount: all but 128 MiB
    ("max:2G", "max:2G", 2 * GIB_KIB, Some(2 * GIB_KIB)),
    (
        "max:2G,min:1G,3G",
        "3G,min:1G,max:2G",
        2 * GIB_KIB,
        Some(2 * GIB_KIB),
    ), // max beats amount
    ("512M,min:1G", "512M,min:1G", GIB_KIB, None), // min raises the amount
    (
        "3G,min:4G,max:2G",
        "3G,min:4G,max:2G",
        2 * GIB_KIB,
        Some(2 * GIB_KIB),
    ), // max beats min
    ("1G,2G", "2G", 2 * GIB_KIB, None),            // the later item wins
    ("max:-2G", "max:-2G", 14 * GIB_KIB, Some(14 * GIB_KIB)),
    ("-32G", "-32G", AVAIL, None), // wraps in Xen, then clamped to all available memory
    ("6K", "6K", 4, None),         // whole pages only
    ("0", "0K", AVAIL - 128 * MIB_KIB, None),
];

/// (input, 1-based column Xen's parser stops at)
const REJECTED: &[(&str, usize)] = &[
    ("", 1),
    ("G", 1),
    ("4G,", 4),
    (",4G", 1),
    ("4GB", 3),
    ("4 G", 2),
    ("100%", 1),
    ("150%", 1),
    ("1K%", 1), // units make the percentage 1024
    ("10%+1G", 4),
    ("1G+2G", 4),
    ("1G+10%+5%", 7),
    ("1G+", 4),
    ("08", 2),  // 8 is not an octal digit
    ("0xg", 2), // 0x without a hex digit is octal 0 then junk
    ("--1G", 2),
    ("+1G", 1),
    ("MAX:1G", 1), // prefixes are case-sensitive
    ("max=1G", 1),
    ("min:", 5),
    ("4G max:4G", 3),
    ("99999999999999999999", 1),
    ("16777216T", 1),
];

#[test]
fn accepted_inputs_parse_print_and_resolve_like_xen() {
    for &(input, canonical, initial, max) in ACCEPTED {
        let m: Dom0Mem = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(m.to_string(), canonical, "canonical text of {input}");
        let again: Dom0Mem = canonical.parse().unwrap();
        assert_eq!(again, m, "{canonical} reads back to the same value");
        let r = m.resolve(AVAIL);
        assert_eq!(r.initial_kib, initial, "initial size of {input}");
        assert_eq!(r.max_kib, max, "max of {input}");
    }
}

#[test]
fn rejected_inputs_name_the_column() {
    for &(input, column) in REJECTED {
        let e = input.parse::<Dom0Mem>().expect_err(input);
        assert_eq!(e.column, column, "{input}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("\"{input}\"")) && text.contains("; "),
            "{text}"
        );
    }
}

#[test]
fn bare_numbers_and_octal_warn() {
    let (_, w) = Dom0Mem::parse_with_warnings("4096,max:010G").unwrap();
    assert_eq!(
        w,
        vec![
            Dom0MemWarning::BareNumberIsKib {
                text: "4096".into()
            },
            Dom0MemWarning::Octal {
                text: "010".into(),
                value: 8
            },
        ]
    );
    assert!(w[0].to_string().contains("4096M"), "{}", w[0]);
    let (_, w) = Dom0Mem::parse_with_warnings("4G,max:4G").unwrap();
    assert!(w.is_empty(), "{w:?}");
    let (_, w) = Dom0Mem::parse_with_warnings("1G,2G,min:3G,max:1G").unwrap();
    assert_eq!(
        w,
        vec![
            Dom0MemWarning::Repeated {
                what: "the plain amount"
            },
            Dom0MemWarning::MinAboveMax
        ]
    );
}

#[test]
fn fixed_is_amount_and_max() {
    let m = Dom0Mem::fixed(Amount::mib(1536));
    assert_eq!(m.to_string(), "1536M,max:1536M");
    assert!(!m.is_relative());
    assert!("1G+10%".parse::<Dom0Mem>().unwrap().is_relative());
    assert!("-1G".parse::<Dom0Mem>().unwrap().is_relative());
}
