//! `struct start_info` (x86_64, `xen/include/public/xen.h`), serialised at its fixed offsets.

/// Its magic for a 64-bit PV guest.
pub const MAGIC: &str = "xen-3.0-x86_64";
/// `MAX_GUEST_CMDLINE`.
pub const MAX_CMDLINE: usize = 1024;

/// The fields the builder fills in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartInfo {
    /// Pages of RAM.
    pub nr_pages: u64,
    /// Machine address of shared_info.
    pub shared_info: u64,
    /// `SIF_*`.
    pub flags: u32,
    /// Xenstore ring frame.
    pub store_mfn: u64,
    /// Xenstore event channel.
    pub store_evtchn: u32,
    /// Console ring frame.
    pub console_mfn: u64,
    /// Console event channel.
    pub console_evtchn: u32,
    /// Virtual address of the L4.
    pub pt_base: u64,
    /// Page-table pages.
    pub nr_pt_frames: u64,
    /// Virtual address of the p2m list.
    pub mfn_list: u64,
    /// Ramdisk: virtual address, or pfn with `SIF_MOD_START_PFN`.
    pub mod_start: u64,
    /// Ramdisk length.
    pub mod_len: u64,
    /// Kernel command line.
    pub cmdline: String,
}

/// `SIF_MOD_START_PFN`.
pub const SIF_MOD_START_PFN: u32 = 8;

impl StartInfo {
    /// The page image. A command line too long for the field is an error naming the limit.
    pub fn to_page(&self) -> Result<Vec<u8>, String> {
        if self.cmdline.len() >= MAX_CMDLINE {
            return Err(format!(
                "the kernel command line is {} bytes; Xen PV guests take at most {}",
                self.cmdline.len(),
                MAX_CMDLINE - 1
            ));
        }
        let mut p = vec![0u8; 4096];
        let mut put = |off: usize, b: &[u8]| p[off..off + b.len()].copy_from_slice(b);
        put(0, MAGIC.as_bytes());
        put(32, &self.nr_pages.to_le_bytes());
        put(40, &self.shared_info.to_le_bytes());
        put(48, &self.flags.to_le_bytes());
        put(56, &self.store_mfn.to_le_bytes());
        put(64, &self.store_evtchn.to_le_bytes());
        put(72, &self.console_mfn.to_le_bytes());
        put(80, &self.console_evtchn.to_le_bytes());
        put(88, &self.pt_base.to_le_bytes());
        put(96, &self.nr_pt_frames.to_le_bytes());
        put(104, &self.mfn_list.to_le_bytes());
        put(112, &self.mod_start.to_le_bytes());
        put(120, &self.mod_len.to_le_bytes());
        put(128, self.cmdline.as_bytes());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_xen_sys() {
        use std::mem::offset_of;
        use xen_sys::start_info as S;
        assert_eq!(offset_of!(S, store_evtchn), 64);
        assert_eq!(offset_of!(S, console), 72);
        assert_eq!(offset_of!(S, cmd_line), 128);
        let si = StartInfo {
            nr_pages: 32768,
            store_evtchn: 3,
            console_mfn: 0x1234,
            cmdline: "console=hvc0".into(),
            ..Default::default()
        };
        let p = si.to_page().expect("fits");
        assert_eq!(&p[..14], MAGIC.as_bytes());
        assert_eq!(p[32..40], 32768u64.to_le_bytes());
        assert_eq!(p[72..80], 0x1234u64.to_le_bytes());
        assert_eq!(&p[128..140], b"console=hvc0");
        assert_eq!(p[140], 0);
    }

    #[test]
    fn overlong_cmdline_is_refused() {
        let si = StartInfo {
            cmdline: "x".repeat(2000),
            ..Default::default()
        };
        assert!(si.to_page().expect_err("long").contains("1023"));
    }
}
