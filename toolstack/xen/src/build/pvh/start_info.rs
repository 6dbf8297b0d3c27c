//! `struct hvm_start_info` version 1 (`xen/include/public/arch-x86/hvm/start_info.h`) with
//! its module list, memory map and command line, all in one page.

use super::e820::E820Entry;

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const MAGIC: u32 = 0x336e_c578;
const MODLIST_OFF: usize = 64;
const MEMMAP_OFF: usize = 128;
const MEMMAP_MAX: usize = 5;
const CMDLINE_OFF: usize = 256;

/// What goes into the page.
#[derive(Debug, Clone, Default)]
pub struct HvmStartInfo {
    /// The ramdisk: guest-physical address and length.
    pub module: Option<(u64, u64)>,
    /// The e820.
    pub memmap: Vec<E820Entry>,
    /// The kernel command line.
    pub cmdline: String,
    /// Guest-physical address of the ACPI RSDP (0: none).
    pub rsdp: u64,
}

impl HvmStartInfo {
    /// The page image for guest-physical address `page_gpa`.
    pub fn to_page(&self, page_gpa: u64) -> Result<Vec<u8>, String> {
        if self.cmdline.len() >= 4096 - CMDLINE_OFF {
            return Err(format!(
                "the kernel command line is {} bytes; rxl's PVH builder takes at most {}",
                self.cmdline.len(),
                4096 - CMDLINE_OFF - 1
            ));
        }
        if self.memmap.len() > MEMMAP_MAX {
            return Err(format!(
                "{} memory map entries (at most {MEMMAP_MAX})",
                self.memmap.len()
            ));
        }
        let mut p = vec![0u8; 4096];
        let mut put = |off: usize, b: &[u8]| p[off..off + b.len()].copy_from_slice(b);
        put(0, &MAGIC.to_le_bytes());
        put(4, &1u32.to_le_bytes());
        if let Some((addr, len)) = self.module {
            put(12, &1u32.to_le_bytes());
            put(16, &(page_gpa + MODLIST_OFF as u64).to_le_bytes());
            put(MODLIST_OFF, &addr.to_le_bytes());
            put(MODLIST_OFF + 8, &len.to_le_bytes());
        }
        put(24, &(page_gpa + CMDLINE_OFF as u64).to_le_bytes());
        put(32, &self.rsdp.to_le_bytes());
        put(40, &(page_gpa + MEMMAP_OFF as u64).to_le_bytes());
        put(48, &(self.memmap.len() as u32).to_le_bytes());
        for (i, e) in self.memmap.iter().enumerate() {
            let o = MEMMAP_OFF + i * 24;
            put(o, &e.addr.to_le_bytes());
            put(o + 8, &e.size.to_le_bytes());
            put(o + 16, &e.kind.to_le_bytes());
        }
        put(CMDLINE_OFF, self.cmdline.as_bytes());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_abi() {
        let si = HvmStartInfo {
            module: Some((0x400_0000, 0x1234)),
            memmap: super::super::e820::memory_map(128 << 20),
            cmdline: "console=hvc0".into(),
            rsdp: 0xfc00_0000,
        };
        let base = 0x500_0000u64;
        let p = si.to_page(base).expect("fits");
        let u32_at = |o: usize| u32::from_le_bytes(p[o..o + 4].try_into().expect("4"));
        let u64_at = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().expect("8"));
        assert_eq!(u32_at(0), MAGIC);
        assert_eq!(u32_at(4), 1);
        assert_eq!(u32_at(12), 1);
        let modlist = (u64_at(16) - base) as usize;
        assert_eq!(u64_at(modlist), 0x400_0000);
        assert_eq!(u64_at(modlist + 8), 0x1234);
        let cmd = (u64_at(24) - base) as usize;
        assert_eq!(&p[cmd..cmd + 13], b"console=hvc0\0");
        assert_eq!(u64_at(32), 0xfc00_0000);
        assert_eq!(u32_at(48), 3);
        let mm = (u64_at(40) - base) as usize;
        assert_eq!(u64_at(mm + 8), 128 << 20);
        assert_eq!(u32_at(mm + 16), 1);
    }
}
