//! ACPI tables, built with rust-vmm's `acpi_tables`: how a stock Linux kernel finds what this
//! VMM offers. Debian's kernel has no `virtio_mmio.device=` command-line support, so the
//! virtio-mmio windows are DSDT devices (`LNRO0005`); the FADT is hardware-reduced with its
//! sleep control register on the power-off port, so `poweroff` in the guest reaches
//! [`SHUTDOWN_PORT`] with the S5 value. A Generic Event Device (`ACPI0013`) on [`GED_IRQ`]
//! carries the power button (`PNP0C0C`) the toolstack presses for `shutdown` and `reboot`.
//! MADT lists the LAPICs and the in-kernel IOAPIC.

use acpi_tables::Aml;
use acpi_tables::aml;
use acpi_tables::fadt::{FADTBuilder, Flags};
use acpi_tables::gas::{AccessSize, AddressSpace, GAS};
use acpi_tables::madt::{
    EnabledStatus, IoApic, LocalInterruptController, MADT, ProcessorLocalApic,
};
use acpi_tables::rsdp::Rsdp;
use acpi_tables::sdt::Sdt;
use acpi_tables::xsdt::XSDT;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::ArchError;
use super::layout::{COM1_IRQ, COM1_PORT, GED_IRQ, GED_PORT, SHUTDOWN_PORT, VIRTIO_MMIO_SIZE};
use crate::devices::power_button::EVENT_POWER_BUTTON;

/// Where the RSDP goes: inside the BIOS area Linux scans when no pointer is passed.
pub const RSDP_START: u64 = 0xe_0000;
const OEM_ID: [u8; 6] = *b"RXLKVM";
const OEM_TABLE: [u8; 8] = *b"RXLKVM  ";
const LAPIC_BASE: u32 = 0xfee0_0000;
const IOAPIC_BASE: u32 = 0xfec0_0000;
/// FADT 6.5 layout.
const FADT_MAJOR: u8 = 6;
const IAPC_NO_VGA: u16 = 1 << 2;
const IAPC_NO_CMOS_RTC: u16 = 1 << 5;
/// The sleep type this VMM decodes as S5 (see `devices::shutdown`).
const SLP_TYP_S5: u8 = 5;

/// One virtio-mmio window to describe.
#[derive(Debug, Clone, Copy)]
pub struct VirtioWindow {
    /// Guest physical base.
    pub base: u64,
    /// Its interrupt (GSI).
    pub irq: u32,
}

fn dsdt(windows: &[VirtioWindow]) -> Sdt {
    let mut body = Vec::new();
    // \_S5: SLP_TYP for the FADT sleep control register.
    aml::Name::new("_S5_".into(), &aml::Package::new(vec![&SLP_TYP_S5])).to_aml_bytes(&mut body);
    // COM1 must be an ACPI device too: on a hardware-reduced platform Linux has no legacy PIC
    // and maps no ISA IRQs by itself, so the UART's IRQ 4 only works when _CRS names it.
    let hid = aml::Name::new("_HID".into(), &aml::EISAName::new("PNP0501"));
    let uid = aml::Name::new("_UID".into(), &aml::ZERO);
    let io = aml::IO::new(COM1_PORT, COM1_PORT, 1, 8);
    let irq = aml::Interrupt::new(true, true, false, false, COM1_IRQ);
    let crs = aml::Name::new("_CRS".into(), &aml::ResourceTemplate::new(vec![&io, &irq]));
    aml::Device::new("_SB_.COM1".into(), vec![&hid, &uid, &crs]).to_aml_bytes(&mut body);
    power_button(&mut body);
    for (i, w) in windows.iter().enumerate() {
        let hid = aml::Name::new("_HID".into(), &"LNRO0005");
        let uid_val = i as u32;
        let uid = aml::Name::new("_UID".into(), &uid_val);
        let mem = aml::Memory32Fixed::new(true, w.base as u32, VIRTIO_MMIO_SIZE as u32);
        let irq = aml::Interrupt::new(true, true, false, false, w.irq);
        let crs = aml::Name::new("_CRS".into(), &aml::ResourceTemplate::new(vec![&mem, &irq]));
        let path = format!("_SB_.V{i:03X}");
        aml::Device::new(path.as_str().into(), vec![&hid, &uid, &crs]).to_aml_bytes(&mut body);
    }
    let mut sdt = Sdt::new(*b"DSDT", 36, 6, OEM_ID, OEM_TABLE, 1);
    sdt.append_slice(&body);
    sdt
}

/// `\_SB.PWRB` (the power button) and `\_SB.GED_`, whose `_EVT` reads the pending events from
/// the status port and notifies the button (0x80: "pressed") when its bit is set.
fn power_button(body: &mut Vec<u8>) {
    let hid = aml::Name::new("_HID".into(), &aml::EISAName::new("PNP0C0C"));
    let uid = aml::Name::new("_UID".into(), &aml::ZERO);
    aml::Device::new("_SB_.PWRB".into(), vec![&hid, &uid]).to_aml_bytes(body);

    let hid = aml::Name::new("_HID".into(), &"ACPI0013");
    let uid = aml::Name::new("_UID".into(), &aml::ZERO);
    let irq = aml::Interrupt::new(true, true, false, false, GED_IRQ);
    let crs = aml::Name::new("_CRS".into(), &aml::ResourceTemplate::new(vec![&irq]));
    let region = aml::OpRegion::new("GDST".into(), aml::OpRegionSpace::SystemIO, &GED_PORT, &1u8);
    let field = aml::Field::new(
        "GDST".into(),
        aml::FieldAccessType::Byte,
        aml::FieldLockRule::NoLock,
        aml::FieldUpdateRule::Preserve,
        vec![aml::FieldEntry::Named(*b"GDAT", 8)],
    );
    let gdat = aml::Path::new("GDAT");
    let read = aml::Store::new(&aml::Local(0), &gdat);
    let masked = aml::And::new(&aml::Local(1), &aml::Local(0), &EVENT_POWER_BUTTON);
    let button = aml::Path::new("\\_SB_.PWRB");
    let notify = aml::Notify::new(&button, &0x80u8);
    let is_press = aml::Equal::new(&aml::Local(1), &EVENT_POWER_BUTTON);
    let pressed = aml::If::new(&is_press, vec![&notify]);
    let evt = aml::Method::new("_EVT".into(), 1, true, vec![&read, &masked, &pressed]);
    aml::Device::new(
        "_SB_.GED_".into(),
        vec![&hid, &uid, &crs, &region, &field, &evt],
    )
    .to_aml_bytes(body);
}

fn fadt(dsdt_addr: u64) -> Vec<u8> {
    let mut b = FADTBuilder::new(OEM_ID, OEM_TABLE, 1)
        .dsdt_64(dsdt_addr)
        .flag(Flags::HwReducedAcpi)
        .flag(Flags::PwrButton)
        .flag(Flags::SlpButton);
    b.major_version = FADT_MAJOR;
    // No VGA, no CMOS RTC: Linux then skips probing both (kvm-clock gives it the wall clock);
    // no i8042 bit either, yet its reset line still reboots (`reboot=k` writes the port).
    b.iapc_boot_arch = (IAPC_NO_VGA | IAPC_NO_CMOS_RTC).into();
    let port = GAS::new(
        AddressSpace::SystemIo,
        8,
        0,
        AccessSize::ByteAccess,
        u64::from(SHUTDOWN_PORT),
    );
    b.sleep_control_reg = port;
    b.sleep_status_reg = port;
    let t = b.finalize();
    let mut out = Vec::new();
    t.to_aml_bytes(&mut out);
    out
}

fn madt(vcpus: u8) -> Vec<u8> {
    let mut m = MADT::new(
        OEM_ID,
        OEM_TABLE,
        1,
        LocalInterruptController::Address(LAPIC_BASE),
    );
    for id in 0..vcpus {
        m.add_structure(ProcessorLocalApic::new(id, id, EnabledStatus::Enabled));
    }
    m.add_structure(IoApic::new(0, IOAPIC_BASE, 0));
    let mut out = Vec::new();
    m.to_aml_bytes(&mut out);
    out
}

/// Writes RSDP → XSDT → {FADT → DSDT, MADT} from [`RSDP_START`]; returns the RSDP address.
pub fn write_tables(
    mem: &GuestMemoryMmap,
    vcpus: u8,
    windows: &[VirtioWindow],
) -> Result<u64, ArchError> {
    let put = |addr: u64, bytes: &[u8], what| {
        mem.write_slice(bytes, GuestAddress(addr))
            .map_err(|source| ArchError::GuestMemory { what, addr, source })
    };
    let align = |a: u64| a.next_multiple_of(16);
    let mut next = align(RSDP_START + Rsdp::len() as u64);
    let xsdt_addr = next;
    // The XSDT's size is known up front: header + two 8-byte entries.
    next = align(xsdt_addr + 36 + 16);
    let dsdt_addr = next;
    let dsdt = dsdt(windows);
    put(dsdt_addr, dsdt.as_slice(), "ACPI DSDT")?;
    next = align(dsdt_addr + dsdt.len() as u64);
    let fadt_addr = next;
    let fadt = fadt(dsdt_addr);
    put(fadt_addr, &fadt, "ACPI FADT")?;
    next = align(fadt_addr + fadt.len() as u64);
    let madt_addr = next;
    put(madt_addr, &madt(vcpus), "ACPI MADT")?;
    let mut xsdt = XSDT::new(OEM_ID, OEM_TABLE, 1);
    xsdt.add_entry(fadt_addr);
    xsdt.add_entry(madt_addr);
    let mut x = Vec::new();
    xsdt.to_aml_bytes(&mut x);
    put(xsdt_addr, &x, "ACPI XSDT")?;
    let mut r = Vec::new();
    Rsdp::new(OEM_ID, xsdt_addr).to_aml_bytes(&mut r);
    put(RSDP_START, &r, "ACPI RSDP")?;
    Ok(RSDP_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum_ok(b: &[u8]) -> bool {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x)) == 0
    }

    #[test]
    fn tables_are_linked_and_checksummed() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap();
        let windows = [VirtioWindow {
            base: 0xd000_0000,
            irq: 5,
        }];
        let rsdp = write_tables(&mem, 2, &windows).unwrap();
        let mut r = [0u8; 36];
        mem.read_slice(&mut r, GuestAddress(rsdp)).unwrap();
        assert_eq!(&r[..8], b"RSD PTR ");
        assert!(checksum_ok(&r[..20]) && checksum_ok(&r));
        let xsdt = u64::from_le_bytes(r[24..32].try_into().unwrap());
        let mut hdr = [0u8; 36];
        mem.read_slice(&mut hdr, GuestAddress(xsdt)).unwrap();
        assert_eq!(&hdr[..4], b"XSDT");
        let len = u32::from_le_bytes(hdr[4..8].try_into().unwrap()) as usize;
        assert_eq!(len, 36 + 16);
        let fadt_addr: u64 = mem.read_obj(GuestAddress(xsdt + 36)).unwrap();
        let mut f = [0u8; 276];
        mem.read_slice(&mut f, GuestAddress(fadt_addr)).unwrap();
        assert_eq!(&f[..4], b"FACP");
        let flen = u32::from_le_bytes(f[4..8].try_into().unwrap()) as usize;
        assert!(checksum_ok(&f[..flen]));
        // X_DSDT at offset 140 points at a DSDT whose AML names the virtio window.
        let dsdt_addr = u64::from_le_bytes(f[140..148].try_into().unwrap());
        let mut d = vec![0u8; 36];
        mem.read_slice(&mut d, GuestAddress(dsdt_addr)).unwrap();
        let dlen = u32::from_le_bytes(d[4..8].try_into().unwrap()) as usize;
        let mut d = vec![0u8; dlen];
        mem.read_slice(&mut d, GuestAddress(dsdt_addr)).unwrap();
        assert!(checksum_ok(&d));
        assert!(d.windows(8).any(|w| w == b"LNRO0005"));
        assert!(d.windows(4).any(|w| w == b"_S5_"));
        assert!(d.windows(4).any(|w| w == b"COM1"));
        assert!(d.windows(8).any(|w| w == b"ACPI0013"));
        assert!(d.windows(4).any(|w| w == b"PWRB") && d.windows(4).any(|w| w == b"_EVT"));
        assert_eq!(
            u16::from_le_bytes([f[109], f[110]]),
            IAPC_NO_VGA | IAPC_NO_CMOS_RTC
        );
        // Sleep control register (offset 244): system I/O at the power-off port.
        assert_eq!(f[244], 1);
        assert_eq!(
            u64::from_le_bytes(f[248..256].try_into().unwrap()),
            u64::from(SHUTDOWN_PORT)
        );
    }
}
