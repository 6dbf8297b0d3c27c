//! The disk spec scanner: libxlu_disk_l.l's rules with flex's matching semantics.
//!
//! Flex picks the rule matching the most text, counting trailing context (the
//! `/.*` after the deprecated prefixes), and the earlier rule on a tie. The
//! functions here compute every rule's match length at a position and pick the
//! winner the same way; the parser in `mod.rs` applies the winning rule.

/// What a scanner rule does with its matched text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    Blank,
    Keyword(Key),
    Flag(Flag),
    Target,
    UnknownKey,
    FormatPrefix,
    ScriptPrefix,
    IgnoredPrefix,
    UnknownPrefix,
    Positional,
    Bad,
}

/// `key=value` rules whose value runs to the next comma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Format,
    DevtypeOther,
    Access,
    Backend,
    Backendtype,
    Specification,
    Vdev,
    Script,
    ColoHost,
    ColoPort,
    ColoExport,
    ActiveDisk,
    HiddenDisk,
}

/// Fixed words, optionally followed by a comma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flag {
    Cdrom,
    DevtypeCdrom,
    DevtypeDisk,
    DirectIoSafe,
    Discard,
    NoDiscard,
    Colo,
    NoColo,
    Trusted,
    Untrusted,
    GrantUsage1,
    GrantUsage0,
}

/// Keyword rules in the scanner's order (order breaks ties).
const KEYS: &[(&str, Key)] = &[
    ("format=", Key::Format),
    ("devtype=", Key::DevtypeOther),
    ("access=", Key::Access),
    ("backend=", Key::Backend),
    ("backendtype=", Key::Backendtype),
    ("specification=", Key::Specification),
    ("vdev=", Key::Vdev),
    ("script=", Key::Script),
    ("colo-host=", Key::ColoHost),
    ("colo-port=", Key::ColoPort),
    ("colo-export=", Key::ColoExport),
    ("active-disk=", Key::ActiveDisk),
    ("hidden-disk=", Key::HiddenDisk),
];

const FLAGS: &[(&str, Flag)] = &[
    ("cdrom", Flag::Cdrom),
    ("devtype=cdrom", Flag::DevtypeCdrom),
    ("devtype=disk", Flag::DevtypeDisk),
    ("direct-io-safe", Flag::DirectIoSafe),
    ("discard", Flag::Discard),
    ("no-discard", Flag::NoDiscard),
    ("colo", Flag::Colo),
    ("no-colo", Flag::NoColo),
    ("trusted", Flag::Trusted),
    ("untrusted", Flag::Untrusted),
    ("grant_usage=1", Flag::GrantUsage1),
    ("grant_usage=0", Flag::GrantUsage0),
];

/// Every parameter name, for "did you mean" hints.
pub(super) const KNOWN: &[&str] = &[
    "target",
    "format",
    "vdev",
    "access",
    "devtype",
    "backend",
    "backendtype",
    "specification",
    "script",
    "direct-io-safe",
    "discard",
    "no-discard",
    "trusted",
    "untrusted",
    "grant_usage",
    "colo",
    "no-colo",
    "colo-host",
    "colo-port",
    "colo-export",
    "active-disk",
    "hidden-disk",
    "cdrom",
];

/// Length of the text up to (not including) the next newline: flex's `.*`.
pub(super) fn to_eol(s: &str) -> usize {
    s.find('\n').unwrap_or(s.len())
}

/// Length of `[^,]*,?` at the start of `s`.
pub(super) fn upto_comma(s: &str) -> usize {
    match s.find(',') {
        Some(i) => i + 1,
        None => s.len(),
    }
}

/// Finds the winning rule at the start of `rest` and the number of bytes it
/// consumes. Rules are ranked by match length including trailing context; on a
/// tie the one offered first (= earlier in libxlu_disk_l.l) wins.
pub(super) fn next_token(rest: &str) -> (Rule, usize) {
    let b = rest.as_bytes();
    let mut best: Option<(Rule, usize, usize)> = None;
    let mut offer = |rule: Rule, consumed: usize, ranked: usize| {
        if consumed > 0 && best.is_none_or(|(_, _, r)| ranked > r) {
            best = Some((rule, consumed, ranked));
        }
    };

    // [ \t\n]+/([^ \t\n].*)?
    let ws = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n'))
        .count();
    if ws > 0 {
        let after = &rest[ws..];
        let ctx = if after.is_empty() { 0 } else { to_eol(after) };
        offer(Rule::Blank, ws, ws + ctx);
    }
    for &(word, key) in KEYS {
        // why the flags are interleaved: `cdrom,?` and the devtype words precede
        // the generic `devtype=[^,]*,?` in the scanner; `devtype=` is offered after
        // them below so they win ties.
        if key == Key::DevtypeOther {
            for &(fw, flag) in &FLAGS[..3] {
                offer_flag(rest, fw, flag, &mut offer);
            }
        }
        if let Some(v) = rest.strip_prefix(word) {
            let n = word.len() + upto_comma(v);
            offer(Rule::Keyword(key), n, n);
        }
        if key == Key::Script {
            for &(fw, flag) in &FLAGS[3..10] {
                offer_flag(rest, fw, flag, &mut offer);
            }
        }
    }
    for &(fw, flag) in &FLAGS[10..] {
        offer_flag(rest, fw, flag, &mut offer);
    }
    if rest.starts_with("target=") {
        let n = to_eol(rest);
        offer(Rule::Target, n, n);
    }
    // [a-z][-a-z0-9]*=[^,],?  (sic: one character of value)
    if b.first().is_some_and(u8::is_ascii_lowercase) {
        let name = 1 + b[1..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'-')
            .count();
        if b.get(name) == Some(&b'=') && b.get(name + 1).is_some_and(|c| *c != b',') {
            // The one value byte may start a multi-byte char; stay on a boundary.
            let mut n = name + 2;
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            if rest[n..].starts_with(',') {
                n += 1;
            }
            offer(Rule::UnknownKey, n, n);
        }
    }
    // Deprecated prefixes `word:` with trailing context `.*`.
    let word = b
        .iter()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .count();
    if word > 0 && b[0].is_ascii_lowercase() && b.get(word) == Some(&b':') {
        let name = &rest[..word];
        let full = word + 1 + to_eol(&rest[word + 1..]);
        let rule = match name {
            "raw" | "qcow" | "qcow2" | "vhd" => Some(Rule::FormatPrefix),
            "iscsi" | "nbd" | "enbd" | "drbd" => Some(Rule::ScriptPrefix),
            "tapdisk" | "tap" | "tap2" | "aio" | "ioemu" | "file" | "phy" => {
                Some(Rule::IgnoredPrefix)
            }
            _ => None,
        };
        if let Some(rule) = rule {
            offer(rule, word + 1, full);
        }
        // [a-z][a-z0-9]*:/([^a-z0-9].*)?
        let next_alnum = b
            .get(word + 1)
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ranked = if next_alnum || word + 1 == rest.len() {
            word + 1
        } else {
            full
        };
        offer(Rule::UnknownPrefix, word + 1, ranked);
    }
    // [^=,]*,|[^=,]+,?
    let run = b.iter().take_while(|c| !matches!(c, b'=' | b',')).count();
    let n = if b.get(run) == Some(&b',') {
        run + 1
    } else {
        run
    };
    offer(Rule::Positional, n, n);

    match best {
        Some((rule, consumed, _)) => (rule, consumed),
        None => (Rule::Bad, to_eol(rest).max(1).min(rest.len())),
    }
}

fn offer_flag(rest: &str, word: &str, flag: Flag, offer: &mut impl FnMut(Rule, usize, usize)) {
    if let Some(after) = rest.strip_prefix(word) {
        let n = word.len() + usize::from(after.starts_with(','));
        offer(Rule::Flag(flag), n, n);
    }
}
