//! The edits behind `rxl grub set-dom0-mem`, `set-xen-arg`, `unset-xen-arg` and `set-default`.
//!
//! An [`Editor`] loads a root's GRUB defaults, applies validated edits in memory, checks with
//! `sh` that `grub-mkconfig` will see exactly the intended values, and hands back a
//! [`ChangeSet`] to show as a diff (`--dry-run`) or to commit atomically. Nothing touches the
//! disk before [`ChangeSet::commit`], so a failed validation leaves every file as it was.

use std::path::{Path, PathBuf};

use crate::atomic::{self, ChangeSet};
use crate::defaults::{Defaults, DefaultsError};
use crate::distro::{self, Family, Layout, UnknownLayout};
use crate::dom0_mem::{Amount, Dom0Mem, Dom0MemError};
use crate::grub_cfg::GrubCfg;
use crate::grubenv::{self, EnvCommand, GrubenvError};
use crate::xen_cmdline::{self, XenArg, XenArgError, XenCmdline};
use crate::xen_first::{self, OrderError};
use crate::xl_conf;

/// The Xen arguments for every entry, recovery included.
pub const CMDLINE_XEN: &str = "GRUB_CMDLINE_XEN";
/// The Xen arguments for normal entries (where rxl adds new options).
pub const CMDLINE_XEN_DEFAULT: &str = "GRUB_CMDLINE_XEN_DEFAULT";

/// Errors of an edit.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The root's layout is unknown.
    #[error(transparent)]
    Layout(#[from] UnknownLayout),
    /// Reading or checking the defaults failed.
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
    /// A dom0_mem size is invalid.
    #[error("{what}: {source}")]
    Dom0Mem {
        /// Which argument (`SIZE`, `--max`, `--min`).
        what: &'static str,
        /// The grammar error.
        source: Dom0MemError,
    },
    /// A size argument had more than one item.
    #[error(
        "{what} \"{value}\" must be a single size such as 4G, -2G, 10% or 1G+10%; use --min/--max for limits"
    )]
    NotASingleSize {
        /// Which argument.
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// The requested memory is more than the host has.
    #[error(
        "{what} {value} is more than the host's memory ({host_mib} MiB); choose a smaller size (dom0 usually needs 1-4G)"
    )]
    TooLarge {
        /// Which argument.
        what: &'static str,
        /// The size as written.
        value: String,
        /// The host's memory.
        host_mib: u64,
    },
    /// A Xen option is invalid.
    #[error(transparent)]
    XenArg(#[from] XenArgError),
    /// The default entry was given as a number.
    #[error(
        "\"{0}\" is a menu index; indexes change whenever kernels are added, so give the entry's title or id (see `rxl grub status`)"
    )]
    IndexDefault(String),
    /// Running grub-editenv failed.
    #[error(transparent)]
    Grubenv(#[from] GrubenvError),
    /// Reordering the `/etc/grub.d` scripts failed.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// Reading xl.conf or grub.cfg failed.
    #[error(transparent)]
    Read(#[from] atomic::WriteError),
}

/// Which entry to boot by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultTarget {
    /// The newest Xen + dom0 kernel entry.
    Xen,
    /// The newest native Linux entry.
    Linux,
    /// A title, id or `submenu>entry` path.
    Entry(String),
}

/// Pending edits of one root.
#[derive(Debug)]
pub struct Editor {
    /// The root being edited.
    pub root: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// Its GRUB defaults, with edits applied in memory.
    pub defaults: Defaults,
    /// Things worth telling the user.
    pub warnings: Vec<String>,
    /// `/etc/grub.d` renames (RHEL-family Xen-first ordering), done before the files are written.
    pub moves: Vec<xen_first::Move>,
    /// Commands to run after the files are written (grub-editenv).
    pub commands: Vec<EnvCommand>,
    xl_conf: Option<atomic::FileChange>,
    wanted: Vec<(String, String)>,
}

impl Editor {
    /// Loads `root`.
    pub fn open(root: &Path) -> Result<Editor, EditError> {
        let layout = distro::detect(root)?;
        let defaults = Defaults::load(root)?;
        Ok(Editor {
            root: root.to_owned(),
            layout,
            defaults,
            warnings: Vec::new(),
            moves: Vec::new(),
            commands: Vec::new(),
            xl_conf: None,
            wanted: Vec::new(),
        })
    }

    fn effective(&self, name: &str) -> Result<String, EditError> {
        let (eff, _) = self.defaults.effective(&[name])?;
        Ok(eff.get(name).cloned().flatten().unwrap_or_default())
    }

    fn set_var(&mut self, name: &str, value: &str) -> Result<(), EditError> {
        self.defaults.set(name, value)?;
        self.wanted.retain(|(n, _)| n != name);
        self.wanted.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Sets Xen options after validating them. An option already in `GRUB_CMDLINE_XEN` is
    /// changed there; otherwise it goes to `GRUB_CMDLINE_XEN_DEFAULT`.
    pub fn set_xen_args(&mut self, args: &[XenArg]) -> Result<(), EditError> {
        let mut all = XenCmdline::parse(&self.effective(CMDLINE_XEN)?);
        let mut default = XenCmdline::parse(&self.effective(CMDLINE_XEN_DEFAULT)?);
        for arg in args {
            self.warnings.extend(xen_cmdline::validate(arg)?);
            let in_all = all.get(&arg.key).is_some();
            let in_default = default.get(&arg.key).is_some();
            if in_all {
                all.set(arg.clone());
            }
            if in_default || !in_all {
                default.set(arg.clone());
            }
        }
        for (var, line) in [(CMDLINE_XEN, all), (CMDLINE_XEN_DEFAULT, default)] {
            let line = line.to_string();
            if line != self.effective(var)? {
                self.set_var(var, &line)?;
            }
        }
        Ok(())
    }

    /// Removes a Xen option from both variables.
    pub fn unset_xen_arg(&mut self, key: &str) -> Result<bool, EditError> {
        let key = key.strip_prefix("no-").unwrap_or(key);
        let mut removed = false;
        for var in [CMDLINE_XEN, CMDLINE_XEN_DEFAULT] {
            let mut line = XenCmdline::parse(&self.effective(var)?);
            if line.remove(key) {
                removed = true;
                self.set_var(var, &line.to_string())?;
            }
        }
        if !removed {
            self.warnings
                .push(format!("Xen option {key} is not set; nothing to remove"));
        }
        Ok(removed)
    }

    /// Sets `dom0_mem` from a size and optional limits; the maximum defaults to the size (the
    /// fixed `X,max:X` set-up). `host_kib` (when known) bounds absolute sizes. With
    /// `autoballoon_off`, also sets `autoballoon="off"` in `/etc/xen/xl.conf`.
    pub fn set_dom0_mem(
        &mut self,
        size: &str,
        max: Option<&str>,
        min: Option<&str>,
        host_kib: Option<u64>,
        autoballoon_off: bool,
    ) -> Result<Dom0Mem, EditError> {
        let amount = self.single_size("SIZE", size, host_kib)?;
        let max = match max {
            Some(m) => Some(self.single_size("--max", m, host_kib)?),
            None => Some(amount),
        };
        let min = min
            .map(|m| self.single_size("--min", m, host_kib))
            .transpose()?;
        let value = Dom0Mem {
            amount: Some(amount),
            min,
            max,
        };
        let (_, warnings) = Dom0Mem::parse_with_warnings(&value.to_string()).map_err(|source| {
            EditError::Dom0Mem {
                what: "dom0_mem",
                source,
            }
        })?;
        self.warnings
            .extend(warnings.iter().map(ToString::to_string));
        if host_kib.is_none() {
            self.warnings.push(
                "the host's memory is unknown here (running under Xen or building an image), so \
                 the size was not checked against it; pass --host-mem to check"
                    .to_owned(),
            );
        }
        self.set_xen_args(&[XenArg::parse(&format!("dom0_mem={value}"))])?;
        if autoballoon_off {
            let path = self.root.join(xl_conf::XL_CONF);
            let text = atomic::read_optional(&path)?;
            self.xl_conf = Some(xl_conf::set_autoballoon(&self.root, text.as_deref(), "off"));
        }
        Ok(value)
    }

    fn single_size(
        &mut self,
        what: &'static str,
        s: &str,
        host_kib: Option<u64>,
    ) -> Result<Amount, EditError> {
        let (m, warnings) = Dom0Mem::parse_with_warnings(s)
            .map_err(|source| EditError::Dom0Mem { what, source })?;
        let amount = match m {
            Dom0Mem {
                amount: Some(a),
                min: None,
                max: None,
            } => a,
            _ => {
                return Err(EditError::NotASingleSize {
                    what,
                    value: s.to_owned(),
                });
            }
        };
        self.warnings
            .extend(warnings.iter().map(|w| format!("{what}: {w}")));
        if let Some(host) = host_kib {
            if !amount.minus && amount.bytes / 1024 > host {
                return Err(EditError::TooLarge {
                    what,
                    value: s.to_owned(),
                    host_mib: host / 1024,
                });
            }
        }
        Ok(amount)
    }

    /// The title `20_linux_xen` gives the newest Xen entry, and `10_linux` the native one.
    fn titles(&self) -> Result<(String, String), EditError> {
        let distributor = self.effective("GRUB_DISTRIBUTOR")?;
        let os = if distributor.is_empty() {
            "GNU/Linux".to_owned()
        } else {
            format!("{distributor} GNU/Linux")
        };
        Ok((format!("{os}, with Xen hypervisor"), os))
    }

    /// Chooses the default boot entry, by title or id, the distribution's way.
    pub fn set_default(&mut self, target: &DefaultTarget) -> Result<String, EditError> {
        let (xen_title, linux_title) = self.titles()?;
        if let DefaultTarget::Entry(e) = target {
            if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EditError::IndexDefault(e.clone()));
            }
            self.check_entry_exists(e)?;
        }
        if self.layout.family == Family::RedHat {
            return self.set_default_redhat(target, xen_title);
        }
        let entry = match target {
            DefaultTarget::Xen => xen_title,
            DefaultTarget::Linux => linux_title,
            DefaultTarget::Entry(e) => e.clone(),
        };
        if self.layout.xen_snippet {
            // Debian's grub.d/xen.cfg overrides GRUB_DEFAULT unless told not to; with 1 it sets the
            // Xen title itself (from GRUB_DISTRIBUTOR), which is what we want for "xen".
            let takeover = matches!(target, DefaultTarget::Xen);
            self.defaults.set_early(
                "XEN_OVERRIDE_GRUB_DEFAULT",
                if takeover { "1" } else { "0" },
            )?;
            if !takeover {
                self.set_var("GRUB_DEFAULT", &entry)?;
            }
        } else {
            self.set_var("GRUB_DEFAULT", &entry)?;
        }
        self.wanted.retain(|(n, _)| n != "GRUB_DEFAULT");
        self.wanted.push(("GRUB_DEFAULT".to_owned(), entry.clone()));
        Ok(entry)
    }

    /// The RHEL-family way (what `grub-bootxen.sh` does, by title instead of index): `xen` puts
    /// `20_linux_xen` first as `08_linux_xen` and `linux` puts it back; the entry itself goes to
    /// grubenv's `saved_entry` (`GRUB_DEFAULT=saved`, as `grub2-set-default` does). When the
    /// title cannot be known before generating (`GRUB_DISABLE_SUBMENU=true` gives no single Xen
    /// entry; native entries without BootLoaderSpec), `saved_entry` is unset and `rxl grub
    /// apply` sets it to the first Xen (or native) entry of the regenerated menu.
    fn set_default_redhat(
        &mut self,
        target: &DefaultTarget,
        xen_title: String,
    ) -> Result<String, EditError> {
        let xen_first = match target {
            DefaultTarget::Xen => Some(true),
            DefaultTarget::Linux => Some(false),
            DefaultTarget::Entry(_) => None,
        };
        if let Some(want) = xen_first {
            let (mv, warning) = xen_first::plan(&self.root, want)?;
            self.warnings.extend(warning);
            self.moves.extend(mv);
        }
        let no_submenus = matches!(
            self.effective("GRUB_DISABLE_SUBMENU")?.as_str(),
            "true" | "y" | "yes"
        );
        let saved = match target {
            DefaultTarget::Xen if !no_submenus => Some(xen_title),
            DefaultTarget::Xen => None,
            DefaultTarget::Linux => grubenv::newest_bls_entry(&self.root),
            DefaultTarget::Entry(e) => Some(e.clone()),
        };
        let shown = saved.clone().unwrap_or_else(|| {
            let kind = if xen_first == Some(true) {
                "Xen"
            } else {
                "native Linux"
            };
            format!("the first {kind} entry (chosen by title when `rxl grub apply` regenerates the menu)")
        });
        if self.effective("GRUB_DEFAULT")? != "saved" {
            self.set_var("GRUB_DEFAULT", "saved")?;
        }
        let current = grubenv::saved_entry(&self.root, &self.layout);
        if current != saved {
            self.commands.push(grubenv::set_saved_entry(
                &self.root,
                &self.layout,
                saved.as_deref(),
            ));
        }
        Ok(shown)
    }

    fn check_entry_exists(&mut self, entry: &str) -> Result<(), EditError> {
        let cfg_path = self.root.join(&self.layout.grub_cfg);
        if let Some(text) = atomic::read_optional(&cfg_path)? {
            if GrubCfg::parse(&text).find(entry).is_none() {
                self.warnings.push(format!(
                    "no entry titled or with id \"{entry}\" in {}; `rxl grub apply` will check the regenerated one",
                    cfg_path.display()
                ));
            }
        }
        Ok(())
    }

    /// Verifies the intended values with `sh` and returns the files to write.
    pub fn finish(&self) -> Result<ChangeSet, EditError> {
        let wanted: Vec<(&str, &str)> = self
            .wanted
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.defaults.verify(&wanted)?;
        let mut set = ChangeSet::new();
        for c in self.defaults.changes() {
            set.add(c);
        }
        if let Some(c) = &self.xl_conf {
            set.add(c.clone());
        }
        Ok(set)
    }

    /// Whether nothing but files would change.
    pub fn has_actions(&self) -> bool {
        !self.moves.is_empty() || !self.commands.is_empty()
    }

    /// Writes everything: the `/etc/grub.d` renames, then the files of `set`, then grubenv. A
    /// failure undoes the steps already done, so the root is left as it was.
    pub fn commit(&self, set: &ChangeSet) -> Result<(), EditError> {
        let undo_moves = |n: usize| self.moves[..n].iter().rev().for_each(xen_first::Move::undo);
        for (i, m) in self.moves.iter().enumerate() {
            if let Err(e) = m.run() {
                undo_moves(i);
                return Err(e.into());
            }
        }
        if let Err(e) = set.commit() {
            undo_moves(self.moves.len());
            return Err(e.into());
        }
        for c in &self.commands {
            if let Err(e) = c.run() {
                set.revert();
                undo_moves(self.moves.len());
                return Err(e.into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
