//! The boot vCPU of a PVH guest, as HVM save records (`XEN_DOMCTL_sethvmcontext`): the
//! 32-bit flat protected-mode entry state of `docs/misc/pvh.pandoc`, as libxenguest's
//! `vcpu_hvm` sets it, plus write-back MTRRs (no firmware will program them).

use std::mem::{offset_of, size_of};

use xen_sys::{hvm_hw_cpu as Cpu, hvm_hw_mtrr as Mtrr};

/// `HVM_SAVE_CODE(END)`.
const CODE_END: u16 = 0;
/// `HVM_SAVE_CODE(HEADER)`.
const CODE_HEADER: u16 = 1;
/// `HVM_SAVE_CODE(CPU)`.
const CODE_CPU: u16 = 2;
/// `HVM_SAVE_CODE(MTRR)`.
const CODE_MTRR: u16 = 14;
/// `MTRR_TYPE_WRBACK | MTRR_DEF_TYPE_ENABLE`.
const MTRR_DEF_WB_ENABLED: u64 = 6 | (1 << 11);

/// One save record: typecode, instance and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `HVM_SAVE_CODE(...)`.
    pub code: u16,
    /// vCPU or device instance.
    pub instance: u16,
    /// The payload.
    pub data: Vec<u8>,
}

/// Splits a save context into records; a truncated tail ends the walk.
pub fn records(ctx: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut o = 0;
    while o + 8 <= ctx.len() {
        let code = u16::from_le_bytes([ctx[o], ctx[o + 1]]);
        let instance = u16::from_le_bytes([ctx[o + 2], ctx[o + 3]]);
        let len = u32::from_le_bytes(ctx[o + 4..o + 8].try_into().expect("4 bytes")) as usize;
        let Some(data) = ctx.get(o + 8..o + 8 + len) else {
            break;
        };
        out.push(Record {
            code,
            instance,
            data: data.to_vec(),
        });
        if code == CODE_END {
            break;
        }
        o += 8 + len;
    }
    out
}

fn push(out: &mut Vec<u8>, code: u16, instance: u16, data: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&instance.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
}

fn set32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn set64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The CPU record of the boot vCPU: flat 4 GiB code and data segments, a 32-bit TSS,
/// CR0.PE|ET, paging off, EIP = the PHYS32 entry, EBX = the hvm_start_info address.
pub fn boot_cpu(entry: u32, start_info: u64) -> Vec<u8> {
    let mut c = vec![0u8; size_of::<Cpu>()];
    for off in [
        offset_of!(Cpu, cs_limit),
        offset_of!(Cpu, ds_limit),
        offset_of!(Cpu, es_limit),
        offset_of!(Cpu, ss_limit),
    ] {
        set32(&mut c, off, 0xffff_ffff);
    }
    set32(&mut c, offset_of!(Cpu, tr_limit), 0x67);
    set32(&mut c, offset_of!(Cpu, cs_arbytes), 0xc9b);
    for off in [
        offset_of!(Cpu, ds_arbytes),
        offset_of!(Cpu, es_arbytes),
        offset_of!(Cpu, ss_arbytes),
    ] {
        set32(&mut c, off, 0xc93);
    }
    set32(&mut c, offset_of!(Cpu, tr_arbytes), 0x8b);
    set64(&mut c, offset_of!(Cpu, cr0), 0x11);
    set64(&mut c, offset_of!(Cpu, rip), u64::from(entry));
    set64(&mut c, offset_of!(Cpu, rbx), start_info);
    set64(&mut c, offset_of!(Cpu, dr6), 0xffff_0ff0);
    set64(&mut c, offset_of!(Cpu, dr7), 0x400);
    c
}

/// The partial context to load: the domain's own header, the boot CPU, every vCPU's MTRRs
/// with write-back default, and the end marker. `full` is the domain's current context.
pub fn boot_context(full: &[u8], entry: u32, start_info: u64) -> Result<Vec<u8>, String> {
    let recs = records(full);
    let header = recs
        .iter()
        .find(|r| r.code == CODE_HEADER)
        .ok_or("the domain's HVM context has no header record")?;
    let mut out = Vec::new();
    push(&mut out, CODE_HEADER, 0, &header.data);
    push(&mut out, CODE_CPU, 0, &boot_cpu(entry, start_info));
    // Every vCPU's MTRRs, as libxenguest's `vcpu_hvm` sets them for each of `max_vcpus`: a
    // secondary vCPU left with MTRRs disabled would run with all memory uncached.
    for m in recs.iter().filter(|r| r.code == CODE_MTRR) {
        let mut data = m.data.clone();
        let off = offset_of!(Mtrr, msr_mtrr_def_type);
        if data.len() >= size_of::<Mtrr>() {
            set64(&mut data, off, MTRR_DEF_WB_ENABLED);
        }
        push(&mut out, CODE_MTRR, m.instance, &data);
    }
    push(&mut out, CODE_END, 0, &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_context_keeps_header_sets_cpu_and_mtrr() {
        let mut full = Vec::new();
        push(&mut full, CODE_HEADER, 0, &[7u8; 24]);
        push(&mut full, CODE_CPU, 0, &vec![0xaa; size_of::<Cpu>()]);
        push(&mut full, CODE_MTRR, 0, &vec![0u8; size_of::<Mtrr>()]);
        push(&mut full, CODE_MTRR, 1, &vec![0u8; size_of::<Mtrr>()]);
        push(&mut full, CODE_END, 0, &[]);
        let ctx = boot_context(&full, 0x100_0040, 0x20_0000).expect("built");
        let r = records(&ctx);
        assert_eq!(
            r.iter().map(|r| r.code).collect::<Vec<_>>(),
            [CODE_HEADER, CODE_CPU, CODE_MTRR, CODE_MTRR, CODE_END]
        );
        assert_eq!((r[2].instance, r[3].instance), (0, 1));
        assert_eq!(r[0].data, [7u8; 24]);
        let cpu = &r[1].data;
        let get = |off: usize| u64::from_le_bytes(cpu[off..off + 8].try_into().expect("8"));
        assert_eq!(get(offset_of!(Cpu, rip)), 0x100_0040);
        assert_eq!(get(offset_of!(Cpu, rbx)), 0x20_0000);
        assert_eq!(get(offset_of!(Cpu, cr0)), 0x11);
        let off = offset_of!(Mtrr, msr_mtrr_def_type);
        for m in [&r[2].data, &r[3].data] {
            assert_eq!(
                u64::from_le_bytes(m[off..off + 8].try_into().expect("8")),
                MTRR_DEF_WB_ENABLED
            );
        }
    }
}
