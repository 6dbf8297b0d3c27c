//! `rxl grub apply`: regenerate `grub.cfg` with the distribution's own generator, check it, and
//! only then replace the old one.
//!
//! The generator writes into a temporary file next to `grub.cfg` (so the final rename is atomic
//! on the same filesystem). The result must pass `grub-script-check` and contain a Xen entry whose
//! hypervisor line carries every argument of `GRUB_CMDLINE_XEN` and `GRUB_CMDLINE_XEN_DEFAULT`
//! and loads a dom0 kernel. Any failure removes the temporary file and leaves `grub.cfg` alone.
//! For another root (`--root`), the generator runs in it with `chroot`, because `grub-mkconfig`
//! has `/etc` and `grub-probe` compiled in.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::atomic::{self, WriteError};
use crate::boot;
use crate::defaults::{Defaults, DefaultsError};
use crate::distro::{self, Family, Layout};
use crate::edit::{CMDLINE_XEN, CMDLINE_XEN_DEFAULT};
use crate::grub_cfg::Entry;
use crate::grub_cfg::GrubCfg;
use crate::grubenv::{self, GrubenvError};
use crate::xen_cmdline::XenCmdline;
use crate::xen_first::{self, Order};

pub use crate::grubenv::saved_entry;

/// Why `apply` did not replace `grub.cfg`.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A tool is missing.
    #[error(
        "{tool} not found in {root} (looked in /usr/sbin, /usr/bin, /sbin, /bin); install the distribution's GRUB package (grub-common / grub2-tools)"
    )]
    ToolMissing {
        /// The tool.
        tool: &'static str,
        /// The root searched.
        root: PathBuf,
    },
    /// A tool could not be started or failed.
    #[error("{tool} failed ({status}): {stderr}; {path} was left unchanged")]
    ToolFailed {
        /// The command.
        tool: String,
        /// Its exit status.
        status: String,
        /// The end of its error output.
        stderr: String,
        /// The grub.cfg kept.
        path: PathBuf,
    },
    /// The generated file lacks what we configured.
    #[error("the regenerated configuration {problem}; {path} was left unchanged ({hint})")]
    Check {
        /// What is wrong.
        problem: String,
        /// The grub.cfg kept.
        path: PathBuf,
        /// What to do.
        hint: String,
    },
    /// Reading the defaults failed.
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Setting `saved_entry` failed.
    #[error(transparent)]
    Grubenv(#[from] GrubenvError),
}

/// What `apply` did (or would do with `--dry-run`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    /// The grub.cfg (replaced, or that would be replaced).
    pub grub_cfg: PathBuf,
    /// The backup of the previous one, if there was one.
    pub backup: Option<PathBuf>,
    /// Title of the Xen entry found with our arguments.
    pub xen_entry: String,
    /// Its hypervisor command line.
    pub xen_line: String,
    /// The entry booted by default, if it could be resolved.
    pub default_entry: Option<String>,
    /// Whether that default is a Xen entry.
    pub default_is_xen: bool,
    /// RHEL family: the `saved_entry` apply set (or would set) because the old one was unset or
    /// is not in the regenerated menu.
    pub saved_entry_set: Option<String>,
    /// Remarks (e.g. the Debian `.efi` duplicate, generator warnings).
    pub warnings: Vec<String>,
    /// Unified diff between the old and new grub.cfg (only filled for `--dry-run`).
    pub diff: Option<String>,
}

/// Removes the temporary file (and the `.new` file grub-mkconfig leaves behind when its own
/// check fails) unless the temporary file was renamed into place.
struct TempGuard(PathBuf);

impl Drop for TempGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
        let mut new = self.0.clone().into_os_string();
        new.push(".new");
        let _ = fs::remove_file(new);
    }
}

/// Regenerates, checks, and (unless `dry_run`) installs `grub.cfg` for `root`.
pub fn apply(root: &Path, layout: &Layout, dry_run: bool) -> Result<ApplyReport, ApplyError> {
    let in_root = root != Path::new("/");
    let cfg_rel = Path::new("/").join(&layout.grub_cfg);
    let cfg_path = root.join(&layout.grub_cfg);
    let dir = cfg_path.parent().unwrap_or(root).to_owned();
    fs::create_dir_all(&dir).map_err(|source| WriteError {
        path: dir.clone(),
        op: "create",
        source,
    })?;
    let tmp_name = format!(".grub.cfg.rxl-{}", std::process::id());
    let tmp_rel = cfg_rel.with_file_name(&tmp_name);
    let tmp_path = dir.join(&tmp_name);
    let guard = TempGuard(tmp_path.clone());

    let mkconfig = distro::find_tool(root, layout.mkconfig).ok_or(ApplyError::ToolMissing {
        tool: layout.mkconfig,
        root: root.to_owned(),
    })?;
    let mut warnings = Vec::new();
    let stderr = run(
        root,
        in_root,
        &mkconfig,
        &[Path::new("-o"), &tmp_rel],
        &cfg_path,
    )?;
    warnings.extend(
        stderr
            .lines()
            .filter_map(|l| {
                l.strip_prefix("Warning: ")
                    .or_else(|| l.strip_prefix("warning: "))
            })
            .map(str::to_owned),
    );

    let check = distro::find_tool(root, layout.script_check)
        .or_else(|| distro::find_tool(root, "grub-script-check"))
        .ok_or(ApplyError::ToolMissing {
            tool: layout.script_check,
            root: root.to_owned(),
        })?;
    run(root, in_root, &check, &[&tmp_rel], &cfg_path)?;

    let text = fs::read_to_string(&tmp_path).map_err(|source| WriteError {
        path: tmp_path.clone(),
        op: "read",
        source,
    })?;
    let cfg = GrubCfg::parse(&text);
    let defaults = Defaults::load(root)?;
    let (eff, _) = defaults.effective(&[CMDLINE_XEN, CMDLINE_XEN_DEFAULT])?;
    let ours = format!(
        "{} {}",
        eff[CMDLINE_XEN].clone().unwrap_or_default(),
        eff[CMDLINE_XEN_DEFAULT].clone().unwrap_or_default()
    );
    let wanted: Vec<String> = XenCmdline::parse(&ours)
        .args
        .iter()
        .map(ToString::to_string)
        .collect();
    let check_fail = |problem: String, hint: &str| ApplyError::Check {
        problem,
        path: cfg_path.clone(),
        hint: hint.to_owned(),
    };
    let xen_entry = cfg
        .entries
        .iter()
        .filter(|e| e.modules().first().is_some_and(|m| m.words.iter().any(|w| w.contains("vmlinu"))))
        .find(|e| e.xen().is_some_and(|x| wanted.iter().all(|w| x.words.contains(w))))
        .ok_or_else(|| {
            let (images, kernels) = (boot::xen_images(root), boot::kernels(root));
            let dom0 = kernels.iter().filter(|k| k.dom0_capable).count();
            check_fail(
                format!("has no Xen entry loading a dom0 kernel with the arguments \"{}\"", wanted.join(" ")),
                &format!(
                    "found {} Xen image(s) and {dom0} kernel(s) with CONFIG_XEN_DOM0=y in {}/boot; 20_linux_xen needs both",
                    images.len(),
                    root.display()
                ),
            )
        })?;
    let xen_line = xen_entry
        .xen()
        .map(|x| x.words.join(" "))
        .unwrap_or_default();

    let saved_default = cfg.default.as_deref() == Some("${saved_entry}");
    let mut default_name = match cfg.default.as_deref() {
        Some("${saved_entry}") => saved_entry(root, layout),
        other => other.map(str::to_owned),
    };
    let is_bls = |id: &str| {
        !id.is_empty()
            && !id.contains('/')
            && root
                .join(grubenv::BLS_ENTRIES)
                .join(format!("{id}.conf"))
                .is_file()
    };
    let order = xen_first::order(root);
    let mut env_cmd = None;
    if layout.family == Family::RedHat && saved_default {
        let resolves = default_name
            .as_deref()
            .is_some_and(|d| cfg.find(d).is_some() || is_bls(d));
        if !resolves {
            // What grub-bootxen.sh's `grub2-set-default 0` meant, by title: the first entry of
            // the kind that `set-default` put first.
            let pick = if matches!(order, Order::XenFirst | Order::Both) {
                Some(xen_entry)
            } else {
                cfg.entries
                    .iter()
                    .find(|e| e.xen().is_none() && loads_linux(e))
            };
            if let Some(e) = pick {
                let path = entry_path(e);
                env_cmd = Some(grubenv::set_saved_entry(root, layout, Some(&path)));
                default_name = Some(path);
            }
        }
    }
    if order == Order::Both {
        warnings.push(format!(
            "both {} and {} exist (an update reinstalled the first), so Xen entries are generated twice; run `rxl grub set-default xen` (or `linux`) again",
            xen_first::XEN_SCRIPT,
            xen_first::XEN_FIRST_SCRIPT
        ));
    }
    let default = default_name.as_deref().and_then(|d| cfg.find(d));
    let bls_default = default_name.as_deref().filter(|d| is_bls(d));
    if default.is_none() && bls_default.is_none() {
        warnings.push(format!(
            "the default entry {:?} is not in the regenerated menu, so GRUB will boot the first entry; run `rxl grub set-default xen`",
            default_name.clone().unwrap_or_default()
        ));
    }
    if boot::xen_images(root).iter().any(|i| i.efi) {
        warnings.push(
            "Debian's xen-*.efi in /boot also gets a (non-working) multiboot2 menu entry; harmless, but do not choose it"
                .to_owned(),
        );
    }
    let mut report = ApplyReport {
        grub_cfg: cfg_path.clone(),
        backup: None,
        xen_entry: xen_entry.title.clone(),
        xen_line,
        default_entry: default
            .map(|e| e.title.clone())
            .or_else(|| bls_default.map(|id| format!("{id} (BootLoaderSpec entry)"))),
        default_is_xen: default.is_some_and(|e| e.xen().is_some()),
        saved_entry_set: env_cmd.as_ref().and(default_name.clone()),
        warnings,
        diff: None,
    };
    let old = atomic::read_optional(&cfg_path)?;
    if dry_run {
        report.diff = Some(
            atomic::FileChange {
                path: cfg_path.clone(),
                old,
                new: text,
            }
            .diff(),
        );
        return Ok(report);
    }
    if let Some(old) = old {
        let bak = atomic::backup_path(&cfg_path);
        atomic::replace(&bak, atomic::stage(&bak, &old)?)?;
        report.backup = Some(bak);
    }
    // saved_entry first: should the rename fail, the old value is put back.
    let previous = saved_entry(root, layout);
    if let Some(c) = &env_cmd {
        c.run()?;
    }
    if let Err(source) = fs::rename(&tmp_path, &cfg_path) {
        if env_cmd.is_some() {
            let _ = grubenv::set_saved_entry(root, layout, previous.as_deref()).run();
        }
        return Err(WriteError {
            path: cfg_path.clone(),
            op: "rename into place",
            source,
        }
        .into());
    }
    std::mem::forget(guard);
    fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WriteError {
            path: dir.clone(),
            op: "fsync",
            source,
        })?;
    Ok(report)
}

/// Runs a tool of the root (through chroot for another root); returns its stderr.
fn run(
    root: &Path,
    in_root: bool,
    tool: &Path,
    args: &[&Path],
    keep: &Path,
) -> Result<String, ApplyError> {
    let mut cmd = if in_root {
        let mut c = Command::new("chroot");
        c.arg(root).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    cmd.args(args).env("LC_ALL", "C");
    let name = tool.display().to_string();
    let out = cmd.output().map_err(|e| ApplyError::ToolFailed {
        tool: name.clone(),
        status: "not started".into(),
        stderr: e.to_string(),
        path: keep.to_owned(),
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(ApplyError::ToolFailed {
            tool: name,
            status: out.status.to_string(),
            stderr: tail.join(" | "),
            path: keep.to_owned(),
        });
    }
    Ok(stderr)
}

/// Whether an entry boots a Linux kernel natively (`linux`, `linuxefi`, `linux16`).
fn loads_linux(e: &Entry) -> bool {
    e.commands.iter().any(|c| {
        matches!(
            c.words.first().map(String::as_str),
            Some("linux" | "linuxefi" | "linux16")
        )
    })
}

/// The `saved_entry` value naming an entry: its title, behind its submenus' titles.
fn entry_path(e: &Entry) -> String {
    let mut parts = e.submenus.clone();
    parts.push(e.title.clone());
    parts.join(">")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_entry_paths_and_native_entries() {
        let cfg = GrubCfg::parse(
            "menuentry 'Rocky Linux GNU/Linux, with Linux 6.1' --class gnu {\n\tlinux /vmlinuz-6.1 root=/dev/vda1\n}\n\
             submenu 'Advanced' $menuentry_id_option 'adv' {\n\
             \tmenuentry 'Rocky Linux GNU/Linux, with Xen 4.17 and Linux 6.1' {\n\
             \t\tmultiboot2 /boot/xen-4.17.gz placeholder dom0_mem=1G\n\t\tmodule2 /boot/vmlinuz-6.1 placeholder\n\t}\n}\n",
        );
        let native = &cfg.entries[0];
        let xen = &cfg.entries[1];
        assert!(loads_linux(native) && !loads_linux(xen));
        assert_eq!(entry_path(native), "Rocky Linux GNU/Linux, with Linux 6.1");
        let path = entry_path(xen);
        assert_eq!(
            path,
            "Advanced>Rocky Linux GNU/Linux, with Xen 4.17 and Linux 6.1"
        );
        assert!(
            cfg.find(&path).is_some_and(|e| e.xen().is_some()),
            "GRUB's submenu>entry form resolves"
        );
    }
}
