//! Core dumps of a guest, for `on_crash`/`on_poweroff`/... = "coredump-destroy" and
//! "coredump-restart": what xl writes to `/var/lib/xen/dump/NAME` before destroying.
//!
//! The file is a standard ELF64 core (`ET_CORE`, `EM_X86_64`) in the layout of QEMU's
//! `dump-guest-memory` (paging off), which `crash` and `gdb` read: one `PT_NOTE` segment
//! with an `NT_PRSTATUS` note per vCPU (its general registers), then one `PT_LOAD` segment per
//! run of contiguous guest-physical frames, `p_paddr` = guest-physical address. xl writes
//! libxenguest's own section-based format (`.xen_pages`, `.xen_p2m`, ...), which only
//! `crash` with Xen support reads; rxl keeps to the plain format any ELF tool understands.
//!
//! Memory is read through foreign mappings, in batches: for PVH/HVM guests by guest frame
//! (frames that do not map, i.e. holes, are skipped), for PV guests by machine frame through
//! the guest's own p2m (published in `shared_info.arch.pfn_to_mfn_frame_list_list`, as
//! libxenguest's `xc_core_arch_map_p2m` reads it). The dump is written to `NAME.tmp` and
//! renamed, so a failed dump leaves no half-written core.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use xen_sys as xs;

use super::error::{BuildError, at};
use super::hcall::BuildCalls;
use super::pvh::hcall::PvhCalls;
use crate::ctl::Xen;
use crate::error::XenError;

/// Where xl writes core dumps (`XEN_DUMP_DIR`).
pub const DUMP_DIR: &str = "/var/lib/xen/dump";
const PAGE: usize = 4096;
const BATCH: usize = 1024;
const EHDR: usize = 64;
const PHDR: usize = 56;
const NT_PRSTATUS: u32 = 1;
const PRSTATUS_LEN: usize = 336;
/// p2m entries with these bits set are not guest RAM (Linux's identity and foreign frames).
const P2M_SPECIAL_BITS: u64 = 3 << 62;

/// The path xl uses for domain `name`'s core.
pub fn core_path(name: &str) -> PathBuf {
    Path::new(DUMP_DIR).join(name)
}

/// What [`dump`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumped {
    /// The core file.
    pub path: PathBuf,
    /// Guest pages in it.
    pub pages: u64,
    /// vCPUs with registers in it.
    pub vcpus: u32,
}

/// The general registers of one vCPU, in `user_regs_struct` order (x86_64 `elf_gregset_t`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs(pub [u64; 27]);

impl Regs {
    const RIP: usize = 16;
    const CS: usize = 17;
    const RFLAGS: usize = 18;
    const RSP: usize = 19;
    const SS: usize = 20;
    const FS_BASE: usize = 21;
    const GS_BASE: usize = 22;
    const DS: usize = 23;
    const ES: usize = 24;
    const FS: usize = 25;
    const GS: usize = 26;

    /// From the 15 general registers in Xen's `cpu_user_regs` order (r15 ... rdi) plus the rest.
    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        gp15: [u64; 15],
        rip: u64,
        rflags: u64,
        rsp: u64,
        seg: [u64; 6],
        bases: [u64; 2],
    ) -> Self {
        let mut r = [0u64; 27];
        r[..15].copy_from_slice(&gp15);
        r[Self::RIP] = rip;
        r[Self::RFLAGS] = rflags;
        r[Self::RSP] = rsp;
        // seg: cs, ss, ds, es, fs, gs
        r[Self::CS] = seg[0];
        r[Self::SS] = seg[1];
        r[Self::DS] = seg[2];
        r[Self::ES] = seg[3];
        r[Self::FS] = seg[4];
        r[Self::GS] = seg[5];
        r[Self::FS_BASE] = bases[0];
        r[Self::GS_BASE] = bases[1];
        Regs(r)
    }
}

/// A run of guest frames whose bytes sit at `file_off` in the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first_pfn: u64,
    pages: u64,
    file_off: u64,
}

/// The `NT_PRSTATUS` note of vCPU `vcpu` (`struct elf_prstatus`, x86_64: 336 bytes, the
/// registers at offset 112; `pr_pid` holds the vCPU number + 1 as QEMU writes it).
fn prstatus_note(vcpu: u32, regs: &Regs) -> Vec<u8> {
    let mut desc = vec![0u8; PRSTATUS_LEN];
    desc[32..36].copy_from_slice(&(vcpu + 1).to_le_bytes());
    for (i, v) in regs.0.iter().enumerate() {
        desc[112 + 8 * i..120 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut n = Vec::with_capacity(20 + PRSTATUS_LEN);
    n.extend_from_slice(&5u32.to_le_bytes()); // "CORE\0"
    n.extend_from_slice(&(PRSTATUS_LEN as u32).to_le_bytes());
    n.extend_from_slice(&NT_PRSTATUS.to_le_bytes());
    n.extend_from_slice(b"CORE\0\0\0\0");
    n.extend_from_slice(&desc);
    n
}

fn ehdr(phoff: u64, phnum: u16) -> [u8; EHDR] {
    let mut e = [0u8; EHDR];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // 64-bit
    e[5] = 1; // little endian
    e[6] = 1; // version
    e[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    e[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[32..40].copy_from_slice(&phoff.to_le_bytes());
    e[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    e[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    e[56..58].copy_from_slice(&phnum.to_le_bytes());
    e
}

fn phdr(kind: u32, flags: u32, off: u64, paddr: u64, size: u64, align: u64) -> [u8; PHDR] {
    let mut p = [0u8; PHDR];
    p[..4].copy_from_slice(&kind.to_le_bytes());
    p[4..8].copy_from_slice(&flags.to_le_bytes());
    p[8..16].copy_from_slice(&off.to_le_bytes());
    // p_vaddr stays 0: a physical dump, as QEMU's without paging.
    p[24..32].copy_from_slice(&paddr.to_le_bytes());
    p[32..40].copy_from_slice(&size.to_le_bytes());
    p[40..48].copy_from_slice(&size.to_le_bytes());
    p[48..56].copy_from_slice(&align.to_le_bytes());
    p
}

/// The program header table: the notes, then one `PT_LOAD` per run.
fn program_headers(notes_off: u64, notes_len: u64, runs: &[Run]) -> Vec<u8> {
    let mut t = Vec::with_capacity(PHDR * (1 + runs.len()));
    t.extend_from_slice(&phdr(4, 0, notes_off, 0, notes_len, 4)); // PT_NOTE
    for r in runs {
        t.extend_from_slice(&phdr(
            1,
            0x7, // RWX
            r.file_off,
            r.first_pfn * PAGE as u64,
            r.pages * PAGE as u64,
            PAGE as u64,
        ));
    }
    t
}

/// Where the frames of the guest are: (pfn, handle to map) pairs in pfn order.
fn frames(xen: &Xen, domid: u32, hvm: bool) -> Result<Vec<(u64, u64)>, XenError> {
    if hvm {
        let max = max_gpfn(xen, domid)?;
        return Ok((0..=max).map(|p| (p, p)).collect());
    }
    pv_p2m(xen, domid)
}

fn max_gpfn(xen: &Xen, domid: u32) -> Result<u64, XenError> {
    let mut buf = xen.buffer(2)?;
    buf.write(0, &(domid as u16));
    let r = xen.hypercall(
        "memory_op maximum_gpfn",
        xs::__HYPERVISOR_memory_op,
        [u64::from(xs::XENMEM_maximum_gpfn), buf.addr(), 0, 0, 0],
    )?;
    Ok(r as u64)
}

/// Reads a PV guest's p2m through the three-level frame list it publishes.
fn pv_p2m(xen: &Xen, domid: u32) -> Result<Vec<(u64, u64)>, XenError> {
    let dom = domid as u16;
    let si_mfn = xen.shared_info_frame(domid)?;
    let (si, _) = xen.privcmd().map_foreign(dom, &[si_mfn], false)?;
    let arch = std::mem::offset_of!(xs::shared_info, arch);
    let mut b = [0u8; 16];
    si.read(arch, &mut b);
    let max_pfn = u64::from_le_bytes(b[..8].try_into().expect("8"));
    let fll = u64::from_le_bytes(b[8..].try_into().expect("8"));
    if fll == 0 || max_pfn == 0 {
        return Err(XenError::Protocol(
            "the guest has not published its p2m (shared_info.arch.pfn_to_mfn_frame_list_list \
             is 0), so its memory cannot be found"
                .into(),
        ));
    }
    let per = (PAGE / 8) as u64;
    let p2m_pages = max_pfn.div_ceil(per);
    let read_u64s = |map: &crate::sys::privcmd::ForeignMapping, n: usize| -> Vec<u64> {
        let mut raw = vec![0u8; n * 8];
        map.read(0, &mut raw);
        raw.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
            .collect()
    };
    let (top, _) = xen.privcmd().map_foreign(dom, &[fll], false)?;
    let list_pages = p2m_pages.div_ceil(per) as usize;
    let lists = read_u64s(&top, list_pages);
    let (lm, _) = xen.privcmd().map_foreign(dom, &lists, false)?;
    let p2m_mfns = read_u64s(&lm, p2m_pages as usize);
    let (pm, errs) = xen.privcmd().map_foreign(dom, &p2m_mfns, false)?;
    if errs.iter().any(|e| *e != 0) {
        return Err(XenError::Protocol(
            "a page of the guest's p2m does not map".into(),
        ));
    }
    let p2m = read_u64s(&pm, max_pfn as usize);
    Ok(p2m
        .into_iter()
        .enumerate()
        .filter(|(_, m)| *m != u64::MAX && m & P2M_SPECIAL_BITS == 0)
        .map(|(p, m)| (p as u64, m))
        .collect())
}

/// The registers of every vCPU.
fn registers(xen: &Xen, domid: u32, hvm: bool, max_vcpu_id: u32) -> Result<Vec<Regs>, XenError> {
    if hvm {
        let ctx = xen.hvm_context(domid)?;
        let mut out = Vec::new();
        for r in super::pvh::vcpu::records(&ctx) {
            if r.code != 2 || r.data.len() < std::mem::size_of::<xs::hvm_hw_cpu>() {
                continue;
            }
            // SAFETY: `hvm_hw_cpu` is plain old data and the record holds at least its size;
            // read_unaligned copes with the byte buffer's alignment.
            let c: xs::hvm_hw_cpu =
                unsafe { std::ptr::read_unaligned(r.data.as_ptr().cast::<xs::hvm_hw_cpu>()) };
            out.push(Regs::from_parts(
                [
                    c.r15, c.r14, c.r13, c.r12, c.rbp, c.rbx, c.r11, c.r10, c.r9, c.r8, c.rax,
                    c.rcx, c.rdx, c.rsi, c.rdi,
                ],
                c.rip,
                c.rflags,
                c.rsp,
                [
                    u64::from(c.cs_sel),
                    u64::from(c.ss_sel),
                    u64::from(c.ds_sel),
                    u64::from(c.es_sel),
                    u64::from(c.fs_sel),
                    u64::from(c.gs_sel),
                ],
                [c.fs_base, c.gs_base],
            ));
        }
        return Ok(out);
    }
    (0..=max_vcpu_id)
        .map(|v| {
            let ctx = xen.vcpu_context(domid, v)?;
            Ok(pv_regs(&ctx))
        })
        .collect()
}

/// A PV vCPU's registers from its `vcpu_guest_context`.
fn pv_regs(ctx: &xs::vcpu_guest_context) -> Regs {
    let u = &ctx.user_regs;
    // SAFETY: `cpu_user_regs` is plain old data; viewing it as bytes reads initialised memory
    // of exactly its size.
    let raw: &[u8] = unsafe {
        std::slice::from_raw_parts(
            (u as *const xs::cpu_user_regs).cast::<u8>(),
            std::mem::size_of::<xs::cpu_user_regs>(),
        )
    };
    let q = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().expect("8"));
    let mut gp = [0u64; 15];
    for (i, g) in gp.iter_mut().enumerate() {
        *g = q(8 * i);
    }
    // cpu_user_regs (x86_64): 15 GPRs, error_code/entry_vector, rip@128, cs@136, rflags@144,
    // rsp@152, ss@160, es@164, ds@168, fs@172, gs@176 (segments are 16-bit with padding).
    Regs::from_parts(
        gp,
        q(128),
        q(144),
        q(152),
        [
            u64::from(u.cs),
            u64::from(u.ss),
            u64::from(u.ds),
            u64::from(u.es),
            u64::from(u.fs),
            u64::from(u.gs),
        ],
        [ctx.fs_base, ctx.gs_base_kernel],
    )
}

/// Writes the core of domain `domid` to `path` (its directory is created). A running domain
/// is paused for the copy (a consistent image) and unpaused afterwards, as libxenguest does.
pub fn dump(xen: &Xen, domid: u32, path: &Path) -> Result<Dumped, BuildError> {
    let info = xen
        .domain_info(domid)
        .map_err(at("core dump: reading the domain"))?;
    let pause = !info.paused && info.shutdown.is_none();
    if pause {
        xen.pause(domid)
            .map_err(at("core dump: pausing the domain"))?;
    }
    let r = dump_stopped(xen, domid, info.hvm, info.max_vcpu_id, path);
    if pause && let Err(e) = xen.unpause(domid) {
        tracing::warn!(domid, error = %e, "core dump: could not unpause the domain");
    }
    r
}

fn dump_stopped(
    xen: &Xen,
    domid: u32,
    hvm: bool,
    max_vcpu_id: u32,
    path: &Path,
) -> Result<Dumped, BuildError> {
    let info = Stopped { hvm, max_vcpu_id };
    let regs = registers(xen, domid, info.hvm, info.max_vcpu_id)
        .map_err(at("core dump: reading the vCPU registers"))?;
    let frames =
        frames(xen, domid, info.hvm).map_err(at("core dump: finding the guest's memory"))?;
    let io = |e: std::io::Error| BuildError::Config {
        key: "coredump",
        why: format!("{}: {e}", path.display()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let result = write_core(xen, domid, &tmp, &regs, &frames);
    match result {
        Ok(pages) => {
            std::fs::rename(&tmp, path).map_err(io)?;
            Ok(Dumped {
                path: path.to_owned(),
                pages,
                vcpus: regs.len() as u32,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// What [`dump_stopped`] needs of the domain's info.
struct Stopped {
    hvm: bool,
    max_vcpu_id: u32,
}

fn write_core(
    xen: &Xen,
    domid: u32,
    tmp: &Path,
    regs: &[Regs],
    frames: &[(u64, u64)],
) -> Result<u64, BuildError> {
    let io = |e: std::io::Error| BuildError::Config {
        key: "coredump",
        why: format!("{}: {e}", tmp.display()),
    };
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp).map_err(io)?);
    let notes: Vec<u8> = regs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| prstatus_note(i as u32, r))
        .collect();
    f.write_all(&[0u8; EHDR]).map_err(io)?;
    f.write_all(&notes).map_err(io)?;
    // Page data starts page-aligned.
    let data_off = ((EHDR + notes.len()) as u64).next_multiple_of(PAGE as u64);
    f.write_all(&vec![0u8; data_off as usize - EHDR - notes.len()])
        .map_err(io)?;

    let mut runs: Vec<Run> = Vec::new();
    let mut off = data_off;
    let mut page = vec![0u8; PAGE];
    for chunk in frames.chunks(BATCH) {
        let handles: Vec<u64> = chunk.iter().map(|(_, h)| *h).collect();
        let (map, errs) = xen
            .privcmd()
            .map_foreign(domid as u16, &handles, false)
            .map_err(at("core dump: mapping guest memory"))?;
        for (i, (pfn, _)) in chunk.iter().enumerate() {
            if errs[i] != 0 {
                continue; // a hole (or a frame Xen will not hand out): not in the core
            }
            map.read(i * PAGE, &mut page);
            f.write_all(&page).map_err(io)?;
            match runs.last_mut() {
                Some(r) if r.first_pfn + r.pages == *pfn => r.pages += 1,
                _ => runs.push(Run {
                    first_pfn: *pfn,
                    pages: 1,
                    file_off: off,
                }),
            }
            off += PAGE as u64;
        }
    }
    let phnum = u16::try_from(1 + runs.len())
        .ok()
        .filter(|n| *n < 0xffff)
        .ok_or_else(|| BuildError::Config {
            key: "coredump",
            why: format!(
                "{} memory runs do not fit an ELF program header table",
                runs.len()
            ),
        })?;
    f.write_all(&program_headers(EHDR as u64, notes.len() as u64, &runs))
        .map_err(io)?;
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.write_all(&ehdr(off, phnum)).map_err(io)?;
    f.flush().map_err(io)?;
    Ok(runs.iter().map(|r| r.pages).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_elf_core_layout() {
        let e = ehdr(0x5000, 3);
        assert_eq!(&e[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([e[16], e[17]]), 4, "ET_CORE");
        assert_eq!(u16::from_le_bytes([e[18], e[19]]), 62, "EM_X86_64");
        assert_eq!(u64::from_le_bytes(e[32..40].try_into().expect("8")), 0x5000);
        assert_eq!(u16::from_le_bytes([e[56], e[57]]), 3);

        let runs = [
            Run {
                first_pfn: 0,
                pages: 2,
                file_off: 0x1000,
            },
            Run {
                first_pfn: 0xfc000,
                pages: 1,
                file_off: 0x3000,
            },
        ];
        let t = program_headers(64, 336 + 20, &runs);
        assert_eq!(t.len(), 3 * PHDR);
        let u64_at = |o: usize| u64::from_le_bytes(t[o..o + 8].try_into().expect("8"));
        assert_eq!(
            u32::from_le_bytes(t[..4].try_into().expect("4")),
            4,
            "PT_NOTE first"
        );
        let second = 2 * PHDR;
        assert_eq!(
            u32::from_le_bytes(t[second..second + 4].try_into().expect("4")),
            1
        );
        assert_eq!(u64_at(second + 8), 0x3000, "p_offset");
        assert_eq!(u64_at(second + 24), 0xfc00_0000, "p_paddr");
        assert_eq!(u64_at(second + 32), 4096, "p_filesz");
    }

    #[test]
    fn prstatus_carries_the_registers_where_gdb_reads_them() {
        let mut r = Regs::default();
        r.0[Regs::RIP] = 0xffff_ffff_8100_0000;
        r.0[10] = 42; // rax
        let n = prstatus_note(1, &r);
        assert_eq!(n.len(), 20 + PRSTATUS_LEN);
        assert_eq!(&n[12..17], b"CORE\0");
        let desc = &n[20..];
        assert_eq!(
            u32::from_le_bytes(desc[32..36].try_into().expect("4")),
            2,
            "pr_pid"
        );
        let reg =
            |i: usize| u64::from_le_bytes(desc[112 + 8 * i..120 + 8 * i].try_into().expect("8"));
        assert_eq!(reg(16), 0xffff_ffff_8100_0000, "rip");
        assert_eq!(reg(10), 42, "rax");
    }

    #[test]
    fn pv_register_offsets_match_xens_cpu_user_regs() {
        use std::mem::offset_of;
        // rip, rflags and rsp sit in anonymous unions; pin their offsets to the named neighbours.
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_16), 128, "rip");
        assert_eq!(offset_of!(xs::cpu_user_regs, cs), 136);
        assert_eq!(
            offset_of!(xs::cpu_user_regs, __bindgen_anon_17),
            144,
            "rflags"
        );
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_18), 152, "rsp");
        assert_eq!(offset_of!(xs::cpu_user_regs, ss), 160);
        let mut ctx = xs::vcpu_guest_context::default();
        ctx.user_regs.__bindgen_anon_16.rip = 0x1234;
        ctx.user_regs.__bindgen_anon_11.rax = 7;
        ctx.user_regs.cs = 0xe033;
        let r = pv_regs(&ctx);
        assert_eq!(
            (r.0[Regs::RIP], r.0[10], r.0[Regs::CS]),
            (0x1234, 7, 0xe033)
        );
    }

    #[test]
    fn core_path_is_xls() {
        assert_eq!(core_path("g"), PathBuf::from("/var/lib/xen/dump/g"));
    }
}
