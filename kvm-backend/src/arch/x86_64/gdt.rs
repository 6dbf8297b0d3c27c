//! The boot GDT and the `kvm_segment` values that match it.
//!
//! KVM loads segment registers from `kvm_sregs`, not from the GDT, but a guest that reloads a
//! selector (every kernel does, on its first far jump) reads the table in memory; both must agree.

use kvm_bindings::kvm_segment;

/// Selector of the 64-bit code segment.
pub const CODE64_SEL: u16 = 0x08;
/// Selector of the flat data segment.
pub const DATA_SEL: u16 = 0x10;
/// Selector of the (dummy) TSS.
pub const TSS_SEL: u16 = 0x18;
/// Selector of the 32-bit flat code segment (PVH entry).
pub const CODE32_SEL: u16 = 0x20;

/// Builds one descriptor from `flags` (access byte in bits 0-7, G/D/L/AVL in 12-15),
/// `base` and a 20-bit `limit`.
pub const fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    ((base as u64 & 0xff00_0000) << 32)
        | ((base as u64 & 0x00ff_ffff) << 16)
        | (limit as u64 & 0x0000_ffff)
        | ((limit as u64 & 0x000f_0000) << 32)
        | ((flags as u64 & 0x0000_f0ff) << 40)
}

/// The boot GDT, indexed by selector / 8.
pub const BOOT_GDT: [u64; 5] = [
    0,                             // null
    gdt_entry(0xa09b, 0, 0xfffff), // 64-bit code, present, DPL 0
    gdt_entry(0xc093, 0, 0xfffff), // flat data, 4 GiB, read/write
    gdt_entry(0x808b, 0, 0xfffff), // busy 32-bit TSS
    gdt_entry(0xc09b, 0, 0xfffff), // 32-bit code, flat 4 GiB
];

fn base(e: u64) -> u64 {
    ((e >> 16) & 0x00ff_ffff) | ((e >> 32) & 0xff00_0000)
}

fn limit(e: u64) -> u32 {
    let raw = ((e & 0xffff) | ((e >> 32) & 0xf_0000)) as u32;
    // With G set the limit counts 4 KiB pages; kvm_segment wants bytes.
    if (e >> 55) & 1 == 1 {
        (raw << 12) | 0xfff
    } else {
        raw
    }
}

/// The `kvm_segment` for descriptor `index` of `table`, loaded under selector `index * 8`.
pub fn segment_from_gdt(table: &[u64], index: usize) -> kvm_segment {
    let e = table[index];
    kvm_segment {
        base: base(e),
        limit: limit(e),
        selector: (index * 8) as u16,
        type_: ((e >> 40) & 0xf) as u8,
        present: ((e >> 47) & 1) as u8,
        dpl: ((e >> 45) & 3) as u8,
        db: ((e >> 54) & 1) as u8,
        s: ((e >> 44) & 1) as u8,
        l: ((e >> 53) & 1) as u8,
        g: ((e >> 55) & 1) as u8,
        avl: ((e >> 52) & 1) as u8,
        unusable: if (e >> 47) & 1 == 1 { 0 } else { 1 },
        padding: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code64_decodes_as_long_mode_code() {
        let s = segment_from_gdt(&BOOT_GDT, (CODE64_SEL / 8) as usize);
        assert_eq!(
            (s.l, s.db, s.g, s.present, s.s, s.type_),
            (1, 0, 1, 1, 1, 0xb)
        );
        assert_eq!(s.limit, 0xffff_ffff);
        assert_eq!(s.selector, CODE64_SEL);
    }

    #[test]
    fn code32_is_flat_32bit() {
        let s = segment_from_gdt(&BOOT_GDT, (CODE32_SEL / 8) as usize);
        assert_eq!((s.l, s.db, s.base, s.limit), (0, 1, 0, 0xffff_ffff));
    }

    #[test]
    fn entry_round_trips_base_and_limit() {
        let e = gdt_entry(0x4093, 0x1234_5678, 0xabcde);
        assert_eq!(base(e), 0x1234_5678);
        assert_eq!(limit(e), 0xabcde);
        let null = segment_from_gdt(&BOOT_GDT, 0);
        assert_eq!(null.unusable, 1);
    }
}
