//! Identity page tables for a 64-bit entry: the first 4 GiB mapped 1:1 with 2 MiB pages, which
//! is what Linux's `startup_64` and our long-mode payloads expect before they build their own.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::ArchError;
use super::layout::{PDE_START, PDPTE_START, PML4_START};

const PRESENT_RW: u64 = 0x3;
const PAGE_SIZE_2M: u64 = 0x80;

/// Writes PML4 → PDPT → 4 PDs at the fixed low addresses; returns the CR3 value.
pub fn write_identity_tables(mem: &GuestMemoryMmap) -> Result<u64, ArchError> {
    let write = |addr: u64, val: u64, what| {
        mem.write_obj(val, GuestAddress(addr))
            .map_err(|source| ArchError::GuestMemory { what, addr, source })
    };
    write(PML4_START, PDPTE_START | PRESENT_RW, "PML4")?;
    for pd in 0..4u64 {
        let pd_addr = PDE_START + pd * 0x1000;
        write(PDPTE_START + pd * 8, pd_addr | PRESENT_RW, "PDPT")?;
        for i in 0..512u64 {
            let phys = (pd << 30) | (i << 21);
            write(pd_addr + i * 8, phys | PRESENT_RW | PAGE_SIZE_2M, "PD")?;
        }
    }
    Ok(PML4_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_low_4g_identity() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap();
        let cr3 = write_identity_tables(&mem).unwrap();
        assert_eq!(cr3, PML4_START);
        let pdpte3: u64 = mem.read_obj(GuestAddress(PDPTE_START + 24)).unwrap();
        assert_eq!(pdpte3 & !0xfff, PDE_START + 3 * 0x1000);
        // Last 2 MiB page below 4 GiB.
        let last: u64 = mem
            .read_obj(GuestAddress(PDE_START + 3 * 0x1000 + 511 * 8))
            .unwrap();
        assert_eq!(last & !0xfff, 0xffe0_0000);
        assert_eq!(last & 0x83, 0x83);
    }
}
