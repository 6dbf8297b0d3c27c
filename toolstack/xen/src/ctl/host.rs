//! Host-wide facts: xen_version, physinfo, scheduler, free CPUs, the console ring.

use std::fmt;

use serde::Serialize;
use xen_sys as xs;

use super::{Xen, arm, c_string};
use crate::error::XenError;

/// Major.minor plus extraversion, e.g. 4.17 ".7-pre".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XenVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Extra version string, starting with '.' or '-' (may be empty).
    pub extra: String,
}

impl fmt::Display for XenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}{}", self.major, self.minor, self.extra)
    }
}

/// Everything `xl info` prints from `xen_version` (libxl's `libxl_version_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// Version numbers.
    pub version: XenVersion,
    /// `xen_caps`, e.g. "xen-3.0-x86_64 hvm-3.0-x86_32 ...".
    pub capabilities: String,
    /// Changeset the hypervisor was built from.
    pub changeset: String,
    /// Xen's boot command line.
    pub commandline: String,
    /// Compiler.
    pub compiler: String,
    /// Built by.
    pub compile_by: String,
    /// Build domain.
    pub compile_domain: String,
    /// Build date.
    pub compile_date: String,
    /// Build id as lowercase hex, "" if Xen has none.
    pub build_id: String,
    /// Hypervisor page size.
    pub pagesize: u32,
    /// Start of the hypervisor's virtual area (`platform_params`).
    pub virt_start: u64,
}

/// `XEN_SYSCTL_physinfo` plus the memory-sharing counters, as `xl info` uses them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhysInfo {
    /// Threads per core.
    pub threads_per_core: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Online CPUs.
    pub nr_cpus: u32,
    /// Highest CPU number.
    pub max_cpu_id: u32,
    /// NUMA nodes.
    pub nr_nodes: u32,
    /// CPU frequency in kHz.
    pub cpu_khz: u32,
    /// `XEN_SYSCTL_PHYSCAP_*` bits.
    pub capabilities: u32,
    /// Total host pages.
    pub total_pages: u64,
    /// Free pages.
    pub free_pages: u64,
    /// Pages being scrubbed.
    pub scrub_pages: u64,
    /// Pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// Pages freed by memory sharing.
    pub sharing_freed_pages: u64,
    /// Frames in use by memory sharing.
    pub sharing_used_frames: u64,
    /// CPUID feature words.
    pub hw_cap: [u32; 8],
}

impl PhysInfo {
    /// The `virt_caps` words in xl's order.
    pub fn virt_caps(&self) -> Vec<&'static str> {
        let c = self.capabilities;
        let has = |bit: u32| c & bit != 0;
        let mut v = Vec::new();
        let pv = has(xs::XEN_SYSCTL_PHYSCAP_pv);
        let hvm = has(xs::XEN_SYSCTL_PHYSCAP_hvm);
        let directio = has(xs::XEN_SYSCTL_PHYSCAP_directio);
        for (on, name) in [
            (pv, "pv"),
            (hvm, "hvm"),
            (hvm && directio, "hvm_directio"),
            (pv && directio, "pv_directio"),
            (has(xs::XEN_SYSCTL_PHYSCAP_hap), "hap"),
            (has(xs::XEN_SYSCTL_PHYSCAP_shadow), "shadow"),
            (
                has(xs::XEN_SYSCTL_PHYSCAP_iommu_hap_pt_share),
                "iommu_hap_pt_share",
            ),
            (has(xs::XEN_SYSCTL_PHYSCAP_vmtrace), "vmtrace"),
            (has(xs::XEN_SYSCTL_PHYSCAP_vpmu), "vpmu"),
            (has(xs::XEN_SYSCTL_PHYSCAP_gnttab_v1), "gnttab-v1"),
            (has(xs::XEN_SYSCTL_PHYSCAP_gnttab_v2), "gnttab-v2"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

/// The scheduler name xl prints for a `XEN_SCHEDULER_*` id.
pub fn scheduler_name(id: u32) -> &'static str {
    match id {
        xs::XEN_SCHEDULER_CREDIT => "credit",
        xs::XEN_SCHEDULER_CREDIT2 => "credit2",
        xs::XEN_SCHEDULER_ARINC653 => "arinc653",
        xs::XEN_SCHEDULER_RTDS => "rtds",
        xs::XEN_SCHEDULER_NULL => "null",
        _ => "(null)",
    }
}

impl Xen {
    fn xen_version_op(
        &self,
        name: &'static str,
        cmd: u32,
        len: usize,
    ) -> Result<(i64, Vec<u8>), XenError> {
        let buf = self.buffer(len.max(1))?;
        let addr = if len == 0 { 0 } else { buf.addr() };
        let rc = self.hypercall(
            name,
            xs::__HYPERVISOR_xen_version,
            [u64::from(cmd), addr, 0, 0, 0],
        )?;
        Ok((rc, buf.bytes()[..len].to_vec()))
    }

    /// The hypervisor version.
    pub fn version(&self) -> Result<XenVersion, XenError> {
        let (v, _) = self.xen_version_op("xen_version version", xs::XENVER_version, 0)?;
        let (_, extra) =
            self.xen_version_op("xen_version extraversion", xs::XENVER_extraversion, 16)?;
        Ok(XenVersion {
            major: (v >> 16) as u32,
            minor: (v & 0xffff) as u32,
            extra: c_string(&extra),
        })
    }

    /// All version facts `xl info` prints.
    pub fn version_info(&self) -> Result<VersionInfo, XenError> {
        let version = self.version()?;
        let text = |name, cmd, len| -> Result<String, XenError> {
            Ok(c_string(&self.xen_version_op(name, cmd, len)?.1))
        };
        let (_, ci) =
            self.xen_version_op("xen_version compile_info", xs::XENVER_compile_info, 144)?;
        let (pagesize, _) = self.xen_version_op("xen_version pagesize", xs::XENVER_pagesize, 0)?;
        let (_, pp) = self.xen_version_op(
            "xen_version platform_parameters",
            xs::XENVER_platform_parameters,
            8,
        )?;
        Ok(VersionInfo {
            version,
            capabilities: text("xen_version capabilities", xs::XENVER_capabilities, 1024)?,
            changeset: text("xen_version changeset", xs::XENVER_changeset, 64)?,
            commandline: text("xen_version commandline", xs::XENVER_commandline, 1024)?,
            compiler: c_string(&ci[0..64]),
            compile_by: c_string(&ci[64..80]),
            compile_domain: c_string(&ci[80..112]),
            compile_date: c_string(&ci[112..144]),
            build_id: self.build_id()?,
            pagesize: u32::try_from(pagesize).unwrap_or(4096),
            virt_start: u64::from_ne_bytes(pp[0..8].try_into().expect("8 bytes")),
        })
    }

    /// The build id in hex; "" when Xen has none (libxl's treatment of EPERM/ENODATA/0).
    fn build_id(&self) -> Result<String, XenError> {
        const LEN: u32 = 1024;
        let mut buf = self.buffer(4 + LEN as usize)?;
        buf.write(0, &LEN);
        let rc = self.hypercall(
            "xen_version build_id",
            xs::__HYPERVISOR_xen_version,
            [u64::from(xs::XENVER_build_id), buf.addr(), 0, 0, 0],
        );
        match rc {
            Ok(n) if n > 0 => {
                let n = usize::try_from(n).unwrap_or(0).min(LEN as usize);
                Ok(buf.bytes()[4..4 + n]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect())
            }
            Ok(_) => Ok(String::new()),
            Err(e) if matches!(e.errno(), Some(libc::EPERM) | Some(libc::ENODATA)) => {
                Ok(String::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Physical host facts.
    pub fn physinfo(&self) -> Result<PhysInfo, XenError> {
        let s = self.sysctl("sysctl physinfo", xs::XEN_SYSCTL_physinfo, |_| {})?;
        let p: xs::xen_sysctl_physinfo = arm(&s.u);
        // Like libxl: a Xen built without memory sharing answers ENOSYS, which means 0.
        let sharing = |cmd, name| match self.hypercall(
            name,
            xs::__HYPERVISOR_memory_op,
            [u64::from(cmd), 0, 0, 0, 0],
        ) {
            Ok(n) => Ok(u64::try_from(n).unwrap_or(0)),
            Err(e) if e.errno() == Some(libc::ENOSYS) => Ok(0),
            Err(e) => Err(e),
        };
        Ok(PhysInfo {
            threads_per_core: p.threads_per_core,
            cores_per_socket: p.cores_per_socket,
            nr_cpus: p.nr_cpus,
            max_cpu_id: p.max_cpu_id,
            nr_nodes: p.nr_nodes,
            cpu_khz: p.cpu_khz,
            capabilities: p.capabilities,
            total_pages: p.total_pages,
            free_pages: p.free_pages,
            scrub_pages: p.scrub_pages,
            outstanding_pages: p.outstanding_pages,
            sharing_freed_pages: sharing(
                xs::XENMEM_get_sharing_freed_pages,
                "memory_op get_sharing_freed_pages",
            )?,
            sharing_used_frames: sharing(
                xs::XENMEM_get_sharing_shared_pages,
                "memory_op get_sharing_shared_pages",
            )?,
            hw_cap: p.hw_cap,
        })
    }

    /// The scheduler of the default cpupool (`XEN_SYSCTL_sched_id`).
    pub fn sched_id(&self) -> Result<u32, XenError> {
        let s = self.sysctl("sysctl sched_id", xs::XEN_SYSCTL_sched_id, |_| {})?;
        Ok(arm::<_, xs::xen_sysctl_sched_id>(&s.u).sched_id)
    }

    /// Number of CPUs in no cpupool (`xl info` free_cpus).
    pub fn free_cpus(&self, max_cpu_id: u32) -> Result<u32, XenError> {
        let bytes = (max_cpu_id as usize + 8) / 8;
        let map = self.buffer(bytes)?;
        let addr = map.addr();
        self.sysctl(
            "sysctl cpupool_op freeinfo",
            xs::XEN_SYSCTL_cpupool_op,
            |u| {
                u.cpupool_op = xs::xen_sysctl_cpupool_op {
                    op: xs::XEN_SYSCTL_CPUPOOL_OP_FREEINFO,
                    cpumap: xs::xenctl_bitmap {
                        bitmap: xs::__guest_handle_uint8 { p: addr as *mut u8 },
                        nr_bits: (bytes * 8) as u32,
                    },
                    ..Default::default()
                };
            },
        )?;
        Ok(map.bytes()[..bytes].iter().map(|b| b.count_ones()).sum())
    }

    /// Reads the hypervisor console ring (`xl dmesg`); with `clear`, empties it afterwards.
    pub fn read_console(&self, clear: bool) -> Result<Vec<u8>, XenError> {
        const CHUNK: u32 = 16384;
        let buf = self.buffer(CHUNK as usize)?;
        let mut out = Vec::new();
        let mut index = 0u32;
        loop {
            let addr = buf.addr();
            let s = self.sysctl("sysctl readconsole", xs::XEN_SYSCTL_readconsole, |u| {
                u.readconsole = xs::xen_sysctl_readconsole {
                    clear: u8::from(clear),
                    incremental: 1,
                    index,
                    buffer: xs::__guest_handle_char {
                        p: addr as *mut std::os::raw::c_char,
                    },
                    count: CHUNK,
                    ..Default::default()
                };
            })?;
            let rc: xs::xen_sysctl_readconsole = arm(&s.u);
            let n = rc.count.min(CHUNK) as usize;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf.bytes()[..n]);
            index = rc.index;
        }
    }
}
