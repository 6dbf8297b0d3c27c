//! The GRUB defaults as `grub-mkconfig` reads them: `/etc/default/grub`, then every
//! `/etc/default/grub.d/*.cfg` in glob order, sourced into one shell.
//!
//! [`Defaults`] holds all of those files (parsed with [`crate::vars`]), routes each edit to the
//! file where it takes effect, and computes the effective values by letting `sh` source the
//! (possibly edited) texts exactly as `grub-mkconfig` would, so computed values, conditionals and
//! Debian's `xen.cfg` logic come out right without rxl imitating a shell.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::atomic::{self, FileChange, WriteError};
use crate::vars::{ShellVarFile, VarsError};

/// `/etc/default/grub`, relative to the root.
pub const DEFAULT_GRUB: &str = "etc/default/grub";
/// `/etc/default/grub.d`, relative to the root.
pub const DEFAULT_GRUB_D: &str = "etc/default/grub.d";

/// The variables rxl reads and reports.
pub const KNOWN_VARS: &[&str] = &[
    "GRUB_DEFAULT",
    "GRUB_SAVEDEFAULT",
    "GRUB_DISTRIBUTOR",
    "GRUB_ENABLE_BLSCFG",
    "GRUB_DISABLE_SUBMENU",
    "GRUB_CMDLINE_LINUX",
    "GRUB_CMDLINE_LINUX_DEFAULT",
    "GRUB_CMDLINE_XEN",
    "GRUB_CMDLINE_XEN_DEFAULT",
    "GRUB_CMDLINE_LINUX_XEN_REPLACE",
    "GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT",
    "XEN_OVERRIDE_GRUB_DEFAULT",
];

/// Errors reading or evaluating the defaults.
#[derive(Debug, thiserror::Error)]
pub enum DefaultsError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] WriteError),
    /// A file could not be listed.
    #[error("{path}: cannot list: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file is not valid shell.
    #[error(transparent)]
    Syntax(#[from] VarsError),
    /// `sh` failed to source the files.
    #[error(
        "sourcing the GRUB defaults with sh failed: {0}; fix the file named above (grub-mkconfig would fail the same way)"
    )]
    Shell(String),
    /// No temporary copy of an edited file could be made for `sh`.
    #[error(
        "cannot make a temporary copy of the edited GRUB defaults for sh (is TMPDIR or /tmp writable?): {0}"
    )]
    Temp(io::Error),
    /// After editing, another file still overrides a value we set.
    #[error(
        "{name} would still be \"{actual}\" instead of \"{wanted}\": {file}:{line} assigns it later; edit or remove that line"
    )]
    Overridden {
        /// The variable.
        name: String,
        /// The value we set.
        wanted: String,
        /// The effective value.
        actual: String,
        /// The file with the overriding assignment.
        file: PathBuf,
        /// Its line.
        line: usize,
    },
}

/// Every GRUB defaults file of a root, in the order `grub-mkconfig` sources them.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The files; the first is always `/etc/default/grub` (possibly not existing yet).
    pub files: Vec<ShellVarFile>,
    originals: Vec<Option<String>>,
    root: PathBuf,
}

/// A variable's effective value: `None` when unset.
pub type Effective = BTreeMap<String, Option<String>>;

impl Defaults {
    /// Reads `ROOT/etc/default/grub` and `ROOT/etc/default/grub.d/*.cfg`.
    pub fn load(root: &Path) -> Result<Self, DefaultsError> {
        let mut paths = vec![root.join(DEFAULT_GRUB)];
        let dir = root.join(DEFAULT_GRUB_D);
        match fs::read_dir(&dir) {
            Ok(rd) => {
                let mut cfgs: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
                    .collect();
                // The shell's glob order: byte order in the C locale grub-mkconfig runs with.
                cfgs.sort();
                paths.extend(cfgs);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(DefaultsError::List { path: dir, source }),
        }
        let mut files = Vec::new();
        let mut originals = Vec::new();
        for p in paths {
            let text = atomic::read_optional(&p)?;
            files.push(ShellVarFile::parse(&p, text.clone().unwrap_or_default())?);
            originals.push(text);
        }
        Ok(Defaults {
            files,
            originals,
            root: root.to_owned(),
        })
    }

    /// The file and line of the last assignment of `name` across all files.
    pub fn last_assignment(&self, name: &str) -> Option<(&Path, usize)> {
        self.files
            .iter()
            .rev()
            .find_map(|f| f.last(name).map(|a| (f.path.as_path(), a.line)))
    }

    /// Sets `name` where it takes effect: in the last file with a plain assignment of it, else in
    /// `/etc/default/grub`. Use [`Defaults::verify`] afterwards to be sure nothing overrides it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), DefaultsError> {
        let idx = self
            .files
            .iter()
            .rposition(|f| f.last(name).is_some_and(|a| a.is_plain()))
            .unwrap_or(0);
        self.files[idx].set(name, value)?;
        Ok(())
    }

    /// Sets `name` in `/etc/default/grub` itself, for variables that later snippets read (such
    /// as `XEN_OVERRIDE_GRUB_DEFAULT`, which Debian's `grub.d/xen.cfg` acts on).
    pub fn set_early(&mut self, name: &str, value: &str) -> Result<(), DefaultsError> {
        self.files[0].set(name, value)?;
        Ok(())
    }

    /// The files whose text differs from what is on disk.
    pub fn changes(&self) -> Vec<FileChange> {
        self.files
            .iter()
            .zip(&self.originals)
            .filter(|(f, o)| o.as_deref() != Some(f.text()))
            .map(|(f, o)| FileChange {
                path: f.path.clone(),
                old: o.clone(),
                new: f.text().to_owned(),
            })
            .collect()
    }

    /// The effective values of `names` (and the warnings the files print), computed by sourcing
    /// the current texts with `sh` in order, with the helper functions `grub-mkconfig` provides.
    pub fn effective(&self, names: &[&str]) -> Result<(Effective, Vec<String>), DefaultsError> {
        // Unchanged files are sourced where they are; only edited texts need a temporary copy
        // (so `status` works without a writable /tmp, e.g. in an initramfs).
        let mut dir: Option<tempfile::TempDir> = None;
        let mut sourced: Vec<(PathBuf, &Path)> = Vec::new();
        let mut script = String::from(
            "grub_warn() { echo \"Warning: $*\" >&2; }\n\
             gettext() { printf '%s' \"$1\"; }\n\
             gettext_printf() { _f=$1; shift; printf \"$_f\" \"$@\"; }\n",
        );
        for (i, (f, orig)) in self.files.iter().zip(&self.originals).enumerate() {
            let p = match orig {
                Some(o) if o == f.text() => f.path.clone(),
                None if f.text().is_empty() => continue,
                _ => {
                    if dir.is_none() {
                        dir = Some(tempfile::tempdir().map_err(DefaultsError::Temp)?);
                    }
                    let p = dir
                        .as_ref()
                        .map_or_else(PathBuf::new, |d| d.path().join(format!("{i}.sh")));
                    fs::write(&p, f.text()).map_err(DefaultsError::Temp)?;
                    p
                }
            };
            script.push_str(&format!(
                ". '{}' || exit 3\n",
                p.display().to_string().replace('\'', "'\\''")
            ));
            sourced.push((p, f.path.as_path()));
        }
        for n in names {
            script.push_str(&format!(
                "printf '%s\\0%s\\0%s\\0' {n} \"${{{n}+set}}\" \"${{{n}-}}\"\n"
            ));
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .current_dir(&self.root)
            .output()
            .map_err(|e| DefaultsError::Shell(format!("cannot run sh: {e}")))?;
        // Name the real files in the shell's messages instead of our temporary copies.
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for (tmp, real) in &sourced {
            stderr = stderr.replace(&tmp.display().to_string(), &real.display().to_string());
        }
        if !out.status.success() {
            return Err(DefaultsError::Shell(stderr.trim().to_owned()));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut parts = stdout.split('\0');
        let mut values = Effective::new();
        while let (Some(name), Some(set), Some(value)) = (parts.next(), parts.next(), parts.next())
        {
            values.insert(name.to_owned(), (set == "set").then(|| value.to_owned()));
        }
        let warnings = stderr
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        Ok((values, warnings))
    }

    /// Checks that every `(name, value)` is what `grub-mkconfig` will see.
    pub fn verify(&self, wanted: &[(&str, &str)]) -> Result<(), DefaultsError> {
        let names: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
        let (eff, _) = self.effective(&names)?;
        for (name, value) in wanted {
            let actual = eff.get(*name).cloned().flatten().unwrap_or_default();
            if actual != *value {
                let (file, line) = self
                    .last_assignment(name)
                    .map(|(p, l)| (p.to_owned(), l))
                    .unwrap_or_else(|| (self.files[0].path.clone(), 0));
                return Err(DefaultsError::Overridden {
                    name: (*name).to_owned(),
                    wanted: (*value).to_owned(),
                    actual,
                    file,
                    line,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let p = dir.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

    const XEN_CFG: &str = "if [ \"$XEN_OVERRIDE_GRUB_DEFAULT\" = \"\" ]; then\n\tgrub_warn \"GRUB_DEFAULT changed to boot into Xen by default!\"\n\tXEN_OVERRIDE_GRUB_DEFAULT=1\nfi\nif [ \"$XEN_OVERRIDE_GRUB_DEFAULT\" = \"1\" ]; then\n\tGRUB_DEFAULT=$(printf \"$(gettext \"%s, with Xen hypervisor\")\" \"$GRUB_DISTRIBUTOR GNU/Linux\")\nfi\n";

    #[test]
    fn effective_values_follow_source_order() {
        let root = root_with(&[
            (
                DEFAULT_GRUB,
                "GRUB_DEFAULT=0\nGRUB_DISTRIBUTOR=Debian\nGRUB_CMDLINE_XEN=\"a\"\n",
            ),
            (
                "etc/default/grub.d/50-x.cfg",
                "GRUB_CMDLINE_XEN=\"$GRUB_CMDLINE_XEN b\"\n",
            ),
            ("etc/default/grub.d/xen.cfg", XEN_CFG),
            ("etc/default/grub.d/ignored.txt", "GRUB_CMDLINE_XEN=nope\n"),
        ]);
        let d = Defaults::load(root.path()).unwrap();
        assert_eq!(d.files.len(), 3);
        let (eff, warnings) = d.effective(KNOWN_VARS).unwrap();
        assert_eq!(eff["GRUB_CMDLINE_XEN"].as_deref(), Some("a b"));
        assert_eq!(
            eff["GRUB_DEFAULT"].as_deref(),
            Some("Debian GNU/Linux, with Xen hypervisor")
        );
        assert_eq!(eff["GRUB_CMDLINE_XEN_DEFAULT"], None);
        assert!(
            warnings.iter().any(|w| w.contains("GRUB_DEFAULT changed")),
            "{warnings:?}"
        );
    }

    #[test]
    fn grub_d_overrides_are_respected_when_editing() {
        let root = root_with(&[
            (
                DEFAULT_GRUB,
                "GRUB_CMDLINE_XEN_DEFAULT=\"old\"\nGRUB_TIMEOUT=5\n",
            ),
            (
                "etc/default/grub.d/90-site.cfg",
                "GRUB_CMDLINE_XEN_DEFAULT='site'\n",
            ),
        ]);
        let mut d = Defaults::load(root.path()).unwrap();
        d.set("GRUB_CMDLINE_XEN_DEFAULT", "dom0_mem=1G,max:1G")
            .unwrap();
        d.set("GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT", "console=hvc0")
            .unwrap();
        d.verify(&[("GRUB_CMDLINE_XEN_DEFAULT", "dom0_mem=1G,max:1G")])
            .unwrap();
        let changes = d.changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[1].new, "GRUB_CMDLINE_XEN_DEFAULT='dom0_mem=1G,max:1G'\n",
            "edited where it takes effect"
        );
        assert!(
            changes[0]
                .new
                .ends_with("GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT=\"console=hvc0\"\n")
        );
        assert!(
            changes[0]
                .new
                .starts_with("GRUB_CMDLINE_XEN_DEFAULT=\"old\"\n")
        );
    }

    #[test]
    fn verify_names_the_overriding_line() {
        let root = root_with(&[
            (DEFAULT_GRUB, "GRUB_DEFAULT=0\n"),
            ("etc/default/grub.d/xen.cfg", XEN_CFG),
        ]);
        let mut d = Defaults::load(root.path()).unwrap();
        d.set("GRUB_DEFAULT", "Debian GNU/Linux").unwrap();
        let e = d
            .verify(&[("GRUB_DEFAULT", "Debian GNU/Linux")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("xen.cfg:6 assigns it later"), "{e}");
        d.set_early("XEN_OVERRIDE_GRUB_DEFAULT", "0").unwrap();
        d.verify(&[("GRUB_DEFAULT", "Debian GNU/Linux")]).unwrap();
    }

    #[test]
    fn shell_errors_name_the_real_file() {
        let root = root_with(&[(DEFAULT_GRUB, "GRUB_DEFAULT=0\nif then fi fi\n")]);
        let d = Defaults::load(root.path()).unwrap();
        let e = d.effective(&["GRUB_DEFAULT"]).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{}", root.path().join(DEFAULT_GRUB).display())),
            "{e}"
        );
    }
}
