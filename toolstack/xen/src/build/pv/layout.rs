//! Where everything goes in a 64-bit PV guest's initial virtual region, in the order
//! `xen/include/public/xen.h` prescribes and libxenguest (`xg_dom_core.c`) allocates:
//! kernel, ramdisk, p2m list (`mfn_list`), start_info, xenstore and console rings, the
//! bootstrap page tables, the boot stack — then at least 512 KiB of padding, the whole
//! mapped region rounded up to 4 MiB.

/// Page size.
pub const PAGE: u64 = 4096;

/// The frame layout of a PV guest (all numbers are guest frame numbers, pfns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLayout {
    /// Virtual address of pfn 0 (`XEN_ELFNOTE_VIRT_BASE`).
    pub virt_base: u64,
    /// Pages of RAM the guest gets.
    pub nr_pages: u64,
    /// First pfn of the kernel.
    pub kernel_pfn: u64,
    /// First pfn after the kernel.
    pub kernel_end_pfn: u64,
    /// First pfn of the ramdisk (if any).
    pub ramdisk_pfn: u64,
    /// Ramdisk length in bytes (0 without one).
    pub ramdisk_len: u64,
    /// First pfn of the p2m list.
    pub p2m_pfn: u64,
    /// Pages of the p2m list.
    pub p2m_pages: u64,
    /// The start_info page.
    pub start_info_pfn: u64,
    /// The xenstore ring page.
    pub store_pfn: u64,
    /// The console ring page.
    pub console_pfn: u64,
    /// First page-table page (the L4).
    pub pt_pfn: u64,
    /// Page-table pages per level: L4, L3, L2, L1.
    pub pt_counts: [u64; 4],
    /// The boot stack page.
    pub stack_pfn: u64,
    /// First pfn not covered by the bootstrap mapping.
    pub map_end_pfn: u64,
}

/// The guest is too small for its kernel and boot data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the guest needs at least {need_kib} KiB to hold its kernel, ramdisk and boot data but \
         has {have_kib} KiB ({missing_kib} KiB missing); raise `memory=` in the domain file"
)]
pub struct TooSmall {
    /// KiB needed.
    pub need_kib: u64,
    /// KiB configured.
    pub have_kib: u64,
    /// The difference.
    pub missing_kib: u64,
}

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}

/// Page-table pages needed to map `[virt_base, virt_base + npages*4K)`, per level L4..L1.
pub fn table_counts(virt_base: u64, npages: u64) -> [u64; 4] {
    // In u128: a region may end exactly at 2^64 (the top of the address space).
    let start = u128::from(virt_base);
    let end = start + u128::from(npages) * u128::from(PAGE) - 1;
    let span = |shift: u32| ((end >> shift) - (start >> shift) + 1) as u64;
    [1, span(39), span(30), span(21)]
}

impl PvLayout {
    /// Lays out a guest of `nr_pages` whose kernel occupies guest-physical bytes
    /// `[kernel_start, kernel_end)`.
    pub fn compute(
        virt_base: u64,
        kernel_start: u64,
        kernel_end: u64,
        ramdisk_len: u64,
        nr_pages: u64,
    ) -> Result<Self, TooSmall> {
        let kernel_pfn = kernel_start / PAGE;
        let kernel_end_pfn = pages(kernel_end);
        let ramdisk_pfn = kernel_end_pfn;
        let p2m_pfn = ramdisk_pfn + pages(ramdisk_len);
        let p2m_pages = pages(nr_pages * 8);
        let start_info_pfn = p2m_pfn + p2m_pages;
        let store_pfn = start_info_pfn + 1;
        let console_pfn = store_pfn + 1;
        let pt_pfn = console_pfn + 1;
        // The tables map themselves, so iterate until their count stops changing.
        let mut n = 0u64;
        let (counts, map_end_pfn) = loop {
            let end = (pt_pfn + n + 1 + pages(512 << 10)).next_multiple_of(pages(4 << 20));
            let c = table_counts(virt_base, end);
            let total: u64 = c.iter().sum();
            if total == n {
                break (c, end);
            }
            n = total;
        };
        let stack_pfn = pt_pfn + n;
        if map_end_pfn > nr_pages {
            let need_kib = map_end_pfn * 4;
            let have_kib = nr_pages * 4;
            return Err(TooSmall {
                need_kib,
                have_kib,
                missing_kib: need_kib - have_kib,
            });
        }
        Ok(PvLayout {
            virt_base,
            nr_pages,
            kernel_pfn,
            kernel_end_pfn,
            ramdisk_pfn,
            ramdisk_len,
            p2m_pfn,
            p2m_pages,
            start_info_pfn,
            store_pfn,
            console_pfn,
            pt_pfn,
            pt_counts: counts,
            stack_pfn,
            map_end_pfn,
        })
    }

    /// Total page-table pages.
    pub fn pt_pages(&self) -> u64 {
        self.pt_counts.iter().sum()
    }

    /// Virtual address of a pfn in the bootstrap mapping.
    pub fn virt(&self, pfn: u64) -> u64 {
        self.virt_base + pfn * PAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VB: u64 = 0xffff_ffff_8000_0000;

    #[test]
    fn linux_sized_guest_fits_in_128_mib() {
        // Debian's 6.1 vmlinux: loaded at 16 MiB, ~45 MiB with .bss; 1 MiB initramfs.
        let l = PvLayout::compute(VB, 0x100_0000, 0x3d0_0000, 1 << 20, 32768).expect("fits");
        assert_eq!(l.kernel_pfn, 0x1000);
        assert_eq!(l.ramdisk_pfn, 0x3d00);
        assert_eq!(l.p2m_pages, 64);
        assert!(l.store_pfn > l.start_info_pfn && l.console_pfn > l.store_pfn);
        assert_eq!(l.stack_pfn, l.pt_pfn + l.pt_pages());
        // The mapping is 4 MiB aligned and leaves at least 512 KiB after the stack.
        assert_eq!(l.map_end_pfn % 1024, 0);
        assert!(l.map_end_pfn >= l.stack_pfn + 1 + 128);
        // One L4, one L3, one L2, one L1 per 2 MiB mapped.
        assert_eq!(l.pt_counts, [1, 1, 1, l.map_end_pfn / 512]);
    }

    #[test]
    fn too_small_says_how_much_is_missing() {
        let e = PvLayout::compute(VB, 0x100_0000, 0x3d0_0000, 1 << 20, 8192).expect_err("32 MiB");
        assert_eq!(e.have_kib, 32768);
        assert_eq!(e.missing_kib, e.need_kib - 32768);
        assert!(e.to_string().contains("KiB missing"));
    }

    #[test]
    fn table_counts_cross_boundaries() {
        // 2 GiB from VB reaches the top of the address space: 2 L2s, 1024 L1s.
        assert_eq!(table_counts(VB, 2 << 18), [1, 1, 2, 1024]);
        // 4 MiB straddling a 1 GiB boundary needs two L2s and two L1s.
        assert_eq!(table_counts((1 << 30) - (2 << 20), 1024), [1, 1, 2, 2]);
    }
}
