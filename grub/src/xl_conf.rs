//! `/etc/xen/xl.conf`: setting `autoballoon`, which belongs with a fixed `dom0_mem`.
//!
//! With `dom0_mem=X,max:X` dom0 has a fixed size, and xl (and rxl) must not balloon it down to
//! make room for guests; `autoballoon="off"` says so. xl.conf uses the xl.cfg syntax
//! (`key = value`, `#` comments); we touch only `autoballoon` lines and keep everything else.

use std::path::Path;

use crate::atomic::FileChange;

/// `/etc/xen/xl.conf`, relative to the root.
pub const XL_CONF: &str = "etc/xen/xl.conf";

/// The change that makes `autoballoon` equal `value` in `text` (the file's content, `None` if it
/// does not exist). Every active `autoballoon` line is rewritten; without one, the setting goes
/// right after a commented-out `#autoballoon=` template line if there is one, else at the end.
pub fn set_autoballoon(root: &Path, text: Option<&str>, value: &str) -> FileChange {
    let path = root.join(XL_CONF);
    let old = text.unwrap_or("");
    let line_for = format!("autoballoon=\"{value}\"");
    let mut lines: Vec<String> = old.lines().map(str::to_owned).collect();
    let key_of = |l: &str| l.split('=').next().map(|k| k.trim().to_owned());
    let mut found = false;
    for l in &mut lines {
        if key_of(l).as_deref() == Some("autoballoon") && l.contains('=') {
            found = true;
            *l = line_for.clone();
        }
    }
    if !found {
        let template = lines.iter().position(|l| {
            l.trim_start()
                .strip_prefix('#')
                .is_some_and(|rest| key_of(rest).as_deref() == Some("autoballoon"))
        });
        match template {
            Some(i) => lines.insert(i + 1, line_for),
            None => lines.push(line_for),
        }
    }
    let mut new = lines.join("\n");
    new.push('\n');
    FileChange {
        path,
        old: text.map(str::to_owned),
        new,
    }
}

/// The active `autoballoon` value in `text`, quotes removed.
pub fn autoballoon(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "autoballoon")
        .map(|(_, v)| {
            v.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\''])
                .to_owned()
        })
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "## Global XL config file ##\n\n# Control whether dom0 is ballooned down when xen doesn't have enough\n# free memory to create a domain.  \"auto\" means only balloon if dom0\n# starts with all the host's memory.\n#autoballoon=\"auto\"\n\n# full path of the lockfile used by xl during domain creation\n#lockfile=\"/var/lock/xl\"\n";

    #[test]
    fn goes_after_the_commented_template_and_is_idempotent() {
        let root = Path::new("/r");
        let c = set_autoballoon(root, Some(DEBIAN), "off");
        assert_eq!(c.path, Path::new("/r/etc/xen/xl.conf"));
        assert!(
            c.new
                .contains("#autoballoon=\"auto\"\nautoballoon=\"off\"\n\n# full path"),
            "{}",
            c.new
        );
        assert_eq!(autoballoon(&c.new).as_deref(), Some("off"));
        let again = set_autoballoon(root, Some(&c.new), "off");
        assert_eq!(again.new, c.new);
    }

    #[test]
    fn rewrites_active_lines_and_creates_missing_files() {
        let c = set_autoballoon(Path::new("/"), Some("a=1\nautoballoon = 'on' # x\n"), "off");
        assert_eq!(c.new, "a=1\nautoballoon=\"off\"\n");
        let c = set_autoballoon(Path::new("/"), None, "off");
        assert_eq!((c.old, c.new.as_str()), (None, "autoballoon=\"off\"\n"));
        assert_eq!(
            autoballoon("autoballoon = 'on' # x\n").as_deref(),
            Some("on")
        );
        assert_eq!(autoballoon(DEBIAN), None);
    }
}
