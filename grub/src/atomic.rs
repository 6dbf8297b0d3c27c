//! Writing configuration files so that a crash or an error never leaves a half-written file.
//!
//! Every change in a [`ChangeSet`] is first written to a temporary file in the target's own
//! directory and fsynced; only when all of them are staged is the previous content saved as
//! `<file>.bak` and each temporary file renamed over its target, and the directory fsynced. If
//! any step fails, staged files are removed and targets already replaced get their old content
//! back, so the set is applied all together or not at all (short of a crash between renames).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file write that failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot {op}: {source}; nothing was changed (check permissions and free space)")]
pub struct WriteError {
    /// The file concerned.
    pub path: PathBuf,
    /// What we were doing.
    pub op: &'static str,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// One file's old and new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The file.
    pub path: PathBuf,
    /// Its content now, `None` if it does not exist.
    pub old: Option<String>,
    /// The content to write.
    pub new: String,
}

impl FileChange {
    /// A unified diff of the change (`--- a/…`, `+++ b/…`), empty when nothing changes.
    pub fn diff(&self) -> String {
        if self.old.as_deref() == Some(self.new.as_str()) {
            return String::new();
        }
        let name = self.path.display().to_string();
        let old_name = if self.old.is_some() {
            format!("a{name}")
        } else {
            "/dev/null".into()
        };
        similar::TextDiff::from_lines(self.old.as_deref().unwrap_or(""), &self.new)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &format!("b{name}"))
            .to_string()
    }
}

/// Changes to several files, written together.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    changes: Vec<FileChange>,
}

impl ChangeSet {
    /// An empty set.
    pub fn new() -> Self {
        ChangeSet::default()
    }

    /// Adds a change, replacing an earlier one to the same file (the old content of the first is
    /// kept). Changes that change nothing are dropped.
    pub fn add(&mut self, change: FileChange) {
        if let Some(prev) = self.changes.iter_mut().find(|c| c.path == change.path) {
            prev.new = change.new;
        } else {
            self.changes.push(change);
        }
        self.changes
            .retain(|c| c.old.as_deref() != Some(c.new.as_str()));
    }

    /// The pending changes.
    pub fn changes(&self) -> &[FileChange] {
        &self.changes
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The unified diff of every change.
    pub fn diff(&self) -> String {
        self.changes.iter().map(FileChange::diff).collect()
    }

    /// Writes every change atomically, keeping `<file>.bak` copies of replaced files.
    pub fn commit(&self) -> Result<(), WriteError> {
        let mut staged = Vec::new();
        for c in &self.changes {
            // Refuse to overwrite a file someone else changed since we read it.
            let now = read_optional(&c.path)?;
            if now != c.old {
                return Err(WriteError {
                    path: c.path.clone(),
                    op: "update it safely",
                    source: io::Error::other("it changed while rxl was editing it; run rxl again"),
                });
            }
            staged.push(stage(&c.path, &c.new)?);
        }
        let mut done: Vec<&FileChange> = Vec::new();
        for (c, tmp) in self.changes.iter().zip(staged) {
            let result = c
                .old
                .as_deref()
                .map_or(Ok(()), |old| {
                    replace(&backup_path(&c.path), stage(&c.path, old)?)
                })
                .and_then(|()| replace(&c.path, tmp));
            if let Err(e) = result {
                for d in done.into_iter().rev() {
                    // Best effort: put back what we already replaced.
                    let _ = restore(d);
                }
                return Err(e);
            }
            done.push(c);
        }
        Ok(())
    }

    /// Puts back the old content of every file after a [`ChangeSet::commit`] (best effort, for
    /// rolling back when a later step of the same operation fails; the `.bak` copies stay).
    pub fn revert(&self) {
        for c in self.changes.iter().rev() {
            let _ = restore(c);
        }
    }
}

/// `<file>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// Reads a file that may not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, WriteError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WriteError {
            path: path.to_owned(),
            op: "read it",
            source,
        }),
    }
}

/// Writes `content` to a synced temporary file next to `path`, with `path`'s mode and owner.
pub fn stage(path: &Path, content: &str) -> Result<NamedTempFile, WriteError> {
    let err = |op, source| WriteError {
        path: path.to_owned(),
        op,
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.rxl-"))
        .tempfile_in(dir)
        .map_err(|e| err("create a temporary file in its directory", e))?;
    tmp.write_all(content.as_bytes())
        .map_err(|e| err("write", e))?;
    match fs::metadata(path) {
        Ok(meta) => {
            let f = tmp.as_file();
            f.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(|e| err("copy permissions", e))?;
            if meta.uid() != f.metadata().map_err(|e| err("stat", e))?.uid() {
                std::os::unix::fs::fchown(f, Some(meta.uid()), Some(meta.gid()))
                    .map_err(|e| err("copy ownership", e))?;
            }
        }
        Err(_) => tmp
            .as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(|e| err("set permissions", e))?,
    }
    tmp.as_file().sync_all().map_err(|e| err("fsync", e))?;
    Ok(tmp)
}

/// Renames a staged file over `path` and fsyncs the directory so the rename is durable.
pub fn replace(path: &Path, tmp: NamedTempFile) -> Result<(), WriteError> {
    tmp.persist(path).map_err(|e| WriteError {
        path: path.to_owned(),
        op: "rename into place",
        source: e.error,
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WriteError {
            path: dir.to_owned(),
            op: "fsync the directory",
            source,
        })
}

fn restore(c: &FileChange) -> Result<(), WriteError> {
    match &c.old {
        Some(old) => replace(&c.path, stage(&c.path, old)?),
        None => fs::remove_file(&c.path).map_err(|source| WriteError {
            path: c.path.clone(),
            op: "remove",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_writes_backups_and_diff_shows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("grub");
        let b = dir.path().join("xl.conf");
        fs::write(&a, "A=1\nB=2\n").unwrap();
        fs::set_permissions(&a, fs::Permissions::from_mode(0o600)).unwrap();
        let mut set = ChangeSet::new();
        set.add(FileChange {
            path: a.clone(),
            old: Some("A=1\nB=2\n".into()),
            new: "A=1\nB=3\n".into(),
        });
        set.add(FileChange {
            path: b.clone(),
            old: None,
            new: "autoballoon=\"off\"\n".into(),
        });
        set.add(FileChange {
            path: dir.path().join("same"),
            old: Some("x".into()),
            new: "x".into(),
        });
        assert_eq!(set.changes().len(), 2, "no-op changes are dropped");
        let diff = set.diff();
        assert!(diff.contains("-B=2\n+B=3\n"), "{diff}");
        assert!(diff.contains("--- /dev/null"), "{diff}");
        set.commit().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "A=1\nB=3\n");
        assert_eq!(fs::read_to_string(backup_path(&a)).unwrap(), "A=1\nB=2\n");
        assert_eq!(fs::metadata(&a).unwrap().mode() & 0o777, 0o600, "mode kept");
        assert_eq!(fs::read_to_string(&b).unwrap(), "autoballoon=\"off\"\n");
        assert!(
            !backup_path(&b).exists(),
            "no backup of a file that did not exist"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".rxl-"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "no temporary files left: {leftovers:?}"
        );
    }

    #[test]
    fn failure_leaves_every_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("grub");
        fs::write(&a, "A=1\n").unwrap();
        let mut set = ChangeSet::new();
        set.add(FileChange {
            path: a.clone(),
            old: Some("A=1\n".into()),
            new: "A=2\n".into(),
        });
        // The second target's directory does not exist: staging fails before anything is renamed.
        set.add(FileChange {
            path: dir.path().join("missing/dir/f"),
            old: None,
            new: "x".into(),
        });
        let e = set.commit().unwrap_err();
        assert!(e.to_string().contains("missing/dir/f"), "{e}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "A=1\n");
        assert!(!backup_path(&a).exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn concurrent_edit_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("grub");
        fs::write(&a, "A=1\n").unwrap();
        let mut set = ChangeSet::new();
        set.add(FileChange {
            path: a.clone(),
            old: Some("A=0\n".into()),
            new: "A=2\n".into(),
        });
        assert!(
            set.commit()
                .unwrap_err()
                .to_string()
                .contains("changed while rxl")
        );
        assert_eq!(fs::read_to_string(&a).unwrap(), "A=1\n");
    }
}
