//! Booting a bzImage through its PVH entry: the compressed payload (the `vmlinux` ELF) is
//! unpacked on the host once and cached, so the guest skips its own decompressor.
//!
//! Why: the bzImage's decompressor runs inside the guest on every boot — for Debian's xz
//! kernel (8 MiB → 66 MiB) that is the largest single step of a boot under nested or
//! emulated virtualisation. Unpacked on the host and kept, it costs one decompression per
//! kernel file instead of one per boot; Xen's toolstack (and rxl-xen's PV builder) does the
//! same. The payload is used only when it is an ELF with the XEN_ELFNOTE_PHYS32_ENTRY note
//! (PVH entry, `CONFIG_PVH`), so the guest is booted the way Firecracker and Cloud Hypervisor
//! boot a `vmlinux`; any other image, or any failure, boots the bzImage as before.
//!
//! A boot never waits for the unpacking: on a cache miss the guest boots the bzImage (its own
//! decompressor) while a low-priority thread fills the cache for the next boot.
//!
//! Trade-off: the decompressor is also what randomises the kernel's base (KASLR), so a
//! kernel booted this way runs at its link address. `RXL_KERNEL_CACHE=off` keeps the
//! in-guest decompressor (and KASLR).
//!
//! Cache: `/var/cache/rxl/kernels/` for root, else `$XDG_CACHE_HOME/rxl/kernels` (or
//! `~/.cache/rxl/kernels`); `RXL_KERNEL_CACHE` overrides the directory. One entry
//! per image named after its path, size, modification time and inode, written atomically
//! (temporary file + rename), newest [`KEEP`] kept — the layout rxl-xen's cache uses.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The variable naming the cache directory (`off` disables unpacking).
pub const ENV: &str = "RXL_KERNEL_CACHE";
/// Default cache directory.
pub const DEFAULT_DIR: &str = "/var/cache/rxl/kernels";
/// Entries kept.
pub const KEEP: usize = 4;
/// The variable choosing the unpacking thread's priority: a nice value (0-19, default 10) or
/// `idle` (SCHED_IDLE: only CPU time nothing else wants).
pub const PRIORITY_ENV: &str = "RXL_UNPACK_PRIORITY";
/// Largest payload accepted after decompression (refuses decompression bombs).
const MAX_OUTPUT: u64 = 512 << 20;
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// The kernel file to load for `kernel`: the cached PVH `vmlinux` of a bzImage when there is
/// one, else `kernel` itself — and then, for a bzImage, the cache is filled in the background
/// (once per process). Never fails: a problem only costs the guest its own decompression, and
/// is reported on stderr.
pub fn boot_image(kernel: &Path) -> PathBuf {
    static STARTED: AtomicBool = AtomicBool::new(false);
    let Some(dir) = cache_dir() else {
        return kernel.to_path_buf();
    };
    if !is_bzimage(kernel) {
        return kernel.to_path_buf();
    }
    if let Some(entry) = cached(&dir, kernel) {
        return entry;
    }
    if !STARTED.swap(true, Ordering::SeqCst) {
        let kernel = kernel.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("unpack".into())
            .spawn(move || {
                // Nice 10: ~1/10 of a contended core, so the booting guest keeps the CPU but
                // the ~1 s of decompression still ends within a boot. Not nice 19 or
                // SCHED_IDLE: on a loaded host those starve for the whole life of a busy
                // guest and the cache never fills.
                lower_priority();
                if let Err(why) = unpacked(&dir, &kernel) {
                    eprintln!(
                        "rxl-kvm: {}: cannot unpack for a PVH boot, the guest keeps decompressing it: {why}",
                        kernel.display()
                    );
                }
            });
        // Without the thread the guest simply keeps decompressing its kernel.
        drop(spawned);
    }
    kernel.to_path_buf()
}

/// Lowers the calling thread's priority as [`PRIORITY_ENV`] says (nice 10 by default).
fn lower_priority() {
    let wanted = std::env::var(PRIORITY_ENV).unwrap_or_default();
    if wanted == "idle" {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler(2) on the calling thread (0), reading `param` only.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
            return;
        }
    }
    let nice = wanted.parse::<i32>().ok().filter(|n| (0..=19).contains(n));
    // SAFETY: setpriority(2) on the calling thread's own id; no memory is passed.
    unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS,
            libc::gettid() as libc::id_t,
            nice.unwrap_or(10),
        )
    };
}

fn is_bzimage(kernel: &Path) -> bool {
    let mut head = [0u8; 0x250];
    std::fs::File::open(kernel)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head[0x202..0x206] == *b"HdrS")
}

/// The cache entry of `kernel`, if one was made.
fn cached(dir: &Path, kernel: &Path) -> Option<PathBuf> {
    let entry = dir.join(key(kernel).ok()?);
    entry.metadata().is_ok_and(|m| m.len() > 0).then_some(entry)
}

fn cache_dir() -> Option<PathBuf> {
    match std::env::var(ENV) {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(PathBuf::from(v)),
        // A user in group kvm cannot write /var/cache: their own cache instead.
        // SAFETY: geteuid(2) has no preconditions and touches no memory.
        _ if unsafe { libc::geteuid() } != 0 => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("rxl/kernels")),
        _ => Some(PathBuf::from(DEFAULT_DIR)),
    }
}

fn key(kernel: &Path) -> std::io::Result<String> {
    let m = std::fs::metadata(kernel)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(kernel)?.hash(&mut h);
    (m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.dev()).hash(&mut h);
    Ok(format!("{:016x}.elf", h.finish()))
}

/// `Ok(None)`: not a bzImage with a PVH payload we can unpack (boot it as is).
fn unpacked(dir: &Path, kernel: &Path) -> Result<Option<PathBuf>, String> {
    if !is_bzimage(kernel) {
        return Ok(None);
    }
    if let Some(entry) = cached(dir, kernel) {
        return Ok(Some(entry));
    }
    let entry = dir.join(key(kernel).map_err(|e| e.to_string())?);
    let image = std::fs::read(kernel).map_err(|e| e.to_string())?;
    let Some(payload) = payload(&image) else {
        return Ok(None);
    };
    let Some(elf) = decompress(payload)? else {
        return Ok(None);
    };
    if !has_pvh_note(&elf) {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = entry.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, &elf).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &entry).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", entry.display())
    })?;
    prune(dir);
    Ok(Some(entry))
}

/// The compressed payload of a bzImage (boot protocol ≥ 2.08), or `None` for anything else.
fn payload(image: &[u8]) -> Option<&[u8]> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(image.get(o..o + 4)?.try_into().ok()?));
    if u32_at(0x202)? != 0x5372_6448
        || u16::from_le_bytes(image.get(0x206..0x208)?.try_into().ok()?) < 0x208
    {
        return None;
    }
    let setup_sects = match *image.get(0x1f1)? {
        0 => 4,
        n => usize::from(n),
    };
    let start = (setup_sects + 1) * 512 + u32_at(0x248)? as usize;
    let len = u32_at(0x24c)? as usize;
    image.get(start..start.checked_add(len)?)
}

/// Decompresses a payload; `Ok(None)` for a format this VMM does not unpack.
fn decompress(data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let bounded = |r: &mut dyn Read| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        r.take(MAX_OUTPUT + 1)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() as u64 > MAX_OUTPUT {
            return Err(format!("the payload exceeds {} MiB", MAX_OUTPUT >> 20));
        }
        Ok(out)
    };
    if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        xz(data).map(Some)
    } else if data.starts_with(&[0x1f, 0x8b]) {
        bounded(&mut flate2::read::GzDecoder::new(data)).map(Some)
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::new(data).map_err(|e| e.to_string())?;
        bounded(&mut d.single_frame()).map(Some)
    } else {
        Ok(None)
    }
}

/// liblzma to the end of the first stream: the kernel build appends the uncompressed size,
/// which xz2's `Read` adapters would reject as trailing garbage.
fn xz(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = xz2::stream::Stream::new_stream_decoder(u64::MAX, 0).map_err(|e| e.to_string())?;
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(8));
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(1 << 20));
        }
        let (in_before, out_before) = (s.total_in(), s.total_out());
        let rest = data.get(in_before as usize..).unwrap_or_default();
        let status = s
            .process_vec(rest, &mut out, xz2::stream::Action::Run)
            .map_err(|e| format!("xz: {e}"))?;
        if status == xz2::stream::Status::StreamEnd {
            return Ok(out);
        }
        if out.len() as u64 > MAX_OUTPUT {
            return Err(format!("the payload exceeds {} MiB", MAX_OUTPUT >> 20));
        }
        if s.total_in() == in_before && s.total_out() == out_before && out.len() < out.capacity() {
            return Err("xz: the stream is truncated".into());
        }
    }
}

/// Whether `elf` is an ELF64 with a `Xen` note of type XEN_ELFNOTE_PHYS32_ENTRY in a PT_NOTE
/// segment (what linux-loader looks for to choose the PVH entry).
fn has_pvh_note(elf: &[u8]) -> bool {
    let get = |o: usize, n: usize| elf.get(o..o + n);
    let u16_at = |o| get(o, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o| get(o, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let u64_at = |o| get(o, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    if get(0, 5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..usize::from(phnum)).any(|i| {
        let ph = phoff as usize + i * usize::from(phentsize);
        if u32_at(ph) != Some(4) {
            return false; // not PT_NOTE
        }
        let (Some(off), Some(size)) = (u64_at(ph + 8), u64_at(ph + 32)) else {
            return false;
        };
        let (mut o, end) = (off as usize, (off + size) as usize);
        while o + 12 <= end {
            let (Some(namesz), Some(descsz), Some(ty)) = (u32_at(o), u32_at(o + 4), u32_at(o + 8))
            else {
                return false;
            };
            let name = get(o + 12, namesz as usize);
            if ty == XEN_ELFNOTE_PHYS32_ENTRY && name == Some(b"Xen\0") {
                return true;
            }
            o += 12 + (namesz as usize).next_multiple_of(4) + (descsz as usize).next_multiple_of(4);
        }
        false
    })
}

/// Keeps the newest [`KEEP`] entries and drops temporary files older than an hour (left by
/// a VMM that exited while unpacking); a failure only leaves an extra file.
fn prune(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    let stale = |t: &std::time::SystemTime| t.elapsed().is_ok_and(|a| a.as_secs() > 3600);
    let (done, tmp): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(_, p)| p.extension().is_some_and(|x| x == "elf"));
    let old_tmp = tmp.into_iter().filter(|(t, _)| stale(t));
    for (_, p) in done.into_iter().skip(KEEP).chain(old_tmp) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A minimal ELF64 with one PT_NOTE segment holding a Xen note of type `ty`.
    fn elf_with_note(ty: u32) -> Vec<u8> {
        let mut e = vec![0u8; 0x40 + 0x38];
        e[..5].copy_from_slice(b"\x7fELF\x02");
        e[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        e[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        e[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let note_off = e.len() as u64;
        let mut note = Vec::new();
        for v in [4u32, 4, ty] {
            note.extend_from_slice(&v.to_le_bytes());
        }
        note.extend_from_slice(b"Xen\0");
        note.extend_from_slice(&0x100_0000u32.to_le_bytes());
        let ph = 0x40;
        e[ph..ph + 4].copy_from_slice(&4u32.to_le_bytes());
        e[ph + 8..ph + 16].copy_from_slice(&note_off.to_le_bytes());
        e[ph + 32..ph + 40].copy_from_slice(&(note.len() as u64).to_le_bytes());
        e.extend_from_slice(&note);
        e
    }

    /// A bzImage-shaped file: setup header magic and version, payload after one setup sector.
    fn bzimage(payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        b[0x1f1] = 1;
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        b[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(payload);
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        b
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn finds_the_pvh_note_only_when_present() {
        assert!(has_pvh_note(&elf_with_note(XEN_ELFNOTE_PHYS32_ENTRY)));
        assert!(!has_pvh_note(&elf_with_note(5)));
        assert!(!has_pvh_note(b"\x7fELF\x02"));
        assert!(!has_pvh_note(b"not an elf"));
    }

    #[test]
    fn unpacks_a_pvh_bzimage_once_and_reuses_the_entry() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("vmlinuz");
        let elf = elf_with_note(XEN_ELFNOTE_PHYS32_ENTRY);
        std::fs::write(&img, bzimage(&gz(&elf))).unwrap();
        let cache = d.path().join("cache");
        let got = unpacked(&cache, &img).unwrap().unwrap();
        assert_eq!(std::fs::read(&got).unwrap(), elf);
        // A second boot finds the entry without reading the image.
        std::fs::write(&got, b"cached").unwrap();
        assert_eq!(unpacked(&cache, &img).unwrap().unwrap(), got);
        assert_eq!(std::fs::read(&got).unwrap(), b"cached");
    }

    #[test]
    fn other_images_boot_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        // No PVH note: the bzImage's own entry is used.
        let img = d.path().join("nopvh");
        std::fs::write(&img, bzimage(&gz(&elf_with_note(5)))).unwrap();
        assert_eq!(unpacked(&cache, &img).unwrap(), None);
        // Not a bzImage at all (an ELF kernel).
        let elf = d.path().join("vmlinux");
        std::fs::write(&elf, elf_with_note(XEN_ELFNOTE_PHYS32_ENTRY)).unwrap();
        assert_eq!(unpacked(&cache, &elf).unwrap(), None);
        // A corrupt payload is an error, which boot_image turns into "boot it as is".
        let bad = d.path().join("bad");
        std::fs::write(&bad, bzimage(&[0x1f, 0x8b, 1, 2, 3])).unwrap();
        assert!(unpacked(&cache, &bad).is_err());
        assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().count() == 0);
    }
}
