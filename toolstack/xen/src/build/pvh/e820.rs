//! The PVH guest's memory map: RAM from 0, and the special pages (console, xenstore, ...)
//! reserved just below `0xff000000`, as libxenguest places them (`X86_HVM_END_SPECIAL_REGION`).

/// e820 RAM.
pub const RAM: u32 = 1;
/// e820 reserved.
pub const RESERVED: u32 = 2;
/// e820 ACPI (reclaimable tables): libxl's `E820_ACPI` for the ACPI table pages, which a
/// guest under xl reports as "ACPI data".
pub const ACPI: u32 = 3;

/// First pfn after the special-page region.
pub const SPECIAL_END_PFN: u64 = 0xff000;
/// Special pages (paging, access, sharing, bufioreq, ioreq, ident_pt, console, xenstore).
pub const NR_SPECIAL: u64 = 8;
/// The console ring page.
pub const CONSOLE_PFN: u64 = SPECIAL_END_PFN - NR_SPECIAL + 6;
/// The xenstore ring page.
pub const XENSTORE_PFN: u64 = SPECIAL_END_PFN - NR_SPECIAL + 7;
/// The low MMIO hole starts here: RAM above it would move to 4 GiB (not supported here).
pub const MMIO_HOLE_START: u64 = 0xf000_0000;

/// One entry (`struct e820entry`, packed, 20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E820Entry {
    /// Start.
    pub addr: u64,
    /// Length.
    pub size: u64,
    /// Type.
    pub kind: u32,
}

impl E820Entry {
    /// Size on the wire.
    pub const SIZE: usize = 20;

    /// Wire bytes.
    pub fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..].copy_from_slice(&self.kind.to_le_bytes());
        b
    }
}

/// The map of a guest with `ram_bytes` of memory (below the MMIO hole): RAM, the special
/// pages, the ACPI table page (as libxl's `domain_construct_memmap` orders them).
pub fn memory_map(ram_bytes: u64) -> Vec<E820Entry> {
    vec![
        E820Entry {
            addr: 0,
            size: ram_bytes,
            kind: RAM,
        },
        E820Entry {
            addr: (SPECIAL_END_PFN - NR_SPECIAL) << 12,
            size: NR_SPECIAL << 12,
            kind: RESERVED,
        },
        E820Entry {
            addr: super::acpi::ACPI_GPA,
            size: 4096,
            kind: ACPI,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_reserves_the_ring_pages_outside_ram() {
        let m = memory_map(128 << 20);
        assert_eq!(
            m[0],
            E820Entry {
                addr: 0,
                size: 128 << 20,
                kind: RAM
            }
        );
        let r = m[1];
        assert!(r.addr <= CONSOLE_PFN << 12 && (XENSTORE_PFN + 1) << 12 <= r.addr + r.size);
        assert_eq!(r.to_bytes()[16], RESERVED as u8);
        let a = m[2];
        assert_eq!((a.addr, a.kind), (super::super::acpi::ACPI_GPA, ACPI));
        assert!(a.addr >= r.addr + r.size || a.addr + a.size <= r.addr);
    }
}
