//! The PVH builder (an HVM container without a device model, libxl's `libxl__build_hvm`
//! with libxenguest's `hvm-3.0-x86_32` hooks): RAM from 0 with an e820, the special pages
//! for the console and xenstore rings announced through HVM params, the kernel at its
//! physical load address, ACPI tables (as libxl's `libxl__dom_load_acpi`), `hvm_start_info`,
//! and vCPU 0 at `XEN_ELFNOTE_PHYS32_ENTRY`.

pub mod acpi;
pub mod e820;
pub mod hcall;
pub mod start_info;
pub mod vcpu;

use xen_sys as xs;

use super::error::{BuildError, at};
use super::guest_mem::GuestMem;
use super::hcall::BuildCalls;
use super::pv::PvBuilt;
use super::{Plan, Rings, fault, memory};
use crate::ctl::Xen;
use hcall::PvhCalls;
use start_info::HvmStartInfo;

const PAGE: u64 = 4096;

/// Paging-pool size libxl gives an HVM guest: 1 MiB per vCPU plus 8 KiB per MiB of RAM
/// (`libxl_get_required_shadow_memory`), rounded up to MiB.
pub fn paging_pool_mb(max_vcpus: u32, max_kib: u64) -> u32 {
    let kib = 4 * (256 * u64::from(max_vcpus) + 2 * max_kib.div_ceil(1024));
    kib.div_ceil(1024) as u32
}

/// Builds PVH domain `domid` (created with `XEN_DOMCTL_CDF_hvm`); `ready` hears the ring
/// frames once memory is populated (see [`super::RingsReady`]).
pub fn build(
    xen: &Xen,
    domid: u32,
    plan: &Plan,
    rings: &Rings,
    ready: &mut super::RingsReady<'_>,
) -> Result<PvBuilt, BuildError> {
    let k = &plan.kernel;
    let entry = k.notes.phys32_entry.ok_or_else(|| BuildError::NoPvhEntry {
        path: plan.kernel_path.clone(),
    })?;
    let ram = plan.memory_kib * 1024;
    if ram > e820::MMIO_HOLE_START {
        return Err(BuildError::Config {
            key: "memory",
            why: format!(
                "rxl's PVH builder places all RAM below the MMIO hole: at most {} MiB",
                e820::MMIO_HOLE_START >> 20
            ),
        });
    }
    let tables = acpi::build(plan.max_vcpus, plan.vcpus).map_err(|e| BuildError::Config {
        key: "maxvcpus",
        why: e.to_string(),
    })?;
    let (kstart, kend) = k.paddr_range();
    let ramdisk_len = plan.ramdisk.as_ref().map_or(0, |r| r.len() as u64);
    let ramdisk_gpa = kend.next_multiple_of(PAGE);
    let si_gpa = (ramdisk_gpa + ramdisk_len).next_multiple_of(PAGE);
    if si_gpa + PAGE > ram {
        let need_kib = (si_gpa + PAGE) / 1024;
        return Err(BuildError::GuestTooSmall(super::pv::layout::TooSmall {
            need_kib,
            have_kib: plan.memory_kib,
            missing_kib: need_kib - plan.memory_kib,
        }));
    }

    xen.set_tsc_mode(domid, plan.tsc_mode)
        .map_err(at("setting the TSC mode"))?;
    xen.set_paging_pool_mb(domid, paging_pool_mb(plan.max_vcpus, plan.max_kib))
        .map_err(at("sizing the HAP paging pool"))?;

    let mut laps = rxl_hypervisor::timing::Laps::new();
    fault::check("populate")?;
    memory::populate_translated(xen, domid, plan.memory_kib / 4)
        .map_err(at("allocating guest memory"))?;
    // The special pages and the ACPI table page, outside the RAM range.
    let mut special: Vec<u64> =
        (e820::SPECIAL_END_PFN - e820::NR_SPECIAL..e820::SPECIAL_END_PFN).collect();
    special.push(acpi::ACPI_PFN);
    let n = special.len();
    if xen
        .populate_physmap(domid, 0, &mut special)
        .map_err(at("allocating the special pages"))?
        != n
    {
        return Err(at("allocating the special pages")(
            crate::error::XenError::Hypercall {
                op: "memory_op populate_physmap",
                source: std::io::Error::from_raw_os_error(libc::ENOMEM),
            },
        ));
    }
    let built = PvBuilt {
        store_mfn: e820::XENSTORE_PFN,
        console_mfn: e820::CONSOLE_PFN,
    };
    ready(built)?;
    let map = e820::memory_map(ram);
    xen.set_memory_map(domid, &map)
        .map_err(at("setting the e820"))?;

    laps.lap("PVH: memory populated, e820 set");
    fault::check("load")?;
    let first = kstart / PAGE;
    let frames: Vec<u64> = (first..=si_gpa / PAGE).collect();
    let mut mem = GuestMem::map(xen, domid, first, &frames).map_err(at("mapping guest memory"))?;
    laps.lap("PVH: guest memory mapped");
    for s in &k.segments {
        mem.write_from(s.paddr, &k.bytes, s.offset, s.filesz);
        mem.zero(s.paddr + s.filesz as u64, s.memsz - s.filesz as u64);
    }
    if let Some(r) = &plan.ramdisk {
        mem.write_from(ramdisk_gpa, r, 0, r.len());
    }
    let si = HvmStartInfo {
        module: plan.ramdisk.as_ref().map(|_| (ramdisk_gpa, ramdisk_len)),
        memmap: map,
        cmdline: plan.cmdline.clone(),
        rsdp: tables.rsdp_gpa,
    };
    let page = si.to_page(si_gpa).map_err(|why| BuildError::Config {
        key: "cmdline",
        why,
    })?;
    mem.write(si_gpa, &page);
    drop(mem);
    laps.lap("PVH: kernel, ramdisk, start_info written");
    let sp: Vec<u64> = (e820::SPECIAL_END_PFN - e820::NR_SPECIAL..e820::SPECIAL_END_PFN).collect();
    let mut smem =
        GuestMem::map(xen, domid, sp[0], &sp).map_err(at("mapping the special pages"))?;
    smem.zero(sp[0] * PAGE, e820::NR_SPECIAL * PAGE);
    drop(smem);
    let mut amem = GuestMem::map(xen, domid, acpi::ACPI_PFN, &[acpi::ACPI_PFN])
        .map_err(at("mapping the ACPI table page"))?;
    amem.write(acpi::ACPI_GPA, &tables.bytes);
    drop(amem);

    for (param, value) in [
        (xs::HVM_PARAM_STORE_PFN, e820::XENSTORE_PFN),
        (xs::HVM_PARAM_CONSOLE_PFN, e820::CONSOLE_PFN),
        (xs::HVM_PARAM_STORE_EVTCHN, u64::from(rings.store_port)),
        (xs::HVM_PARAM_CONSOLE_EVTCHN, u64::from(rings.console_port)),
    ] {
        xen.set_hvm_param(domid, param, value)
            .map_err(at("setting HVM parameters"))?;
    }

    laps.lap("PVH: special pages, ACPI tables, HVM params");
    fault::check("vcpu")?;
    let full = xen
        .hvm_context(domid)
        .map_err(at("reading the HVM context"))?;
    let ctx = vcpu::boot_context(&full, entry, si_gpa).map_err(|why| BuildError::Xen {
        step: "building the boot vCPU",
        source: crate::error::XenError::Protocol(why),
    })?;
    xen.set_hvm_context(domid, &ctx)
        .map_err(at("setting vCPU 0's registers"))?;
    laps.lap("PVH: vCPU set");
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_pool_follows_libxl() {
        // 1 vCPU, 128 MiB: 4 * (256 + 256) KiB = 2 MiB.
        assert_eq!(paging_pool_mb(1, 128 * 1024), 2);
        assert_eq!(paging_pool_mb(4, 4096 * 1024), 36);
    }
}
