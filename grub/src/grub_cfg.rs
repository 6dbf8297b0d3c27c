//! Reading a generated `grub.cfg`: its menu entries (titles, ids, submenu path), the loader
//! commands inside each, and the default entry it selects.
//!
//! This is not a GRUB script interpreter; it reads the regular shape `grub-mkconfig` emits
//! (one command per line, `menuentry … {` / `submenu … {` blocks closed by `}`) to check that the
//! regenerated file contains a Xen entry with our arguments before it replaces the old one.

/// One command inside a menu entry, split into words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Command {
    /// The words, quotes removed (`multiboot2`, `/boot/xen.gz`, `placeholder`, …).
    pub words: Vec<String>,
}

/// A `menuentry`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Its title.
    pub title: String,
    /// Its `$menuentry_id_option` id, if any.
    pub id: Option<String>,
    /// Titles of the enclosing submenus, outermost first.
    pub submenus: Vec<String>,
    /// Ids of the enclosing submenus, outermost first.
    pub submenu_ids: Vec<Option<String>>,
    /// The commands in its body.
    pub commands: Vec<Command>,
}

impl Entry {
    /// The hypervisor load command (`multiboot2`, `multiboot` or `xen_hypervisor`), if this is
    /// a Xen entry.
    pub fn xen(&self) -> Option<&Command> {
        self.commands.iter().find(|c| {
            matches!(
                c.words.first().map(String::as_str),
                Some("multiboot2" | "multiboot" | "xen_hypervisor")
            ) && c
                .words
                .get(1)
                .is_some_and(|p| p.rsplit('/').next().is_some_and(|b| b.starts_with("xen")))
        })
    }

    /// The module commands (`module2`, `module`, `xen_module`) in order.
    pub fn modules(&self) -> Vec<&Command> {
        self.commands
            .iter()
            .filter(|c| {
                matches!(
                    c.words.first().map(String::as_str),
                    Some("module2" | "module" | "xen_module")
                )
            })
            .collect()
    }

    /// Whether `wanted` (a GRUB_DEFAULT value: title, id, or `submenu>…>entry` path) names this.
    pub fn matches(&self, wanted: &str) -> bool {
        if self.title == wanted || self.id.as_deref() == Some(wanted) {
            return true;
        }
        let path: Vec<&str> = wanted.split('>').collect();
        path.len() == self.submenus.len() + 1
            && path
                .last()
                .is_some_and(|l| *l == self.title || Some(*l) == self.id.as_deref())
            && path
                .iter()
                .zip(self.submenus.iter().zip(&self.submenu_ids))
                .all(|(p, (t, id))| p == t || Some(*p) == id.as_deref())
    }
}

/// A parsed `grub.cfg`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GrubCfg {
    /// Every menu entry, in file order.
    pub entries: Vec<Entry>,
    /// The last plain `set default=…` (the `${next_entry}` one-shot form is skipped).
    pub default: Option<String>,
}

impl GrubCfg {
    /// Reads `text`.
    pub fn parse(text: &str) -> GrubCfg {
        #[derive(PartialEq)]
        enum Block {
            Submenu(String, Option<String>),
            Entry,
            Other,
        }
        let mut cfg = GrubCfg::default();
        let mut stack: Vec<Block> = Vec::new();
        for line in text.lines() {
            let words = split_words(line);
            let Some(first) = words.first().map(String::as_str) else {
                continue;
            };
            let opens = words.last().is_some_and(|w| w == "{");
            match first {
                "menuentry" | "submenu" if opens => {
                    let title = words.get(1).cloned().unwrap_or_default();
                    let id = words
                        .iter()
                        .position(|w| w == "$menuentry_id_option" || w == "--id")
                        .and_then(|i| words.get(i + 1).cloned());
                    if first == "submenu" {
                        stack.push(Block::Submenu(title, id));
                    } else {
                        let (submenus, submenu_ids) = stack
                            .iter()
                            .filter_map(|b| match b {
                                Block::Submenu(t, i) => Some((t.clone(), i.clone())),
                                _ => None,
                            })
                            .unzip();
                        cfg.entries.push(Entry {
                            title,
                            id,
                            submenus,
                            submenu_ids,
                            commands: Vec::new(),
                        });
                        stack.push(Block::Entry);
                    }
                }
                "}" => {
                    stack.pop();
                }
                _ if opens => stack.push(Block::Other),
                "set" if stack.iter().all(|b| *b == Block::Other) || stack.is_empty() => {
                    if let Some(v) = words.get(1).and_then(|w| w.strip_prefix("default=")) {
                        if v != "${next_entry}" {
                            cfg.default = Some(v.to_owned());
                        }
                    }
                }
                _ => {
                    if stack.contains(&Block::Entry) {
                        if let Some(e) = cfg.entries.last_mut() {
                            e.commands.push(Command { words });
                        }
                    }
                }
            }
        }
        cfg
    }

    /// The entry a GRUB_DEFAULT-style value selects (never by index: a number finds nothing).
    pub fn find(&self, wanted: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.matches(wanted))
    }
}

/// Splits a GRUB script line into words: `'…'` literal, `"…"` with `\` escapes, `\x` outside.
/// Variable references are kept as written (`$menuentry_id_option`, `${xen_rm_opts}`).
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => break,
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
else
   set default="Debian GNU/Linux, with Xen hypervisor"
fi
function load_video {
  insmod all_video
}
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u1' {
	linux	/boot/vmlinuz-6.1 root=/dev/vda1 ro quiet
}
menuentry 'Debian GNU/Linux, with Xen hypervisor' --class xen $menuentry_id_option 'xen-gnulinux-simple-u1' {
	echo	'Loading Xen 4.17-amd64 ...'
	multiboot2	/boot/xen-4.17-amd64.gz placeholder ucode=scan dom0_mem=1G,max:1G ${xen_rm_opts}
	module2	/boot/vmlinuz-6.1 placeholder root=/dev/vda1 ro console=hvc0
	module2	--nounzip   /boot/initrd.img-6.1
}
submenu 'Advanced options for Debian GNU/Linux (with Xen hypervisor)' $menuentry_id_option 'gnulinux-advanced-u1' {
	submenu 'Xen hypervisor, version 4.17-amd64' $menuentry_id_option 'xen-hypervisor-4.17-amd64-u1' {
		menuentry 'Debian GNU/Linux, with Xen 4.17-amd64 and Linux 6.1' --class xen $menuentry_id_option 'xen-gnulinux-6.1-advanced-u1' {
			multiboot2	/boot/xen-4.17-amd64.gz placeholder ucode=scan
		}
	}
}
menuentry 'It'\''s quoted' {
	true
}
"#;

    #[test]
    fn reads_entries_ids_submenus_and_default() {
        let c = GrubCfg::parse(CFG);
        let titles: Vec<_> = c.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Debian GNU/Linux",
                "Debian GNU/Linux, with Xen hypervisor",
                "Debian GNU/Linux, with Xen 4.17-amd64 and Linux 6.1",
                "It's quoted"
            ]
        );
        assert_eq!(
            c.default.as_deref(),
            Some("Debian GNU/Linux, with Xen hypervisor")
        );
        let xen = c.find("xen-gnulinux-simple-u1").unwrap();
        let mb = xen.xen().unwrap();
        assert_eq!(
            mb.words[..3],
            ["multiboot2", "/boot/xen-4.17-amd64.gz", "placeholder"]
        );
        assert!(mb.words.contains(&"dom0_mem=1G,max:1G".to_owned()));
        let m = xen.modules();
        assert_eq!(m[1].words, ["module2", "--nounzip", "/boot/initrd.img-6.1"]);
        assert!(c.entries[0].xen().is_none());
        let adv = &c.entries[2];
        assert_eq!(adv.submenus.len(), 2);
        assert!(
            c.find(
                "gnulinux-advanced-u1>xen-hypervisor-4.17-amd64-u1>xen-gnulinux-6.1-advanced-u1"
            )
            .is_some(),
            "paths use titles or ids at each level"
        );
        assert!(c
            .find("Advanced options for Debian GNU/Linux (with Xen hypervisor)>Xen hypervisor, version 4.17-amd64>Debian GNU/Linux, with Xen 4.17-amd64 and Linux 6.1")
            .is_some());
        assert!(c.find("0").is_none(), "never by index");
    }
}
