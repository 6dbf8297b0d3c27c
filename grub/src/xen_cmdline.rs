//! The Xen command line: splitting it into options and validating the ones whose grammar rxl
//! knows.
//!
//! Xen (`parse_params()` in xen/common/kernel.c) splits on spaces, splits each option at the first
//! `=`, and treats a `no-` prefix as "false" for booleans. Names are case-sensitive and must match
//! exactly (`dom0-mem` is not `dom0_mem`). An option Xen cannot parse is reported at boot
//! (`parameter "X" has invalid value "…", rc=-22!`) and skipped, so the only way to catch mistakes
//! early is to validate before writing the boot configuration, which is what [`validate`] does.

use std::fmt;

use crate::dom0_mem::Dom0Mem;
use crate::xen_size;

/// One option of a Xen command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenArg {
    /// The name without a `no-` prefix.
    pub key: String,
    /// The text after the first `=`, if any.
    pub value: Option<String>,
    /// Written with a `no-` prefix.
    pub negated: bool,
}

impl XenArg {
    /// Splits one option: `[no-]key[=value]`.
    pub fn parse(s: &str) -> XenArg {
        let (name, value) = match s.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (s, None),
        };
        let (negated, key) = match name.strip_prefix("no-") {
            Some(k) => (true, k),
            None => (false, name),
        };
        XenArg {
            key: key.to_owned(),
            value,
            negated,
        }
    }
}

impl fmt::Display for XenArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("no-")?;
        }
        f.write_str(&self.key)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

/// A whole Xen command line as a list of options, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenCmdline {
    /// The options, in the order Xen sees them (later ones override earlier ones).
    pub args: Vec<XenArg>,
}

impl XenCmdline {
    /// Splits a command line on whitespace (GRUB joins words with single spaces).
    pub fn parse(s: &str) -> XenCmdline {
        XenCmdline {
            args: s.split_ascii_whitespace().map(XenArg::parse).collect(),
        }
    }

    /// The option Xen acts on for `key`: the last one.
    pub fn get(&self, key: &str) -> Option<&XenArg> {
        self.args.iter().rev().find(|a| a.key == key)
    }

    /// Sets an option: replaces the first occurrence of its key in place and drops later
    /// duplicates, or appends it. Returns whether the line changed.
    pub fn set(&mut self, arg: XenArg) -> bool {
        let before = self.args.clone();
        match self.args.iter().position(|a| a.key == arg.key) {
            Some(i) => {
                self.args[i] = arg.clone();
                let mut seen = 0;
                self.args.retain(|a| {
                    seen += usize::from(a.key == arg.key);
                    a.key != arg.key || seen == 1
                });
            }
            None => self.args.push(arg),
        }
        self.args != before
    }

    /// Removes every occurrence of `key`; returns whether any was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let n = self.args.len();
        self.args.retain(|a| a.key != key);
        self.args.len() != n
    }
}

impl fmt::Display for XenCmdline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// Why an option is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Xen option \"{arg}\": {reason}; {fix}")]
pub struct XenArgError {
    /// The option as written.
    pub arg: String,
    /// What is wrong.
    pub reason: String,
    /// How to write it instead.
    pub fix: String,
}

/// What [`validate`] found acceptable but worth a remark.
pub type Warnings = Vec<String>;

/// Characters that would be interpreted by GRUB's script language or the shell that sources
/// `/etc/default/grub`, so an option containing them would not reach Xen as written.
const UNSAFE_CHARS: &[char] = &[
    '"', '\'', '$', '`', '\\', ';', '&', '|', '<', '>', '{', '}', '#',
];

/// Checks one option against Xen's grammar for it; unknown options pass with a warning.
pub fn validate(arg: &XenArg) -> Result<Warnings, XenArgError> {
    let text = arg.to_string();
    let err = |reason: String, fix: &str| XenArgError {
        arg: text.clone(),
        reason,
        fix: fix.to_owned(),
    };
    if arg.key.is_empty()
        || !arg
            .key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(err(
            format!("\"{}\" is not an option name", arg.key),
            "use letters, digits, '_' and '-' (e.g. dom0_max_vcpus=2)",
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| UNSAFE_CHARS.contains(c) || c.is_whitespace())
    {
        return Err(err(
            format!("'{c}' would be interpreted by GRUB or the shell, not passed to Xen"),
            "remove it; Xen options never need quoting",
        ));
    }
    let value = arg.value.as_deref();
    let mut warnings = Warnings::new();
    let bool_or = |extra: &[&str]| -> Result<(), XenArgError> {
        match value {
            None => Ok(()),
            Some(v) if arg.negated => Err(err(
                format!("no-{} takes no value, got \"{v}\"", arg.key),
                "drop the no- or the value",
            )),
            Some(v) if parse_bool(v).is_some() || extra.contains(&v) => Ok(()),
            Some(v) => Err(err(
                format!("\"{v}\" is not a boolean"),
                &format!(
                    "use one of yes/no, on/off, true/false, enable/disable, 1/0{}",
                    alt(extra)
                ),
            )),
        }
    };
    match arg.key.as_str() {
        "dom0_mem" => {
            let v = need_value(arg, value, "e.g. dom0_mem=4G,max:4G")?;
            let (_, w) = Dom0Mem::parse_with_warnings(v)
                .map_err(|e| err(format!("{e}"), "see `rxl grub set-dom0-mem --help`"))?;
            warnings.extend(w.iter().map(ToString::to_string));
        }
        "dom0_max_vcpus" => {
            let v = need_value(arg, value, "e.g. dom0_max_vcpus=2 or 1-4")?;
            if !valid_vcpu_range(v) {
                return Err(err(
                    format!("\"{v}\" is not N, N-, -M or N-M"),
                    "write e.g. dom0_max_vcpus=4 or dom0_max_vcpus=1-4",
                ));
            }
        }
        "dom0_vcpus_pin"
        | "sync_console"
        | "noreboot"
        | "cpuinfo"
        | "console_to_ring"
        | "console_timestamps_off"
        | "watchdog"
        | "nosmp"
        | "ept"
        | "vpid"
        | "hap" => bool_or(&[])?,
        "smap" | "smep" => bool_or(&["hvm"])?,
        "com1" | "com2" => {
            let v = need_value(arg, value, "e.g. com1=115200,8n1")?;
            validate_com(v, &mut warnings).map_err(|r| {
                err(r, "write BAUD|auto[/BASE-BAUD][,DPS[,IO-BASE|pci|amt[,IRQ|msi]]], e.g. 115200,8n1")
            })?;
        }
        "console" => {
            let v = need_value(arg, value, "e.g. console=com1,vga")?;
            for dev in v.split(',') {
                match dev {
                    "tty" => warnings.push(
                        "console device \"tty\" is not documented by Xen and is ignored; use vga"
                            .to_owned(),
                    ),
                    d if CONSOLES.contains(&d) => {}
                    d if is_com_console(d) => {}
                    d => {
                        return Err(err(
                            format!("\"{d}\" is not a Xen console device"),
                            &format!(
                                "use a comma list of {}",
                                CONSOLES.join(", ") + ", com1, com2 (H/L suffixes allowed)"
                            ),
                        ));
                    }
                }
            }
        }
        "loglvl" | "guest_loglvl" => {
            let v = need_value(arg, value, "e.g. loglvl=all")?;
            let mut parts = v.split('/');
            let ok = parts.next().is_some_and(|l| LOG_LEVELS.contains(&l))
                && parts.next().is_none_or(|l| LOG_LEVELS.contains(&l))
                && parts.next().is_none();
            if !ok {
                return Err(err(
                    format!("\"{v}\" is not LEVEL[/RATE-LIMITED-LEVEL]"),
                    &format!("levels are {}", LOG_LEVELS.join(", ")),
                ));
            }
        }
        "conring_size" => {
            let v = need_value(arg, value, "e.g. conring_size=64k")?;
            match xen_size::parse_size(v) {
                Ok(s) if s.len == v.len() && s.number.len > 0 => {}
                _ => {
                    return Err(err(
                        format!("\"{v}\" is not a size"),
                        "write e.g. 64k or 1M",
                    ));
                }
            }
        }
        "ucode" => {
            let v = need_value(arg, value, "e.g. ucode=scan")?;
            let numeric = v.bytes().all(|b| b.is_ascii_digit()) || v.starts_with('-');
            if !numeric {
                sub_options(v, &["scan", "nmi", "digest-check"], &[], &mut warnings).map_err(
                    |r| err(r, "write ucode=scan, ucode=<module number> or ucode=nmi=no"),
                )?;
            }
        }
        "iommu" => {
            let v = value.unwrap_or("1");
            sub_options(v, IOMMU_OPTIONS, &["scratch-page"], &mut warnings)
                .map_err(|r| err(r, "see Xen's iommu= documentation"))?;
        }
        "dom0" => {
            let v = need_value(arg, value, "e.g. dom0=pvh")?;
            sub_options(v, DOM0_OPTIONS, &[], &mut warnings)
                .map_err(|r| err(r, "write a comma list of pv, pvh, shadow, verbose, ..."))?;
        }
        "xpti" => {
            let v = need_value(arg, value, "e.g. xpti=dom0=0,domu=1")?;
            sub_options(v, &["dom0", "domu", "default"], &[], &mut warnings)
                .map_err(|r| err(r, "write xpti=<bool> or xpti=dom0=<bool>,domu=<bool>"))?;
        }
        "placeholder" => {}
        other => warnings.push(format!(
            "Xen option \"{other}\" is not known to rxl; it is passed to Xen unchecked"
        )),
    }
    Ok(warnings)
}

/// Xen's `parse_bool()`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "yes" | "on" | "true" | "enable" | "1" => Some(true),
        "no" | "off" | "false" | "disable" | "0" => Some(false),
        _ => None,
    }
}

const CONSOLES: &[&str] = &["vga", "pv", "dbgp", "ehci", "xhci", "dbc", "none"];
const LOG_LEVELS: &[&str] = &["none", "error", "warning", "info", "debug", "all"];
const DOM0_OPTIONS: &[&str] = &[
    "pv",
    "pvh",
    "shadow",
    "verbose",
    "cpuid-faulting",
    "msr-relaxed",
    "pf-fixup",
];
const IOMMU_OPTIONS: &[&str] = &[
    "force",
    "required",
    "quarantine",
    "igfx",
    "verbose",
    "debug",
    "amd-iommu-perdev-intremap",
    "intremap",
    "intpost",
    "crash-disable",
    "snoop",
    "qinval",
    "sharept",
    "superpages",
    "dom0-passthrough",
    "dom0-strict",
    "passthrough",
    "dom0-iommu",
];

fn alt(extra: &[&str]) -> String {
    extra.iter().map(|e| format!(" or {e}")).collect()
}

fn need_value<'a>(
    arg: &XenArg,
    value: Option<&'a str>,
    example: &str,
) -> Result<&'a str, XenArgError> {
    match value {
        Some(v) if !v.is_empty() && !arg.negated => Ok(v),
        _ => Err(XenArgError {
            arg: arg.to_string(),
            reason: format!("{} needs a value", arg.key),
            fix: format!("write {example}"),
        }),
    }
}

/// `N`, `N-`, `-M`, `N-M` with C base-0 numbers (`parse_dom0_max_vcpus()`).
fn valid_vcpu_range(v: &str) -> bool {
    let num = |s: &str| xen_size::parse_c_number(s).is_some_and(|n| n.len == s.len() && n.len > 0);
    match v.split_once('-') {
        None => num(v),
        Some(("", m)) => num(m),
        Some((n, "")) => num(n),
        Some((n, m)) => num(n) && num(m),
    }
}

fn is_com_console(d: &str) -> bool {
    let base = d.strip_suffix(['H', 'L']).unwrap_or(d);
    base == "com1" || base == "com2"
}

/// `<baud>|auto[/<base-baud>][,DPS[,<io-base>|pci|amt[,<irq>|msi[,<bdf>[,<bdf>]]]]]`
fn validate_com(v: &str, warnings: &mut Warnings) -> Result<(), String> {
    if v.contains('=') {
        warnings.push(format!(
            "com option \"{v}\" uses the key=value form; not checked by rxl"
        ));
        return Ok(());
    }
    let num = |s: &str| xen_size::parse_c_number(s).is_some_and(|n| n.len == s.len() && n.len > 0);
    let mut fields = v.split(',');
    let first = fields.next().unwrap_or_default();
    let (baud, base) = match first.split_once('/') {
        Some((b, base)) => (b, Some(base)),
        None => (first, None),
    };
    if !(baud == "auto" || num(baud)) || base.is_some_and(|b| !num(b)) {
        return Err(format!(
            "\"{first}\" is not a baud rate (a number or auto[/BASE-BAUD])"
        ));
    }
    if let Some(dps) = fields.next() {
        let b = dps.as_bytes();
        let ok = b.len() == 3
            && (b'5'..=b'8').contains(&b[0])
            && b"noems".contains(&b[1])
            && matches!(b[2], b'1' | b'2');
        if !ok {
            return Err(format!(
                "\"{dps}\" is not DPS (data bits 5-8, parity n/o/e/m/s, stop bits 1/2, e.g. 8n1)"
            ));
        }
    }
    if let Some(io) = fields.next() {
        if !(io == "pci" || io == "amt" || num(io)) {
            return Err(format!("\"{io}\" is not an I/O base, pci or amt"));
        }
    }
    if let Some(irq) = fields.next() {
        if !(irq == "msi" || num(irq)) {
            return Err(format!("\"{irq}\" is not an IRQ number or msi"));
        }
    }
    Ok(())
}

/// A comma list of `[no-]name[=bool]` sub-options (iommu=, ucode=, dom0=, xpti=); a bare
/// boolean is allowed too. `extra_values` are non-boolean values some sub-options accept.
fn sub_options(
    v: &str,
    known: &[&str],
    extra_values: &[&str],
    warnings: &mut Warnings,
) -> Result<(), String> {
    for item in v.split(',') {
        if parse_bool(item).is_some() {
            continue;
        }
        let (name, val) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        let bare = name.strip_prefix("no-").unwrap_or(name);
        if !known.contains(&bare) {
            if item.is_empty() {
                return Err("an empty item (two commas in a row?)".to_owned());
            }
            warnings.push(format!(
                "sub-option \"{item}\" is not known to rxl; passed unchecked"
            ));
            continue;
        }
        if let Some(val) = val {
            if parse_bool(val).is_none() && !extra_values.contains(&val) {
                return Err(format!("\"{item}\": \"{val}\" is not a boolean"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str) -> Result<Warnings, XenArgError> {
        validate(&XenArg::parse(s))
    }

    #[test]
    fn split_set_remove() {
        let mut c = XenCmdline::parse("  dom0_mem=1G  no-smap console=com1 dom0_mem=2G ");
        assert_eq!(c.get("dom0_mem").unwrap().value.as_deref(), Some("2G"));
        assert!(c.get("smap").unwrap().negated);
        assert!(c.set(XenArg::parse("dom0_mem=4G,max:4G")));
        assert_eq!(c.to_string(), "dom0_mem=4G,max:4G no-smap console=com1");
        assert!(!c.set(XenArg::parse("dom0_mem=4G,max:4G")), "idempotent");
        assert!(c.set(XenArg::parse("smap=0")));
        assert_eq!(c.to_string(), "dom0_mem=4G,max:4G smap=0 console=com1");
        assert!(c.remove("console"));
        assert!(!c.remove("console"));
        assert!(c.set(XenArg::parse("loglvl=all")));
        assert_eq!(c.to_string(), "dom0_mem=4G,max:4G smap=0 loglvl=all");
    }

    #[test]
    fn accepted_options() {
        for ok in [
            "dom0_mem=4G,max:4G",
            "dom0_max_vcpus=2",
            "dom0_max_vcpus=1-4",
            "dom0_max_vcpus=-4",
            "dom0_max_vcpus=2-",
            "dom0_vcpus_pin",
            "no-dom0_vcpus_pin",
            "dom0_vcpus_pin=false",
            "com1=115200,8n1",
            "com1=auto",
            "com2=9600/1843200,7e2,0x2f8,3",
            "com1=115200,8n1,pci,msi",
            "console=com1,vga",
            "console=com1H,pv",
            "console=none",
            "loglvl=all",
            "guest_loglvl=none/warning",
            "iommu=1",
            "iommu=force,verbose",
            "iommu=no-intremap,quarantine=scratch-page",
            "iommu",
            "ucode=scan",
            "ucode=scan=0,nmi=no",
            "ucode=2",
            "smap=0",
            "smap=hvm",
            "no-smep",
            "dom0=pvh,shadow=0",
            "xpti=dom0=false,domu=true",
            "xpti=0",
            "conring_size=64k",
            "sync_console",
            "noreboot=true",
            "cpuinfo",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
    }

    #[test]
    fn rejected_options_say_why() {
        for (bad, needle) in [
            ("dom0_mem=4096MB", "dom0_mem"),
            ("dom0_mem", "needs a value"),
            ("dom0_max_vcpus=two", "N-M"),
            ("dom0_max_vcpus=1-x", "N-M"),
            ("dom0_vcpus_pin=maybe", "not a boolean"),
            ("no-smap=1", "takes no value"),
            ("smap=sometimes", "not a boolean"),
            ("com1=fast", "baud"),
            ("com1=115200,9n1", "DPS"),
            ("com1=115200,8n1,serial", "I/O base"),
            ("console=serial", "console device"),
            ("loglvl=verbose", "LEVEL"),
            ("loglvl=all/info/debug", "LEVEL"),
            ("conring_size=big", "size"),
            ("iommu=verbose=perhaps", "not a boolean"),
            ("console=com1;reboot", "interpreted"),
            ("dom0_mem=\"1G\"", "interpreted"),
            ("=1", "option name"),
        ] {
            let e = check(bad).expect_err(bad).to_string();
            assert!(e.contains(needle), "{bad}: {e}");
            assert!(e.contains("; "), "error carries a fix: {e}");
        }
    }

    #[test]
    fn warnings_for_legal_surprises() {
        assert!(check("console=com1,tty").unwrap()[0].contains("tty"));
        assert!(check("dom0_mem=4096").unwrap()[0].contains("KiB"));
        assert!(check("frobnicate=1").unwrap()[0].contains("not known"));
        assert!(check("dom0_mem=4G,max:4G").unwrap().is_empty());
    }
}
