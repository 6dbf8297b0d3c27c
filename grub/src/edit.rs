//! The edits behind `rxl grub set-dom0-mem`, `set-xen-arg`, `unset-xen-arg` and `set-default`.
//!
//! An [`Editor`] loads a root's GRUB defaults, applies validated edits in memory, checks with
//! `sh` that `grub-mkconfig` will see exactly the intended values, and hands back a
//! [`ChangeSet`] to show as a diff (`--dry-run`) or to commit atomically. Nothing touches the
//! disk before [`ChangeSet::commit`], so a failed validation leaves every file as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::atomic::{self, ChangeSet};
use crate::defaults::{Defaults, DefaultsError};
use crate::distro::{self, Family, Layout, UnknownLayout};
use crate::dom0_mem::{Amount, Dom0Mem, Dom0MemError};
use crate::grub_cfg::GrubCfg;
use crate::xen_cmdline::{self, XenArg, XenArgError, XenCmdline};
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
    /// `set-default linux` on a RHEL-family system.
    #[error(
        "on RHEL-family systems native kernels come from BootLoaderSpec entries; give the entry's title or id (`grubby --info=ALL`) instead of \"linux\""
    )]
    LinuxOnRedHat,
    /// Running grub-editenv failed.
    #[error("{tool} failed: {message}; check that {path} is writable")]
    EditEnv {
        /// The tool.
        tool: String,
        /// The environment block.
        path: PathBuf,
        /// Its output.
        message: String,
    },
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
    /// Commands to run after the files are written (grub-editenv), with a description.
    pub commands: Vec<(String, Vec<String>)>,
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
        let entry = match target {
            DefaultTarget::Xen => xen_title,
            DefaultTarget::Linux if self.layout.family == Family::RedHat => {
                return Err(EditError::LinuxOnRedHat);
            }
            DefaultTarget::Linux => linux_title,
            DefaultTarget::Entry(e) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(EditError::IndexDefault(e.clone()));
            }
            DefaultTarget::Entry(e) => {
                self.check_entry_exists(e)?;
                e.clone()
            }
        };
        let current_default = self.effective("GRUB_DEFAULT")?;
        if self.layout.family == Family::RedHat && current_default == "saved" {
            // grub2-set-default: the choice lives in grubenv's saved_entry.
            let env = Path::new("/").join(&self.layout.grubenv);
            let tool = distro::find_tool(&self.root, self.layout.editenv)
                .or_else(|| distro::find_tool(Path::new("/"), self.layout.editenv))
                .or_else(|| distro::find_tool(Path::new("/"), "grub-editenv"))
                .map_or_else(
                    || self.layout.editenv.to_owned(),
                    |p| p.display().to_string(),
                );
            let env_path = self.root.join(&self.layout.grubenv);
            self.commands.push((
                format!("set saved_entry in {}", env.display()),
                vec![
                    tool,
                    env_path.display().to_string(),
                    "set".into(),
                    format!("saved_entry={entry}"),
                ],
            ));
            return Ok(entry);
        }
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

    /// Runs the post-write commands (grub-editenv).
    pub fn run_commands(&self) -> Result<(), EditError> {
        for (_, argv) in &self.commands {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .map_err(|e| EditError::EditEnv {
                    tool: argv[0].clone(),
                    path: PathBuf::from(&argv[1]),
                    message: e.to_string(),
                })?;
            if !out.status.success() {
                return Err(EditError::EditEnv {
                    tool: argv[0].clone(),
                    path: PathBuf::from(&argv[1]),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
