//! ELF64 kernels: the loadable segments and the Xen ELF notes (`xen/include/public/elfnote.h`).
//!
//! Only what a domain builder needs is parsed: the file header, the program headers
//! (PT_LOAD to copy, PT_NOTE to read the "Xen" notes), bounds-checked against the file.

use super::{Bytes, ImageError};

/// `EM_X86_64`.
const EM_X86_64: u16 = 62;
/// `EM_386`.
const EM_386: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

/// Xen ELF note types used by the builder.
pub mod note {
    /// `XEN_ELFNOTE_ENTRY`: PV entry point (virtual).
    pub const ENTRY: u32 = 1;
    /// `XEN_ELFNOTE_HYPERCALL_PAGE`: where Xen should write the hypercall stubs.
    pub const HYPERCALL_PAGE: u32 = 2;
    /// `XEN_ELFNOTE_VIRT_BASE`.
    pub const VIRT_BASE: u32 = 3;
    /// `XEN_ELFNOTE_PADDR_OFFSET`.
    pub const PADDR_OFFSET: u32 = 4;
    /// `XEN_ELFNOTE_GUEST_OS`.
    pub const GUEST_OS: u32 = 6;
    /// `XEN_ELFNOTE_FEATURES`.
    pub const FEATURES: u32 = 10;
    /// `XEN_ELFNOTE_MOD_START_PFN`.
    pub const MOD_START_PFN: u32 = 16;
    /// `XEN_ELFNOTE_PHYS32_ENTRY`: PVH 32-bit entry point (physical).
    pub const PHYS32_ENTRY: u32 = 18;
}

/// One loadable segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the bytes in the file.
    pub offset: usize,
    /// Bytes present in the file.
    pub filesz: usize,
    /// Bytes in memory (the rest is zero: .bss).
    pub memsz: u64,
    /// Physical load address.
    pub paddr: u64,
    /// Virtual address.
    pub vaddr: u64,
}

/// The Xen notes the builder reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenNotes {
    /// `ENTRY`.
    pub entry: Option<u64>,
    /// `HYPERCALL_PAGE`.
    pub hypercall_page: Option<u64>,
    /// `VIRT_BASE`.
    pub virt_base: Option<u64>,
    /// `PADDR_OFFSET`.
    pub paddr_offset: Option<u64>,
    /// `GUEST_OS`, e.g. "linux".
    pub guest_os: Option<String>,
    /// `FEATURES`.
    pub features: Option<String>,
    /// `MOD_START_PFN`: the kernel takes the ramdisk as a frame number.
    pub mod_start_pfn: bool,
    /// `PHYS32_ENTRY`.
    pub phys32_entry: Option<u32>,
}

impl XenNotes {
    /// Whether the image carries any Xen note at all.
    pub fn any(&self) -> bool {
        *self != XenNotes::default()
    }
}

/// A parsed x86_64 ELF kernel.
#[derive(Debug)]
pub struct ElfKernel {
    /// The whole file.
    pub bytes: Bytes,
    /// `e_entry`.
    pub entry: u64,
    /// PT_LOAD segments in file order.
    pub segments: Vec<Segment>,
    /// Xen notes.
    pub notes: XenNotes,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Whether `b` starts with the ELF magic.
pub fn is_elf(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF")
}

impl ElfKernel {
    /// Parses an ELF image; `what` names it in errors.
    pub fn parse(data: impl Into<Bytes>, what: &str) -> Result<Self, ImageError> {
        let data = data.into();
        let bytes: &[u8] = &data;
        let bad = |why: &str| ImageError::BadElf {
            what: what.to_owned(),
            why: why.to_owned(),
        };
        if !is_elf(bytes) {
            return Err(bad("no ELF magic"));
        }
        let class = bytes.get(4).copied().unwrap_or(0);
        let machine = u16_at(bytes, 18).ok_or_else(|| bad("truncated header"))?;
        if class != 2 || machine != EM_X86_64 {
            let arch = match (class, machine) {
                (1, EM_386) => "32-bit x86 (i386)".to_owned(),
                (1, m) => format!("32-bit, machine {m}"),
                (2, m) => format!("64-bit, machine {m} (e.g. 183 = arm64)"),
                (c, m) => format!("class {c}, machine {m}"),
            };
            return Err(ImageError::WrongArch {
                what: what.to_owned(),
                found: arch,
            });
        }
        if bytes.get(5) != Some(&1) {
            return Err(bad("not little-endian"));
        }
        let entry = u64_at(bytes, 24).ok_or_else(|| bad("truncated header"))?;
        let phoff = u64_at(bytes, 32).ok_or_else(|| bad("truncated header"))? as usize;
        let phentsize = u16_at(bytes, 54).ok_or_else(|| bad("truncated header"))? as usize;
        let phnum = u16_at(bytes, 56).ok_or_else(|| bad("truncated header"))? as usize;
        if phentsize < 56 || phnum == 0 {
            return Err(bad("no program headers"));
        }
        let mut segments = Vec::new();
        let mut notes = XenNotes::default();
        for i in 0..phnum {
            let ph = phoff + i * phentsize;
            let field = |o: usize| {
                u64_at(bytes, ph + o).ok_or_else(|| bad("program header beyond the file"))
            };
            let ty = u32_at(bytes, ph).ok_or_else(|| bad("program header beyond the file"))?;
            let (offset, vaddr, paddr, filesz, memsz) =
                (field(8)?, field(16)?, field(24)?, field(32)?, field(40)?);
            let end = offset
                .checked_add(filesz)
                .filter(|&e| e <= bytes.len() as u64);
            if (ty == PT_LOAD || ty == PT_NOTE) && end.is_none() {
                return Err(bad(&format!("segment {i} lies beyond the end of the file")));
            }
            match ty {
                PT_LOAD if memsz > 0 => {
                    if memsz < filesz {
                        return Err(bad(&format!("segment {i} has memsz < filesz")));
                    }
                    segments.push(Segment {
                        offset: offset as usize,
                        filesz: filesz as usize,
                        memsz,
                        paddr,
                        vaddr,
                    });
                }
                PT_NOTE => parse_notes(
                    &bytes[offset as usize..(offset + filesz) as usize],
                    &mut notes,
                ),
                _ => {}
            }
        }
        if segments.is_empty() {
            return Err(bad("no loadable segment"));
        }
        Ok(ElfKernel {
            bytes: data,
            entry,
            segments,
            notes,
        })
    }

    /// Lowest and highest (exclusive) physical address of the loadable segments.
    pub fn paddr_range(&self) -> (u64, u64) {
        let lo = self.segments.iter().map(|s| s.paddr).min().unwrap_or(0);
        let hi = self
            .segments
            .iter()
            .map(|s| s.paddr + s.memsz)
            .max()
            .unwrap_or(0);
        (lo, hi)
    }
}

/// Reads an integer note of 1, 2, 4 or 8 bytes.
fn int_desc(desc: &[u8]) -> Option<u64> {
    match desc.len() {
        1 => Some(u64::from(desc[0])),
        2 => u16_at(desc, 0).map(u64::from),
        4 => u32_at(desc, 0).map(u64::from),
        8 => u64_at(desc, 0),
        _ => None,
    }
}

fn str_desc(desc: &[u8]) -> String {
    let end = desc.iter().position(|&b| b == 0).unwrap_or(desc.len());
    String::from_utf8_lossy(&desc[..end]).into_owned()
}

/// Walks one PT_NOTE segment; notes not named "Xen" are skipped, malformed tails ignored
/// (as libelf does: a kernel's other notes are none of the builder's business).
fn parse_notes(seg: &[u8], n: &mut XenNotes) {
    let mut o = 0usize;
    while o + 12 <= seg.len() {
        let (Some(namesz), Some(descsz), Some(ty)) =
            (u32_at(seg, o), u32_at(seg, o + 4), u32_at(seg, o + 8))
        else {
            return;
        };
        let name_start = o + 12;
        let desc_start = name_start + (namesz as usize).div_ceil(4) * 4;
        let next = desc_start + (descsz as usize).div_ceil(4) * 4;
        if desc_start + descsz as usize > seg.len() {
            return;
        }
        let name = &seg[name_start..name_start + namesz as usize];
        let desc = &seg[desc_start..desc_start + descsz as usize];
        if name == b"Xen\0" || name == b"Xen" {
            match ty {
                note::ENTRY => n.entry = int_desc(desc),
                note::HYPERCALL_PAGE => n.hypercall_page = int_desc(desc),
                note::VIRT_BASE => n.virt_base = int_desc(desc),
                note::PADDR_OFFSET => n.paddr_offset = int_desc(desc),
                note::GUEST_OS => n.guest_os = Some(str_desc(desc)),
                note::FEATURES => n.features = Some(str_desc(desc)),
                note::MOD_START_PFN => n.mod_start_pfn = int_desc(desc).unwrap_or(0) != 0,
                note::PHYS32_ENTRY => n.phys32_entry = int_desc(desc).map(|v| v as u32),
                _ => {}
            }
        }
        o = next;
    }
}

/// Builds small ELF images for tests (shared with the other builder tests).
#[cfg(test)]
pub(crate) mod testelf {
    /// An x86_64 ELF with one PT_LOAD (`payload` at paddr 0x100000, vaddr virt_base+paddr)
    /// and a PT_NOTE with the given Xen notes `(type, desc)`.
    pub fn build(payload: &[u8], bss: u64, notes: &[(u32, Vec<u8>)], machine: u16) -> Vec<u8> {
        let mut note = Vec::new();
        for (ty, desc) in notes {
            note.extend_from_slice(&4u32.to_le_bytes());
            note.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            note.extend_from_slice(&ty.to_le_bytes());
            note.extend_from_slice(b"Xen\0");
            note.extend_from_slice(desc);
            while note.len() % 4 != 0 {
                note.push(0);
            }
        }
        let phoff = 64u64;
        let data_off = phoff + 2 * 56;
        let note_off = data_off + payload.len() as u64;
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[24..32].copy_from_slice(&0xffff_ffff_8010_0000u64.to_le_bytes());
        b[32..40].copy_from_slice(&phoff.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&2u16.to_le_bytes());
        let ph = |ty: u32, off: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64| {
            let mut p = vec![0u8; 56];
            p[0..4].copy_from_slice(&ty.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[24..32].copy_from_slice(&paddr.to_le_bytes());
            p[32..40].copy_from_slice(&filesz.to_le_bytes());
            p[40..48].copy_from_slice(&memsz.to_le_bytes());
            p
        };
        let len = payload.len() as u64;
        b.extend(ph(
            1,
            data_off,
            0xffff_ffff_8010_0000,
            0x10_0000,
            len,
            len + bss,
        ));
        b.extend(ph(4, note_off, 0, 0, note.len() as u64, note.len() as u64));
        b.extend_from_slice(payload);
        b.extend_from_slice(&note);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_xen_notes_are_read() {
        let img = testelf::build(
            b"kernel",
            100,
            &[
                (
                    note::VIRT_BASE,
                    0xffff_ffff_8000_0000u64.to_le_bytes().to_vec(),
                ),
                (note::ENTRY, 0xffff_ffff_8010_0000u64.to_le_bytes().to_vec()),
                (note::GUEST_OS, b"linux\0".to_vec()),
                (note::PHYS32_ENTRY, 0x10_0040u32.to_le_bytes().to_vec()),
                (note::MOD_START_PFN, 1u32.to_le_bytes().to_vec()),
            ],
            EM_X86_64,
        );
        let k = ElfKernel::parse(img, "k").expect("valid");
        assert_eq!(k.segments.len(), 1);
        assert_eq!(k.segments[0].paddr, 0x10_0000);
        assert_eq!(k.paddr_range(), (0x10_0000, 0x10_0000 + 6 + 100));
        assert_eq!(k.notes.virt_base, Some(0xffff_ffff_8000_0000));
        assert_eq!(k.notes.guest_os.as_deref(), Some("linux"));
        assert_eq!(k.notes.phys32_entry, Some(0x10_0040));
        assert!(k.notes.mod_start_pfn);
    }

    #[test]
    fn wrong_arch_is_named() {
        let img = testelf::build(b"x", 0, &[], 183);
        match ElfKernel::parse(img, "k") {
            Err(ImageError::WrongArch { found, .. }) => assert!(found.contains("183"), "{found}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_segments_are_refused() {
        let mut img = testelf::build(b"0123456789", 0, &[], EM_X86_64);
        img.truncate(img.len() - 5);
        assert!(matches!(
            ElfKernel::parse(img, "k"),
            Err(ImageError::BadElf { .. })
        ));
    }
}
