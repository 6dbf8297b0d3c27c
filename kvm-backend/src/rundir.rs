//! The run directory (/run/rxl/kvm by default): one state file, control socket and console
//! log per VM, named by its domain id. The state file is what `rxl list` reads, so a VM whose
//! VMM died is still found — and reported dead — until it is destroyed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default location of the run directory.
pub const DEFAULT_RUN_DIR: &str = "/run/rxl/kvm";
/// Environment variable overriding [`DEFAULT_RUN_DIR`] (tests use a temporary directory).
pub const RUN_DIR_ENV: &str = "RXL_KVM_RUN_DIR";

/// Failures reading or writing the run directory.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A state file is not valid JSON.
    #[error("{path}: corrupt state file: {source} (remove it if no VMM is running)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// Another VM already has this name.
    #[error(
        "a KVM domain named '{0}' already exists (see `rxl list`; destroy it or pick another name=)"
    )]
    NameTaken(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a running VMM records about its VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    /// Domain id.
    pub id: u32,
    /// Domain name.
    pub name: String,
    /// PID of the `rxl-kvm` process.
    pub pid: u32,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// vCPUs.
    pub vcpus: u8,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The directory named by `RXL_KVM_RUN_DIR`, else /run/rxl/kvm.
    pub fn from_env() -> RunDir {
        RunDir::new(
            std::env::var_os(RUN_DIR_ENV).map_or_else(|| DEFAULT_RUN_DIR.into(), PathBuf::from),
        )
    }

    /// A run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state file of domain `id`.
    pub fn state_path(&self, id: u32) -> PathBuf {
        self.root.join(format!("{id}.json"))
    }

    /// The control socket of domain `id`.
    pub fn socket_path(&self, id: u32) -> PathBuf {
        self.root.join(format!("{id}.sock"))
    }

    /// The console log of domain `id`.
    pub fn console_path(&self, id: u32) -> PathBuf {
        self.root.join(format!("{id}.console"))
    }

    /// The VM spec the VMM of domain `id` was started with.
    pub fn spec_path(&self, id: u32) -> PathBuf {
        self.root.join(format!("{id}.spec.json"))
    }

    /// Creates the directory (mode 0700: sockets there control VMs).
    pub fn ensure(&self) -> Result<(), RunDirError> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io(&self.root))
    }

    /// Every recorded VM, ordered by id.
    pub fn records(&self) -> Result<Vec<VmRecord>, RunDirError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.root)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&self.root))?.path();
            let is_state = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .is_some_and(|stem| stem.parse::<u32>().is_ok());
            if !is_state {
                continue;
            }
            let text = match fs::read_to_string(&path) {
                Ok(t) => t,
                // Removed between readdir and open: the VM just went away.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path)(e)),
            };
            let rec = serde_json::from_str(&text).map_err(|source| RunDirError::Corrupt {
                path: path.clone(),
                source,
            })?;
            out.push(rec);
        }
        out.sort_by_key(|r: &VmRecord| r.id);
        Ok(out)
    }

    /// Reserves the lowest free id ≥ 1 for `name` by creating its state file exclusively;
    /// fails if the name is taken.
    pub fn reserve(&self, name: &str, memory_mib: u64, vcpus: u8) -> Result<VmRecord, RunDirError> {
        self.ensure()?;
        let existing = self.records()?;
        if existing.iter().any(|r| r.name == name) {
            return Err(RunDirError::NameTaken(name.to_string()));
        }
        let mut id = 1;
        loop {
            if existing.iter().any(|r| r.id == id) {
                id += 1;
                continue;
            }
            let rec = VmRecord {
                id,
                name: name.to_string(),
                pid: 0,
                memory_mib,
                vcpus,
            };
            let path = self.state_path(id);
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let text = serde_json::to_string(&rec).unwrap_or_default();
                    if let Err(e) = f.write_all(text.as_bytes()) {
                        let _ = fs::remove_file(&path);
                        return Err(io(&path)(e));
                    }
                    return Ok(rec);
                }
                // Lost a race with another create: try the next id.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => id += 1,
                Err(e) => return Err(io(&path)(e)),
            }
        }
    }

    /// Rewrites `rec` atomically (temporary file + rename), so readers never see half a file.
    pub fn write(&self, rec: &VmRecord) -> Result<(), RunDirError> {
        let path = self.state_path(rec.id);
        let tmp = self.root.join(format!(".{}.json.tmp", rec.id));
        let text = serde_json::to_string(rec).unwrap_or_default();
        fs::write(&tmp, text).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&path)(e)
        })
    }

    /// Removes everything recorded for domain `id` (missing files are fine).
    pub fn remove(&self, id: u32) {
        for p in [
            self.socket_path(id),
            self.console_path(id),
            self.spec_path(id),
            self.state_path(id),
        ] {
            let _ = fs::remove_file(p);
        }
    }
}

/// Whether process `pid` exists.
pub fn pid_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_picks_lowest_free_id_and_refuses_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let rd = RunDir::new(dir.path().join("kvm"));
        let a = rd.reserve("a", 64, 1).unwrap();
        let b = rd.reserve("b", 64, 1).unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert!(matches!(
            rd.reserve("a", 64, 1),
            Err(RunDirError::NameTaken(_))
        ));
        rd.remove(1);
        assert_eq!(rd.reserve("c", 64, 1).unwrap().id, 1);
        let mut c = rd.records().unwrap()[0].clone();
        c.pid = 42;
        rd.write(&c).unwrap();
        assert_eq!(rd.records().unwrap()[0].pid, 42);
    }

    #[test]
    fn corrupt_state_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let rd = RunDir::new(dir.path());
        std::fs::write(rd.state_path(3), "{not json").unwrap();
        let e = rd.records().unwrap_err().to_string();
        assert!(e.contains("3.json") && e.contains("corrupt"), "{e}");
    }
}
