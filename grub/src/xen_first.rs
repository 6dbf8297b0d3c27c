//! Xen entries first on RHEL-family systems, the way the CentOS Virt SIG's `grub-bootxen.sh`
//! does it: `/etc/grub.d/20_linux_xen` is renamed to `08_linux_xen`, so `grub2-mkconfig` (which
//! runs the executable `/etc/grub.d/*` scripts in glob order) emits the Xen entries before
//! `10_linux`'s native ones and before the `blscfg` command.
//!
//! The rename keeps the file's content, mode and owner; it is atomic (`rename(2)` plus a
//! directory fsync), idempotent, and undone by renaming back. A `grub2-tools` update reinstalls
//! `20_linux_xen` next to the renamed copy (both then run and the Xen entries appear twice);
//! putting Xen first again replaces the stale copy with the new script, and putting native
//! Linux first moves the stale copy aside as `08_linux_xen.rpmsave`, a name grub-mkconfig skips.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The distribution's Xen script, relative to the root.
pub const XEN_SCRIPT: &str = "etc/grub.d/20_linux_xen";
/// Where the Xen script goes to run before `10_linux`, relative to the root.
pub const XEN_FIRST_SCRIPT: &str = "etc/grub.d/08_linux_xen";
/// Where a stale renamed copy is put aside (grub-mkconfig ignores `*.rpmsave`).
pub const STALE_COPY: &str = "etc/grub.d/08_linux_xen.rpmsave";

/// Which of the two script names exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Only `20_linux_xen`: native entries come first (the distribution's default).
    Stock,
    /// Only `08_linux_xen`: Xen entries come first.
    XenFirst,
    /// Both: an update reinstalled `20_linux_xen`; Xen entries are generated twice.
    Both,
    /// Neither: this root cannot generate Xen entries.
    Missing,
}

/// The current order of `root`.
pub fn order(root: &Path) -> Order {
    let has = |p: &str| root.join(p).is_file();
    match (has(XEN_SCRIPT), has(XEN_FIRST_SCRIPT)) {
        (true, false) => Order::Stock,
        (false, true) => Order::XenFirst,
        (true, true) => Order::Both,
        (false, false) => Order::Missing,
    }
}

/// A rename of one `/etc/grub.d` script (absolute paths under the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The current name.
    pub from: PathBuf,
    /// The new name (replaced if it exists).
    pub to: PathBuf,
}

/// Errors of the reordering.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Neither script exists.
    #[error(
        "neither {xen} nor {first} exists, so grub2-mkconfig cannot generate Xen entries; install the package that ships 20_linux_xen (grub2-tools on RHEL/Fedora)"
    )]
    Missing {
        /// `…/20_linux_xen`.
        xen: PathBuf,
        /// `…/08_linux_xen`.
        first: PathBuf,
    },
    /// A rename failed.
    #[error("cannot rename {from} to {to}: {source}; nothing else was changed")]
    Rename {
        /// The source.
        from: PathBuf,
        /// The target.
        to: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl Move {
    /// A one-line description for `--dry-run` and reports.
    pub fn describe(&self) -> String {
        format!("rename {} to {}", self.from.display(), self.to.display())
    }

    /// Renames and fsyncs the directory.
    pub fn run(&self) -> Result<(), OrderError> {
        let err = |source| OrderError::Rename {
            from: self.from.clone(),
            to: self.to.clone(),
            source,
        };
        fs::rename(&self.from, &self.to).map_err(err)?;
        let dir = self.to.parent().unwrap_or(Path::new("/"));
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)
    }

    /// Renames back (best effort, for rolling back a failed multi-step change). Only correct
    /// when `to` did not exist before [`Move::run`], which holds for every rollback rxl does
    /// (a move that replaced a stale copy cannot bring that copy back, and need not).
    pub fn undo(&self) {
        let _ = fs::rename(&self.to, &self.from);
    }
}

/// The move that gives `root` the wanted order (`None`: already so), and a warning when the
/// Xen script will not run because it is not executable.
pub fn plan(root: &Path, xen_first: bool) -> Result<(Option<Move>, Option<String>), OrderError> {
    let xen = root.join(XEN_SCRIPT);
    let first = root.join(XEN_FIRST_SCRIPT);
    let mv = |from: &PathBuf, to: PathBuf| {
        Some(Move {
            from: from.clone(),
            to,
        })
    };
    let planned = match (order(root), xen_first) {
        (Order::Missing, true) => return Err(OrderError::Missing { xen, first }),
        (Order::Missing, false) | (Order::Stock, false) | (Order::XenFirst, true) => None,
        // The reinstalled 20_linux_xen is the newer script: it replaces the stale copy.
        (Order::Stock | Order::Both, true) => mv(&xen, first.clone()),
        (Order::XenFirst, false) => mv(&first, xen.clone()),
        (Order::Both, false) => mv(&first, root.join(STALE_COPY)),
    };
    let script = if xen_first { &first } else { &xen };
    let source = planned.as_ref().map_or(script, |m| &m.from);
    let warning = fs::metadata(source)
        .ok()
        .filter(|m| xen_first && m.permissions().mode() & 0o111 == 0)
        .map(|_| {
            format!(
                "{} is not executable, so grub2-mkconfig skips it and generates no Xen entry; chmod +x it",
                source.display()
            )
        });
    Ok((planned, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rhel_root(scripts: &[(&str, u32)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("etc/grub.d")).unwrap();
        fs::write(
            d.path().join("etc/redhat-release"),
            "Rocky Linux release 9.4\n",
        )
        .unwrap();
        for (p, mode) in scripts {
            let p = d.path().join(p);
            fs::write(&p, format!("#!/bin/sh\n# {}\n", p.display())).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
        }
        d
    }

    #[test]
    fn xen_first_and_back_keeps_content_and_mode() {
        let r = rhel_root(&[(XEN_SCRIPT, 0o755), ("etc/grub.d/10_linux", 0o755)]);
        let text = fs::read_to_string(r.path().join(XEN_SCRIPT)).unwrap();
        assert_eq!(order(r.path()), Order::Stock);
        let (m, w) = plan(r.path(), true).unwrap();
        assert!(w.is_none());
        let m = m.unwrap();
        assert!(
            m.describe().contains("20_linux_xen to "),
            "{}",
            m.describe()
        );
        m.run().unwrap();
        assert_eq!(order(r.path()), Order::XenFirst);
        let first = r.path().join(XEN_FIRST_SCRIPT);
        assert_eq!(fs::read_to_string(&first).unwrap(), text);
        assert_eq!(
            fs::metadata(&first).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // Glob order: 08 before 10.
        let mut names: Vec<String> = fs::read_dir(r.path().join("etc/grub.d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["08_linux_xen", "10_linux"]);
        assert!(plan(r.path(), true).unwrap().0.is_none(), "idempotent");
        let (back, _) = plan(r.path(), false).unwrap();
        back.unwrap().run().unwrap();
        assert_eq!(order(r.path()), Order::Stock);
        assert_eq!(fs::read_to_string(r.path().join(XEN_SCRIPT)).unwrap(), text);
        assert!(plan(r.path(), false).unwrap().0.is_none(), "idempotent");
    }

    #[test]
    fn reinstalled_script_next_to_the_copy() {
        let r = rhel_root(&[(XEN_SCRIPT, 0o755), (XEN_FIRST_SCRIPT, 0o755)]);
        assert_eq!(order(r.path()), Order::Both);
        let new = fs::read_to_string(r.path().join(XEN_SCRIPT)).unwrap();
        // Xen first: the newer 20_linux_xen replaces the stale copy.
        let r2 = rhel_root(&[(XEN_SCRIPT, 0o755), (XEN_FIRST_SCRIPT, 0o755)]);
        let new2 = fs::read_to_string(r2.path().join(XEN_SCRIPT)).unwrap();
        assert_ne!(
            new2,
            fs::read_to_string(r2.path().join(XEN_FIRST_SCRIPT)).unwrap()
        );
        plan(r2.path(), true).unwrap().0.unwrap().run().unwrap();
        assert_eq!(order(r2.path()), Order::XenFirst);
        assert_eq!(
            fs::read_to_string(r2.path().join(XEN_FIRST_SCRIPT)).unwrap(),
            new2
        );
        // Native first: the stale copy goes aside under a name grub-mkconfig skips.
        plan(r.path(), false).unwrap().0.unwrap().run().unwrap();
        assert_eq!(order(r.path()), Order::Stock);
        assert_eq!(fs::read_to_string(r.path().join(XEN_SCRIPT)).unwrap(), new);
        assert!(r.path().join(STALE_COPY).is_file());
    }

    #[test]
    fn missing_and_disabled_scripts() {
        let r = rhel_root(&[]);
        let e = plan(r.path(), true).unwrap_err().to_string();
        assert!(
            e.contains("20_linux_xen") && e.contains("grub2-tools"),
            "{e}"
        );
        assert!(plan(r.path(), false).unwrap().0.is_none());
        let r = rhel_root(&[(XEN_SCRIPT, 0o644)]);
        let (m, w) = plan(r.path(), true).unwrap();
        assert!(m.is_some());
        assert!(w.unwrap().contains("not executable"));
    }

    #[test]
    fn failed_rename_names_both_paths() {
        let r = rhel_root(&[(XEN_SCRIPT, 0o755)]);
        let m = Move {
            from: r.path().join("etc/grub.d/nope"),
            to: r.path().join(XEN_FIRST_SCRIPT),
        };
        let e = m.run().unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("08_linux_xen"), "{e}");
        assert_eq!(order(r.path()), Order::Stock, "nothing changed");
    }
}
