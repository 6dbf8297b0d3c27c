//! Which GRUB family a root uses, found from its file layout (never from the running host).
//!
//! - Debian/Ubuntu: `grub-mkconfig` (`update-grub` is a wrapper), `/boot/grub/grub.cfg`,
//!   Xen entries from `/etc/grub.d/20_linux_xen`, and Debian's `/etc/default/grub.d/xen.cfg`
//!   which turns `XEN_OVERRIDE_GRUB_DEFAULT` into a `GRUB_DEFAULT` title.
//! - RHEL/CentOS/Fedora: `grub2-mkconfig`, `/boot/grub2/grub.cfg` (also on EFI since EL9), the
//!   same `20_linux_xen`, BootLoaderSpec snippets for native kernels, and the default chosen
//!   with `grub2-set-default`/`grub2-editenv` (`saved_entry` in `grubenv`).

use std::path::{Path, PathBuf};

/// The distribution family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian, Ubuntu and derivatives.
    Debian,
    /// RHEL, CentOS, Fedora and derivatives.
    RedHat,
}

/// Where a root keeps its GRUB files and which tools regenerate them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layout {
    /// The family.
    pub family: Family,
    /// The generated configuration, relative to the root.
    pub grub_cfg: PathBuf,
    /// The GRUB environment block, relative to the root.
    pub grubenv: PathBuf,
    /// The generator (`grub-mkconfig` / `grub2-mkconfig`).
    pub mkconfig: &'static str,
    /// The syntax checker (`grub-script-check` / `grub2-script-check`).
    pub script_check: &'static str,
    /// The environment-block editor (`grub-editenv` / `grub2-editenv`).
    pub editenv: &'static str,
    /// Debian's `/etc/default/grub.d/xen.cfg` is installed.
    pub xen_snippet: bool,
    /// BootLoaderSpec entries are in use (`/boot/loader/entries` has snippets).
    pub bls: bool,
}

/// The root's layout is not one rxl knows.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot tell how {root} boots: none of etc/debian_version, etc/redhat-release, boot/grub, boot/grub2 exists there; pass --root with the system's root directory, or install GRUB first"
)]
pub struct UnknownLayout {
    /// The root examined.
    pub root: PathBuf,
}

/// Detects the layout of `root`.
pub fn detect(root: &Path) -> Result<Layout, UnknownLayout> {
    let has = |p: &str| root.join(p).exists();
    let redhat = has("etc/redhat-release") || has("etc/fedora-release") || has("boot/grub2");
    let debian = has("etc/debian_version") || has("boot/grub") || has("usr/sbin/update-grub");
    let bls = std::fs::read_dir(root.join("boot/loader/entries"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if redhat && !has("etc/debian_version") {
        Ok(Layout {
            family: Family::RedHat,
            grub_cfg: "boot/grub2/grub.cfg".into(),
            grubenv: "boot/grub2/grubenv".into(),
            mkconfig: "grub2-mkconfig",
            script_check: "grub2-script-check",
            editenv: "grub2-editenv",
            xen_snippet: false,
            bls,
        })
    } else if debian {
        Ok(Layout {
            family: Family::Debian,
            grub_cfg: "boot/grub/grub.cfg".into(),
            grubenv: "boot/grub/grubenv".into(),
            mkconfig: "grub-mkconfig",
            script_check: "grub-script-check",
            editenv: "grub-editenv",
            xen_snippet: has("etc/default/grub.d/xen.cfg"),
            bls,
        })
    } else {
        Err(UnknownLayout {
            root: root.to_owned(),
        })
    }
}

/// Finds a tool in the root's usual directories, returning its path inside the root
/// (e.g. `/usr/sbin/grub-mkconfig`), for running inside a chroot.
pub fn find_tool(root: &Path, name: &str) -> Option<PathBuf> {
    [
        "usr/sbin",
        "usr/bin",
        "sbin",
        "bin",
        "usr/local/sbin",
        "usr/local/bin",
    ]
    .iter()
    .map(|d| Path::new("/").join(d).join(name))
    .find(|p| root.join(p.strip_prefix("/").unwrap_or(p)).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(paths: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for p in paths {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        d
    }

    #[test]
    fn debian_and_redhat_layouts() {
        let deb = root_with(&[
            "etc/debian_version",
            "etc/default/grub.d/xen.cfg",
            "usr/sbin/grub-mkconfig",
        ]);
        let l = detect(deb.path()).unwrap();
        assert_eq!(
            (l.family, l.xen_snippet, l.mkconfig),
            (Family::Debian, true, "grub-mkconfig")
        );
        assert_eq!(
            find_tool(deb.path(), "grub-mkconfig").unwrap(),
            Path::new("/usr/sbin/grub-mkconfig")
        );
        assert!(find_tool(deb.path(), "grub2-mkconfig").is_none());

        let rh = root_with(&["etc/redhat-release", "boot/loader/entries/x.conf"]);
        let l = detect(rh.path()).unwrap();
        assert_eq!((l.family, l.bls), (Family::RedHat, true));
        assert_eq!(l.grub_cfg, Path::new("boot/grub2/grub.cfg"));

        let none = root_with(&["etc/hostname"]);
        let e = detect(none.path()).unwrap_err().to_string();
        assert!(e.contains("--root"), "{e}");
    }
}
