//! Tiny guests on the real /dev/kvm: our PVH kernel (UART, MMIO hole, virtio-blk, power-off
//! and i8042 reboot), the 64-bit ELF and bzImage entries, and a raw real-mode payload.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{Capture, guest};
use rxl_kvm::arch::x86_64::regs::BootEntry;
use rxl_kvm::loader::{BootSource, KernelKind};
use rxl_kvm::{DiskSpec, ExitReason, RunControl, VmSpec, Vmm};

fn sector_sum(sector: &[u8]) -> u32 {
    sector
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .fold(0u32, u32::wrapping_add)
}

fn boot(spec: &VmSpec) -> (ExitReason, Capture, rxl_kvm::ExitCounts) {
    let out = Capture::default();
    let control = Arc::new(RunControl::default());
    let (vmm, loaded) = Vmm::from_spec(spec, Box::new(out.clone()), control.clone()).unwrap();
    assert_eq!(loaded.kind, expected_kind(spec));
    let reason = vmm.run().unwrap();
    (reason, out, control.stats.snapshot())
}

fn expected_kind(spec: &VmSpec) -> KernelKind {
    match spec.kernel.file_name().and_then(|n| n.to_str()) {
        Some("pvh.elf") => KernelKind::PvhElf,
        Some("long64.elf") => KernelKind::Elf64,
        _ => KernelKind::BzImage,
    }
}

#[test]
fn pvh_guest_reads_virtio_blk_sector_and_powers_off() {
    require_kvm!();
    let mut disk = tempfile::NamedTempFile::new().unwrap();
    let sector: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(7) ^ 0x5a) as u8)
        .collect();
    disk.write_all(&sector).unwrap();
    disk.write_all(&[0xee; 512 * 7]).unwrap();
    let mut spec = VmSpec::new("t-pvh", guest("pvh.elf"));
    spec.memory_mib = 32;
    spec.cmdline = "console=ttyS0 marker=42".into();
    spec.disks = vec![DiskSpec {
        path: disk.path().to_path_buf(),
        read_only: true,
    }];
    let (reason, out, exits) = boot(&spec);
    let text = out.text();
    assert_eq!(reason, ExitReason::Poweroff, "console:\n{text}");
    assert!(
        text.contains("RXL-GUEST: hello from the PVH entry"),
        "{text}"
    );
    assert_eq!(out.field("PVH-MAGIC").as_deref(), Some("ok"));
    assert_eq!(out.field("MEMMAP-ENTRIES").as_deref(), Some("00000003"));
    let cmdline = out.field("CMDLINE").unwrap();
    assert_eq!(cmdline, "console=ttyS0 marker=42");
    // Nothing decodes the MMIO hole: reads float high.
    assert_eq!(out.field("MMIO-HOLE").as_deref(), Some("ffffffff"));
    assert_eq!(out.field("VIRTIO-BLK-STATUS").as_deref(), Some("00000000"));
    assert_eq!(
        out.field("VIRTIO-BLK-SUM"),
        Some(format!("{:08x}", sector_sum(&sector))),
        "{text}"
    );
    assert_eq!(out.field("VIRTIO-BLK-ISR").as_deref(), Some("00000001"));
    assert!(text.ends_with("RXL-GUEST: power off\n"));
    // Every UART byte is a port write; the virtio registers are MMIO reads and writes.
    assert!(exits.io_out as usize >= text.len(), "{exits:?}");
    assert!(exits.mmio_read >= 6 && exits.mmio_write >= 15, "{exits:?}");
    // The hole read and QEMU's debug-exit port are the unclaimed accesses.
    assert_eq!(exits.unhandled, 2, "{exits:?}");
}

#[test]
fn pvh_guest_without_disk_on_two_vcpus_stops_cleanly() {
    require_kvm!();
    let mut spec = VmSpec::new("t-nodisk", guest("pvh.elf"));
    spec.memory_mib = 16;
    // The AP never gets a SIPI: it sits blocked in KVM_RUN and must be kicked out on stop.
    spec.vcpus = 2;
    let (reason, out, _) = boot(&spec);
    assert_eq!(reason, ExitReason::Poweroff);
    assert_eq!(out.field("VIRTIO-BLK").as_deref(), Some("absent"));
    assert_eq!(out.field("CMDLINE").as_deref(), Some(""));
}

#[test]
fn pvh_guest_reboots_through_the_i8042() {
    require_kvm!();
    let mut spec = VmSpec::new("t-reboot", guest("pvh.elf"));
    spec.memory_mib = 16;
    spec.cmdline = "please reboot now".into();
    let (reason, out, _) = boot(&spec);
    assert_eq!(reason, ExitReason::Reboot, "{}", out.text());
    assert!(out.text().ends_with("RXL-GUEST: reboot\n"));
}

#[test]
fn elf64_without_pvh_note_enters_long_mode_with_zero_page() {
    require_kvm!();
    let mut spec = VmSpec::new("t-long", guest("long64.elf"));
    spec.memory_mib = 64;
    spec.cmdline = "long mode args".into();
    let (reason, out, _) = boot(&spec);
    assert_eq!(reason, ExitReason::Poweroff, "{}", out.text());
    assert!(out.text().contains("RXL-LONG: hello from 64-bit long mode"));
    assert_eq!(out.field("E820-ENTRIES").as_deref(), Some("00000003"));
    assert_eq!(out.field("CMDLINE").as_deref(), Some("long mode args"));
    // The VMM's identity tables are live.
    assert_eq!(out.field("CR3").as_deref(), Some("00009000"));
}

/// A bzImage: one setup sector with a boot-protocol 2.12 header, then 0x200 bytes of 32-bit
/// entry area, then the 64-bit kernel linked at load + 0x200.
fn make_bzimage(body64: &[u8]) -> Vec<u8> {
    let mut img = vec![0u8; 1024];
    img[0x1f1] = 1; // setup_sects
    img[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020cu16.to_le_bytes());
    img[0x211] = 1; // LOADED_HIGH
    img[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes()); // code32_start
    img[0x22c..0x230].copy_from_slice(&0x37ff_ffffu32.to_le_bytes()); // initrd_addr_max
    img.extend_from_slice(&[0xf4; 0x200]); // 32-bit entry: hlt (never used)
    img.extend_from_slice(body64);
    img
}

#[test]
fn bzimage_boots_at_its_64bit_entry_with_initrd() {
    require_kvm!();
    let body = std::fs::read(guest("long64-0x100200.bin")).unwrap();
    let mut kernel = tempfile::NamedTempFile::new().unwrap();
    kernel.write_all(&make_bzimage(&body)).unwrap();
    let mut initrd = tempfile::NamedTempFile::new().unwrap();
    initrd.write_all(&[0xab; 10000]).unwrap();
    let mut spec = VmSpec::new("t-bz", kernel.path());
    spec.memory_mib = 32;
    spec.cmdline = "bz args".into();
    spec.ramdisk = Some(initrd.path().to_path_buf());

    let out = Capture::default();
    let control = Arc::new(RunControl::default());
    let (vmm, loaded) = Vmm::from_spec(&spec, Box::new(out.clone()), control).unwrap();
    assert_eq!(loaded.kind, KernelKind::BzImage);
    // The initrd sits page-aligned at the top of RAM and the zero page points at it.
    let mem = vmm.memory();
    use vm_memory::{Bytes, GuestAddress};
    let image: u32 = mem.read_obj(GuestAddress(0x7000 + 0x218)).unwrap();
    let size: u32 = mem.read_obj(GuestAddress(0x7000 + 0x21c)).unwrap();
    assert_eq!(size, 10000);
    assert_eq!(image % 4096, 0);
    assert!(u64::from(image) + 10000 <= 32 << 20);
    let first: u8 = mem.read_obj(GuestAddress(u64::from(image))).unwrap();
    assert_eq!(first, 0xab);
    let loader: u8 = mem.read_obj(GuestAddress(0x7000 + 0x210)).unwrap();
    assert_eq!(loader, 0xff);
    let reason = vmm.run().unwrap();
    assert_eq!(reason, ExitReason::Poweroff, "{}", out.text());
    assert_eq!(out.field("CMDLINE").as_deref(), Some("bz args"));
}

#[test]
fn real_mode_payload_exits_on_port_io() {
    require_kvm!();
    let out = Capture::default();
    let control = Arc::new(RunControl::default());
    let vmm = Vmm::new(16, 1, &[], Box::new(out.clone()), control.clone()).unwrap();
    #[rustfmt::skip]
    let code: [u8; 22] = [
        0xba, 0xf8, 0x03, // mov dx, 0x3f8
        0xb0, b'R',       // mov al, 'R'
        0xee,             // out dx, al
        0xb0, b'\n',      // mov al, '\n'
        0xee,             // out dx, al
        0xba, 0xfd, 0x03, // mov dx, 0x3fd (line status)
        0xec,             // in al, dx
        0xba, 0x00, 0x06, // mov dx, 0x600
        0xb0, 0x34,       // mov al, 0x34 (S5)
        0xee,             // out dx, al
        0xf4, 0xeb, 0xfd, // hlt; jmp $-1
    ];
    use vm_memory::{Bytes, GuestAddress};
    vmm.memory()
        .write_slice(&code, GuestAddress(0x1000))
        .unwrap();
    vmm.set_entry(BootEntry::RealMode { cs: 0x100, ip: 0 })
        .unwrap();
    let reason = vmm.run().unwrap();
    assert_eq!(reason, ExitReason::Poweroff);
    assert_eq!(out.text(), "R\n");
    let exits = control.stats.snapshot();
    assert_eq!(
        (exits.io_out, exits.io_in, exits.unhandled),
        (3, 1, 0),
        "{exits:?}"
    );
}

#[test]
fn missing_kernel_and_bad_kernel_are_named() {
    require_kvm!();
    let control = Arc::new(RunControl::default());
    let spec = VmSpec::new("t-missing", "/nonexistent/vmlinux");
    let err = Vmm::from_spec(&spec, Box::new(Capture::default()), control.clone())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("kernel /nonexistent/vmlinux"),
        "{err}"
    );

    let mut junk = tempfile::NamedTempFile::new().unwrap();
    junk.write_all(&[0u8; 4096]).unwrap();
    let vmm = Vmm::new(16, 1, &[], Box::new(Capture::default()), control).unwrap();
    let err = vmm
        .load(&BootSource {
            kernel: junk.path().to_path_buf(),
            ..Default::default()
        })
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a loadable kernel"), "{err}");
}

#[test]
fn bad_sizes_are_rejected_with_the_key() {
    require_kvm!();
    let control = Arc::new(RunControl::default());
    let e = Vmm::new(16, 0, &[], Box::new(Capture::default()), control.clone())
        .err()
        .unwrap();
    assert!(e.to_string().starts_with("vcpus:"), "{e}");
    let e = Vmm::new(1, 1, &[], Box::new(Capture::default()), control)
        .err()
        .unwrap();
    assert!(e.to_string().contains("memory = 1 MiB"), "{e}");
}
