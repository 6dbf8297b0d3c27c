//! Per-domain hypercalls: getdomaininfo(list), pause, unpause, destroy, max_mem, max_vcpus.

use serde::Serialize;
use xen_sys as xs;

use super::{Xen, arm};
use crate::error::XenError;

/// Why a domain shut down (`SHUTDOWN_*` in sched.h): the backend-neutral type, whose codes are
/// Xen's own (so `from_code` decodes the domctl's field directly).
pub use rxl_hypervisor::ShutdownReason;

/// One domain as `XEN_DOMCTL_getdomaininfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainInfo {
    /// Domain id.
    pub domid: u32,
    /// UUID (the domain handle).
    pub uuid: [u8; 16],
    /// Being destroyed.
    pub dying: bool,
    /// HVM or PVH container.
    pub hvm: bool,
    /// Shut down, with the reason.
    pub shutdown: Option<ShutdownReason>,
    /// Paused by the toolstack.
    pub paused: bool,
    /// All vCPUs blocked.
    pub blocked: bool,
    /// A vCPU is running.
    pub running: bool,
    /// Pages allocated now.
    pub tot_pages: u64,
    /// Maximum pages (`max_mem`).
    pub max_pages: u64,
    /// Pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// Shared pages.
    pub shr_pages: u64,
    /// Paged-out pages.
    pub paged_pages: u64,
    /// CPU time in nanoseconds.
    pub cpu_time_ns: u64,
    /// Online vCPUs.
    pub vcpu_online: u32,
    /// Highest vCPU id.
    pub max_vcpu_id: u32,
    /// XSM label id.
    pub ssidref: u32,
    /// CPU pool.
    pub cpupool: u32,
}

impl DomainInfo {
    /// Current memory in KiB (libxl's `current_memkb`).
    pub fn current_memkb(&self) -> u64 {
        self.tot_pages * 4
    }

    /// Maximum memory in KiB.
    pub fn max_memkb(&self) -> u64 {
        self.max_pages * 4
    }

    /// Outstanding claims in KiB.
    pub fn outstanding_memkb(&self) -> u64 {
        self.outstanding_pages * 4
    }

    /// The UUID in the usual 8-4-4-4-12 form.
    pub fn uuid_string(&self) -> String {
        rxl_hypervisor::uuid_string(&self.uuid)
    }

    /// Decodes Xen's struct.
    pub fn from_raw(r: &xs::xen_domctl_getdomaininfo) -> Self {
        let f = r.flags;
        let on = |bit: u32| f & bit != 0;
        DomainInfo {
            domid: u32::from(r.domain),
            uuid: r.handle,
            dying: on(xs::XEN_DOMINF_dying),
            hvm: on(xs::XEN_DOMINF_hvm_guest),
            shutdown: on(xs::XEN_DOMINF_shutdown).then(|| {
                ShutdownReason::from_code(
                    (f >> xs::XEN_DOMINF_shutdownshift) & xs::XEN_DOMINF_shutdownmask,
                )
            }),
            paused: on(xs::XEN_DOMINF_paused),
            blocked: on(xs::XEN_DOMINF_blocked),
            running: on(xs::XEN_DOMINF_running),
            tot_pages: r.tot_pages,
            max_pages: r.max_pages,
            outstanding_pages: r.outstanding_pages,
            shr_pages: r.shr_pages,
            paged_pages: r.paged_pages,
            cpu_time_ns: r.cpu_time,
            vcpu_online: r.nr_online_vcpus,
            max_vcpu_id: r.max_vcpu_id,
            ssidref: r.ssidref,
            cpupool: r.cpupool,
        }
    }
}

impl Xen {
    /// Facts about one domain; [`XenError::NoSuchDomain`] if it does not exist.
    pub fn domain_info(&self, domid: u32) -> Result<DomainInfo, XenError> {
        let d = match self.domctl(
            "domctl getdomaininfo",
            xs::XEN_DOMCTL_getdomaininfo,
            domid,
            |_| {},
        ) {
            Err(e) if e.errno() == Some(libc::ESRCH) => return Err(XenError::NoSuchDomain(domid)),
            other => other?,
        };
        let info: xs::xen_domctl_getdomaininfo = arm(&d.u);
        // Before Xen 4.18 getdomaininfo answers with the next domain at or above the id.
        if u32::from(info.domain) != domid {
            return Err(XenError::NoSuchDomain(domid));
        }
        Ok(DomainInfo::from_raw(&info))
    }

    /// Every domain, by id (`XEN_SYSCTL_getdomaininfolist`, batches of 64).
    pub fn list_domains(&self) -> Result<Vec<DomainInfo>, XenError> {
        const BATCH: usize = 64;
        let entry = std::mem::size_of::<xs::xen_domctl_getdomaininfo>();
        let buf = self.buffer(BATCH * entry)?;
        let mut out = Vec::new();
        let mut first: u32 = 0;
        loop {
            let first_domain = u16::try_from(first)
                .map_err(|_| XenError::Protocol(format!("domain list runs past id {first}")))?;
            let addr = buf.addr();
            let s = self.sysctl(
                "sysctl getdomaininfolist",
                xs::XEN_SYSCTL_getdomaininfolist,
                |u| {
                    u.getdomaininfolist = xs::xen_sysctl_getdomaininfolist {
                        first_domain,
                        max_domains: BATCH as u32,
                        buffer: xs::__guest_handle_xen_domctl_getdomaininfo_t {
                            p: addr as *mut xs::xen_domctl_getdomaininfo_t,
                        },
                        num_domains: 0,
                    };
                },
            )?;
            let got: xs::xen_sysctl_getdomaininfolist = arm(&s.u);
            let n = (got.num_domains as usize).min(BATCH);
            for i in 0..n {
                let raw: xs::xen_domctl_getdomaininfo = buf.read(i * entry);
                out.push(DomainInfo::from_raw(&raw));
            }
            match out.last() {
                Some(last) if n == BATCH => first = last.domid + 1,
                _ => return Ok(out),
            }
        }
    }

    fn simple_domctl(&self, name: &'static str, cmd: u32, domid: u32) -> Result<(), XenError> {
        match self.domctl(name, cmd, domid, |_| {}) {
            Err(e) if e.errno() == Some(libc::ESRCH) => Err(XenError::NoSuchDomain(domid)),
            other => other.map(|_| ()),
        }
    }

    /// Pauses a domain.
    pub fn pause(&self, domid: u32) -> Result<(), XenError> {
        self.simple_domctl("domctl pausedomain", xs::XEN_DOMCTL_pausedomain, domid)
    }

    /// Unpauses a domain.
    pub fn unpause(&self, domid: u32) -> Result<(), XenError> {
        self.simple_domctl("domctl unpausedomain", xs::XEN_DOMCTL_unpausedomain, domid)
    }

    /// Destroys a domain, retrying while Xen reports the teardown as still in progress
    /// (EAGAIN/ERESTART, as libxc's `xc_domain_destroy` does).
    pub fn destroy_domain(&self, domid: u32) -> Result<(), XenError> {
        loop {
            match self.simple_domctl("domctl destroydomain", xs::XEN_DOMCTL_destroydomain, domid) {
                Err(e) if matches!(e.errno(), Some(libc::EAGAIN) | Some(85 /* ERESTART */)) => {
                    continue;
                }
                other => return other,
            }
        }
    }

    /// Sets the hypervisor's memory ceiling of a domain, in KiB.
    pub fn set_max_mem(&self, domid: u32, max_kib: u64) -> Result<(), XenError> {
        match self.domctl("domctl max_mem", xs::XEN_DOMCTL_max_mem, domid, |u| {
            u.max_mem = xs::xen_domctl_max_mem { max_memkb: max_kib };
        }) {
            Err(e) if e.errno() == Some(libc::ESRCH) => Err(XenError::NoSuchDomain(domid)),
            other => other.map(|_| ()),
        }
    }

    /// Sets the populate-on-demand target of an HVM domain, in pages.
    pub fn set_pod_target(&self, domid: u32, target_pages: u64) -> Result<(), XenError> {
        let domid16 = u16::try_from(domid)
            .map_err(|_| XenError::Invalid(format!("domain id {domid} is out of range")))?;
        let mut buf = self.buffer(std::mem::size_of::<xs::xen_pod_target>())?;
        buf.write(
            0,
            &xs::xen_pod_target {
                target_pages,
                domid: domid16,
                ..Default::default()
            },
        );
        self.hypercall(
            "memory_op set_pod_target",
            xs::__HYPERVISOR_memory_op,
            [u64::from(xs::XENMEM_set_pod_target), buf.addr(), 0, 0, 0],
        )?;
        Ok(())
    }

    /// Sets the number of vCPUs a domain may have (only before it first runs).
    pub fn set_max_vcpus(&self, domid: u32, max: u32) -> Result<(), XenError> {
        self.domctl("domctl max_vcpus", xs::XEN_DOMCTL_max_vcpus, domid, |u| {
            u.max_vcpus = xs::xen_domctl_max_vcpus { max };
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_decode_like_libxc() {
        let raw = xs::xen_domctl_getdomaininfo {
            domain: 3,
            flags: xs::XEN_DOMINF_shutdown
                | xs::XEN_DOMINF_paused
                | (3 << xs::XEN_DOMINF_shutdownshift),
            tot_pages: 32768,
            handle: [0x12; 16],
            ..Default::default()
        };
        let d = DomainInfo::from_raw(&raw);
        assert_eq!(d.domid, 3);
        assert_eq!(d.shutdown, Some(ShutdownReason::Crash));
        assert!(d.paused && !d.running && !d.dying);
        assert_eq!(d.current_memkb(), 131072);
        assert_eq!(d.uuid_string(), "12121212-1212-1212-1212-121212121212");
    }
}
