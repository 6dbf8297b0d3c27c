//! The hypercalls only the domain builder makes: createdomain, populate_physmap, unbound
//! event channels in the new domain, vCPU context, page-table pinning, hypercall page.
//!
//! Every argument is bounced through a hypercall buffer, like the control calls in `ctl`.

use xen_sys as xs;

use crate::ctl::{Xen, arm};
use crate::error::XenError;
use crate::sys::privcmd::ForeignMapping;

/// What `XEN_DOMCTL_createdomain` needs.
#[derive(Debug, Clone, Copy)]
pub struct CreateParams {
    /// `XEN_DOMCTL_CDF_*`.
    pub flags: u32,
    /// The UUID.
    pub handle: [u8; 16],
    /// vCPUs the domain may ever have.
    pub max_vcpus: u32,
    /// Highest event channel port.
    pub max_evtchn_port: u32,
    /// Grant table frames.
    pub max_grant_frames: i32,
    /// Maptrack frames.
    pub max_maptrack_frames: i32,
    /// `XEN_X86_EMU_*` (0 for PV).
    pub emulation_flags: u32,
}

fn dom16(domid: u32) -> Result<u16, XenError> {
    u16::try_from(domid)
        .map_err(|_| XenError::Invalid(format!("domain id {domid} is out of range")))
}

/// Extension trait: the builder's hypercalls on [`Xen`].
pub trait BuildCalls {
    /// Creates an empty, paused domain; returns its id (Xen picks it).
    fn create_domain(&self, p: &CreateParams) -> Result<u32, XenError>;
    /// Sets the guest address size (64 for x86_64 PV).
    fn set_address_size(&self, domid: u32, bits: u32) -> Result<(), XenError>;
    /// Populates `pfns.len()` extents of order `order` at the given guest frames; for a PV
    /// domain the machine frames Xen chose come back in `pfns`. Returns how many succeeded.
    fn populate_physmap(&self, domid: u32, order: u32, pfns: &mut [u64])
    -> Result<usize, XenError>;
    /// Allocates an unbound event channel in `domid` that `remote` may bind.
    fn alloc_unbound(&self, domid: u32, remote: u32) -> Result<u32, XenError>;
    /// Sets vCPU `vcpu`'s PV register state.
    fn set_vcpu_context(
        &self,
        domid: u32,
        vcpu: u32,
        ctx: &xs::vcpu_guest_context,
    ) -> Result<(), XenError>;
    /// vCPU `vcpu`'s PV register state.
    fn vcpu_context(&self, domid: u32, vcpu: u32) -> Result<xs::vcpu_guest_context, XenError>;
    /// Pins frame `mfn` of `domid` as an L4 page table.
    fn pin_l4(&self, domid: u32, mfn: u64) -> Result<(), XenError>;
    /// Asks Xen to write its hypercall stubs into frame `gmfn` of `domid`.
    fn hypercall_init(&self, domid: u32, gmfn: u64) -> Result<(), XenError>;
    /// The frame of the domain's shared_info page.
    fn shared_info_frame(&self, domid: u32) -> Result<u64, XenError>;
    /// Maps frame 0 of the domain's grant table.
    fn map_grant_table(&self, domid: u32) -> Result<ForeignMapping, XenError>;
}

impl BuildCalls for Xen {
    fn create_domain(&self, p: &CreateParams) -> Result<u32, XenError> {
        // Domain id 0 in the request means "Xen, pick a free id".
        let d = self.domctl("domctl createdomain", xs::XEN_DOMCTL_createdomain, 0, |u| {
            u.createdomain = xs::xen_domctl_createdomain {
                ssidref: 0,
                handle: p.handle,
                flags: p.flags,
                iommu_opts: 0,
                max_vcpus: p.max_vcpus,
                max_evtchn_port: p.max_evtchn_port,
                max_grant_frames: p.max_grant_frames,
                max_maptrack_frames: p.max_maptrack_frames,
                // Grant table v1 only, as the guests here use (XEN_DOMCTL_GRANT_version(1)).
                grant_opts: 1,
                vmtrace_size: 0,
                cpupool_id: 0,
                arch: xs::xen_arch_domainconfig {
                    emulation_flags: p.emulation_flags,
                    misc_flags: 0,
                },
            };
        })?;
        Ok(u32::from(d.domain))
    }

    fn set_address_size(&self, domid: u32, bits: u32) -> Result<(), XenError> {
        self.domctl(
            "domctl set_address_size",
            xs::XEN_DOMCTL_set_address_size,
            domid,
            |u| {
                u.address_size = xs::xen_domctl_address_size { size: bits };
            },
        )
        .map(drop)
    }

    fn populate_physmap(
        &self,
        domid: u32,
        order: u32,
        pfns: &mut [u64],
    ) -> Result<usize, XenError> {
        let n = pfns.len();
        let res = std::mem::size_of::<xs::xen_memory_reservation>();
        let mut buf = self.buffer(res + n * 8)?;
        for (i, p) in pfns.iter().enumerate() {
            buf.write(res + i * 8, p);
        }
        let list = buf.addr_at(res);
        buf.write(
            0,
            &xs::xen_memory_reservation {
                extent_start: xs::__guest_handle_xen_pfn_t {
                    p: list as *mut xs::xen_pfn_t,
                },
                nr_extents: n as u64,
                extent_order: order,
                mem_flags: 0,
                domid: dom16(domid)?,
            },
        );
        let done = self.hypercall(
            "memory_op populate_physmap",
            xs::__HYPERVISOR_memory_op,
            [u64::from(xs::XENMEM_populate_physmap), buf.addr(), 0, 0, 0],
        )?;
        let done = usize::try_from(done).unwrap_or(0).min(n);
        for (i, p) in pfns.iter_mut().enumerate().take(done) {
            *p = buf.read(res + i * 8);
        }
        Ok(done)
    }

    fn alloc_unbound(&self, domid: u32, remote: u32) -> Result<u32, XenError> {
        let mut buf = self.buffer(std::mem::size_of::<xs::evtchn_alloc_unbound>())?;
        buf.write(
            0,
            &xs::evtchn_alloc_unbound {
                dom: dom16(domid)?,
                remote_dom: dom16(remote)?,
                port: 0,
            },
        );
        self.hypercall(
            "event_channel_op alloc_unbound",
            xs::__HYPERVISOR_event_channel_op,
            [u64::from(xs::EVTCHNOP_alloc_unbound), buf.addr(), 0, 0, 0],
        )?;
        Ok(buf.read::<xs::evtchn_alloc_unbound>(0).port)
    }

    fn set_vcpu_context(
        &self,
        domid: u32,
        vcpu: u32,
        ctx: &xs::vcpu_guest_context,
    ) -> Result<(), XenError> {
        let mut buf = self.buffer(std::mem::size_of::<xs::vcpu_guest_context>())?;
        buf.write(0, ctx);
        let addr = buf.addr();
        self.domctl(
            "domctl setvcpucontext",
            xs::XEN_DOMCTL_setvcpucontext,
            domid,
            |u| {
                u.vcpucontext = xs::xen_domctl_vcpucontext {
                    vcpu,
                    ctxt: xs::__guest_handle_vcpu_guest_context_t {
                        p: addr as *mut xs::vcpu_guest_context,
                    },
                };
            },
        )
        .map(drop)
    }

    fn vcpu_context(&self, domid: u32, vcpu: u32) -> Result<xs::vcpu_guest_context, XenError> {
        let buf = self.buffer(std::mem::size_of::<xs::vcpu_guest_context>())?;
        let addr = buf.addr();
        self.domctl(
            "domctl getvcpucontext",
            xs::XEN_DOMCTL_getvcpucontext,
            domid,
            |u| {
                u.vcpucontext = xs::xen_domctl_vcpucontext {
                    vcpu,
                    ctxt: xs::__guest_handle_vcpu_guest_context_t {
                        p: addr as *mut xs::vcpu_guest_context,
                    },
                };
            },
        )?;
        Ok(buf.read::<xs::vcpu_guest_context>(0))
    }

    fn pin_l4(&self, domid: u32, mfn: u64) -> Result<(), XenError> {
        let mut buf = self.buffer(std::mem::size_of::<xs::mmuext_op>())?;
        let mut op = xs::mmuext_op {
            cmd: xs::MMUEXT_PIN_L4_TABLE,
            ..Default::default()
        };
        op.arg1.mfn = mfn;
        buf.write(0, &op);
        self.hypercall(
            "mmuext_op pin_l4_table",
            xs::__HYPERVISOR_mmuext_op,
            [buf.addr(), 1, 0, u64::from(dom16(domid)?), 0],
        )
        .map(drop)
    }

    fn hypercall_init(&self, domid: u32, gmfn: u64) -> Result<(), XenError> {
        self.domctl(
            "domctl hypercall_init",
            xs::XEN_DOMCTL_hypercall_init,
            domid,
            |u| {
                u.hypercall_init = xs::xen_domctl_hypercall_init { gmfn };
            },
        )
        .map(drop)
    }

    fn shared_info_frame(&self, domid: u32) -> Result<u64, XenError> {
        let d = self.domctl(
            "domctl getdomaininfo",
            xs::XEN_DOMCTL_getdomaininfo,
            domid,
            |_| {},
        )?;
        let info: xs::xen_domctl_getdomaininfo = arm(&d.u);
        Ok(info.shared_info_frame)
    }

    fn map_grant_table(&self, domid: u32) -> Result<ForeignMapping, XenError> {
        self.privcmd().map_resource(
            dom16(domid)?,
            xs::XENMEM_resource_grant_table,
            xs::XENMEM_resource_grant_table_id_shared,
            0,
            1,
        )
    }
}
