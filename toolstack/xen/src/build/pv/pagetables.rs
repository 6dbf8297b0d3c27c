//! The x86_64 bootstrap page tables of a PV guest (L4 → L3 → L2 → L1), as libxenguest's
//! `setup_pgtables_x86` builds them: every pfn of the bootstrap region mapped at
//! `virt_base + pfn*4K`, the table pages themselves read-only (Xen refuses writable
//! mappings of page tables in a PV guest).

use super::layout::{PAGE, PvLayout};

const PRESENT: u64 = 0x1;
const RW: u64 = 0x2;
const USER: u64 = 0x4;
const ACCESSED: u64 = 0x20;
const DIRTY: u64 = 0x40;
/// Leaf entries.
const L1_PROT: u64 = PRESENT | RW | ACCESSED;
/// Directory entries (L2..L4).
const DIR_PROT: u64 = PRESENT | RW | ACCESSED | DIRTY | USER;

/// Builds the table pages, in the order they sit at `layout.pt_pfn`: L4, L3s, L2s, L1s.
/// `mfn(pfn)` gives the machine frame of a guest frame.
pub fn build(l: &PvLayout, mfn: impl Fn(u64) -> u64) -> Vec<[u64; 512]> {
    let [n4, n3, n2, n1] = l.pt_counts;
    let mut pages = vec![[0u64; 512]; (n4 + n3 + n2 + n1) as usize];
    let first = |level: usize| -> u64 { l.pt_counts[..level].iter().sum() };
    let pt_end = l.pt_pfn + l.pt_pages();
    // Index of the table at `level` (0 = L4) covering `va`, relative to the first one.
    let table = |va: u64, shift: u32| (va >> shift) - (l.virt_base >> shift);
    for pfn in 0..l.map_end_pfn {
        let va = l.virt(pfn);
        let slot = |shift: u32| ((va >> shift) & 511) as usize;
        let t1 = table(va, 21);
        let t2 = table(va, 30);
        let t3 = table(va, 39);
        let mut pte = (mfn(pfn) * PAGE) | L1_PROT;
        if (l.pt_pfn..pt_end).contains(&pfn) {
            pte &= !RW;
        }
        pages[(first(3) + t1) as usize][slot(12)] = pte;
        let l1_pfn = l.pt_pfn + first(3) + t1;
        pages[(first(2) + t2) as usize][slot(21)] = (mfn(l1_pfn) * PAGE) | DIR_PROT;
        let l2_pfn = l.pt_pfn + first(2) + t2;
        pages[(first(1) + t3) as usize][slot(30)] = (mfn(l2_pfn) * PAGE) | DIR_PROT;
        let l3_pfn = l.pt_pfn + first(1) + t3;
        pages[0][slot(39)] = (mfn(l3_pfn) * PAGE) | DIR_PROT;
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_resolve_every_mapped_pfn() {
        let vb = 0xffff_ffff_8000_0000u64;
        let l = PvLayout::compute(vb, 0x100_0000, 0x200_0000, 4096, 16384).expect("fits");
        // A scrambled but invertible p2m, to catch pfn/mfn mix-ups.
        let mfn = |p: u64| p * 7 + 0x10000;
        let pages = build(&l, mfn);
        let by_mfn = |m: u64| -> &[u64; 512] {
            let pfn = (m - 0x10000) / 7;
            &pages[(pfn - l.pt_pfn) as usize]
        };
        for pfn in [
            0,
            l.kernel_pfn,
            l.start_info_pfn,
            l.pt_pfn,
            l.stack_pfn,
            l.map_end_pfn - 1,
        ] {
            let va = l.virt(pfn);
            let mut m = mfn(l.pt_pfn);
            for shift in [39u32, 30, 21] {
                let e = by_mfn(m)[((va >> shift) & 511) as usize];
                assert_eq!(e & DIR_PROT, DIR_PROT, "pfn {pfn:#x} level {shift}");
                m = e >> 12;
            }
            let e = by_mfn(m)[((va >> 12) & 511) as usize];
            assert_eq!(e >> 12, mfn(pfn), "pfn {pfn:#x}");
            let is_pt = (l.pt_pfn..l.pt_pfn + l.pt_pages()).contains(&pfn);
            assert_eq!(
                e & RW == 0,
                is_pt,
                "pfn {pfn:#x} writable only if not a table"
            );
        }
        // Nothing beyond the mapped region.
        let va = l.virt(l.map_end_pfn);
        let last_l1 = &pages[pages.len() - 1];
        assert!(l.map_end_pfn % 512 != 0 || last_l1.iter().all(|&e| e != 0));
        let _ = va;
    }
}
