//! The 64-bit PV builder: memory, kernel and ramdisk, p2m list, page tables, start_info,
//! shared_info, hypercall page and the vCPU's initial register state (libxenguest's
//! `xg_dom_x86.c` for `xen-3.0-x86_64`).

pub mod layout;
pub mod pagetables;
pub mod start_info;

use xen_sys as xs;

use super::error::{BuildError, at};
use super::guest_mem::GuestMem;
use super::hcall::BuildCalls;
use super::{Plan, Rings, fault, memory};
use crate::ctl::Xen;
use layout::{PAGE, PvLayout};
use start_info::{SIF_MOD_START_PFN, StartInfo};

/// What the rest of the build needs from the PV builder.
#[derive(Debug, Clone, Copy)]
pub struct PvBuilt {
    /// Xenstore ring frame (machine frame: PV guests are not translated).
    pub store_mfn: u64,
    /// Console ring frame.
    pub console_mfn: u64,
}

/// Builds the memory image and initial vCPU state of PV domain `domid`; `ready` hears the
/// ring frames as soon as memory is populated (see [`super::RingsReady`]).
pub fn build(
    xen: &Xen,
    domid: u32,
    plan: &Plan,
    rings: &Rings,
    ready: &mut super::RingsReady<'_>,
) -> Result<PvBuilt, BuildError> {
    let k = &plan.kernel;
    let notes = &k.notes;
    let virt_base = notes.virt_base.ok_or_else(|| BuildError::NotXenPv {
        path: plan.kernel_path.clone(),
    })?;
    // libelf: with Xen notes present, a missing PADDR_OFFSET means 0.
    let paddr_offset = notes.paddr_offset.unwrap_or(0);
    let (pstart, pend) = k.paddr_range();
    let ramdisk_len = plan.ramdisk.as_ref().map_or(0, |r| r.len() as u64);
    let nr_pages = plan.memory_kib / 4;
    let l = PvLayout::compute(
        virt_base,
        pstart - paddr_offset,
        pend - paddr_offset,
        ramdisk_len,
        nr_pages,
    )?;

    fault::check("populate")?;
    xen.set_address_size(domid, 64)
        .map_err(at("setting the 64-bit guest address size"))?;
    let mut laps = rxl_hypervisor::timing::Laps::new();
    let p2m = memory::populate(xen, domid, nr_pages).map_err(at("allocating guest memory"))?;
    laps.lap("PV: memory populated");
    let built = PvBuilt {
        store_mfn: p2m[l.store_pfn as usize],
        console_mfn: p2m[l.console_pfn as usize],
    };
    ready(built)?;

    fault::check("load")?;
    let first = l.kernel_pfn;
    let last = l.stack_pfn + 1;
    let mut mem = GuestMem::map(xen, domid, first, &p2m[first as usize..last as usize])
        .map_err(at("mapping guest memory"))?;
    laps.lap("PV: guest memory mapped");
    for s in &k.segments {
        let gpa = s.paddr - paddr_offset;
        mem.write_from(gpa, &k.bytes, s.offset, s.filesz);
        mem.zero(gpa + s.filesz as u64, s.memsz - s.filesz as u64);
    }
    if let Some(r) = &plan.ramdisk {
        mem.write_from(l.ramdisk_pfn * PAGE, r, 0, r.len());
    }
    // The p2m list is written in place: a copy of it would cost a page fault per 4 KiB.
    mem.with_slice(l.p2m_pfn * PAGE, p2m.len() * 8, |dst| {
        for (d, m) in dst.chunks_exact_mut(8).zip(&p2m) {
            d.copy_from_slice(&m.to_le_bytes());
        }
    });
    for pfn in [l.store_pfn, l.console_pfn, l.stack_pfn] {
        mem.zero(pfn * PAGE, PAGE);
    }
    let tables = pagetables::build(&l, |pfn| p2m[pfn as usize]);
    for (i, t) in tables.iter().enumerate() {
        let bytes: Vec<u8> = t.iter().flat_map(|e| e.to_le_bytes()).collect();
        mem.write((l.pt_pfn + i as u64) * PAGE, &bytes);
    }
    let shared_info = xen
        .shared_info_frame(domid)
        .map_err(at("reading the shared_info frame"))?;
    let (mod_start, flags) = if notes.mod_start_pfn {
        (l.ramdisk_pfn, SIF_MOD_START_PFN)
    } else {
        (l.virt(l.ramdisk_pfn), 0)
    };
    let si = StartInfo {
        nr_pages,
        shared_info: shared_info * PAGE,
        flags,
        store_mfn: built.store_mfn,
        store_evtchn: rings.store_port,
        console_mfn: built.console_mfn,
        console_evtchn: rings.console_port,
        pt_base: l.virt(l.pt_pfn),
        nr_pt_frames: l.pt_pages(),
        mfn_list: l.virt(l.p2m_pfn),
        mod_start: if ramdisk_len > 0 { mod_start } else { 0 },
        mod_len: ramdisk_len,
        cmdline: plan.cmdline.clone(),
    };
    let page = si.to_page().map_err(|why| BuildError::Config {
        key: "cmdline",
        why,
    })?;
    mem.write(l.start_info_pfn * PAGE, &page);
    drop(mem);
    laps.lap("PV: kernel, ramdisk, p2m, page tables written");

    if let Some(va) = notes.hypercall_page {
        let pfn = (va - virt_base) / PAGE;
        let mfn = *p2m.get(pfn as usize).ok_or_else(|| BuildError::Config {
            key: "kernel",
            why: format!("XEN_ELFNOTE_HYPERCALL_PAGE {va:#x} lies outside guest memory"),
        })?;
        xen.hypercall_init(domid, mfn)
            .map_err(at("initialising the hypercall page"))?;
    }
    mask_upcalls(xen, domid, shared_info).map_err(at("initialising shared_info"))?;

    fault::check("vcpu")?;
    let l4_mfn = p2m[l.pt_pfn as usize];
    xen.pin_l4(domid, l4_mfn)
        .map_err(at("pinning the L4 page table"))?;
    let entry = notes.entry.unwrap_or(k.entry);
    let ctx = vcpu_context(
        entry,
        l.virt(l.stack_pfn + 1),
        l.virt(l.start_info_pfn),
        l4_mfn,
    );
    xen.set_vcpu_context(domid, 0, &ctx)
        .map_err(at("setting vCPU 0's registers"))?;
    laps.lap("PV: hypercall page, shared_info, L4 pinned, vCPU set");
    Ok(built)
}

/// Masks event upcalls of every legacy vCPU slot until the guest sets up its handlers, as
/// libxenguest's `shared_info_x86_64` does.
fn mask_upcalls(xen: &Xen, domid: u32, frame: u64) -> Result<(), crate::error::XenError> {
    let dom = u16::try_from(domid)
        .map_err(|_| crate::error::XenError::Invalid(format!("domain id {domid}")))?;
    let (map, errs) = xen.privcmd().map_foreign(dom, &[frame], true)?;
    if errs[0] != 0 {
        return Err(crate::error::XenError::Hypercall {
            op: "privcmd mmapbatch (shared_info)",
            source: std::io::Error::from_raw_os_error(-errs[0]),
        });
    }
    // struct vcpu_info is 64 bytes; evtchn_upcall_mask is its second byte.
    for vcpu in 0..xs::XEN_LEGACY_MAX_VCPUS as usize {
        map.write(vcpu * 64 + 1, &[1]);
    }
    Ok(())
}

/// vCPU 0 at the kernel entry: flat 64-bit kernel segments, RSI = start_info, RSP at the
/// top of the boot stack, interrupts enabled, CR3 = the L4.
pub fn vcpu_context(
    entry: u64,
    stack_top: u64,
    start_info: u64,
    l4_mfn: u64,
) -> xs::vcpu_guest_context {
    let mut c = xs::vcpu_guest_context {
        flags: u64::from(xs::VGCF_in_kernel | xs::VGCF_online),
        ..Default::default()
    };
    c.user_regs.__bindgen_anon_16 = xs::cpu_user_regs__bindgen_ty_16 { rip: entry };
    c.user_regs.__bindgen_anon_18 = xs::cpu_user_regs__bindgen_ty_18 { rsp: stack_top };
    c.user_regs.__bindgen_anon_14 = xs::cpu_user_regs__bindgen_ty_14 { rsi: start_info };
    c.user_regs.__bindgen_anon_17 = xs::cpu_user_regs__bindgen_ty_17 { rflags: 1 << 9 };
    c.user_regs.cs = xs::FLAT_KERNEL_CS64 as u16;
    c.user_regs.ss = xs::FLAT_KERNEL_SS64 as u16;
    c.user_regs.ds = xs::FLAT_KERNEL_DS64 as u16;
    c.user_regs.es = xs::FLAT_KERNEL_DS64 as u16;
    c.user_regs.fs = xs::FLAT_KERNEL_DS64 as u16;
    c.user_regs.gs = xs::FLAT_KERNEL_DS64 as u16;
    c.kernel_ss = u64::from(xs::FLAT_KERNEL_SS64);
    c.kernel_sp = stack_top;
    c.ctrlreg[3] = l4_mfn << 12;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_unions_are_the_registers_we_mean() {
        use std::mem::offset_of;
        // x86_64 cpu_user_regs: r15..rdi are 15 u64s, then error_code+entry_vector, then rip.
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_14), 13 * 8); // rsi
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_16), 16 * 8); // rip
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_17), 18 * 8); // rflags
        assert_eq!(offset_of!(xs::cpu_user_regs, __bindgen_anon_18), 19 * 8); // rsp
        let c = vcpu_context(0xffff_ffff_8100_0000, 0x2000, 0x1000, 0x42);
        assert_eq!(c.ctrlreg[3], 0x42000);
        assert_eq!(c.user_regs.cs, 0xe033);
        assert_eq!(c.kernel_ss, 0xe02b);
    }
}
