//! The hypercalls of HVM-container (PVH) domains: HVM params, TSC mode, paging pool, memory
//! map, HVM context.

use xen_sys as xs;

use crate::ctl::Xen;
use crate::error::XenError;

use super::e820::E820Entry;

fn dom16(domid: u32) -> Result<u16, XenError> {
    u16::try_from(domid)
        .map_err(|_| XenError::Invalid(format!("domain id {domid} is out of range")))
}

/// Extension trait: the PVH builder's hypercalls on [`Xen`].
pub trait PvhCalls {
    /// Sets HVM parameter `index`.
    fn set_hvm_param(&self, domid: u32, index: u32, value: u64) -> Result<(), XenError>;
    /// Sets the TSC mode (`XEN_DOMCTL_settscinfo`; 2 = native).
    fn set_tsc_mode(&self, domid: u32, mode: u32) -> Result<(), XenError>;
    /// Sizes the HAP/shadow paging pool, in MiB.
    fn set_paging_pool_mb(&self, domid: u32, mb: u32) -> Result<(), XenError>;
    /// Sets the guest's e820 (`XENMEM_set_memory_map`).
    fn set_memory_map(&self, domid: u32, map: &[E820Entry]) -> Result<(), XenError>;
    /// The whole HVM save context of the domain.
    fn hvm_context(&self, domid: u32) -> Result<Vec<u8>, XenError>;
    /// Loads (partial) HVM save records into the domain.
    fn set_hvm_context(&self, domid: u32, ctx: &[u8]) -> Result<(), XenError>;
}

impl PvhCalls for Xen {
    fn set_hvm_param(&self, domid: u32, index: u32, value: u64) -> Result<(), XenError> {
        let mut buf = self.buffer(std::mem::size_of::<xs::xen_hvm_param>())?;
        buf.write(
            0,
            &xs::xen_hvm_param {
                domid: dom16(domid)?,
                index,
                value,
                ..Default::default()
            },
        );
        self.hypercall(
            "hvm_op set_param",
            xs::__HYPERVISOR_hvm_op,
            [u64::from(xs::HVMOP_set_param), buf.addr(), 0, 0, 0],
        )
        .map(drop)
    }

    fn set_tsc_mode(&self, domid: u32, mode: u32) -> Result<(), XenError> {
        self.domctl("domctl settscinfo", xs::XEN_DOMCTL_settscinfo, domid, |u| {
            u.tsc_info = xs::xen_domctl_tsc_info {
                tsc_mode: mode,
                ..Default::default()
            };
        })
        .map(drop)
    }

    fn set_paging_pool_mb(&self, domid: u32, mb: u32) -> Result<(), XenError> {
        self.domctl(
            "domctl shadow_op set_allocation",
            xs::XEN_DOMCTL_shadow_op,
            domid,
            |u| {
                u.shadow_op = xs::xen_domctl_shadow_op {
                    op: xs::XEN_DOMCTL_SHADOW_OP_SET_ALLOCATION,
                    mb,
                    ..Default::default()
                };
            },
        )
        .map(drop)
    }

    fn set_memory_map(&self, domid: u32, map: &[E820Entry]) -> Result<(), XenError> {
        let hdr = std::mem::size_of::<xs::xen_foreign_memory_map>();
        let mut buf = self.buffer(hdr + map.len() * E820Entry::SIZE)?;
        for (i, e) in map.iter().enumerate() {
            buf.bytes_mut()[hdr + i * E820Entry::SIZE..][..E820Entry::SIZE]
                .copy_from_slice(&e.to_bytes());
        }
        let entries = buf.addr_at(hdr);
        buf.write(
            0,
            &xs::xen_foreign_memory_map {
                domid: dom16(domid)?,
                map: xs::xen_memory_map {
                    nr_entries: map.len() as u32,
                    buffer: xs::__guest_handle_void {
                        p: entries as *mut std::ffi::c_void,
                    },
                },
            },
        );
        self.hypercall(
            "memory_op set_memory_map",
            xs::__HYPERVISOR_memory_op,
            [u64::from(xs::XENMEM_set_memory_map), buf.addr(), 0, 0, 0],
        )
        .map(drop)
    }

    fn hvm_context(&self, domid: u32) -> Result<Vec<u8>, XenError> {
        // A first call without a buffer returns the size.
        let d = self.domctl(
            "domctl gethvmcontext (size)",
            xs::XEN_DOMCTL_gethvmcontext,
            domid,
            |u| {
                u.hvmcontext = xs::xen_domctl_hvmcontext {
                    size: 0,
                    buffer: xs::__guest_handle_uint8 {
                        p: std::ptr::null_mut(),
                    },
                };
            },
        )?;
        let size = crate::ctl::arm::<_, xs::xen_domctl_hvmcontext>(&d.u).size as usize;
        let buf = self.buffer(size)?;
        let addr = buf.addr();
        let d = self.domctl(
            "domctl gethvmcontext",
            xs::XEN_DOMCTL_gethvmcontext,
            domid,
            |u| {
                u.hvmcontext = xs::xen_domctl_hvmcontext {
                    size: size as u32,
                    buffer: xs::__guest_handle_uint8 { p: addr as *mut u8 },
                };
            },
        )?;
        let got = crate::ctl::arm::<_, xs::xen_domctl_hvmcontext>(&d.u).size as usize;
        Ok(buf.bytes()[..got.min(size)].to_vec())
    }

    fn set_hvm_context(&self, domid: u32, ctx: &[u8]) -> Result<(), XenError> {
        let mut buf = self.buffer(ctx.len())?;
        buf.bytes_mut()[..ctx.len()].copy_from_slice(ctx);
        let addr = buf.addr();
        self.domctl(
            "domctl sethvmcontext",
            xs::XEN_DOMCTL_sethvmcontext,
            domid,
            |u| {
                u.hvmcontext = xs::xen_domctl_hvmcontext {
                    size: ctx.len() as u32,
                    buffer: xs::__guest_handle_uint8 { p: addr as *mut u8 },
                };
            },
        )
        .map(drop)
    }
}
