//! `rxl dom0-mem`: dom0's memory as booted (`dom0_mem=` on Xen's command line), as configured
//! for ballooning (`autoballoon` in `/etc/xen/xl.conf`), and as it is now (balloon target,
//! current size), with warnings where these contradict each other.
//!
//! The `dom0_mem` grammar is crate `rxl-grub`'s ([`rxl_grub::dom0_mem`]), the xl.conf language
//! crate `rxl-config`'s; this module only gathers the facts and judges them.

use std::path::Path;

use rxl_grub::dom0_mem::Dom0Mem;
use rxl_grub::xen_cmdline::XenCmdline;
use serde::Serialize;

use crate::control::Control;
use crate::error::XenError;

/// Where xl (and rxl) read `autoballoon`.
pub const XL_CONF: &str = "/etc/xen/xl.conf";

/// The `autoballoon` setting of xl.conf and what it means on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Autoballoon {
    /// "on", "off" or "auto" (xl's default when the key or the file is missing).
    pub setting: String,
    /// `file:line` of the setting, or "default".
    pub source: String,
    /// Whether xl balloons dom0 down to make room for guests (`auto`: on unless Xen's command
    /// line has `dom0_mem=`).
    pub effective: bool,
}

/// The facts `rxl dom0-mem` judges; filled from the host by [`gather`], fixed in tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Xen's command line.
    pub xen_cmdline: String,
    /// Host memory in KiB.
    pub host_kib: u64,
    /// dom0's memory now (pages held plus claims), KiB.
    pub current_kib: u64,
    /// dom0's hypervisor ceiling, KiB.
    pub hypervisor_max_kib: u64,
    /// `/local/domain/0/memory/target`, KiB.
    pub target_kib: Option<u64>,
    /// `/local/domain/0/memory/static-max`, KiB.
    pub static_max_kib: Option<u64>,
    /// xl.conf's autoballoon.
    pub autoballoon: Autoballoon,
}

/// The boot-time `dom0_mem`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootSetting {
    /// The text after `dom0_mem=`.
    pub text: String,
    /// dom0's initial size it resolves to on this host, KiB (None if it does not parse).
    pub initial_kib: Option<u64>,
    /// The `max:` ceiling, KiB (None: no `max:` or unparsable).
    pub max_kib: Option<u64>,
    /// `amount == max:`: dom0 cannot balloon above its boot size.
    pub fixed: bool,
    /// Parse error or grammar warnings, as sentences.
    pub notes: Vec<String>,
}

/// Everything `rxl dom0-mem` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The facts.
    pub facts: Facts,
    /// `dom0_mem=` from Xen's command line, if given.
    pub boot: Option<BootSetting>,
    /// Contradictions, each a sentence with the fix.
    pub warnings: Vec<String>,
}

/// Reads `autoballoon` from xl.conf text (xl.cfg syntax); `xen_cmdline` decides "auto".
pub fn autoballoon_from(
    path: &str,
    text: Option<&str>,
    xen_cmdline: &str,
) -> Result<Autoballoon, String> {
    let has_dom0_mem = XenCmdline::parse(xen_cmdline).get("dom0_mem").is_some();
    let auto = |source: String| Autoballoon {
        setting: "auto".into(),
        source,
        effective: !has_dom0_mem,
    };
    let Some(text) = text else {
        return Ok(auto("default".into()));
    };
    let parsed = rxl_config::parser::parse(&rxl_config::Source::new(path, text));
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        return Err(d.to_string());
    }
    let Some(s) = parsed.settings.get("autoballoon") else {
        return Ok(auto("default".into()));
    };
    let at = format!("{}:{}", s.key_span.file, s.key_span.line);
    let text = match &s.value {
        rxl_config::Value::Str { text, .. } => text.clone(),
        rxl_config::Value::List { .. } => {
            return Err(format!(
                "{at}: autoballoon must be \"on\", \"off\", \"auto\", 1 or 0, not a list"
            ));
        }
    };
    // xl accepts the strings and, for compatibility, the old boolean numbers.
    match text.as_str() {
        "on" | "1" => Ok(Autoballoon {
            setting: "on".into(),
            source: at,
            effective: true,
        }),
        "off" | "0" => Ok(Autoballoon {
            setting: "off".into(),
            source: at,
            effective: false,
        }),
        "auto" => Ok(auto(at)),
        other => Err(format!(
            "{at}: autoballoon = \"{other}\" is not one of \"on\", \"off\", \"auto\" (xl ignores \
             the file's setting and uses \"auto\")"
        )),
    }
}

fn mib(kib: u64) -> String {
    format!("{} MiB", kib / 1024)
}

/// Parses the boot setting and judges the facts.
pub fn assess(facts: Facts) -> Report {
    let cmdline = XenCmdline::parse(&facts.xen_cmdline);
    let boot = cmdline
        .get("dom0_mem")
        .and_then(|a| a.value.clone())
        .map(|text| match Dom0Mem::parse_with_warnings(&text) {
            Ok((m, warns)) => {
                let r = m.resolve(facts.host_kib);
                BootSetting {
                    fixed: m.amount.is_some() && m.amount == m.max,
                    initial_kib: Some(r.initial_kib),
                    max_kib: r.max_kib,
                    notes: warns.iter().map(|w| w.to_string()).collect(),
                    text,
                }
            }
            Err(e) => BootSetting {
                initial_kib: None,
                max_kib: None,
                fixed: false,
                notes: vec![e.to_string()],
                text,
            },
        });
    let mut w = Vec::new();
    let ab = &facts.autoballoon;
    match &boot {
        Some(b) if b.fixed && ab.effective => w.push(format!(
            "dom0_mem={} fixes dom0's size, but autoballoon is {} ({}): creating guests will \
             balloon dom0 below its fixed size; set autoballoon=\"off\" in {XL_CONF}",
            b.text, ab.setting, ab.source
        )),
        Some(b) if b.max_kib.is_none() && !ab.effective && b.initial_kib.is_some() => w.push(format!(
            "dom0_mem={} has no max:, and autoballoon is off: dom0 may balloon up and take memory \
             guests need; add max:{} to dom0_mem",
            b.text,
            b.initial_kib.map(|k| format!("{}M", k / 1024)).unwrap_or_default()
        )),
        None if !ab.effective => w.push(format!(
            "no dom0_mem on Xen's command line, so dom0 holds (almost) all memory, and autoballoon \
             is off ({}): guests cannot get memory; set dom0_mem=SIZE,max:SIZE (rxl grub) or \
             autoballoon=\"auto\"",
            ab.source
        )),
        _ => {}
    }
    if let Some(b) = &boot {
        for n in &b.notes {
            w.push(format!("dom0_mem={}: {n}", b.text));
        }
        if let Some(max) = b.max_kib
            && facts.current_kib > max + 1024
        {
            w.push(format!(
                "dom0 holds {} but dom0_mem's max: is {}: the hypervisor ceiling was raised after \
                 boot (rxl mem-max 0 ...)",
                mib(facts.current_kib),
                mib(max)
            ));
        }
    }
    if let (Some(t), Some(m)) = (facts.target_kib, facts.static_max_kib)
        && t > m
    {
        w.push(format!(
            "the balloon target {} is above memory/static-max {}: xl would refuse it; lower it with \
             rxl mem-set 0 SIZE",
            mib(t),
            mib(m)
        ));
    }
    if let Some(t) = facts.target_kib
        && facts.current_kib.abs_diff(t) > 4096
    {
        w.push(format!(
            "dom0 holds {} but its balloon target is {}: the balloon driver has not reached it \
             (still working, or out of memory to give back / no free memory to take)",
            mib(facts.current_kib),
            mib(t)
        ));
    }
    if let Some(t) = facts.target_kib
        && facts.hypervisor_max_kib < t
    {
        w.push(format!(
            "the balloon target {} is above dom0's hypervisor ceiling {}: dom0 cannot grow to it; \
             raise it with rxl mem-max 0 SIZE",
            mib(t),
            mib(facts.hypervisor_max_kib)
        ));
    }
    Report {
        facts,
        boot,
        warnings: w,
    }
}

/// Reads the facts from Xen, xenstore and xl.conf (`xl_conf` overrides the path for tests).
pub fn gather(ctl: &Control, xl_conf: &Path) -> Result<Facts, XenError> {
    let version = ctl.xen().version_info()?;
    let phys = ctl.xen().physinfo()?;
    let d0 = ctl.xen().domain_info(0)?;
    let read = |p: &str| -> Result<Option<u64>, XenError> {
        Ok(ctl
            .with_store(|s| s.read(p))?
            .and_then(|v| v.trim().parse().ok()))
    };
    let path = xl_conf.display().to_string();
    let text = match std::fs::read_to_string(xl_conf) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(XenError::Invalid(format!("{path}: {e}"))),
    };
    let autoballoon = autoballoon_from(&path, text.as_deref(), &version.commandline)
        .map_err(XenError::Invalid)?;
    Ok(Facts {
        host_kib: phys.total_pages * 4,
        current_kib: d0.current_memkb() + d0.outstanding_memkb(),
        hypervisor_max_kib: d0.max_memkb(),
        target_kib: read("/local/domain/0/memory/target")?,
        static_max_kib: read("/local/domain/0/memory/static-max")?,
        xen_cmdline: version.commandline,
        autoballoon,
    })
}

/// The text of `rxl dom0-mem`.
pub fn render(r: &Report) -> String {
    let f = &r.facts;
    let opt = |v: Option<u64>| v.map_or_else(|| "(not set)".to_owned(), mib);
    let mut out = String::new();
    match &r.boot {
        Some(b) => {
            let resolved = match (b.initial_kib, b.max_kib) {
                (Some(i), Some(m)) => format!(" (initial {}, max {})", mib(i), mib(m)),
                (Some(i), None) => format!(" (initial {}, no max)", mib(i)),
                _ => " (does not parse)".to_owned(),
            };
            out.push_str(&format!("dom0_mem (boot)     : {}{resolved}\n", b.text));
        }
        None => out.push_str(
            "dom0_mem (boot)     : (not set: dom0 gets all memory but 1/16, at most 128 MiB)\n",
        ),
    }
    out.push_str(&format!(
        "autoballoon         : {} ({}, effective: {})\n",
        f.autoballoon.setting,
        f.autoballoon.source,
        if f.autoballoon.effective { "on" } else { "off" }
    ));
    out.push_str(&format!("balloon target      : {}\n", opt(f.target_kib)));
    out.push_str(&format!(
        "static-max          : {}\n",
        opt(f.static_max_kib)
    ));
    out.push_str(&format!("current             : {}\n", mib(f.current_kib)));
    out.push_str(&format!(
        "hypervisor max      : {}\n",
        mib(f.hypervisor_max_kib)
    ));
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(cmdline: &str, conf: Option<&str>) -> Facts {
        Facts {
            xen_cmdline: cmdline.into(),
            host_kib: 2 << 20,
            current_kib: 786_432,
            hypervisor_max_kib: 786_432,
            target_kib: Some(786_432),
            static_max_kib: Some(786_432),
            autoballoon: autoballoon_from("/etc/xen/xl.conf", conf, cmdline).unwrap(),
        }
    }

    #[test]
    fn fixed_dom0_mem_with_autoballoon_off_is_clean() {
        let r = assess(facts(
            "console=com1 dom0_mem=768M,max:768M",
            Some("autoballoon=\"off\"\n"),
        ));
        assert_eq!(r.warnings, Vec::<String>::new());
        let b = r.boot.unwrap();
        assert!(b.fixed);
        assert_eq!(b.initial_kib, Some(786_432));
        assert_eq!(b.max_kib, Some(786_432));
    }

    #[test]
    fn auto_is_off_with_dom0_mem_and_on_without() {
        let f = facts("dom0_mem=768M,max:768M", None);
        assert_eq!(f.autoballoon.setting, "auto");
        assert!(!f.autoballoon.effective);
        assert!(facts("console=com1", None).autoballoon.effective);
    }

    #[test]
    fn fixed_dom0_mem_with_autoballoon_on_warns() {
        let r = assess(facts(
            "dom0_mem=768M,max:768M",
            Some("# xl.conf\nautoballoon = \"on\"\n"),
        ));
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("autoballoon is on (/etc/xen/xl.conf:2)"));
        assert!(r.warnings[0].contains("set autoballoon=\"off\""));
    }

    #[test]
    fn bare_numbers_and_missing_target_are_reported() {
        let mut f = facts("dom0_mem=786432", Some("autoballoon=0"));
        f.current_kib = 600_000;
        let r = assess(f);
        let all = r.warnings.join("\n");
        assert!(all.contains("no unit"), "{all}");
        assert!(all.contains("has not reached it"), "{all}");
        assert!(all.contains("has no max:"), "{all}");
    }

    #[test]
    fn bad_xl_conf_names_file_and_line() {
        let e = autoballoon_from("/etc/xen/xl.conf", Some("a=1\nautoballoon=\"maybe\"\n"), "")
            .unwrap_err();
        assert!(
            e.starts_with("/etc/xen/xl.conf:2: autoballoon = \"maybe\""),
            "{e}"
        );
    }

    #[test]
    fn renders_the_facts() {
        let text = render(&assess(facts(
            "dom0_mem=768M,max:768M",
            Some("autoballoon=\"off\""),
        )));
        assert!(
            text.starts_with(
                "dom0_mem (boot)     : 768M,max:768M (initial 768 MiB, max 768 MiB)\n"
            ),
            "{text}"
        );
        assert!(text.contains("autoballoon         : off (/etc/xen/xl.conf:1, effective: off)\n"));
        assert!(!text.contains("warning"));
    }
}
