//! The GRUB environment block: `saved_entry`, the entry `GRUB_DEFAULT=saved` boots (the
//! RHEL-family default), edited with the distribution's own `grub2-editenv`/`grub-editenv` —
//! what `grub2-set-default` runs — so the 1 KiB block keeps the exact format GRUB's `load_env`
//! reads. Also the BootLoaderSpec entries that native kernels have on Fedora/RHEL 8+.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::boot::version_cmp;
use crate::distro::{self, Layout};

/// `grubenv`'s `saved_entry` variable.
pub const SAVED_ENTRY: &str = "saved_entry";
/// BootLoaderSpec snippets, relative to the root.
pub const BLS_ENTRIES: &str = "boot/loader/entries";

/// Running the environment-block editor failed.
#[derive(Debug, thiserror::Error)]
#[error("{tool} failed: {message}; check that {path} is writable and is a GRUB environment block")]
pub struct GrubenvError {
    /// The command.
    pub tool: String,
    /// The environment block.
    pub path: PathBuf,
    /// Its error output.
    pub message: String,
}

/// One `grub-editenv` run, ready to show (`--dry-run`) or execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCommand {
    /// What it does, for people.
    pub description: String,
    /// The command line (through `chroot ROOT` when the tool belongs to another root).
    pub argv: Vec<String>,
    /// The environment block, as seen from here.
    pub path: PathBuf,
}

/// A variable of `root`'s grubenv.
pub fn get(root: &Path, layout: &Layout, name: &str) -> Option<String> {
    let env = fs::read_to_string(root.join(&layout.grubenv)).ok()?;
    let prefix = format!("{name}=");
    env.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::to_owned)
}

/// `saved_entry` from `root`'s grubenv.
pub fn saved_entry(root: &Path, layout: &Layout) -> Option<String> {
    get(root, layout, SAVED_ENTRY)
}

/// The command that sets (`Some`) or unsets (`None`) `saved_entry`. The root's own editenv
/// runs inside it with `chroot`; without one, the host's (the same program on every
/// distribution) edits the file through the root's path.
pub fn set_saved_entry(root: &Path, layout: &Layout, value: Option<&str>) -> EnvCommand {
    let env_in_root = Path::new("/").join(&layout.grubenv);
    let path = root.join(&layout.grubenv);
    let in_root = [layout.editenv, "grub-editenv"]
        .iter()
        .find_map(|t| distro::find_tool(root, t));
    let mut argv: Vec<String> = match in_root {
        Some(tool) if root != Path::new("/") => vec![
            "chroot".into(),
            root.display().to_string(),
            tool.display().to_string(),
            env_in_root.display().to_string(),
        ],
        found => {
            let tool = found
                .or_else(|| distro::find_tool(Path::new("/"), layout.editenv))
                .or_else(|| distro::find_tool(Path::new("/"), "grub-editenv"))
                .map_or_else(|| layout.editenv.to_owned(), |p| p.display().to_string());
            vec![tool, path.display().to_string()]
        }
    };
    let description = match value {
        Some(v) => {
            argv.extend(["set".into(), format!("{SAVED_ENTRY}={v}")]);
            format!("set {SAVED_ENTRY}=\"{v}\" in {}", env_in_root.display())
        }
        None => {
            argv.extend(["unset".into(), SAVED_ENTRY.into()]);
            format!("unset {SAVED_ENTRY} in {}", env_in_root.display())
        }
    };
    EnvCommand {
        description,
        argv,
        path,
    }
}

impl EnvCommand {
    /// Runs it.
    pub fn run(&self) -> Result<(), GrubenvError> {
        let err = |message: String| GrubenvError {
            tool: self.argv.join(" "),
            path: self.path.clone(),
            message,
        };
        let out = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| err(e.to_string()))?;
        if !out.status.success() {
            return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        Ok(())
    }
}

/// The id (file name without `.conf`, which is what `blscfg` uses as the entry id) of the
/// newest non-rescue BootLoaderSpec entry: the native kernel grubby makes the default.
pub fn newest_bls_entry(root: &Path) -> Option<String> {
    let dir = fs::read_dir(root.join(BLS_ENTRIES)).ok()?;
    let mut entries: Vec<(String, String)> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .filter_map(|p| {
            let id = p.file_stem()?.to_string_lossy().into_owned();
            let text = fs::read_to_string(&p).ok()?;
            let version = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("version"))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| id.clone());
            Some((version, id))
        })
        .filter(|(_, id)| !id.contains("rescue"))
        .collect();
    entries.sort_by(|a, b| version_cmp(&b.0, &a.0));
    entries.into_iter().next().map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_bls_entry_skips_rescue() {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join(BLS_ENTRIES);
        fs::create_dir_all(&e).unwrap();
        for (id, v) in [
            ("abc-5.14.0-70.el9.x86_64", "5.14.0-70.el9.x86_64"),
            ("abc-5.14.0-427.el9.x86_64", "5.14.0-427.el9.x86_64"),
            ("abc-0-rescue", "0-rescue"),
        ] {
            fs::write(
                e.join(format!("{id}.conf")),
                format!("title x\nversion {v}\n"),
            )
            .unwrap();
        }
        fs::write(e.join("README"), "not an entry").unwrap();
        assert_eq!(
            newest_bls_entry(d.path()).as_deref(),
            Some("abc-5.14.0-427.el9.x86_64")
        );
        assert_eq!(newest_bls_entry(&d.path().join("none")), None);
    }

    #[test]
    fn commands_run_in_the_root_or_on_the_host() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("boot/grub2")).unwrap();
        fs::write(d.path().join("etc-redhat"), "").unwrap();
        let layout = crate::distro::Layout {
            family: crate::distro::Family::RedHat,
            grub_cfg: "boot/grub2/grub.cfg".into(),
            grubenv: "boot/grub2/grubenv".into(),
            mkconfig: "grub2-mkconfig",
            script_check: "grub2-script-check",
            editenv: "grub2-editenv",
            xen_snippet: false,
            bls: false,
        };
        let c = set_saved_entry(d.path(), &layout, None);
        assert_eq!(c.argv[c.argv.len() - 2..], ["unset", "saved_entry"]);
        assert_eq!(
            c.argv[1],
            d.path().join("boot/grub2/grubenv").display().to_string()
        );
        let tool = d.path().join("usr/sbin/grub2-editenv");
        fs::create_dir_all(tool.parent().unwrap()).unwrap();
        fs::write(&tool, "").unwrap();
        let c = set_saved_entry(d.path(), &layout, Some("A>B"));
        assert_eq!(
            c.argv,
            [
                "chroot",
                &d.path().display().to_string(),
                "/usr/sbin/grub2-editenv",
                "/boot/grub2/grubenv",
                "set",
                "saved_entry=A>B"
            ]
        );
        assert!(c.description.contains("saved_entry=\"A>B\""));
    }
}
