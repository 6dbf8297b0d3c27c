//! The ACPI tables of a PVH guest, as libxl builds them with libacpi
//! (`tools/libs/light/libxl_x86_acpi.c`, `tools/libacpi/build.c`): RSDP, XSDT/RSDT, a
//! revision-5 FADT, FACS, a DSDT and a MADT with one local APIC per vCPU.
//!
//! Why a PVH guest needs them: Linux finds its vCPUs in the MADT (without it, it boots on one
//! CPU in PIC mode and cannot bring the platform down cleanly), and its power-off path ends in
//! `HLT` with interrupts masked on every vCPU, which Xen turns into `SHUTDOWN_poweroff`
//! (`hvm_hlt` -> `hvm_vcpu_down`: "All CPUs offline -- powering off"). The guest finds the
//! RSDP through `hvm_start_info.rsdp_paddr`.
//!
//! The tables mirror libacpi's so that a guest sees the same platform under rxl as under xl:
//! same OEM ids, FADT fields and flags (no PM timer, no buttons, no VGA, no CMOS RTC), local APIC
//! ids `2 * vcpu`. Two differences, both invisible to the guest's OSPM: the DSDT carries only
//! its header (libxl's holds processor objects that nothing needs without CPU hotplug, and
//! compiling AML would need `iasl` at build time), and there is no `acpi_info` page (only that
//! DSDT reads it). Everything fits in one page at `0xfc000000`, libxl's
//! `ACPI_INFO_PHYSICAL_ADDRESS`, marked ACPI (type 3, "ACPI data") in the e820 as libxl marks it.

/// Guest frame of the table page (libxl's `ACPI_INFO_PHYSICAL_ADDRESS`).
pub const ACPI_PFN: u64 = 0xfc000;
/// Guest-physical address of the table page.
pub const ACPI_GPA: u64 = ACPI_PFN << 12;
/// The most vCPUs the MADT describes (Xen's `HVM_MAX_VCPUS`; local APIC ids are `2 * vcpu`
/// and must fit a byte).
pub const MAX_VCPUS: u32 = 128;

const PAGE: usize = 4096;
/// The local APIC's MMIO base (`LAPIC_BASE_ADDRESS`).
const LAPIC_BASE: u32 = 0xfee0_0000;
const HEADER_LEN: usize = 36;
const FADT_LEN: usize = 268;
const FACS_LEN: usize = 64;
const RSDP_LEN: usize = 36;

// Offsets in the page; each table 16-aligned, the FACS 64-aligned (ACPI requires it).
const RSDP_OFF: usize = 0;
const FACS_OFF: usize = 64;
const DSDT_OFF: usize = 128;
const FADT_OFF: usize = 176;
const MADT_OFF: usize = FADT_OFF + FADT_LEN + 4; // 448

// FADT values from libacpi's static_tables.c (`Fadt`), see xen/include/public/hvm/ioreq.h.
const PM1A_EVT_BLK: u32 = 0xb000;
const PM1A_CNT_BLK: u32 = 0xb004;
const GPE0_BLK: u32 = 0xafe0;
const GPE0_BLK_LEN: u8 = 4;
const SCI_INT: u16 = 9;
const FLAG_WBINVD: u32 = 1 << 0;
const FLAG_PROC_C1: u32 = 1 << 2;
const FLAG_PWR_BUTTON: u32 = 1 << 4;
const FLAG_SLP_BUTTON: u32 = 1 << 5;
const FLAG_FIX_RTC: u32 = 1 << 6;
const FLAG_TMR_VAL_EXT: u32 = 1 << 8;
const FLAG_USE_PLATFORM_CLOCK: u32 = 1 << 15;
const BOOT_ARCH_NO_VGA: u16 = 1 << 2;
const BOOT_ARCH_NO_CMOS_RTC: u16 = 1 << 5;
const SYSTEM_IO: u8 = 1;

/// Why the tables cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{max_vcpus} vCPUs: a PVH guest's MADT describes at most {MAX_VCPUS} (Xen's HVM_MAX_VCPUS)"
)]
pub struct TooManyVcpus {
    /// The requested `maxvcpus`.
    pub max_vcpus: u32,
}

/// The table page, ready to copy to [`ACPI_GPA`].
#[derive(Debug, Clone)]
pub struct AcpiPage {
    /// The page.
    pub bytes: Vec<u8>,
    /// Guest-physical address of the RSDP (for `hvm_start_info.rsdp_paddr`).
    pub rsdp_gpa: u64,
}

/// Builds the tables for a guest with `max_vcpus` vCPUs of which the first `online` are up.
pub fn build(max_vcpus: u32, online: u32) -> Result<AcpiPage, TooManyVcpus> {
    if max_vcpus == 0 || max_vcpus > MAX_VCPUS {
        return Err(TooManyVcpus { max_vcpus });
    }
    let mut p = vec![0u8; PAGE];
    let gpa = |off: usize| ACPI_GPA + off as u64;

    // FACS: no checksum; hardware signature 0, no waking vector (no S3).
    p[FACS_OFF..FACS_OFF + 4].copy_from_slice(b"FACS");
    put32(&mut p, FACS_OFF + 4, FACS_LEN as u32);
    p[FACS_OFF + 32] = 1; // version

    // DSDT: the header alone, an empty definition block.
    header(&mut p, DSDT_OFF, b"DSDT", HEADER_LEN, 2);
    checksum(&mut p, DSDT_OFF, HEADER_LEN);

    fadt(&mut p, gpa(FACS_OFF), gpa(DSDT_OFF));

    let madt_len = HEADER_LEN + 8 + 8 * max_vcpus as usize;
    header(&mut p, MADT_OFF, b"APIC", madt_len, 2);
    put32(&mut p, MADT_OFF + 36, LAPIC_BASE);
    put32(&mut p, MADT_OFF + 40, 1); // PCAT_COMPAT
    for cpu in 0..max_vcpus {
        let o = MADT_OFF + 44 + 8 * cpu as usize;
        p[o] = 0; // processor local APIC
        p[o + 1] = 8;
        p[o + 2] = cpu as u8; // ACPI processor id
        p[o + 3] = (cpu * 2) as u8; // APIC id, as Xen numbers HVM vCPUs
        put32(&mut p, o + 4, u32::from(cpu < online)); // enabled
    }
    checksum(&mut p, MADT_OFF, madt_len);

    let tables = [gpa(FADT_OFF), gpa(MADT_OFF)];
    let xsdt_off = (MADT_OFF + madt_len).next_multiple_of(16);
    let xsdt_len = HEADER_LEN + 8 * tables.len();
    header(&mut p, xsdt_off, b"XSDT", xsdt_len, 1);
    for (i, t) in tables.iter().enumerate() {
        put64(&mut p, xsdt_off + HEADER_LEN + 8 * i, *t);
    }
    checksum(&mut p, xsdt_off, xsdt_len);

    let rsdt_off = (xsdt_off + xsdt_len).next_multiple_of(16);
    let rsdt_len = HEADER_LEN + 4 * tables.len();
    header(&mut p, rsdt_off, b"RSDT", rsdt_len, 1);
    for (i, t) in tables.iter().enumerate() {
        // The table page lies below 4 GiB.
        put32(&mut p, rsdt_off + HEADER_LEN + 4 * i, *t as u32);
    }
    checksum(&mut p, rsdt_off, rsdt_len);
    debug_assert!(rsdt_off + rsdt_len <= PAGE);

    // RSDP (ACPI 2.0): checksum over the first 20 bytes, extended checksum over all 36.
    let r = RSDP_OFF;
    p[r..r + 8].copy_from_slice(b"RSD PTR ");
    p[r + 9..r + 15].copy_from_slice(b"Xen\0\0\0");
    p[r + 15] = 2; // revision
    put32(&mut p, r + 16, gpa(rsdt_off) as u32);
    put32(&mut p, r + 20, RSDP_LEN as u32);
    put64(&mut p, r + 24, gpa(xsdt_off));
    p[r + 8] = sum_complement(&p[r..r + 20]);
    p[r + 32] = sum_complement(&p[r..r + RSDP_LEN]);

    Ok(AcpiPage {
        bytes: p,
        rsdp_gpa: gpa(RSDP_OFF),
    })
}

/// The revision-5 FADT at [`FADT_OFF`], field by field as libacpi fills it for PVH.
fn fadt(p: &mut [u8], facs: u64, dsdt: u64) {
    let f = FADT_OFF;
    header(p, f, b"FACP", FADT_LEN, 5);
    put32(p, f + 36, facs as u32);
    put32(p, f + 40, dsdt as u32);
    put16(p, f + 46, SCI_INT);
    put32(p, f + 56, PM1A_EVT_BLK);
    put32(p, f + 64, PM1A_CNT_BLK);
    put32(p, f + 80, GPE0_BLK);
    p[f + 88] = 4; // pm1_evt_len
    p[f + 89] = 2; // pm1_cnt_len
    p[f + 92] = GPE0_BLK_LEN;
    put16(p, f + 96, 0x0fff); // p_lvl2_lat: no C2
    put16(p, f + 98, 0x0fff); // p_lvl3_lat: no C3
    put16(p, f + 109, BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_CMOS_RTC);
    put32(
        p,
        f + 112,
        FLAG_PROC_C1
            | FLAG_WBINVD
            | FLAG_FIX_RTC
            | FLAG_TMR_VAL_EXT
            | FLAG_USE_PLATFORM_CLOCK
            | FLAG_PWR_BUTTON
            | FLAG_SLP_BUTTON,
    );
    gas(p, f + 116, 8, 0xcf9); // reset_reg
    p[f + 128] = 6; // reset_value
    put64(p, f + 132, facs); // x_firmware_ctrl
    put64(p, f + 140, dsdt); // x_dsdt
    gas(p, f + 148, 32, u64::from(PM1A_EVT_BLK));
    gas(p, f + 172, 16, u64::from(PM1A_CNT_BLK));
    checksum(p, f, FADT_LEN);
}

/// A system-I/O generic address structure.
fn gas(p: &mut [u8], off: usize, bit_width: u8, addr: u64) {
    p[off] = SYSTEM_IO;
    p[off + 1] = bit_width;
    put64(p, off + 4, addr);
}

/// The common table header; OEM ids and creator as libacpi writes them.
fn header(p: &mut [u8], off: usize, sig: &[u8; 4], len: usize, revision: u8) {
    p[off..off + 4].copy_from_slice(sig);
    put32(p, off + 4, len as u32);
    p[off + 8] = revision;
    p[off + 10..off + 16].copy_from_slice(b"Xen\0\0\0");
    p[off + 16..off + 24].copy_from_slice(b"HVM\0\0\0\0\0");
    p[off + 28..off + 32].copy_from_slice(b"HVML");
}

/// Sets byte 9 of the table at `off` so that its `len` bytes sum to zero.
fn checksum(p: &mut [u8], off: usize, len: usize) {
    p[off + 9] = 0;
    p[off + 9] = sum_complement(&p[off..off + len]);
}

fn sum_complement(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x)).wrapping_neg()
}

fn put16(p: &mut [u8], off: usize, v: u16) {
    p[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(p: &mut [u8], off: usize, v: u32) {
    p[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(p: &mut [u8], off: usize, v: u64) {
    p[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(p: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(p[o..o + 4].try_into().expect("4 bytes"))
    }

    fn u64_at(p: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(p[o..o + 8].try_into().expect("8 bytes"))
    }

    /// The page offset of the table at guest address `gpa`, its signature and length, after
    /// checking that its bytes sum to zero.
    fn table(p: &[u8], gpa: u64) -> (usize, [u8; 4], usize) {
        let off = usize::try_from(gpa - ACPI_GPA).expect("in page");
        let len = u32_at(p, off + 4) as usize;
        let sum = p[off..off + len]
            .iter()
            .fold(0u8, |s, x| s.wrapping_add(*x));
        assert_eq!(sum, 0, "checksum of table at {gpa:#x}");
        (off, p[off..off + 4].try_into().expect("sig"), len)
    }

    #[test]
    fn rsdp_leads_through_xsdt_and_rsdt_to_fadt_and_madt() {
        let a = build(4, 2).expect("fits");
        let p = &a.bytes;
        assert_eq!(a.rsdp_gpa, ACPI_GPA);
        assert_eq!(&p[..8], b"RSD PTR ");
        let sum = |b: &[u8]| b.iter().fold(0u8, |s, x| s.wrapping_add(*x));
        assert_eq!(sum(&p[..20]), 0, "ACPI 1.0 checksum");
        assert_eq!(sum(&p[..36]), 0, "extended checksum");
        let (xo, sig, xlen) = table(p, u64_at(p, 24));
        assert_eq!(&sig, b"XSDT");
        let entries: Vec<u64> = (0..(xlen - 36) / 8)
            .map(|i| u64_at(p, xo + 36 + 8 * i))
            .collect();
        let (_, rsig, rlen) = table(p, u64::from(u32_at(p, 16)));
        assert_eq!(&rsig, b"RSDT");
        assert_eq!((rlen - 36) / 4, entries.len());
        let sigs: Vec<[u8; 4]> = entries.iter().map(|e| table(p, *e).1).collect();
        assert_eq!(sigs, [*b"FACP", *b"APIC"]);

        let (fo, _, flen) = table(p, entries[0]);
        assert_eq!(flen, 268);
        assert_eq!(p[fo + 8], 5, "FADT revision");
        let (_, dsig, _) = table(p, u64_at(p, fo + 140));
        assert_eq!(&dsig, b"DSDT");
        let facs = usize::try_from(u64_at(p, fo + 132) - ACPI_GPA).expect("in page");
        assert_eq!(&p[facs..facs + 4], b"FACS");
        assert_eq!(facs % 64, 0, "FACS alignment");
        let boot_arch = u16::from_le_bytes([p[fo + 109], p[fo + 110]]);
        assert_eq!(boot_arch, BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_CMOS_RTC);

        let (mo, _, mlen) = table(p, entries[1]);
        assert_eq!(mlen, 44 + 4 * 8);
        assert_eq!(u32_at(p, mo + 36), 0xfee0_0000);
        let lapics: Vec<(u8, u8, u32)> = (0..4)
            .map(|i| {
                let o = mo + 44 + 8 * i;
                (p[o + 2], p[o + 3], u32_at(p, o + 4))
            })
            .collect();
        assert_eq!(lapics, [(0, 0, 1), (1, 2, 1), (2, 4, 0), (3, 6, 0)]);
    }

    #[test]
    fn vcpu_limit_is_xens() {
        assert!(build(MAX_VCPUS, MAX_VCPUS).is_ok());
        assert_eq!(
            build(MAX_VCPUS + 1, 1).expect_err("too many").max_vcpus,
            MAX_VCPUS + 1
        );
    }
}
