//! State across restarts: the tree, domains, targets, quotas and special-node permissions
//! are dumped to a JSON file on SIGTERM and reloaded on start.
//!
//! The watches of rings are kept too (by domain): a guest's xenbus, or dom0's kernel
//! backends, register theirs once and carry on over the re-attached ring unaware of the
//! restart. Socket connections, their watches and open transactions are not kept: those
//! clients are gone after a restart anyway (and reconnect); a live update
//! ([`super::liveupdate`]) hands this same dump over together with the connections. The dump is written to a temporary file,
//! synced and renamed, so a crash mid-dump leaves the previous state intact.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::domain::Domain;
use super::handler::Daemon;
use super::quota::Quotas;
use super::watch::Watch;
use crate::wire::Perms;

/// Errors reading or writing the state file.
#[derive(Debug, Error)]
pub enum PersistError {
    /// The file could not be read or written.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a state dump (corrupt or from another program).
    #[error(
        "state file {path}: line {line}, column {column}: {msg}; move it away to start with an empty store"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        msg: String,
    },
}

#[derive(Serialize, Deserialize)]
struct NodeDump {
    path: String,
    /// Hex, so values stay binary-safe.
    value: String,
    perms: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Dump {
    version: u32,
    nodes: Vec<NodeDump>,
    domains: Vec<Domain>,
    targets: BTreeMap<u32, u32>,
    quotas: BTreeMap<String, u32>,
    special_perms: BTreeMap<String, Vec<String>>,
    /// Watches of rings, by domain (absent in dumps from before they were kept).
    #[serde(default)]
    ring_watches: BTreeMap<u32, Vec<WatchDump>>,
}

/// One ring watch in the dump.
#[derive(Serialize, Deserialize)]
struct WatchDump {
    path: String,
    token: String,
    depth: Option<u32>,
    strip: Option<String>,
}

/// Bytes as lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hex back to bytes (`None` if it is not hex).
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes `d`'s persistent state to `path` atomically.
pub fn save(d: &Daemon, path: &Path) -> Result<(), PersistError> {
    let text = encode(d).map_err(|source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    write_bytes(&text, path)
}

/// `d`'s persistent state as the state file holds it (a live update hands it over).
pub fn encode(d: &Daemon) -> Result<Vec<u8>, std::io::Error> {
    let dump = Dump {
        version: 1,
        nodes: d
            .store
            .walk()
            .into_iter()
            .map(|(p, n)| NodeDump {
                path: p.to_string(),
                value: hex(&n.value),
                perms: n.perms.to_strings(),
            })
            .collect(),
        domains: d.domains.values().cloned().collect(),
        targets: d.targets.iter().map(|(a, b)| (*a, *b)).collect(),
        quotas: d.quotas.global().clone(),
        special_perms: d
            .special_perms
            .iter()
            .map(|(k, v)| (k.clone(), v.to_strings()))
            .collect(),
        ring_watches: d
            .ring_watches
            .iter()
            .map(|(domid, ws)| {
                let ws = ws
                    .iter()
                    .map(|w| WatchDump {
                        path: w.path.clone(),
                        token: w.token.clone(),
                        depth: w.depth,
                        strip: w.strip.clone(),
                    })
                    .collect();
                (*domid, ws)
            })
            .collect(),
    };
    serde_json::to_vec(&dump).map_err(std::io::Error::other)
}

/// Writes an [`encode`]d state to `path` atomically (temporary file, sync, rename).
pub fn write_bytes(text: &[u8], path: &Path) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    let written = f.write_all(text).and_then(|_| f.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    fs::rename(&tmp, path).map_err(io)
}

/// Loads a daemon from `path`; `Ok(None)` if the file does not exist.
pub fn load(path: &Path, quotas: Quotas) -> Result<Option<Daemon>, PersistError> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    decode(&text, path, quotas).map(Some)
}

/// A daemon from an [`encode`]d state; `origin` names it in errors.
pub fn decode(text: &[u8], origin: &Path, mut quotas: Quotas) -> Result<Daemon, PersistError> {
    let path = origin;
    let fmt = |line, column, msg: String| PersistError::Format {
        path: path.to_path_buf(),
        line,
        column,
        msg,
    };
    let dump: Dump =
        serde_json::from_slice(text).map_err(|e| fmt(e.line(), e.column(), e.to_string()))?;
    if dump.version != 1 {
        return Err(fmt(1, 1, format!("unsupported version {}", dump.version)));
    }
    for (k, v) in &dump.quotas {
        quotas.set(None, k, *v);
    }
    let mut d = Daemon::new(quotas);
    for (i, n) in dump.nodes.iter().enumerate() {
        let bad = |what: &str| fmt(1, 1, format!("node {} ({}): {what}", i, n.path));
        let value = unhex(&n.value).ok_or_else(|| bad("value is not hex"))?;
        let perms =
            Perms::parse(n.perms.iter().map(String::as_str)).map_err(|e| bad(&e.to_string()))?;
        if super::path::canonical(0, &n.path, false).is_err()
            || !d.store.upsert(&n.path, Some(value), Some(perms))
        {
            return Err(bad("invalid path or missing parent"));
        }
    }
    for dom in dump.domains {
        d.domains.insert(dom.domid, dom);
    }
    d.targets = dump.targets.into_iter().collect();
    for (k, v) in dump.special_perms {
        if let Ok(p) = Perms::parse(v.iter().map(String::as_str)) {
            d.special_perms.insert(k, p);
        }
    }
    d.ring_watches = dump
        .ring_watches
        .into_iter()
        .map(|(domid, ws)| {
            let ws = ws
                .into_iter()
                .map(|w| Watch {
                    path: w.path,
                    token: w.token,
                    depth: w.depth,
                    strip: w.strip,
                })
                .collect();
            (domid, ws)
        })
        .collect();
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    #[test]
    fn round_trip_keeps_tree_and_domains() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("state.json");
        let mut d = Daemon::default();
        d.connect(1, 0, true);
        for (ty, payload) in [
            (11u32, &b"/a/b\0\x00\xffbin"[..]),
            (14, b"/a\0r0\0b5\0"),
            (8, b"5\x00123\x004\x00"),
            (26, b"nodes\x00500\x00"),
        ] {
            let fx = d.handle(1, &Message::new(ty, 0, 0, payload.to_vec()).unwrap());
            assert!(
                matches!(&fx[0], crate::daemon::handler::Effect::Send(_, m) if m.payload == b"OK\0"),
                "{fx:?}"
            );
        }
        save(&d, &f).unwrap();
        let e = load(&f, Quotas::default()).unwrap().unwrap();
        assert_eq!(e.store.get("/a/b").unwrap().value, b"\x00\xffbin");
        assert_eq!(e.store.get("/a").unwrap().perms.to_strings(), ["r0", "b5"]);
        assert_eq!(e.domains.get(&5).unwrap().gfn, 123);
        assert_eq!(e.quotas.get(None, "nodes"), Some(500));
        assert!(e.ring_watches.is_empty());
        assert!(
            load(&dir.path().join("none"), Quotas::default())
                .unwrap()
                .is_none()
        );
        fs::write(&f, "{\n  \"version\": oops").unwrap();
        let err = load(&f, Quotas::default()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn ring_watches_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("state.json");
        let mut d = Daemon::default();
        let w = Watch {
            path: "/local/domain/5/control/shutdown".into(),
            token: "FFFF8880".into(),
            depth: None,
            strip: Some("/local/domain/5".into()),
        };
        d.ring_watches.insert(5, vec![w.clone()]);
        save(&d, &f).unwrap();
        let mut e = load(&f, Quotas::default()).unwrap().unwrap();
        assert_eq!(e.ring_watches.get(&5), Some(&vec![w.clone()]));
        // The ring attached again as connection 9 gets them back, once.
        e.connect(9, 5, false);
        e.restore_ring_watches(9);
        assert_eq!(e.watches_of(9), [w]);
        assert!(e.ring_watches.is_empty());
        // A dump from before ring watches were kept still loads.
        let old = fs::read_to_string(&f).unwrap();
        let old = old.replace(r#","ring_watches":{"5":[{"path":"/local/domain/5/control/shutdown","token":"FFFF8880","depth":null,"strip":"/local/domain/5"}]}"#, "");
        assert!(!old.contains("ring_watches"), "{old}");
        fs::write(&f, old).unwrap();
        assert!(
            load(&f, Quotas::default())
                .unwrap()
                .unwrap()
                .ring_watches
                .is_empty()
        );
    }
}
