//! Kernel images: ELF `vmlinux`, or a bzImage whose compressed payload is one.

pub mod bzimage;
pub mod cache;
pub mod decompress;
pub mod elf;

pub use elf::{ElfKernel, XenNotes};

/// Why a kernel or ramdisk could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error(
        "{what} {path}: {source} (check the path in the domain file; relative paths are \
             taken from the current directory, as xl does)"
    )]
    Read {
        /// "kernel" or "ramdisk".
        what: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Neither ELF nor bzImage.
    #[error(
        "kernel {path} is not a kernel: neither an ELF image nor a bzImage (first bytes \
             {head}); give `kernel=` a vmlinux or vmlinuz"
    )]
    NotAKernel {
        /// The path.
        path: String,
        /// Its first bytes in hex.
        head: String,
    },
    /// An ELF image for another architecture.
    #[error("kernel {what} is built for {found}, but Xen x86 guests need an x86_64 kernel")]
    WrongArch {
        /// The image.
        what: String,
        /// What it is built for.
        found: String,
    },
    /// A malformed ELF image.
    #[error("kernel {what}: malformed ELF: {why}")]
    BadElf {
        /// The image.
        what: String,
        /// What is wrong.
        why: String,
    },
    /// A malformed bzImage.
    #[error("kernel {what}: malformed bzImage: {why}")]
    BadBzImage {
        /// The image.
        what: String,
        /// What is wrong.
        why: String,
    },
    /// The payload did not decompress.
    #[error("kernel payload ({format}) does not decompress: {why}")]
    Decompress {
        /// The compression.
        format: &'static str,
        /// The decoder's message.
        why: String,
    },
}

/// Image bytes: read into memory, or the file mapped read-only (a vmlinux is ~60 MiB: mapping
/// it saves a copy and the page faults of a fresh buffer, which are slow in a nested dom0).
#[derive(Debug)]
pub enum Bytes {
    /// In memory (decompressed payloads, tests).
    Owned(Vec<u8>),
    /// A private read-only file mapping, for parsing, and the file itself, for bulk copies:
    /// [`Bytes::copy_to`] reads the file (`pread`) straight into the destination, so the
    /// ~500 page faults of touching a whole vmlinux through the mapping never happen (each
    /// costs ~1 ms in a PV dom0 under emulation).
    Mapped {
        /// The mapping.
        map: memmap2::Mmap,
        /// The mapped file.
        file: std::fs::File,
    },
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped { map, .. } => map,
        }
    }
}

impl Bytes {
    /// Copies `dst.len()` bytes from `offset` into `dst`. Panics if the range lies beyond the
    /// end, as slicing would.
    pub fn copy_to(&self, offset: usize, dst: &mut [u8]) {
        let end = offset + dst.len();
        if let Bytes::Mapped { file, map } = self {
            assert!(end <= map.len(), "copy beyond the end of the image");
            match std::os::unix::fs::FileExt::read_exact_at(file, dst, offset as u64) {
                Ok(()) => return,
                // Cannot happen with a regular file we hold open; the mapping still works.
                Err(e) => {
                    tracing::debug!("pread of the image failed ({e}); copying from the mapping");
                }
            }
        }
        dst.copy_from_slice(&self[offset..end]);
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes::Owned(v)
    }
}

/// Maps a file named by the domain config (empty files are read: they cannot be mapped).
pub fn map_file(what: &'static str, path: &str) -> Result<Bytes, ImageError> {
    let err = |source| ImageError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(err)?;
    if f.metadata().map_err(err)?.len() == 0 {
        return Ok(Bytes::Owned(Vec::new()));
    }
    // SAFETY: a private read-only mapping; the bytes are only read while `Bytes` lives. As
    // with libxenguest's own file mapping, the boot images must not be rewritten while a
    // domain is being built from them.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(err)?;
    Ok(Bytes::Mapped { map, file: f })
}

/// Reads a file named by the domain config.
pub fn read_file(what: &'static str, path: &str) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|source| ImageError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Loads a kernel: ELF as is, a bzImage through its decompressed ELF payload.
pub fn load_kernel(path: &str) -> Result<ElfKernel, ImageError> {
    let bytes = map_file("kernel", path)?;
    if bzimage::is_bzimage(&bytes)
        && let Some(dir) = cache::dir()
    {
        if let Some(elf) = cache::lookup(&dir, path) {
            tracing::debug!(kernel = path, "unpacked kernel from the cache");
            return ElfKernel::parse(elf, &format!("{path} (cached payload)"));
        }
        let (inner, c) = bzimage::payload(&bytes, path)?;
        let k = ElfKernel::parse(inner, &format!("{path} ({} payload)", c.name()))?;
        cache::store(&dir, path, &k.bytes);
        return Ok(k);
    }
    kernel_from_bytes(bytes, path)
}

/// [`load_kernel`] on bytes already read.
pub fn kernel_from_bytes(bytes: impl Into<Bytes>, path: &str) -> Result<ElfKernel, ImageError> {
    let bytes = bytes.into();
    if elf::is_elf(&bytes) {
        return ElfKernel::parse(bytes, path);
    }
    if bzimage::is_bzimage(&bytes) {
        let (inner, c) = bzimage::payload(&bytes, path)?;
        tracing::debug!(
            kernel = path,
            compression = c.name(),
            size = inner.len(),
            "bzImage payload"
        );
        return ElfKernel::parse(inner, &format!("{path} ({} payload)", c.name()));
    }
    let head = bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    Err(ImageError::NotAKernel {
        path: path.to_owned(),
        head: if head.is_empty() {
            "none: the file is empty".into()
        } else {
            head
        },
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_bzimage_yields_its_elf() {
        let elf = elf::testelf::build(b"k", 0, &[], 62);
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(&elf).expect("xz");
        let img = bzimage::test_image(&e.finish().expect("xz"));
        let k = kernel_from_bytes(img, "vmlinuz").expect("kernel");
        assert_eq!(k.segments.len(), 1);
    }

    #[test]
    fn mapped_and_owned_bytes_copy_the_same_range() {
        let path = std::env::temp_dir().join(format!("rxl-bytes-{}", std::process::id()));
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let mapped = map_file("kernel", path.to_str().expect("utf-8")).expect("map");
        assert!(matches!(mapped, Bytes::Mapped { .. }));
        let owned = Bytes::from(data.clone());
        for (off, len) in [(0, 20_000), (4095, 5000), (19_999, 1), (7, 0)] {
            let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
            mapped.copy_to(off, &mut a);
            owned.copy_to(off, &mut b);
            assert_eq!(a, &data[off..off + len]);
            assert_eq!(b, a);
        }
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn text_is_not_a_kernel() {
        let e = kernel_from_bytes(b"#!/bin/sh\n".to_vec(), "/boot/x").expect_err("text");
        let s = e.to_string();
        assert!(s.contains("not a kernel") && s.contains("23 21"), "{s}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = load_kernel("/nonexistent/vmlinuz").expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/vmlinuz"), "{e}");
    }
}
