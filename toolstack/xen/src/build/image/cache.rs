//! A cache of decompressed bzImage payloads.
//!
//! Unpacking Debian's xz kernel costs seconds in a loaded or nested dom0 (~4.6 s in the lab)
//! and is the same work on every create and every restart of a guest. The ELF payload is kept
//! under `/var/cache/rxl/kernels/` (`RXL_KERNEL_CACHE` overrides the directory; `off`
//! disables the cache), named after the image's path, size, modification time and inode, and
//! written atomically (temporary file + rename), so a changed kernel never matches a stale
//! entry and a crash never leaves a partial one. The newest [`KEEP`] entries are kept.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Bytes, map_file};

/// The variable naming the cache directory (`off` disables it).
pub const ENV: &str = "RXL_KERNEL_CACHE";
/// Default directory.
pub const DEFAULT_DIR: &str = "/var/cache/rxl/kernels";
/// Entries kept.
pub const KEEP: usize = 4;

/// The cache directory in effect, if any.
pub fn dir() -> Option<PathBuf> {
    match std::env::var(ENV) {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => Some(PathBuf::from(DEFAULT_DIR)),
    }
}

/// The entry name for image `path`, or `None` if it cannot be stat'ed.
pub fn key(path: &str) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(path).ok()?.hash(&mut h);
    (m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.dev()).hash(&mut h);
    Some(format!("{:016x}.elf", h.finish()))
}

/// The cached payload of `path`, if present.
pub fn lookup(dir: &Path, path: &str) -> Option<Bytes> {
    let entry = dir.join(key(path)?);
    let b = map_file("kernel cache entry", entry.to_str()?).ok()?;
    (!b.is_empty()).then_some(b)
}

/// Stores the payload of `path`; failures only cost the next create the unpacking again, so
/// they are logged, not returned.
pub fn store(dir: &Path, path: &str, payload: &[u8]) {
    let Some(k) = key(path) else { return };
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{k}.{}", std::process::id()));
        std::fs::write(&tmp, payload)?;
        std::fs::rename(&tmp, dir.join(&k)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        prune(dir)
    })();
    if let Err(e) = result {
        tracing::warn!(dir = %dir.display(), "could not cache the unpacked kernel: {e}");
    }
}

/// Keeps the newest [`KEEP`] entries.
fn prune(dir: &Path) -> std::io::Result<()> {
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".elf"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, p) in entries.into_iter().skip(KEEP) {
        std::fs::remove_file(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_follow_the_image() {
        let d = std::env::temp_dir().join(format!("rxl-kcache-{}", std::process::id()));
        let img = d.join("vmlinuz");
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(&img, b"image v1").expect("write");
        let cache = d.join("cache");
        let p = img.to_str().expect("utf-8");
        assert!(lookup(&cache, p).is_none());
        store(&cache, p, b"\x7fELF payload v1");
        assert_eq!(&*lookup(&cache, p).expect("cached"), b"\x7fELF payload v1");
        // A rewritten image (other size) misses the old entry.
        std::fs::write(&img, b"image v2, longer").expect("write");
        assert!(lookup(&cache, p).is_none());
        for i in 0..KEEP + 2 {
            std::fs::write(&img, vec![b'x'; 10 + i]).expect("write");
            store(&cache, p, b"payload");
        }
        let n = std::fs::read_dir(&cache).expect("read").count();
        assert_eq!(n, KEEP);
        std::fs::remove_dir_all(&d).ok();
    }
}
