//! What is in `/boot`: Xen images and kernels able to run as dom0, selected the way Debian's
//! `/etc/grub.d/20_linux_xen` selects them.

use std::fs;
use std::path::{Path, PathBuf};

/// A Xen hypervisor image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct XenImage {
    /// Its path as the booted system sees it (`/boot/xen-4.17-amd64.gz`).
    pub path: PathBuf,
    /// The version GRUB shows (`4.17-amd64`).
    pub version: String,
    /// An EFI binary: `20_linux_xen` still makes a (useless) multiboot2 entry for it.
    pub efi: bool,
}

/// A Linux kernel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kernel {
    /// Its path as the booted system sees it.
    pub path: PathBuf,
    /// The version (`6.1.0-56-amd64`).
    pub version: String,
    /// `config-<version>` has `CONFIG_XEN_DOM0=y` (or the older `CONFIG_XEN_PRIVILEGED_GUEST=y`).
    pub dom0_capable: bool,
    /// `config-<version>` exists (without it `20_linux_xen` skips the kernel).
    pub has_config: bool,
    /// The matching initramfs, if any.
    pub initrd: Option<PathBuf>,
}

/// Files `20_linux_xen` ignores.
fn is_garbage(name: &str) -> bool {
    [
        ".dpkg-old",
        ".dpkg-new",
        ".dpkg-dist",
        ".dpkg-bak",
        ".dpkg-tmp",
        ".rpmsave",
        ".rpmnew",
        ".sig",
        "~",
    ]
    .iter()
    .any(|s| name.ends_with(s) || name.contains(".dpkg-"))
        || name.starts_with("README")
}

fn list(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join("boot"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Xen images in `ROOT/boot`, newest version first.
pub fn xen_images(root: &Path) -> Vec<XenImage> {
    let mut out: Vec<XenImage> = list(root)
        .into_iter()
        .filter(|n| n.starts_with("xen") && !is_garbage(n))
        .filter(|n| {
            !n.starts_with("xen-syms-") && !n.starts_with("xenpolicy-") && !n.ends_with(".config")
        })
        .filter(|n| root.join("boot").join(n).is_file())
        .map(|n| {
            let version = n.strip_suffix(".gz").unwrap_or(&n);
            let version = version.strip_prefix("xen-").unwrap_or(version).to_owned();
            XenImage {
                efi: n.ends_with(".efi"),
                path: Path::new("/boot").join(&n),
                version,
            }
        })
        .collect();
    out.sort_by(|a, b| version_cmp(&b.version, &a.version));
    out
}

/// Kernels in `ROOT/boot` (`vmlinuz-*`, `vmlinux-*`, `kernel-*`), newest first.
pub fn kernels(root: &Path) -> Vec<Kernel> {
    let names = list(root);
    let mut out: Vec<Kernel> = names
        .iter()
        .filter(|n| !is_garbage(n))
        .filter_map(|n| {
            let v = n
                .strip_prefix("vmlinuz-")
                .or_else(|| n.strip_prefix("vmlinux-"))
                .or_else(|| n.strip_prefix("kernel-"))?;
            Some((n, v))
        })
        .map(|(n, v)| {
            let config = fs::read_to_string(root.join("boot").join(format!("config-{v}")));
            let dom0_capable = config.as_ref().is_ok_and(|c| {
                c.lines()
                    .any(|l| l == "CONFIG_XEN_DOM0=y" || l == "CONFIG_XEN_PRIVILEGED_GUEST=y")
            });
            let initrd = [
                format!("initrd.img-{v}"),
                format!("initrd-{v}.img"),
                format!("initramfs-{v}.img"),
                format!("initrd-{v}"),
                format!("initrd-{v}.gz"),
            ]
            .into_iter()
            .find(|i| names.contains(i))
            .map(|i| Path::new("/boot").join(i));
            Kernel {
                path: Path::new("/boot").join(n),
                version: v.to_owned(),
                dom0_capable,
                has_config: config.is_ok(),
                initrd,
            }
        })
        .collect();
    out.sort_by(|a, b| version_cmp(&b.version, &a.version));
    out
}

/// Compares versions by numeric runs, like `sort -V` closely enough for kernel and Xen names.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let text: String = rest[digits.len()..]
                .chars()
                .take_while(|c| !c.is_ascii_digit())
                .collect();
            out.push((digits.parse().unwrap_or(0), text.clone()));
            rest = &rest[digits.len() + text.len()..];
        }
        out
    }
    chunks(a).cmp(&chunks(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_xen_images_and_dom0_kernels_like_20_linux_xen() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("boot");
        fs::create_dir_all(&b).unwrap();
        for f in [
            "xen-4.17-amd64.gz",
            "xen-4.17-amd64.efi",
            "xen-4.17-amd64.config",
            "xen-syms-4.17",
            "xen-4.16-amd64.gz",
            "xen-4.17-amd64.gz.dpkg-old",
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "vmlinuz-5.10.0-1-amd64",
            "initrd.img-6.1.0-10-amd64",
        ] {
            fs::write(b.join(f), "").unwrap();
        }
        fs::write(
            b.join("config-6.1.0-10-amd64"),
            "CONFIG_XEN=y\nCONFIG_XEN_DOM0=y\n",
        )
        .unwrap();
        fs::write(
            b.join("config-6.1.0-9-amd64"),
            "# CONFIG_XEN_DOM0 is not set\n",
        )
        .unwrap();
        let x = xen_images(d.path());
        let names: Vec<_> = x.iter().map(|i| (i.version.as_str(), i.efi)).collect();
        assert_eq!(
            names,
            [
                ("4.17-amd64.efi", true),
                ("4.17-amd64", false),
                ("4.16-amd64", false)
            ]
        );
        let k = kernels(d.path());
        let got: Vec<_> = k
            .iter()
            .map(|k| {
                (
                    k.version.as_str(),
                    k.dom0_capable,
                    k.has_config,
                    k.initrd.is_some(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("6.1.0-10-amd64", true, true, true),
                ("6.1.0-9-amd64", false, true, false),
                ("5.10.0-1-amd64", false, false, false)
            ]
        );
    }
}
