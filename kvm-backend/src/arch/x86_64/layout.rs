//! The guest physical address map every VM gets. Low addresses follow the PC conventions Linux
//! expects (zero page below 1 MiB, kernel at 1 MiB); device windows sit in a hole below 4 GiB so
//! RAM above the hole never aliases an MMIO register.

/// Boot GDT (four 8-byte entries).
pub const BOOT_GDT_START: u64 = 0x500;
/// Boot IDT (empty: the guest installs its own before enabling interrupts).
pub const BOOT_IDT_START: u64 = 0x520;
/// PVH `hvm_start_info`, followed by its memory map and module list.
pub const PVH_INFO_START: u64 = 0x6000;
/// PVH module list (the initrd).
pub const PVH_MODLIST_START: u64 = 0x6040;
/// PVH memory map entries.
pub const PVH_MEMMAP_START: u64 = 0x6100;
/// Linux zero page (`struct boot_params`).
pub const ZERO_PAGE_START: u64 = 0x7000;
/// Identity-map page tables: PML4, one PDPT, four PDs (2 MiB pages up to 4 GiB).
pub const PML4_START: u64 = 0x9000;
/// The PDPT the PML4's first entry points at.
pub const PDPTE_START: u64 = 0xa000;
/// The first of four page directories.
pub const PDE_START: u64 = 0xb000;
/// Kernel command line.
pub const CMDLINE_START: u64 = 0x2_0000;
/// Longest command line accepted (Linux's x86 COMMAND_LINE_SIZE).
pub const CMDLINE_MAX_SIZE: usize = 2048;
/// Start of the EBDA; RAM from here up to 1 MiB is reported reserved (VGA hole, BIOS area).
pub const EBDA_START: u64 = 0x9_fc00;
/// First address above the legacy hole, where kernels are loaded.
pub const HIMEM_START: u64 = 0x10_0000;
/// Start of the device hole below 4 GiB (no RAM here).
pub const MMIO_GAP_START: u64 = 0xc000_0000;
/// End of the device hole.
pub const MMIO_GAP_END: u64 = 0x1_0000_0000;
/// First virtio-mmio device window; each device gets [`VIRTIO_MMIO_SIZE`] bytes.
pub const VIRTIO_MMIO_BASE: u64 = 0xd000_0000;
/// Size of one virtio-mmio window.
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// GSI of the first virtio-mmio device; later devices take the following lines.
pub const VIRTIO_IRQ_BASE: u32 = 5;
/// Address KVM uses for its TSS (three pages inside the device hole).
pub const KVM_TSS_ADDRESS: u64 = 0xfffb_d000;
/// Address KVM uses for its identity-map page (one page, just below the TSS).
pub const KVM_IDENTITY_MAP_ADDRESS: u64 = 0xfffb_c000;
/// COM1 I/O base.
pub const COM1_PORT: u16 = 0x3f8;
/// COM1 interrupt line.
pub const COM1_IRQ: u32 = 4;
/// i8042 data port.
pub const I8042_DATA_PORT: u16 = 0x60;
/// i8042 command port (0xFE here = pulse the reset line).
pub const I8042_CMD_PORT: u16 = 0x64;
/// Power-off port: writing the S5 sleep value powers the VM off (the port Cloud Hypervisor's
/// ACPI tables point at; our guests write it directly).
pub const SHUTDOWN_PORT: u16 = 0x600;
/// The value written to [`SHUTDOWN_PORT`] that means "enter S5" (SLP_TYP 5, SLP_EN).
pub const SHUTDOWN_S5: u8 = 0x34;
/// The ACPI Generic Event Device's status port (one byte, read-to-clear): which events are
/// pending when its interrupt fires (see `devices::power_button`).
pub const GED_PORT: u16 = 0x608;
/// The GED's interrupt: the IOAPIC's last pin, so it never meets a virtio line.
pub const GED_IRQ: u32 = 23;
/// How many virtio-mmio devices fit between [`VIRTIO_IRQ_BASE`] and [`GED_IRQ`].
pub const MAX_VIRTIO_DEVICES: usize = (GED_IRQ - VIRTIO_IRQ_BASE) as usize;

/// The RAM ranges for `mem_bytes` of guest memory: below the hole, then the rest above 4 GiB.
pub fn ram_ranges(mem_bytes: u64) -> Vec<(u64, u64)> {
    if mem_bytes <= MMIO_GAP_START {
        vec![(0, mem_bytes)]
    } else {
        vec![
            (0, MMIO_GAP_START),
            (MMIO_GAP_END, mem_bytes - MMIO_GAP_START),
        ]
    }
}

/// The E820 map for `mem_bytes` of RAM: `(addr, size, type)` with type 1 = RAM, 2 = reserved.
pub fn e820_map(mem_bytes: u64) -> Vec<(u64, u64, u32)> {
    let mut map = vec![
        (0, EBDA_START, 1),
        (EBDA_START, HIMEM_START - EBDA_START, 2),
    ];
    for (start, size) in ram_ranges(mem_bytes) {
        let (start, size) = if start == 0 {
            (HIMEM_START, size - HIMEM_START)
        } else {
            (start, size)
        };
        map.push((start, size, 1));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_vm_is_one_low_range() {
        assert_eq!(ram_ranges(256 << 20), vec![(0, 256 << 20)]);
        let e = e820_map(256 << 20);
        assert_eq!(e.last(), Some(&(HIMEM_START, (256 << 20) - HIMEM_START, 1)));
    }

    #[test]
    fn big_vm_skips_the_hole() {
        let r = ram_ranges(4 << 30);
        assert_eq!(
            r,
            vec![
                (0, MMIO_GAP_START),
                (MMIO_GAP_END, (4 << 30) - MMIO_GAP_START)
            ]
        );
        let total: u64 = r.iter().map(|r| r.1).sum();
        assert_eq!(total, 4 << 30);
        assert!(
            e820_map(4 << 30)
                .iter()
                .all(|&(a, s, _)| a + s <= MMIO_GAP_START || a >= MMIO_GAP_END)
        );
    }
}
