//! Boot register state for the three entry conventions the VMM supports:
//! 64-bit (Linux boot protocol / plain ELF64: paging on, RSI → zero page),
//! PVH (32-bit protected mode, paging off, EBX → `hvm_start_info`), and real mode (tests).

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::ArchError;
use super::gdt::{BOOT_GDT, CODE32_SEL, CODE64_SEL, DATA_SEL, TSS_SEL, segment_from_gdt};
use super::layout::{BOOT_GDT_START, BOOT_IDT_START};
use super::paging;

const X86_CR0_PE: u64 = 0x1;
const X86_CR0_ET: u64 = 0x10;
const X86_CR0_PG: u64 = 0x8000_0000;
const X86_CR4_PAE: u64 = 0x20;
const EFER_LME: u64 = 0x100;
const EFER_LMA: u64 = 0x400;
/// RFLAGS bit 1 is reserved and always reads as one.
const RFLAGS_RESERVED: u64 = 0x2;
/// Initial stack for a 64-bit entry (below the page tables, above the zero page).
const BOOT_STACK: u64 = 0x8ff0;

/// How a vCPU enters the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootEntry {
    /// 64-bit long mode at `rip`, RSI = `boot_params` (the zero page).
    LongMode {
        /// Entry point.
        rip: u64,
        /// Guest address of `struct boot_params`.
        boot_params: u64,
    },
    /// PVH: 32-bit protected mode at `rip`, EBX = `start_info`.
    Pvh {
        /// The XEN_ELFNOTE_PHYS32_ENTRY address.
        rip: u64,
        /// Guest address of `struct hvm_start_info`.
        start_info: u64,
    },
    /// 16-bit real mode at `cs:ip` (CS base = cs << 4).
    RealMode {
        /// Code segment.
        cs: u16,
        /// Instruction pointer.
        ip: u16,
    },
}

/// Puts `vcpu` into the state `entry` requires, writing GDT/IDT/page tables to `mem` as needed.
pub fn setup(vcpu: &VcpuFd, mem: &GuestMemoryMmap, entry: BootEntry) -> Result<(), ArchError> {
    setup_fpu(vcpu)?;
    let mut sregs = vcpu.get_sregs().map_err(ArchError::kvm("KVM_GET_SREGS"))?;
    let mut regs = kvm_regs {
        rflags: RFLAGS_RESERVED,
        ..Default::default()
    };
    match entry {
        BootEntry::LongMode { rip, boot_params } => {
            write_gdt_idt(mem, &mut sregs)?;
            load_segments(&mut sregs, CODE64_SEL);
            sregs.cr3 = paging::write_identity_tables(mem)?;
            sregs.cr4 |= X86_CR4_PAE;
            sregs.cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
            sregs.efer |= EFER_LME | EFER_LMA;
            regs.rip = rip;
            regs.rsp = BOOT_STACK;
            regs.rbp = BOOT_STACK;
            regs.rsi = boot_params;
        }
        BootEntry::Pvh { rip, start_info } => {
            write_gdt_idt(mem, &mut sregs)?;
            load_segments(&mut sregs, CODE32_SEL);
            sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
            sregs.cr4 = 0;
            sregs.efer = 0;
            regs.rip = rip;
            regs.rbx = start_info;
        }
        BootEntry::RealMode { cs, ip } => {
            sregs.cs.selector = cs;
            sregs.cs.base = u64::from(cs) << 4;
            regs.rip = u64::from(ip);
        }
    }
    vcpu.set_sregs(&sregs)
        .map_err(ArchError::kvm("KVM_SET_SREGS"))?;
    vcpu.set_regs(&regs).map_err(ArchError::kvm("KVM_SET_REGS"))
}

fn setup_fpu(vcpu: &VcpuFd) -> Result<(), ArchError> {
    // The x87 and SSE control words a CPU has after FNINIT / reset.
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu).map_err(ArchError::kvm("KVM_SET_FPU"))
}

fn write_gdt_idt(mem: &GuestMemoryMmap, sregs: &mut kvm_sregs) -> Result<(), ArchError> {
    for (i, entry) in BOOT_GDT.iter().enumerate() {
        let addr = BOOT_GDT_START + (i as u64) * 8;
        mem.write_obj(*entry, GuestAddress(addr))
            .map_err(|source| ArchError::GuestMemory {
                what: "GDT",
                addr,
                source,
            })?;
    }
    mem.write_obj(0u64, GuestAddress(BOOT_IDT_START))
        .map_err(|source| ArchError::GuestMemory {
            what: "IDT",
            addr: BOOT_IDT_START,
            source,
        })?;
    sregs.gdt.base = BOOT_GDT_START;
    sregs.gdt.limit = (std::mem::size_of_val(&BOOT_GDT) - 1) as u16;
    sregs.idt.base = BOOT_IDT_START;
    sregs.idt.limit = 7;
    Ok(())
}

fn load_segments(sregs: &mut kvm_sregs, code_sel: u16) {
    let data = segment_from_gdt(&BOOT_GDT, usize::from(DATA_SEL / 8));
    sregs.cs = segment_from_gdt(&BOOT_GDT, usize::from(code_sel / 8));
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = segment_from_gdt(&BOOT_GDT, usize::from(TSS_SEL / 8));
}

/// Routes the local APIC's LINT0 to ExtINT (the 8259 PIC) and LINT1 to NMI, as firmware does;
/// without this, PIC interrupts (timer, serial) never reach vCPU 0.
pub fn setup_lint(vcpu: &VcpuFd) -> Result<(), ArchError> {
    const APIC_LVT0: usize = 0x350;
    const APIC_LVT1: usize = 0x360;
    const MODE_EXTINT: u32 = 0x7;
    const MODE_NMI: u32 = 0x4;
    let mut lapic = vcpu.get_lapic().map_err(ArchError::kvm("KVM_GET_LAPIC"))?;
    for (off, mode) in [(APIC_LVT0, MODE_EXTINT), (APIC_LVT1, MODE_NMI)] {
        let bytes: [u8; 4] = std::array::from_fn(|i| lapic.regs[off + i] as u8);
        let val = (u32::from_le_bytes(bytes) & !0x700) | (mode << 8);
        for (i, b) in val.to_le_bytes().iter().enumerate() {
            lapic.regs[off + i] = *b as std::os::raw::c_char;
        }
    }
    vcpu.set_lapic(&lapic)
        .map_err(ArchError::kvm("KVM_SET_LAPIC"))
}
